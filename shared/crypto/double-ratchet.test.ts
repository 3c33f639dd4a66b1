import { createHmac, hkdfSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from './bytes';
import { CHAIN_KEY_SEED, ChainKey, MESSAGE_KEY_SEED } from './chain-key';
import { deriveMessageCipherKeys } from './message-key';
import { sha256 } from './primitives';
import { systemRandom } from './random';
import { RootKey } from './root-key';
import { SecretBytes } from './secret-bytes';
import { initiateSession, type SessionRecord } from './session';
import { seededRandom } from './test-support/deterministic-random';
import {
  bundleOf,
  createPair,
  createParty,
  initiate,
  NOW,
  type Party,
  receive,
  send,
} from './test-support/parties';

const CHAIN_KEY = fromHex(
  '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f',
);

function nodeHmac(key: Uint8Array, byte: number): string {
  return createHmac('sha256', key)
    .update(new Uint8Array([byte]))
    .digest('hex');
}

describe('chain step', () => {
  it('uses constants 0x01 and 0x02', () => {
    expect(MESSAGE_KEY_SEED).toBe(0x01);
    expect(CHAIN_KEY_SEED).toBe(0x02);
  });

  it('matches known message and chain keys', async () => {
    const chainKey = new ChainKey(new SecretBytes(CHAIN_KEY), 4);
    const messageKey = toHex((await chainKey.messageKey()).reveal());
    const next = await chainKey.next();
    expect(messageKey).toBe(
      '9b4c8120a4823a95f47cde17a244f4507244ee6e3957d1fab9fa29b44d3829b7',
    );
    expect(toHex(next.key.reveal())).toBe(
      '4304c22c84a53755ab08ead8d97a8d429be5efa480682d7ad1da27f73e1fbe1d',
    );
    expect(next.index).toBe(5);
  });

  it('agrees with an independent HMAC', async () => {
    const chainKey = new ChainKey(new SecretBytes(CHAIN_KEY), 0);
    expect(toHex((await chainKey.messageKey()).reveal())).toBe(
      nodeHmac(CHAIN_KEY, 0x01),
    );
    expect(toHex((await chainKey.next()).key.reveal())).toBe(
      nodeHmac(CHAIN_KEY, 0x02),
    );
  });
});

describe('root step', () => {
  const rootKey = fromHex(
    'a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf',
  );
  const dhOutput = fromHex(
    'c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf',
  );

  it('matches the frozen vector', async () => {
    const step = await new RootKey(new SecretBytes(rootKey)).step(dhOutput);
    expect(toHex(step.rootKey.key.reveal())).toBe(
      '0dcf1fddc37ff65535c7dda525031cf53eb471134dbf11143f1963dc2590ce7e',
    );
    expect(toHex(step.chainKey.key.reveal())).toBe(
      '718423a38566b6500ab0b397c9a12c14c6784056e9e326d2edf8d51b37ad19e7',
    );
    expect(step.chainKey.index).toBe(0);
  });

  it('agrees with an independent HKDF', async () => {
    const step = await new RootKey(new SecretBytes(rootKey)).step(dhOutput);
    const expected = new Uint8Array(
      hkdfSync('sha256', dhOutput, rootKey, 'Cloak-v1/DR/root', 64),
    );
    expect(toHex(step.rootKey.key.reveal())).toBe(
      toHex(expected.subarray(0, 32)),
    );
    expect(toHex(step.chainKey.key.reveal())).toBe(
      toHex(expected.subarray(32)),
    );
  });
});

describe('message key', () => {
  it('derives key and IV from message key and salt', async () => {
    const salt = fromHex('f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff');
    const { key, iv } = await deriveMessageCipherKeys(
      new SecretBytes(CHAIN_KEY),
      salt,
    );
    const expected = new Uint8Array(
      hkdfSync('sha256', CHAIN_KEY, salt, 'Cloak-v1/DR/message', 44),
    );
    expect(toHex(key)).toBe(toHex(expected.subarray(0, 32)));
    expect(toHex(iv)).toBe(toHex(expected.subarray(32)));
    expect(toHex(key) + toHex(iv)).toBe(
      '91ceca45b9aa4409eb3011e661f68ec9c9c83d48f57317787d041b39f7619eded6d9604b510794c1c8a20a1a',
    );
  });
});

async function startSession(
  alice: Party,
  bob: Party,
): Promise<{ aliceRecord: SessionRecord; bobRecord: SessionRecord }> {
  const record = await initiate(alice, bob);
  const first = await send(record, alice, bob, 'hello', systemRandom);
  const received = await receive(
    undefined,
    bob,
    alice,
    first.sent,
    systemRandom,
  );
  expect(received.text).toBe('hello');
  return { aliceRecord: first.record, bobRecord: received.record };
}

describe('ratchet round trips', () => {
  it('exchanges messages over many turns', async () => {
    const { alice, bob } = await createPair();
    let { aliceRecord, bobRecord } = await startSession(alice, bob);
    for (let turn = 0; turn < 30; turn++) {
      const burst = (turn % 3) + 1;
      for (let i = 0; i < burst; i++) {
        const text = `turn ${turn} message ${i}`;
        if (turn % 2 === 0) {
          const out = await send(bobRecord, bob, alice, text, systemRandom);
          bobRecord = out.record;
          expect(out.sent.kind).toBe('message');
          const got = await receive(
            aliceRecord,
            alice,
            bob,
            out.sent,
            systemRandom,
          );
          aliceRecord = got.record;
          expect(got.text).toBe(text);
        } else {
          const out = await send(aliceRecord, alice, bob, text, systemRandom);
          aliceRecord = out.record;
          expect(out.sent.kind).toBe('message');
          const got = await receive(
            bobRecord,
            bob,
            alice,
            out.sent,
            systemRandom,
          );
          bobRecord = got.record;
          expect(got.text).toBe(text);
        }
      }
    }
  });

  it('sends set-up data until the first reply', async () => {
    const { alice, bob } = await createPair();
    const record = await initiate(alice, bob);
    const first = await send(record, alice, bob, 'one', systemRandom);
    const second = await send(first.record, alice, bob, 'two', systemRandom);
    expect(first.sent.kind).toBe('prekey');
    expect(second.sent.kind).toBe('prekey');

    const got1 = await receive(undefined, bob, alice, first.sent, systemRandom);
    const got2 = await receive(
      got1.record,
      bob,
      alice,
      second.sent,
      systemRandom,
    );
    expect(got2.text).toBe('two');
    expect(got2.consumed).toEqual({});
    expect(got2.record.previous).toHaveLength(0);

    const reply = await send(got2.record, bob, alice, 'back', systemRandom);
    expect(reply.sent.kind).toBe('message');
    const back = await receive(
      second.record,
      alice,
      bob,
      reply.sent,
      systemRandom,
    );
    const third = await send(back.record, alice, bob, 'three', systemRandom);
    expect(third.sent.kind).toBe('message');
  });
});

describe('ratchet frozen vector', () => {
  it('reproduces the first message and reply', async () => {
    const alice = await createParty('alice', 1, seededRandom('dr-alice'), 1);
    const bob = await createParty('bob', 7, seededRandom('dr-bob'), 1);
    const random = seededRandom('dr-run');
    const { record } = await initiateSession(
      alice.identity,
      bundleOf(bob),
      undefined,
      random,
      NOW,
    );

    const first = await send(record, alice, bob, 'frozen', random);
    const got = await receive(undefined, bob, alice, first.sent, random);
    const reply = await send(got.record, bob, alice, 'thawed', random);
    const back = await receive(first.record, alice, bob, reply.sent, random);
    expect(back.text).toBe('thawed');

    expect(first.sent.body.length).toBe(1590);
    expect(toHex(await sha256(first.sent.body))).toBe(
      'b7a68d6a3e7e2d779b53738bad287a8319e64b3edd54072a9b1caba072cc2f6c',
    );
    // The header is version 1, ratchet key 0x01 ‖ 32 bytes, previous chain
    // length 0, message number 0 and salt. The padded frame (160 bytes) and
    // the tag follow.
    expect(toHex(reply.sent.body)).toBe(
      [
        '0101a826f64c899413a8b1181ac5d23d7900637b491a8de39cffcab8a90a5e1f',
        'e13d00000000000000002d7857e330b62185154c24d31b9a1f1d5f134e33544a',
        '212f96b7473c7e0c233512442ebd8f75628f01e2f86107ed0ec9075f01a035e5',
        '3bf0c780f1e4afcd4b81876f3bd0419457b6c26bb7fb04111efce70fea603120',
        '1a6d4a634c6edfb1b7e92af1d10aa25e319be737247dced344625585cd5eadcd',
        '203e06fbee6d32774f6b2d8404dee25bcb74a46607a1694ac349253cbb427cfa',
        'a96fe0c4902a2a5193cb0d432e225cf4d193692d1bd4097ff114b07877e72018',
        '0a274a90951badd622e8',
      ].join(''),
    );
  });
});
