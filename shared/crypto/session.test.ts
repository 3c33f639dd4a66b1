import { inspect } from 'node:util';
import { describe, expect, it, vi } from 'vitest';
import { type Bytes, concat, toHex, toBase64Url } from './bytes';
import { signDeviceCertificate } from './certificate';
import { HEADER_LENGTH, skippedKeyCount } from './double-ratchet';
import { ByteReader, ByteWriter } from './encoding';
import type { CryptoErrorCode } from './errors';
import {
  MAX_SKIP,
  MAX_SKIPPED_KEYS_PER_CHAIN,
  MAX_SKIPPED_KEYS_PER_SESSION,
  MAX_UNACKNOWLEDGED_SESSION_AGE_MS,
  SKIPPED_KEY_MAX_AGE_MS,
} from './limits';
import { paddedLength } from './padding';
import { generateAesKey, generateX25519KeyPair } from './primitives';
import { systemRandom } from './random';
import { openRecord, sealRecord } from './sealed-storage';
import {
  comparePositions,
  deserializeSessionRecord,
  encryptMessage,
  initiateSession,
  type MessagePosition,
  receivingChainCount,
  serializeSessionRecord,
  type SessionRecord,
} from './session';
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
  type Sent,
} from './test-support/parties';

const random = systemRandom;

async function startSession(
  alice: Party,
  bob: Party,
  options: { oneTimePrekey?: boolean } = {},
): Promise<{
  aliceRecord: SessionRecord;
  bobRecord: SessionRecord;
  first: Sent;
}> {
  const record = await initiate(alice, bob, options);
  const out = await send(record, alice, bob, 'hello', random);
  const got = await receive(undefined, bob, alice, out.sent, random);
  return { aliceRecord: out.record, bobRecord: got.record, first: out.sent };
}

/** Expects a rejection with `code` that leaves the record and prekeys as they were. */
async function expectRejected(
  record: SessionRecord | undefined,
  recipient: Party,
  attempt: () => Promise<unknown>,
  code?: CryptoErrorCode,
): Promise<void> {
  const before = record && toHex(serializeSessionRecord(record));
  const prekeysBefore = [
    recipient.oneTimePrekeys.size,
    recipient.oneTimePqPrekeys.size,
    recipient.seenSetups.size,
  ];
  await expect(attempt()).rejects.toMatchObject(
    code === undefined ? { name: 'CryptoError' } : { code },
  );
  if (record !== undefined) {
    expect(toHex(serializeSessionRecord(record))).toBe(before);
  }
  expect([
    recipient.oneTimePrekeys.size,
    recipient.oneTimePqPrekeys.size,
    recipient.seenSetups.size,
  ]).toEqual(prekeysBefore);
}

function skippedKeys(record: SessionRecord): number {
  return skippedKeyCount(record.current.ratchet);
}

function flipped(body: Bytes, index: number): Bytes {
  const copy = body.slice();
  copy[index] = (copy[index] ?? 0) ^ 0x01;
  return copy;
}

/** Rebuilds a prekey body with its set-up bytes replaced by `change`. */
function withSetup(body: Bytes, change: (setup: Bytes) => Bytes): Bytes {
  const reader = new ByteReader(body, 'invalid-message', 'withSetup');
  const version = reader.u8('version');
  const setup = reader.bytes('set-up', body.length);
  const message = reader.bytes('message', body.length);
  reader.end();
  return new ByteWriter()
    .u8(version)
    .bytes(change(setup))
    .bytes(message)
    .finish();
}

describe('delivery schedules', () => {
  interface InFlight {
    id: number;
    from: 'alice' | 'bob';
    text: string;
    sent: Sent;
  }

  for (const seed of ['a', 'b', 'c', 'd', 'e', 'f']) {
    it(`decrypts each delivery once (seed ${seed})`, async () => {
      const rng = seededRandom(`schedule-${seed}`);
      const { alice, bob } = await createPair();
      const records: Record<'alice' | 'bob', SessionRecord | undefined> = {
        alice: (
          await initiateSession(
            alice.identity,
            bundleOf(bob),
            undefined,
            rng,
            NOW,
          )
        ).record,
        bob: undefined,
      };
      const parties = { alice, bob };
      const pending: InFlight[] = [];
      const delivered: InFlight[] = [];
      const decryptCount = new Map<number, number>();
      let nextId = 0;

      const sendFrom = async (from: 'alice' | 'bob'): Promise<void> => {
        const to = from === 'alice' ? 'bob' : 'alice';
        const record = records[from];
        if (record === undefined) return;
        const text = `${from} ${nextId}`;
        const out = await send(record, parties[from], parties[to], text, rng);
        records[from] = out.record;
        pending.push({ id: nextId++, from, text, sent: out.sent });
      };
      const deliver = async (message: InFlight): Promise<void> => {
        const to = message.from === 'alice' ? 'bob' : 'alice';
        const got = await receive(
          records[to],
          parties[to],
          parties[message.from],
          message.sent,
          rng,
        );
        expect(got.text).toBe(message.text);
        records[to] = got.record;
        decryptCount.set(message.id, (decryptCount.get(message.id) ?? 0) + 1);
        delivered.push(message);
      };
      const redeliver = async (message: InFlight): Promise<void> => {
        const to = message.from === 'alice' ? 'bob' : 'alice';
        await expectRejected(
          records[to],
          parties[to],
          () =>
            receive(
              records[to],
              parties[to],
              parties[message.from],
              message.sent,
              rng,
            ),
          'duplicate-message',
        );
      };

      for (let step = 0; step < 80; step++) {
        const choice = rng.int(10);
        if (choice < 3) await sendFrom('alice');
        else if (choice < 5) await sendFrom('bob');
        else if (choice < 9 && pending.length > 0) {
          const [message] = pending.splice(rng.int(pending.length), 1);
          if (message === undefined) continue;
          // One message in six is dropped and never delivered.
          if (rng.int(6) > 0) await deliver(message);
        } else if (delivered.length > 0) {
          const message = delivered[rng.int(delivered.length)];
          if (message !== undefined) await redeliver(message);
        }
        if (pending.length > 4) {
          const oldest = pending.shift();
          if (oldest !== undefined) await deliver(oldest);
        }
      }
      while (pending.length > 0) {
        const [message] = pending.splice(rng.int(pending.length), 1);
        if (message !== undefined) await deliver(message);
      }

      expect(delivered.length).toBeGreaterThan(10);
      for (const message of delivered) {
        expect(decryptCount.get(message.id)).toBe(1);
      }
      expect(new Set(delivered.map((m) => m.from)).size).toBe(2);
    });
  }
});

