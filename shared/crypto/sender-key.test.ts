import { createHmac, hkdfSync } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Address } from '../wire/schemas';
import { type Bytes, concat, fromUtf8, toHex, utf8 } from './bytes';
import { CryptoError } from './errors';
import { MAX_SENDER_KEY_SKIP, MAX_SENDER_KEY_STATES } from './limits';
import { generateAesKey, sha256 } from './primitives';
import { systemRandom } from './random';
import {
  createSenderKey,
  decodeSenderKeyDistribution,
  decryptGroupMessage,
  encodeSenderKeyDistribution,
  encryptGroupMessage,
  needsRotation,
  openOwnSenderKey,
  openSenderKeyRecord,
  type OwnSenderKey,
  parseGroupMessageHeader,
  processSenderKeyDistribution,
  rotateSenderKey,
  sealOwnSenderKey,
  sealSenderKeyRecord,
  SENDER_KEY_HEADER_LENGTH,
  senderKeyDistribution,
  type SenderKeyRecord,
} from './sender-key';
import { seededRandom } from './test-support/deterministic-random';

const NOW = 1_750_000_000_000;
const GROUP_ID = new Uint8Array(16).fill(0x47);
const ALICE: Address = { userId: 'alice', deviceId: 1 };
const MALLORY: Address = { userId: 'mallory', deviceId: 1 };

/** A sender key and the record a member builds from its distribution. */
async function setUp(
  seed = 'sender-key',
): Promise<{ senderKey: OwnSenderKey; record: SenderKeyRecord }> {
  const random = seededRandom(seed);
  const senderKey = await createSenderKey(GROUP_ID, random, NOW);
  const record = processSenderKeyDistribution(
    undefined,
    decodeSenderKeyDistribution(
      encodeSenderKeyDistribution(senderKeyDistribution(senderKey)),
    ),
  );
  return { senderKey, record };
}

/** Encrypts `text` on `senderKey` as Alice's device. */
async function encryptFromAlice(
  senderKey: OwnSenderKey,
  text: string,
): Promise<{ senderKey: OwnSenderKey; message: Bytes }> {
  return encryptGroupMessage(senderKey, ALICE, utf8(text), systemRandom);
}

async function encryptMany(
  senderKey: OwnSenderKey,
  count: number,
): Promise<{ senderKey: OwnSenderKey; messages: Bytes[] }> {
  const messages: Bytes[] = [];
  let current = senderKey;
  for (let i = 0; i < count; i++) {
    const result = await encryptFromAlice(current, `message ${i}`);
    current = result.senderKey;
    messages.push(result.message);
  }
  return { senderKey: current, messages };
}

