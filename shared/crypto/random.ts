import type { Bytes } from './bytes';

/**
 * Source of random bytes. Production code uses the platform's CSPRNG; tests
 * inject a deterministic source to reproduce frozen vectors.
 */
export interface RandomSource {
  /** True only for test sources, whose output is predictable. */
  readonly deterministic: boolean;
  bytes(length: number): Bytes;
}

export const systemRandom: RandomSource = {
  deterministic: false,
  bytes(length: number): Bytes {
    const out = new Uint8Array(length);
    // getRandomValues fills at most 65,536 bytes per call.
    for (let offset = 0; offset < length; offset += 65_536) {
      globalThis.crypto.getRandomValues(
        out.subarray(offset, Math.min(length, offset + 65_536)),
      );
    }
    return out;
  },
};