describe('forward secrecy', () => {
  it('cannot decrypt a processed message again', async () => {
    const { alice, bob } = await createPair();
    let { aliceRecord, bobRecord } = await startSession(alice, bob);
    const reply = await send(bobRecord, bob, alice, 'r', random);
    bobRecord = reply.record;
    aliceRecord = (await receive(aliceRecord, alice, bob, reply.sent, random))
      .record;

    const sent: Sent[] = [];
    for (let i = 0; i < 3; i++) {
      const out = await send(aliceRecord, alice, bob, `m${i}`, random);
      aliceRecord = out.record;
      sent.push(out.sent);
    }
    // Out of order: message 2 first, then 0 and 1 from skipped keys.
    for (const index of [2, 0, 1]) {
      const message = sent[index];
      if (message === undefined) throw new Error('missing message');
      const got = await receive(bobRecord, bob, alice, message, random);
      expect(got.text).toBe(`m${index}`);
      bobRecord = got.record;
      const snapshot = await deserializeSessionRecord(
        serializeSessionRecord(bobRecord),
      );
      await expectRejected(
        snapshot,
        bob,
        () => receive(snapshot, bob, alice, message, random),
        'duplicate-message',
      );
      await expectRejected(aliceRecord, alice, () =>
        receive(aliceRecord, alice, bob, message, random),
      );
    }
  });
});

describe('post-compromise security', () => {
  it('locks out a copy of the responder', async () => {
    const { alice, bob } = await createPair();
    let { aliceRecord, bobRecord } = await startSession(alice, bob);
    const r1 = await send(bobRecord, bob, alice, 'r1', random);
    bobRecord = r1.record;
    aliceRecord = (await receive(aliceRecord, alice, bob, r1.sent, random))
      .record;

    const stolen = serializeSessionRecord(bobRecord);
    const a1 = await send(aliceRecord, alice, bob, 'a1', random);
    aliceRecord = a1.record;
    bobRecord = (await receive(bobRecord, bob, alice, a1.sent, random)).record;
    // The copy still reads a1: it was sent before Bob's next DH step.
    const copy = await deserializeSessionRecord(stolen);
    expect((await receive(copy, bob, alice, a1.sent, random)).text).toBe('a1');

    const r2 = await send(bobRecord, bob, alice, 'r2', random);
    bobRecord = r2.record;
    aliceRecord = (await receive(aliceRecord, alice, bob, r2.sent, random))
      .record;
    for (let i = 0; i < 4; i++) {
      const later = await send(aliceRecord, alice, bob, `later ${i}`, random);
      aliceRecord = later.record;
      const attacker = await deserializeSessionRecord(stolen);
      await expectRejected(attacker, bob, () =>
        receive(attacker, bob, alice, later.sent, random),
      );
      bobRecord = (await receive(bobRecord, bob, alice, later.sent, random))
        .record;
    }
  });

  it('locks out a copy of the initiator', async () => {
    const { alice, bob } = await createPair();
    let { aliceRecord, bobRecord } = await startSession(alice, bob);
    const stolen = serializeSessionRecord(aliceRecord);

    const r1 = await send(bobRecord, bob, alice, 'r1', random);
    bobRecord = r1.record;
    aliceRecord = (await receive(aliceRecord, alice, bob, r1.sent, random))
      .record;
    const a1 = await send(aliceRecord, alice, bob, 'a1', random);
    aliceRecord = a1.record;
    bobRecord = (await receive(bobRecord, bob, alice, a1.sent, random)).record;

    for (let i = 0; i < 4; i++) {
      const later = await send(bobRecord, bob, alice, `later ${i}`, random);
      bobRecord = later.record;
      const attacker = await deserializeSessionRecord(stolen);
      await expectRejected(attacker, alice, () =>
        receive(attacker, alice, bob, later.sent, random),
      );
    }
  });
});