describe('sender key vectors', () => {
  it('matches the frozen distribution message', async () => {
    const { senderKey } = await setUp();
    const encoded = encodeSenderKeyDistribution(
      senderKeyDistribution(senderKey),
    );
    expect(toHex(encoded)).toBe(
      '01' +
        '47474747474747474747474747474747' +
        'd518e073d3afbc3f06f92142985f5a90' +
        '2dc71d7e' +
        '00000000' +
        '97c652288a04659112c047f5202adc2f89b3e9a322d41e4962767ddc9c47c049' +
        '02' +
        'b496a5848534e0713f2a41ba6f5874303cd3b05dee6acef9107bd1d02a75f8f1',
    );
  });

  it('matches the frozen chain keys', async () => {
    const { senderKey } = await setUp();
    let chainKey = senderKey.chainKey;
    const messageKeys: string[] = [];
    for (let i = 0; i < 3; i++) {
      messageKeys.push(toHex((await chainKey.messageKey()).reveal()));
      chainKey = await chainKey.next();
    }
    expect(messageKeys).toEqual([
      '4085dfe90e5e2750d987ef7368f38661481d81ca3ee0171c92c29bb4e0103e35',
      '47a49d053b357fc4bd935025f35eefd141cbc14bcdb3ee673c8082b76699cedb',
      'd8abf8af3bda5a50975f23fd46df93872edff634fc49362683ee422c73648f0a',
    ]);
    expect(toHex(chainKey.key.reveal())).toBe(
      'fee8971a855d2c646e0b645e464711f8d8e30b8458182f0a2c70633ff6e2a38e',
    );
  });

  it('agrees with an independent HMAC', async () => {
    const { senderKey } = await setUp();
    const chainKey = senderKey.chainKey.key.reveal();
    const messageKey = createHmac('sha256', chainKey)
      .update(new Uint8Array([0x01]))
      .digest('hex');
    const nextChainKey = createHmac('sha256', chainKey)
      .update(new Uint8Array([0x02]))
      .digest('hex');
    expect(toHex((await senderKey.chainKey.messageKey()).reveal())).toBe(
      messageKey,
    );
    expect(toHex((await senderKey.chainKey.next()).key.reveal())).toBe(
      nextChainKey,
    );
  });

  it('matches the frozen message', async () => {
    const { senderKey } = await setUp();
    const random = seededRandom('sender-key/message');
    const { message } = await encryptGroupMessage(
      senderKey,
      ALICE,
      utf8('hello group'),
      random,
    );
    expect(message.length).toBe(SENDER_KEY_HEADER_LENGTH + 160 + 16 + 64);
    expect(toHex(message.subarray(0, SENDER_KEY_HEADER_LENGTH))).toBe(
      '01' +
        '47474747474747474747474747474747' +
        'd518e073d3afbc3f06f92142985f5a90' +
        '2dc71d7e' +
        '00000000' +
        '5fd295466f23a52109f81678336fd223',
    );
    expect(toHex(await sha256(message))).toBe(
      '8af3b4b2c7b77094caa870762a17caae236cfaaa669e6ed0e258cb1c1208051a',
    );
  });

  it('derives key and IV with the SK info', async () => {
    const { senderKey, record } = await setUp();
    const random = seededRandom('sender-key/message');
    const { message } = await encryptGroupMessage(
      senderKey,
      ALICE,
      utf8('hello group'),
      random,
    );
    const header = parseGroupMessageHeader(message);
    const messageKey = (await senderKey.chainKey.messageKey()).reveal();
    const derived = new Uint8Array(
      hkdfSync('sha256', messageKey, header.salt, 'Cloak-v1/SK/message', 44),
    );
    // Decrypting with the independently derived key and IV shows which
    // info string the module used.
    const key = await globalThis.crypto.subtle.importKey(
      'raw',
      derived.slice(0, 32),
      'AES-GCM',
      false,
      ['decrypt'],
    );
    const ad = concat(
      utf8('Cloak-v1/SK/AD'),
      new Uint8Array([0, 0, 0, SENDER_KEY_HEADER_LENGTH]),
      message.subarray(0, SENDER_KEY_HEADER_LENGTH),
    );
    const padded = await globalThis.crypto.subtle.decrypt(
      { name: 'AES-GCM', iv: derived.slice(32), additionalData: ad },
      key,
      message.slice(SENDER_KEY_HEADER_LENGTH, message.length - 64),
    );
    expect(padded.byteLength).toBe(160);
    const result = await decryptGroupMessage(record, ALICE, message);
    expect(fromUtf8(result.plaintext)).toBe('hello group');
  });
});

describe('group message decryption', () => {
  it('decrypts messages in order', async () => {
    const { senderKey, record } = await setUp();
    const { messages } = await encryptMany(senderKey, 3);
    let current = record;
    for (const [i, message] of messages.entries()) {
      const result = await decryptGroupMessage(current, ALICE, message);
      expect(fromUtf8(result.plaintext)).toBe(`message ${i}`);
      current = result.record;
    }
  });

  it('decrypts out of order once each', async () => {
    const { senderKey, record } = await setUp();
    const { messages } = await encryptMany(senderKey, 4);
    let current = record;
    for (const i of [3, 0, 2, 1]) {
      const message = messages[i];
      if (message === undefined) throw new Error('missing message');
      const result = await decryptGroupMessage(current, ALICE, message);
      expect(fromUtf8(result.plaintext)).toBe(`message ${i}`);
      current = result.record;
    }
    const first = messages[0];
    if (first === undefined) throw new Error('missing message');
    await expect(decryptGroupMessage(current, ALICE, first)).rejects.toThrow(
      expect.objectContaining({ code: 'duplicate-message' }),
    );
  });

  it('accepts a gap at the skip limit', async () => {
    const { senderKey, record } = await setUp();
    const ahead: OwnSenderKey = {
      ...senderKey,
      chainKey: await advance(senderKey, MAX_SENDER_KEY_SKIP),
    };
    const { message } = await encryptFromAlice(ahead, 'far ahead');
    const result = await decryptGroupMessage(record, ALICE, message);
    expect(fromUtf8(result.plaintext)).toBe('far ahead');
    expect(result.record.states[0]?.skippedKeys.length).toBe(
      MAX_SENDER_KEY_SKIP,
    );
  });

  it('rejects a gap past the skip limit', async () => {
    const { senderKey, record } = await setUp();
    const ahead: OwnSenderKey = {
      ...senderKey,
      chainKey: await advance(senderKey, MAX_SENDER_KEY_SKIP + 1),
    };
    const { message } = await encryptFromAlice(ahead, 'too far');
    await expect(decryptGroupMessage(record, ALICE, message)).rejects.toThrow(
      expect.objectContaining({ code: 'too-many-skipped' }),
    );
  });

  it('rejects every flipped byte', async () => {
    const { senderKey, record } = await setUp();
    const { message } = await encryptFromAlice(senderKey, 'do not touch');
    const before = await sealedForm(record);
    for (let i = 0; i < message.length; i++) {
      const tampered = message.slice();
      tampered[i] = (tampered[i] ?? 0) ^ 0x01;
      await expect(
        decryptGroupMessage(record, ALICE, tampered),
      ).rejects.toThrow(CryptoError);
    }
    expect(await sealedForm(record)).toEqual(before);
    const result = await decryptGroupMessage(record, ALICE, message);
    expect(fromUtf8(result.plaintext)).toBe('do not touch');
  });

  it('rejects a message from another device', async () => {
    const { senderKey, record } = await setUp();
    const { message } = await encryptFromAlice(senderKey, 'from alice');
    await expect(decryptGroupMessage(record, MALLORY, message)).rejects.toThrow(
      expect.objectContaining({ code: 'untrusted-identity' }),
    );
  });
});

