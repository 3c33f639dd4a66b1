import { describe, expect, it } from 'vitest';
import { CryptoError } from './errors';
import { pad, paddedLength, unpad } from './padding';

describe('padding', () => {
  it('pads to multiples of 160', () => {
    expect(paddedLength(0)).toBe(160);
    expect(paddedLength(159)).toBe(160);
    expect(paddedLength(160)).toBe(320);
    expect(pad(new Uint8Array(159))).toHaveLength(160);
    expect(pad(new Uint8Array(160))).toHaveLength(320);
  });

  it('round-trips every length up to 400', () => {
    for (let length = 0; length <= 400; length++) {
      const plaintext = new Uint8Array(length).fill(length % 256);
      const padded = pad(plaintext);
      expect(padded[length]).toBe(0x80);
      expect(unpad(padded)).toEqual(plaintext);
    }
  });

  it('keeps trailing zeros of the plaintext', () => {
    const plaintext = new Uint8Array([1, 0, 0x80, 0, 0]);
    expect(unpad(pad(plaintext))).toEqual(plaintext);
  });

  it('rejects malformed padding', () => {
    const cases = [
      new Uint8Array(0),
      new Uint8Array(160),
      new Uint8Array(161).fill(0x80),
      (() => {
        const bytes = new Uint8Array(160);
        bytes[159] = 0x01;
        return bytes;
      })(),
      (() => {
        const bytes = new Uint8Array(320);
        bytes[10] = 0x80;
        return bytes;
      })(),
    ];
    for (const padded of cases) {
      expect(() => unpad(padded)).toThrow(CryptoError);
    }
  });
});