describe('out-of-order limits', () => {
  it('bounds HMACs before authentication', async () => {
    // A forged message with a new ratchet key, previous chain length
    // MAX_SKIP and message number MAX_SKIP. Before its tag is checked, only
    // the walk to its own message key may run: the keys it would skip are
    // derived only for an authentic message.
    const { alice, bob } = await createPair();
    const { bobRecord } = await startSession(alice, bob);
    const forgedKey = await generateX25519KeyPair(random, {
      extractable: false,
    });
    const header = concat(
      new Uint8Array([1, 1]),
      forgedKey.publicKey,
      new ByteWriter().u32(MAX_SKIP).u32(MAX_SKIP).finish(),
      new Uint8Array(16),
    );
    const body = concat(header, new Uint8Array(160 + 16));
    const subtle = globalThis.crypto.subtle;
    const sign = vi.spyOn(subtle, 'sign');
    try {
      await expectRejected(
        bobRecord,
        bob,
        () => receive(bobRecord, bob, alice, { kind: 'message', body }, random),
        'decryption-failed',
      );
      const hmacCalls = sign.mock.calls.filter(
        ([algorithm]) => algorithm === 'HMAC',
      ).length;
      expect(hmacCalls).toBe(MAX_SKIP + 1);
    } finally {
      sign.mockRestore();
    }
  });

  it('accepts a gap at the limit, rejects one past', async () => {
    const { alice, bob } = await createPair();
    const record = await initiate(alice, bob);
    let aliceRecord = record;
    const sent: Sent[] = [];
    for (let i = 0; i <= MAX_SKIP + 2; i++) {
      const out = await send(aliceRecord, alice, bob, `m${i}`, random);
      aliceRecord = out.record;
      sent.push(out.sent);
    }
    const at = (i: number): Sent => {
      const message = sent[i];
      if (message === undefined) throw new Error(`no message ${i}`);
      return message;
    };
    const start = await receive(undefined, bob, alice, at(0), random);
    const bobRecord = start.record;

    // Message 1 is next, so message MAX_SKIP + 1 skips exactly MAX_SKIP keys.
    const atLimit = await receive(
      bobRecord,
      bob,
      alice,
      at(MAX_SKIP + 1),
      random,
    );
    expect(atLimit.text).toBe(`m${MAX_SKIP + 1}`);
    const late = await receive(atLimit.record, bob, alice, at(500), random);
    expect(late.text).toBe('m500');

    await expectRejected(
      bobRecord,
      bob,
      () => receive(bobRecord, bob, alice, at(MAX_SKIP + 2), random),
      'too-many-skipped',
    );

    // A previous chain length past the limit is rejected the same way.
    const reply = await send(bobRecord, bob, alice, 'reply', random);
    const aliceAfter = await receive(
      aliceRecord,
      alice,
      bob,
      reply.sent,
      random,
    );
    const next = await send(aliceAfter.record, alice, bob, 'next', random);
    await expectRejected(
      reply.record,
      bob,
      () => receive(reply.record, bob, alice, next.sent, random),
      'too-many-skipped',
    );
  });

  it('evicts the oldest keys past a chain cap', async () => {
    const { alice, bob } = await createPair();
    let { aliceRecord, bobRecord } = await startSession(alice, bob);
    const sent: Sent[] = [];
    for (let i = 1; i <= 1500; i++) {
      const out = await send(aliceRecord, alice, bob, `m${i}`, random);
      aliceRecord = out.record;
      sent.push(out.sent);
    }
    const at = (i: number): Sent => {
      const message = sent[i - 1];
      if (message === undefined) throw new Error(`no message ${i}`);
      return message;
    };
    // 999 keys are skipped, then 499 more: the chain keeps the newest 1,000.
    const before = await receive(bobRecord, bob, alice, at(1000), random);
    expect(before.droppedMessageKeys).toBe(0);
    const after = await receive(before.record, bob, alice, at(1500), random);
    expect(after.droppedMessageKeys).toBe(498);
    bobRecord = after.record;
    expect(skippedKeys(bobRecord)).toBe(MAX_SKIPPED_KEYS_PER_CHAIN);
    await expectRejected(
      bobRecord,
      bob,
      () => receive(bobRecord, bob, alice, at(498), random),
      'duplicate-message',
    );
    const kept = await receive(bobRecord, bob, alice, at(499), random);
    expect(kept.text).toBe('m499');
  });

  it('evicts the oldest keys past the session cap', async () => {
    const { alice, bob } = await createPair();
    let { aliceRecord, bobRecord } = await startSession(alice, bob);
    const firstChain: Sent[] = [];
    let now = NOW;
    // Two chains of 1,000 skipped keys each, then 5 more on a third chain.
    for (const gap of [MAX_SKIP, MAX_SKIP, 5]) {
      const chain: Sent[] = [];
      for (let i = 0; i <= gap; i++) {
        const out = await send(aliceRecord, alice, bob, `m${i}`, random);
        aliceRecord = out.record;
        chain.push(out.sent);
      }
      if (firstChain.length === 0) firstChain.push(...chain);
      const last = chain[gap];
      if (last === undefined) throw new Error('missing message');
      now += 1000;
      const got = await receive(bobRecord, bob, alice, last, random, { now });
      expect(got.droppedMessageKeys).toBe(gap === 5 ? 5 : 0);
      bobRecord = got.record;
      const reply = await send(bobRecord, bob, alice, 'turn', random);
      bobRecord = reply.record;
      aliceRecord = (await receive(aliceRecord, alice, bob, reply.sent, random))
        .record;
    }

    expect(skippedKeys(bobRecord)).toBe(MAX_SKIPPED_KEYS_PER_SESSION);
    // The first chain stored keys 1 to 1,000 (m0 to m999, after "hello");
    // the five oldest were evicted for the third chain's keys.
    const evicted = firstChain[4];
    const kept = firstChain[5];
    if (evicted === undefined || kept === undefined) {
      throw new Error('missing message');
    }
    await expectRejected(
      bobRecord,
      bob,
      () => receive(bobRecord, bob, alice, evicted, random, { now }),
      'duplicate-message',
    );
    expect(
      (await receive(bobRecord, bob, alice, kept, random, { now })).text,
    ).toBe('m5');
  });

  it('rejects counters at 2^31', async () => {
    const { alice, bob } = await createPair();
    const { aliceRecord, bobRecord } = await startSession(alice, bob);
    const reply = await send(bobRecord, bob, alice, 'reply', random);
    for (const offset of [34, 38]) {
      const body = reply.sent.body.slice();
      new DataView(body.buffer).setUint32(offset, 2 ** 31);
      await expectRejected(
        aliceRecord,
        alice,
        () =>
          receive(aliceRecord, alice, bob, { kind: 'message', body }, random),
        'counter-overflow',
      );
    }
  });

  it('deletes skipped keys after 14 days', async () => {
    const { alice, bob } = await createPair();
    let { aliceRecord, bobRecord } = await startSession(alice, bob);
    const sent: Sent[] = [];
    for (let i = 0; i < 3; i++) {
      const out = await send(aliceRecord, alice, bob, `m${i}`, random);
      aliceRecord = out.record;
      sent.push(out.sent);
    }
    const [m0, m1, m2] = sent;
    if (m0 === undefined || m1 === undefined || m2 === undefined) {
      throw new Error('missing messages');
    }
    bobRecord = (await receive(bobRecord, bob, alice, m2, random)).record;

    const fresh = await receive(bobRecord, bob, alice, m0, random, {
      now: NOW + SKIPPED_KEY_MAX_AGE_MS - 1,
    });
    expect(fresh.text).toBe('m0');
    await expectRejected(
      bobRecord,
      bob,
      () =>
        receive(bobRecord, bob, alice, m1, random, {
          now: NOW + SKIPPED_KEY_MAX_AGE_MS,
        }),
      'duplicate-message',
    );

    const m3 = await send(aliceRecord, alice, bob, 'm3', random);
    const late = await receive(bobRecord, bob, alice, m3.sent, random, {
      now: NOW + SKIPPED_KEY_MAX_AGE_MS,
    });
    expect(late.text).toBe('m3');
    expect(late.droppedMessageKeys).toBe(2);
  });
});

