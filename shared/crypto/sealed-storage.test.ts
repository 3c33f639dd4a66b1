import { describe, expect, it } from 'vitest';
import { utf8 } from './bytes';
import { generateAesKey } from './primitives';
import { systemRandom } from './random';
import { openRecord, sealRecord } from './sealed-storage';

describe('sealed storage', () => {
  const plaintext = utf8('ratchet state');

  /** Seals `plaintext` as kind `session`, id `a`, version 1. */
  function sealInSlot(key: CryptoKey) {
    return sealRecord(key, 'session', 'a', 1, plaintext, systemRandom);
  }

  it('round-trips a record', async () => {
    const key = await generateAesKey();
    const sealed = await sealInSlot(key);
    expect(await openRecord(key, 'session', 'a', 1, sealed)).toEqual(plaintext);
  });

  it('uses a fresh IV per write', async () => {
    const key = await generateAesKey();
    const first = await sealInSlot(key);
    const second = await sealInSlot(key);
    expect(second).not.toEqual(first);
  });

  it('rejects a record moved to another slot', async () => {
    const key = await generateAesKey();
    const sealed = await sealInSlot(key);
    await expect(openRecord(key, 'session', 'b', 1, sealed)).rejects.toThrow(
      /authentication failed/,
    );
    await expect(openRecord(key, 'prekey', 'a', 1, sealed)).rejects.toThrow(
      /authentication failed/,
    );
    await expect(openRecord(key, 'session', 'a', 2, sealed)).rejects.toThrow(
      /authentication failed/,
    );
  });

  it('rejects a modified record or another key', async () => {
    const key = await generateAesKey();
    const sealed = await sealInSlot(key);
    for (let i = 0; i < sealed.length; i++) {
      const modified = sealed.slice();
      modified[i] = (modified[i] ?? 0) ^ 0x01;
      await expect(
        openRecord(key, 'session', 'a', 1, modified),
      ).rejects.toThrow();
    }
    await expect(
      openRecord(await generateAesKey(), 'session', 'a', 1, sealed),
    ).rejects.toThrow(/authentication failed/);
  });
});
