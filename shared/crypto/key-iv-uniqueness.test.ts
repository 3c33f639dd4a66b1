import { describe, expect, it, vi } from 'vitest';
import { toHex } from './bytes';
import { systemRandom } from './random';
import type { SessionRecord } from './session';
import { createPair, initiate, receive, send } from './test-support/parties';

const observed = vi.hoisted(() => ({
  cipherKeys: [] as string[],
  messageKeys: [] as string[],
}));

// Records the message key and the (key, IV) pair of every encryption.
vi.mock('./message-key', async (importOriginal) => {
  const actual = await importOriginal<typeof import('./message-key')>();
  return {
    ...actual,
    encryptWithMessageKey: async (
      ...args: Parameters<typeof actual.encryptWithMessageKey>
    ) => {
      const [messageKey, salt] = args;
      const { key, iv } = await actual.deriveMessageCipherKeys(
        messageKey,
        salt,
      );
      observed.messageKeys.push(toHex(messageKey.reveal()));
      observed.cipherKeys.push(toHex(key) + toHex(iv));
      return actual.encryptWithMessageKey(...args);
    },
  };
});

function repeats(values: readonly string[]): number {
  return values.length - new Set(values).size;
}

describe('key and IV uniqueness', () => {
  it('holds under rollback and two writers', async () => {
    observed.cipherKeys.length = 0;
    observed.messageKeys.length = 0;
    const { alice, bob } = await createPair();
    const record = await initiate(alice, bob);
    const first = await send(record, alice, bob, 'hello', systemRandom);
    let bobRecord = (
      await receive(undefined, bob, alice, first.sent, systemRandom)
    ).record;

    // Rollback: the same stored state encrypts again, five times.
    for (let i = 0; i < 5; i++) {
      await send(bobRecord, bob, alice, `rolled back ${i}`, systemRandom);
    }
    // Two writers: two copies of one state step in turn.
    let writerA: SessionRecord = bobRecord;
    let writerB: SessionRecord = bobRecord;
    for (let i = 0; i < 10; i++) {
      writerA = (await send(writerA, bob, alice, `a${i}`, systemRandom)).record;
      writerB = (await send(writerB, bob, alice, `b${i}`, systemRandom)).record;
    }
    bobRecord = writerA;
    await send(bobRecord, bob, alice, 'after', systemRandom);

    expect(observed.cipherKeys).toHaveLength(1 + 5 + 20 + 1);
    // The message keys do repeat, so only the salt keeps the pairs apart.
    expect(repeats(observed.messageKeys)).toBeGreaterThanOrEqual(14);
    expect(repeats(observed.cipherKeys)).toBe(0);
  });
});