describe('tampering', () => {
  it('rejects any flipped byte of a message', async () => {
    const { alice, bob } = await createPair();
    const { aliceRecord, bobRecord } = await startSession(alice, bob);
    const reply = await send(bobRecord, bob, alice, 'tamper me', random);
    const body = reply.sent.body;
    expect(body.length).toBe(HEADER_LENGTH + 160 + 16);
    for (let i = 0; i < body.length; i++) {
      await expectRejected(aliceRecord, alice, () =>
        receive(
          aliceRecord,
          alice,
          bob,
          { kind: 'message', body: flipped(body, i) },
          random,
        ),
      );
    }
    await expectRejected(aliceRecord, alice, () =>
      receive(
        aliceRecord,
        alice,
        bob,
        { kind: 'message', body: body.subarray(0, body.length - 1) },
        random,
      ),
    );
    const got = await receive(aliceRecord, alice, bob, reply.sent, random);
    expect(got.text).toBe('tamper me');
  });

  it('rejects flipped bytes of a set-up', async () => {
    const { alice, bob } = await createPair();
    const record = await initiate(alice, bob);
    const first = await send(record, alice, bob, 'hello', random);
    const body = first.sent.body;
    const kemStart = body.length - (HEADER_LENGTH + 160 + 16) - 4 - 1088;
    for (let i = 0; i < body.length; i++) {
      // Every byte is flipped except most of the KEM ciphertext, which is
      // sampled to keep the test fast.
      if (i >= kemStart && i < kemStart + 1088 && i % 32 !== 0) continue;
      await expectRejected(undefined, bob, () =>
        receive(
          undefined,
          bob,
          alice,
          { kind: 'prekey', body: flipped(body, i) },
          random,
        ),
      );
    }
    const got = await receive(undefined, bob, alice, first.sent, random);
    expect(got.text).toBe('hello');

    // Once the session exists, a repeated set-up must match byte for byte.
    const second = await send(first.record, alice, bob, 'again', random);
    for (const i of [5, 40, 120, kemStart + 7]) {
      await expectRejected(got.record, bob, () =>
        receive(
          got.record,
          bob,
          alice,
          { kind: 'prekey', body: flipped(second.sent.body, i) },
          random,
        ),
      );
    }
  });

  it('rejects a non-canonical base key', async () => {
    // X25519 ignores the top bit, so this base key gives the same shared
    // secret under different bytes.
    const { alice, bob } = await createPair();
    const record = await initiate(alice, bob);
    const first = await send(record, alice, bob, 'hello', random);
    const body = withSetup(first.sent.body, (setup) => {
      const certificateLength = new DataView(setup.buffer).getUint32(1);
      const copy = setup.slice();
      const lastByte = 1 + 4 + certificateLength + 4 + 1 + 31;
      copy[lastByte] = (copy[lastByte] ?? 0) ^ 0x80;
      return copy;
    });
    await expectRejected(
      undefined,
      bob,
      () => receive(undefined, bob, alice, { kind: 'prekey', body }, random),
      'invalid-message',
    );
    const got = await receive(undefined, bob, alice, first.sent, random);
    expect(got.text).toBe('hello');
  });

  it('rejects a non-canonical ratchet key', async () => {
    const { alice, bob } = await createPair();
    const { aliceRecord, bobRecord } = await startSession(alice, bob);
    const reply = await send(bobRecord, bob, alice, 'reply', random);
    const body = reply.sent.body.slice();
    body[33] = (body[33] ?? 0) ^ 0x80;
    await expectRejected(
      aliceRecord,
      alice,
      () => receive(aliceRecord, alice, bob, { kind: 'message', body }, random),
      'invalid-message',
    );
  });

  it('rejects a changed associated data input', async () => {
    const { alice, bob } = await createPair();
    const record = await initiate(alice, bob);
    const first = await send(record, alice, bob, 'hello', random);
    // The same keys certified under another device id change the AD.
    const otherCertificate = await signDeviceCertificate(
      bob.identity.identityKey.privateKey,
      {
        ...bob.identity.certificate,
        deviceId: 9,
        issuedAt: NOW,
      },
    );
    const renamed: Party = {
      ...bob,
      identity: { ...bob.identity, certificate: otherCertificate },
    };
    await expectRejected(
      undefined,
      bob,
      () => receive(undefined, renamed, alice, first.sent, random),
      'decryption-failed',
    );

    const got = await receive(undefined, bob, alice, first.sent, random);
    const reply = await send(got.record, bob, alice, 'reply', random);
    const stored = await deserializeSessionRecord(
      serializeSessionRecord(first.record),
    );
    const ad = stored.current.ratchet.associatedData.slice();
    ad[ad.length - 1] = (ad[ad.length - 1] ?? 0) ^ 0x01;
    const changed: SessionRecord = {
      ...stored,
      current: {
        ...stored.current,
        ratchet: { ...stored.current.ratchet, associatedData: ad },
      },
    };
    await expectRejected(
      changed,
      alice,
      () => receive(changed, alice, bob, reply.sent, random),
      'decryption-failed',
    );
  });
});