/** Returns the chain key `steps` iterations after the sender key's. */
async function advance(senderKey: OwnSenderKey, steps: number) {
  let chainKey = senderKey.chainKey;
  for (let i = 0; i < steps; i++) chainKey = await chainKey.next();
  return chainKey;
}

let storageKey: CryptoKey;

beforeAll(async () => {
  storageKey = await generateAesKey();
});

/** Serializes a record through a deterministic seal, to compare states. */
async function sealedForm(record: SenderKeyRecord): Promise<string> {
  return toHex(
    await sealSenderKeyRecord(
      storageKey,
      'compare',
      record,
      seededRandom('compare'),
    ),
  );
}

describe('sender forgery', () => {
  it('rejects a member signing as another', async () => {
    // Mallory, a member, holds Alice's chain key from her distribution
    // message, and claims Alice's distribution and chain ids, but can sign
    // only with her own signing key.
    const { senderKey: alice, record } = await setUp();
    const mallory = await createSenderKey(GROUP_ID, systemRandom, NOW);
    const forger: OwnSenderKey = {
      ...alice,
      signingKey: mallory.signingKey,
    };
    const { message } = await encryptFromAlice(forger, 'forged');
    await expect(decryptGroupMessage(record, ALICE, message)).rejects.toThrow(
      expect.objectContaining({ code: 'invalid-signature' }),
    );
  });

  it('rejects a copied chain under another sender', async () => {
    // Mallory sends Carol a distribution message that copies Alice's chain
    // and public signing key, hoping Alice's messages show as hers.
    const { senderKey: alice, record: aliceRecord } = await setUp();
    const copied = processSenderKeyDistribution(
      undefined,
      senderKeyDistribution(alice),
    );
    const { message } = await encryptFromAlice(alice, 'from alice');
    await expect(decryptGroupMessage(copied, MALLORY, message)).rejects.toThrow(
      expect.objectContaining({ code: 'untrusted-identity' }),
    );
    const genuine = await decryptGroupMessage(aliceRecord, ALICE, message);
    expect(fromUtf8(genuine.plaintext)).toBe('from alice');
  });
});

