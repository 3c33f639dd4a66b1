import { describe, expect, it, vi } from 'vitest';
import { toBase64Url } from '../../../shared/crypto/bytes';
import * as safetyNumbers from '../../../shared/crypto/safety-number';
import { checkScannedCode, safetyNumberQrText } from './safety-check';

vi.mock('../../../shared/crypto/safety-number', async (importOriginal) => {
  const original =
    await importOriginal<
      typeof import('../../../shared/crypto/safety-number')
    >();
  return {
    ...original,
    compareScannedSafetyNumber: vi.fn(original.compareScannedSafetyNumber),
  };
});

function party(userId: string, fill: number) {
  return { userId, identityKey: new Uint8Array(32).fill(fill) };
}

async function numbers() {
  const alice = party('alice', 1);
  const bob = party('bob', 2);
  const mallory = party('bob', 3);
  return {
    alice: await safetyNumbers.computeSafetyNumber(alice, bob),
    bob: await safetyNumbers.computeSafetyNumber(bob, alice),
    mallory: await safetyNumbers.computeSafetyNumber(mallory, alice),
  };
}

describe('checkScannedCode', () => {
  it('matches the peer code', async () => {
    const { alice, bob } = await numbers();
    const scanned = safetyNumberQrText(bob.scannable);

    expect(checkScannedCode(alice.scannable, scanned)).toEqual({
      status: 'match',
    });
    expect(safetyNumbers.compareScannedSafetyNumber).toHaveBeenCalledWith(
      alice.scannable,
      bob.scannable,
    );
  });

  it('reports a substituted key', async () => {
    const { alice, mallory } = await numbers();
    const scanned = safetyNumberQrText(mallory.scannable);

    expect(checkScannedCode(alice.scannable, scanned)).toEqual({
      status: 'no-match',
    });
  });

  it('rejects our own code', async () => {
    const { alice } = await numbers();
    const scanned = safetyNumberQrText(alice.scannable);

    expect(checkScannedCode(alice.scannable, scanned).status).toBe('no-match');
  });

  it('rejects text that is no code', async () => {
    const { alice } = await numbers();

    for (const text of ['', 'hello world', 'https://example.test/', 'AAAA']) {
      expect(checkScannedCode(alice.scannable, text).status).toBe('invalid');
    }
  });

  it('names another version', async () => {
    const { alice, bob } = await numbers();
    const future = Uint8Array.from(bob.scannable);
    future[0] = 2;

    const result = checkScannedCode(alice.scannable, toBase64Url(future));

    expect(result).toMatchObject({
      status: 'invalid',
      message: expect.stringContaining('another Cloak version'),
    });
  });
});