describe('replays', () => {
  it('rejects a replayed message', async () => {
    const { alice, bob } = await createPair();
    const { aliceRecord, bobRecord, first } = await startSession(alice, bob);
    await expectRejected(
      bobRecord,
      bob,
      () => receive(bobRecord, bob, alice, first, random),
      'duplicate-message',
    );
    const reply = await send(bobRecord, bob, alice, 'reply', random);
    const got = await receive(aliceRecord, alice, bob, reply.sent, random);
    await expectRejected(
      got.record,
      alice,
      () => receive(got.record, alice, bob, reply.sent, random),
      'duplicate-message',
    );
  });

  it('rejects a replayed set-up with one-time prekey', async () => {
    const { alice, bob } = await createPair();
    const { first } = await startSession(alice, bob);
    expect(bob.oneTimePrekeys.size).toBe(1);
    expect(bob.oneTimePqPrekeys.size).toBe(1);
    await expectRejected(
      undefined,
      bob,
      () => receive(undefined, bob, alice, first, random),
      'replayed-setup',
    );
  });

  it('rejects a replayed set-up without one-time keys', async () => {
    const alice = await createParty('alice', 1, random);
    const bob = await createParty('bob', 1, random, 0);
    const { first } = await startSession(alice, bob, { oneTimePrekey: false });
    expect(bob.seenSetups.size).toBe(1);
    await expectRejected(
      undefined,
      bob,
      () => receive(undefined, bob, alice, first, random),
      'replayed-setup',
    );
  });

  it('rejects a replayed set-up with only a PQ one-time key', async () => {
    const { alice, bob } = await createPair();
    const { first } = await startSession(alice, bob, { oneTimePrekey: false });
    expect(bob.seenSetups.size).toBe(1);
    expect(bob.oneTimePqPrekeys.size).toBe(1);
    await expectRejected(
      undefined,
      bob,
      () => receive(undefined, bob, alice, first, random),
      'replayed-setup',
    );
  });
});

describe('identity binding', () => {
  it('rejects a message for another device', async () => {
    const { alice, bob } = await createPair();
    const { aliceRecord, bobRecord } = await startSession(alice, bob);
    const out = await send(aliceRecord, alice, bob, 'for bob 1', random);
    const otherDevice: Party = {
      ...bob,
      identity: { ...bob.identity, deviceId: 2 },
    };
    await expectRejected(
      bobRecord,
      bob,
      () => receive(bobRecord, otherDevice, alice, out.sent, random),
      'untrusted-identity',
    );
    const bob2 = await createParty('bob', 2, random);
    await expectRejected(undefined, bob2, () =>
      receive(undefined, bob2, alice, out.sent, random),
    );
  });

  it('rejects a sender other than the session peer', async () => {
    const { alice, bob } = await createPair();
    const carol = await createParty('carol', 1, random);
    const { aliceRecord, bobRecord } = await startSession(alice, bob);
    const out = await send(aliceRecord, alice, bob, 'hi', random);
    await expectRejected(
      bobRecord,
      bob,
      () => receive(bobRecord, bob, carol, out.sent, random),
      'invalid-state',
    );
  });

  it('rejects a reflected message', async () => {
    const { alice, bob } = await createPair();
    const { aliceRecord, bobRecord } = await startSession(alice, bob);
    const toBob = await send(aliceRecord, alice, bob, 'to bob', random);
    await expectRejected(toBob.record, alice, () =>
      receive(toBob.record, alice, bob, toBob.sent, random),
    );
    const toAlice = await send(bobRecord, bob, alice, 'to alice', random);
    await expectRejected(toAlice.record, bob, () =>
      receive(toAlice.record, bob, alice, toAlice.sent, random),
    );
  });
});