describe('sender key rotation', () => {
  it('locks out a removed member', async () => {
    const { senderKey, record: removed } = await setUp();
    const rotated = await rotateSenderKey(senderKey, systemRandom, NOW);
    const remaining = processSenderKeyDistribution(
      removed,
      senderKeyDistribution(rotated),
    );
    const { message } = await encryptFromAlice(rotated, 'after removal');
    await expect(decryptGroupMessage(removed, ALICE, message)).rejects.toThrow(
      expect.objectContaining({ code: 'unknown-sender-key' }),
    );
    const result = await decryptGroupMessage(remaining, ALICE, message);
    expect(fromUtf8(result.plaintext)).toBe('after removal');
  });

  it('keeps the same distribution id', async () => {
    const { senderKey } = await setUp();
    const rotated = await rotateSenderKey(senderKey, systemRandom, NOW);
    expect(toHex(rotated.distributionId)).toBe(toHex(senderKey.distributionId));
    expect(rotated.chainId).not.toBe(senderKey.chainId);
    expect(toHex(rotated.signingKey.publicKey)).not.toBe(
      toHex(senderKey.signingKey.publicKey),
    );
  });

  it('reads old chains until evicted', async () => {
    const { senderKey, record } = await setUp();
    const { message: old } = await encryptFromAlice(
      senderKey,
      'before rotation',
    );
    let current = record;
    let key = senderKey;
    for (let i = 0; i < MAX_SENDER_KEY_STATES - 1; i++) {
      key = await rotateSenderKey(key, systemRandom, NOW);
      current = processSenderKeyDistribution(
        current,
        senderKeyDistribution(key),
      );
    }
    const result = await decryptGroupMessage(current, ALICE, old);
    expect(fromUtf8(result.plaintext)).toBe('before rotation');
    key = await rotateSenderKey(key, systemRandom, NOW);
    current = processSenderKeyDistribution(current, senderKeyDistribution(key));
    expect(current.states.length).toBe(MAX_SENDER_KEY_STATES);
    await expect(decryptGroupMessage(current, ALICE, old)).rejects.toThrow(
      expect.objectContaining({ code: 'unknown-sender-key' }),
    );
  });

  it('gives a new member no history', async () => {
    const { senderKey, record: early } = await setUp();
    const { senderKey: later, messages } = await encryptMany(senderKey, 2);
    const joined = processSenderKeyDistribution(
      undefined,
      senderKeyDistribution(later),
    );
    const first = messages[0];
    if (first === undefined) throw new Error('missing message');
    await expect(decryptGroupMessage(joined, ALICE, first)).rejects.toThrow(
      expect.objectContaining({ code: 'duplicate-message' }),
    );
    const result = await decryptGroupMessage(early, ALICE, first);
    expect(fromUtf8(result.plaintext)).toBe('message 0');
  });

  it('ignores a repeated distribution message', async () => {
    const { senderKey, record } = await setUp();
    const { messages } = await encryptMany(senderKey, 1);
    const first = messages[0];
    if (first === undefined) throw new Error('missing message');
    const after = await decryptGroupMessage(record, ALICE, first);
    const repeated = processSenderKeyDistribution(
      after.record,
      senderKeyDistribution(senderKey),
    );
    await expect(decryptGroupMessage(repeated, ALICE, first)).rejects.toThrow(
      expect.objectContaining({ code: 'duplicate-message' }),
    );
  });

  it('asks for rotation by count and age', async () => {
    const { senderKey } = await setUp();
    expect(needsRotation(senderKey, NOW)).toBe(false);
    expect(needsRotation(senderKey, NOW + 7 * 24 * 3600 * 1000)).toBe(true);
    const used: OwnSenderKey = {
      ...senderKey,
      chainKey: await advance(senderKey, 1000),
    };
    expect(needsRotation(used, NOW)).toBe(true);
  });
});

describe('sender key storage', () => {
  it('round-trips our sealed sender key', async () => {
    const { senderKey, record } = await setUp();
    const sealed = await sealOwnSenderKey(
      storageKey,
      'group-1',
      senderKey,
      systemRandom,
    );
    const opened = await openOwnSenderKey(storageKey, 'group-1', sealed);
    const { message } = await encryptFromAlice(opened, 'after reload');
    const result = await decryptGroupMessage(record, ALICE, message);
    expect(fromUtf8(result.plaintext)).toBe('after reload');
  });

  it('round-trips a sealed record', async () => {
    const { senderKey, record } = await setUp();
    const { messages } = await encryptMany(senderKey, 3);
    const last = messages[2];
    const first = messages[0];
    if (last === undefined || first === undefined) {
      throw new Error('missing message');
    }
    const after = await decryptGroupMessage(record, ALICE, last);
    const sealed = await sealSenderKeyRecord(
      storageKey,
      'alice/1',
      after.record,
      systemRandom,
    );
    const opened = await openSenderKeyRecord(storageKey, 'alice/1', sealed);
    const result = await decryptGroupMessage(opened, ALICE, first);
    expect(fromUtf8(result.plaintext)).toBe('message 0');
  });

  it('rejects a record in another slot', async () => {
    const { record } = await setUp();
    const sealed = await sealSenderKeyRecord(
      storageKey,
      'alice/1',
      record,
      systemRandom,
    );
    await expect(
      openSenderKeyRecord(storageKey, 'bob/1', sealed),
    ).rejects.toThrow(expect.objectContaining({ code: 'decryption-failed' }));
  });

  it('prints no key bytes', async () => {
    const { senderKey, record } = await setUp();
    const chainKey = toHex(senderKey.chainKey.key.reveal());
    const text = JSON.stringify({ senderKey, record });
    expect(text).not.toContain(chainKey);
    expect(text).toContain('[redacted secret]');
  });
});

describe('distribution message', () => {
  it('rejects trailing bytes', async () => {
    const { senderKey } = await setUp();
    const encoded = encodeSenderKeyDistribution(
      senderKeyDistribution(senderKey),
    );
    expect(() =>
      decodeSenderKeyDistribution(concat(encoded, new Uint8Array([0]))),
    ).toThrow(expect.objectContaining({ code: 'invalid-message' }));
  });

  it('rejects a weak signing key', async () => {
    const { senderKey } = await setUp();
    const encoded = encodeSenderKeyDistribution({
      ...senderKeyDistribution(senderKey),
      signingKey: new Uint8Array(32),
    });
    expect(() => decodeSenderKeyDistribution(encoded)).toThrow(
      expect.objectContaining({ code: 'invalid-key' }),
    );
  });
});
