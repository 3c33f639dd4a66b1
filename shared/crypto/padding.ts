/**
 * Message padding: 0x80, then zeros up to the next multiple of 160 bytes
 * (ISO/IEC 7816-4 style), so that a ciphertext reveals only the 160-byte
 * bucket of its plaintext. `unpad` runs only on authenticated plaintext.
 */
import type { Bytes } from './bytes';
import { CryptoError } from './errors';
import { PADDING_BLOCK } from './limits';

/** Returns the padded length of a plaintext of `length` bytes. */
export function paddedLength(length: number): number {
  return (Math.floor(length / PADDING_BLOCK) + 1) * PADDING_BLOCK;
}

export function pad(plaintext: Uint8Array): Bytes {
  const out = new Uint8Array(paddedLength(plaintext.length));
  out.set(plaintext);
  out[plaintext.length] = 0x80;
  return out;
}

/** Removes the padding; throws `invalid-message` if it is malformed. */
export function unpad(padded: Uint8Array): Bytes {
  if (padded.length === 0 || padded.length % PADDING_BLOCK !== 0) {
    throw new CryptoError(
      'invalid-message',
      'unpad',
      `padded length ${padded.length} is not a positive multiple of ${PADDING_BLOCK}`,
    );
  }
  let end = padded.length - 1;
  while (end > 0 && padded[end] === 0) end--;
  if (padded[end] !== 0x80 || padded.length - end > PADDING_BLOCK) {
    throw new CryptoError('invalid-message', 'unpad', 'invalid padding');
  }
  return padded.slice(0, end);
}