describe('ciphertext length', () => {
  it('depends only on the padding bucket', async () => {
    const { alice, bob } = await createPair();
    const { bobRecord } = await startSession(alice, bob);
    let record = bobRecord;
    // Frame: version, two length-prefixed user ids, two device ids and the
    // length-prefixed plaintext.
    const frameOverhead = 1 + 4 + 3 + 4 + 4 + 5 + 4 + 4;
    const lengths = new Map<number, Set<number>>();
    for (let size = 0; size <= 500; size += 7) {
      const out = await send(record, bob, alice, 'x'.repeat(size), random);
      record = out.record;
      const bucket = paddedLength(size + frameOverhead);
      expect(out.sent.body.length).toBe(HEADER_LENGTH + bucket + 16);
      const seen = lengths.get(bucket) ?? new Set<number>();
      seen.add(out.sent.body.length);
      lengths.set(bucket, seen);
    }
    expect(lengths.size).toBeGreaterThan(2);
    for (const seen of lengths.values()) expect(seen.size).toBe(1);
  });
});

describe('simultaneous initiation', () => {
  it('converges on one session', async () => {
    const { alice, bob } = await createPair();
    const fromAlice = await initiateSession(
      alice.identity,
      bundleOf(bob),
      undefined,
      random,
      NOW,
    );
    const fromBob = await initiateSession(
      bob.identity,
      bundleOf(alice),
      undefined,
      random,
      NOW,
    );
    const a1 = await send(fromAlice.record, alice, bob, 'a1', random);
    const b1 = await send(fromBob.record, bob, alice, 'b1', random);
    expect(a1.sent.kind).toBe('prekey');
    expect(b1.sent.kind).toBe('prekey');

    const aliceGot = await receive(a1.record, alice, bob, b1.sent, random);
    const bobGot = await receive(b1.record, bob, alice, a1.sent, random);
    expect(aliceGot.text).toBe('b1');
    expect(bobGot.text).toBe('a1');
    expect(aliceGot.record.previous).toHaveLength(1);

    let aliceRecord = aliceGot.record;
    let bobRecord = bobGot.record;
    const a2 = await send(aliceRecord, alice, bob, 'a2', random);
    aliceRecord = a2.record;
    const bobA2 = await receive(bobRecord, bob, alice, a2.sent, random);
    bobRecord = bobA2.record;
    expect(bobA2.text).toBe('a2');
    expect(bobRecord.current.baseKey).toEqual(aliceRecord.current.baseKey);

    for (let i = 0; i < 4; i++) {
      const b = await send(bobRecord, bob, alice, `b${i}`, random);
      bobRecord = b.record;
      expect(b.sent.kind).toBe('message');
      aliceRecord = (await receive(aliceRecord, alice, bob, b.sent, random))
        .record;
      const a = await send(aliceRecord, alice, bob, `a${i}`, random);
      aliceRecord = a.record;
      expect(a.sent.kind).toBe('message');
      bobRecord = (await receive(bobRecord, bob, alice, a.sent, random)).record;
      expect(bobRecord.current.baseKey).toEqual(aliceRecord.current.baseKey);
    }
  });

  it('keeps at most 40 earlier sessions', async () => {
    const { alice, bob } = await createPair();
    let record: SessionRecord | undefined;
    for (let i = 0; i < 43; i++) {
      record = (
        await initiateSession(
          alice.identity,
          bundleOf(bob, { oneTimePrekey: false, lastResort: true }),
          undefined,
          random,
          NOW,
          record,
        )
      ).record;
    }
    expect(record?.previous).toHaveLength(40);
  });

  it('rejects a record of another peer', async () => {
    const { alice, bob } = await createPair();
    const carol = await createParty('carol', 1, random);
    const withBob = await initiateSession(
      alice.identity,
      bundleOf(bob),
      undefined,
      random,
      NOW,
    );
    await expect(
      initiateSession(
        alice.identity,
        bundleOf(carol),
        undefined,
        random,
        NOW,
        withBob.record,
      ),
    ).rejects.toMatchObject({ code: 'invalid-state' });
  });
});

describe('unacknowledged set-ups', () => {
  const MONTH = MAX_UNACKNOWLEDGED_SESSION_AGE_MS;

  async function sendAt(
    record: SessionRecord,
    sender: Party,
    recipient: Party,
    now: number,
  ) {
    return encryptMessage(
      record,
      sender.identity,
      recipient.address,
      new TextEncoder().encode('late'),
      random,
      now,
    );
  }

  it('rejects sending a stale set-up', async () => {
    const { alice, bob } = await createPair();
    const record = await initiate(alice, bob);
    const early = await sendAt(record, alice, bob, NOW + MONTH - 1);
    expect(early.kind).toBe('prekey');
    await expect(sendAt(record, alice, bob, NOW + MONTH)).rejects.toMatchObject(
      { code: 'stale-session' },
    );
  });

  it('keeps an answered session usable', async () => {
    const { alice, bob } = await createPair();
    const { aliceRecord, bobRecord } = await startSession(alice, bob);
    const reply = await send(bobRecord, bob, alice, 'back', random);
    const back = await receive(aliceRecord, alice, bob, reply.sent, random);
    const late = await sendAt(back.record, alice, bob, NOW + 2 * MONTH);
    expect(late.kind).toBe('message');
    const bobLate = await sendAt(reply.record, bob, alice, NOW + 2 * MONTH);
    expect(bobLate.kind).toBe('message');
  });

  it('keeps the set-up time through storage', async () => {
    const { alice, bob } = await createPair();
    const record = await initiate(alice, bob);
    const stored = await deserializeSessionRecord(
      serializeSessionRecord(record),
    );
    expect(stored.current.createdAt).toBe(NOW);
    await expect(sendAt(stored, alice, bob, NOW + MONTH)).rejects.toMatchObject(
      { code: 'stale-session' },
    );
  });
});

describe('stored sessions', () => {
  function secretsOf(record: SessionRecord): Bytes[] {
    const secrets: Bytes[] = [];
    for (const session of [record.current, ...record.previous]) {
      const { ratchet } = session;
      secrets.push(ratchet.rootKey.key.reveal());
      if (ratchet.sendingChain) secrets.push(ratchet.sendingChain.key.reveal());
      if (ratchet.ourRatchetKey.kind === 'ratchet') {
        secrets.push(ratchet.ourRatchetKey.pkcs8.reveal().subarray(16));
      }
      for (const chain of ratchet.receivingChains) {
        if (chain.chainKey) secrets.push(chain.chainKey.key.reveal());
        for (const key of chain.skippedKeys)
          secrets.push(key.messageKey.reveal());
      }
    }
    return secrets;
  }

  function contains(haystack: Bytes, needle: Bytes): boolean {
    return toHex(haystack).includes(toHex(needle));
  }

  it('round-trips through serialization', async () => {
    const { alice, bob } = await createPair();
    const { aliceRecord, bobRecord } = await startSession(alice, bob);
    const restored = await deserializeSessionRecord(
      serializeSessionRecord(bobRecord),
    );
    expect(serializeSessionRecord(restored)).toEqual(
      serializeSessionRecord(bobRecord),
    );
    const reply = await send(restored, bob, alice, 'restored', random);
    expect(
      (await receive(aliceRecord, alice, bob, reply.sent, random)).text,
    ).toBe('restored');
  });

  it('seals every key of a session', async () => {
    const { alice, bob } = await createPair();
    let { aliceRecord, bobRecord } = await startSession(alice, bob);
    const sent: Sent[] = [];
    for (let i = 0; i < 4; i++) {
      const out = await send(aliceRecord, alice, bob, `m${i}`, random);
      aliceRecord = out.record;
      sent.push(out.sent);
    }
    const last = sent[3];
    if (last === undefined) throw new Error('missing message');
    bobRecord = (await receive(bobRecord, bob, alice, last, random)).record;

    const secrets = secretsOf(bobRecord);
    expect(secrets.length).toBeGreaterThanOrEqual(6);
    const serialized = serializeSessionRecord(bobRecord);
    for (const secret of secrets)
      expect(contains(serialized, secret)).toBe(true);

    const storageKey = await generateAesKey();
    const sealed = await sealRecord(
      storageKey,
      'session',
      'alice.1',
      1,
      serialized,
      random,
    );
    for (const secret of secrets) expect(contains(sealed, secret)).toBe(false);
    const text = JSON.stringify(bobRecord) + inspect(bobRecord, { depth: 10 });
    for (const secret of secrets) {
      expect(text).not.toContain(toHex(secret));
      expect(text).not.toContain(toBase64Url(secret));
    }
    expect(
      await openRecord(storageKey, 'session', 'alice.1', 1, sealed),
    ).toEqual(serialized);
    await expect(
      openRecord(storageKey, 'session', 'carol.1', 1, sealed),
    ).rejects.toMatchObject({ code: 'decryption-failed' });
  });

  it('rejects a malformed record', async () => {
    const { alice, bob } = await createPair();
    const { bobRecord } = await startSession(alice, bob);
    const serialized = serializeSessionRecord(bobRecord);
    await expect(
      deserializeSessionRecord(serialized.subarray(0, serialized.length - 1)),
    ).rejects.toMatchObject({ code: 'invalid-state' });
    await expect(
      deserializeSessionRecord(concat(serialized, new Uint8Array([0]))),
    ).rejects.toMatchObject({ code: 'invalid-state' });
  });

  it('rejects a record with an invalid flag', async () => {
    const { alice, bob } = await createPair();
    const { bobRecord } = await startSession(alice, bob);
    const serialized = serializeSessionRecord(bobRecord);
    // Record version, session count, base key, user id 'alice', device id
    // and identity key come before the pending set-up flag.
    const flagOffset = 1 + 4 + (4 + 32) + (4 + 5) + 4 + (4 + 32);
    expect(serialized[flagOffset]).toBe(0);
    for (const value of [1, 2]) {
      const changed = serialized.slice();
      changed[flagOffset] = value;
      await expect(deserializeSessionRecord(changed)).rejects.toMatchObject({
        code: 'invalid-state',
      });
    }
  });

  it('stores a session without a set-up time', async () => {
    const { alice, bob } = await createPair();
    const { bobRecord } = await startSession(alice, bob);
    const record: SessionRecord = {
      current: { ...bobRecord.current, createdAt: undefined },
      previous: [],
    };
    const stored = await deserializeSessionRecord(
      serializeSessionRecord(record),
    );
    expect(stored.current.createdAt).toBeUndefined();

    // Version 1 had no set-up time field after the set-up digest.
    const serialized = serializeSessionRecord(record);
    const timeOffset = 1 + 4 + (4 + 32) + (4 + 5) + 4 + (4 + 32) + 5 + 37;
    const version1 = concat(
      new Uint8Array([1]),
      serialized.subarray(1, timeOffset),
      serialized.subarray(timeOffset + 9),
    );
    const old = await deserializeSessionRecord(version1);
    expect(serializeSessionRecord(old)).toEqual(serialized);
  });
});

describe('message positions', () => {
  /** Sends `text` from `from` to `to` and returns the sender's new record. */
  async function sendText(
    record: SessionRecord,
    from: Party,
    to: Party,
    text: string,
  ): Promise<{ record: SessionRecord; sent: Sent }> {
    return send(record, from, to, text, random);
  }

  it('orders by message number', async () => {
    const { alice, bob } = await createPair();
    const start = await startSession(alice, bob);
    const second = await sendText(start.aliceRecord, alice, bob, 'second');
    const third = await sendText(second.record, alice, bob, 'third');

    const gotThird = await receive(
      start.bobRecord,
      bob,
      alice,
      third.sent,
      random,
    );
    const gotSecond = await receive(
      gotThird.record,
      bob,
      alice,
      second.sent,
      random,
    );

    expect(gotThird.position).toEqual({ session: NOW, chain: 0, message: 2 });
    expect(gotSecond.position).toEqual({ session: NOW, chain: 0, message: 1 });
    expect(comparePositions(gotSecond.position, gotThird.position)).toBe(-1);
  });

  it('puts a late older chain first', async () => {
    const { alice, bob } = await createPair();
    const start = await startSession(alice, bob);
    const late = await sendText(start.aliceRecord, alice, bob, 'late');
    const reply = await sendText(start.bobRecord, bob, alice, 'reply');
    const gotReply = await receive(late.record, alice, bob, reply.sent, random);
    const newer = await sendText(gotReply.record, alice, bob, 'newer');

    const gotNewer = await receive(
      reply.record,
      bob,
      alice,
      newer.sent,
      random,
    );
    const gotLate = await receive(
      gotNewer.record,
      bob,
      alice,
      late.sent,
      random,
    );

    expect(gotNewer.position.chain).toBe(1);
    expect(gotLate.position).toEqual({ session: NOW, chain: 0, message: 1 });
    expect(comparePositions(gotLate.position, gotNewer.position)).toBeLessThan(
      0,
    );
    expect(gotLate.text).toBe('late');
  });

  it('counts dropped chains across storage', async () => {
    const { alice, bob } = await createPair();
    const start = await startSession(alice, bob);
    let aliceRecord = start.aliceRecord;
    let bobRecord = start.bobRecord;
    const positions: MessagePosition[] = [];
    for (let round = 0; round < 8; round++) {
      const reply = await sendText(bobRecord, bob, alice, `reply ${round}`);
      aliceRecord = (await receive(aliceRecord, alice, bob, reply.sent, random))
        .record;
      const next = await sendText(aliceRecord, alice, bob, `next ${round}`);
      aliceRecord = next.record;
      const got = await receive(reply.record, bob, alice, next.sent, random);
      positions.push(got.position);
      // A stored and reloaded record keeps counting.
      bobRecord = await deserializeSessionRecord(
        serializeSessionRecord(got.record),
      );
    }

    expect(positions.map((position) => position.chain)).toEqual([
      1, 2, 3, 4, 5, 6, 7, 8,
    ]);
    expect(receivingChainCount(bobRecord.current)).toBe(9);
    expect(bobRecord.current.ratchet.receivingChains.length).toBeLessThan(9);
    expect(serializeSessionRecord(bobRecord)[0]).toBe(3);
  });

  it('writes version 2 without dropped chains', async () => {
    const { alice, bob } = await createPair();
    const { bobRecord } = await startSession(alice, bob);
    expect(serializeSessionRecord(bobRecord)[0]).toBe(2);
    expect(receivingChainCount(bobRecord.current)).toBe(1);
  });

  it('rejects a chain count below the chains kept', async () => {
    const { alice, bob } = await createPair();
    const { bobRecord } = await startSession(alice, bob);
    const record: SessionRecord = {
      current: { ...bobRecord.current, receivingChainCount: 5 },
      previous: [],
    };
    const serialized = serializeSessionRecord(record);
    expect(serialized[0]).toBe(3);
    // The chain count follows the set-up time field.
    const countOffset = 1 + 4 + (4 + 32) + (4 + 5) + 4 + (4 + 32) + 5 + 37 + 9;
    const changed = serialized.slice();
    changed.set([0, 0, 0, 0], countOffset);
    await expect(deserializeSessionRecord(changed)).rejects.toMatchObject({
      code: 'invalid-state',
    });
  });
});
