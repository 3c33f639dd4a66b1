/**
 * Deterministic random sources for frozen vectors and reproducible property
 * tests: xoshiro128** seeded from a string, and a source that returns one
 * given value. Their output is predictable, so they set
 * `deterministic: true` and only tests use them.
 */
import type { Bytes } from '../bytes';
import type { RandomSource } from '../random';

export interface SeededRandom extends RandomSource {
  /** Returns an integer in [0, bound). */
  int(bound: number): number;
}

export function seededRandom(seed: string): SeededRandom {
  // FNV-1a spreads the seed over four 32-bit words.
  const state = new Uint32Array(4);
  let hash = 0x811c9dc5;
  for (let word = 0; word < 4; word++) {
    for (const char of `${seed}/${word}`) {
      hash ^= char.charCodeAt(0);
      hash = Math.imul(hash, 0x01000193) >>> 0;
    }
    state[word] = hash || 1;
  }
  const next = (): number => {
    const s0 = state[0] ?? 0;
    const s1 = state[1] ?? 0;
    const s2 = state[2] ?? 0;
    const s3 = state[3] ?? 0;
    const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = (s1 << 9) >>> 0;
    const n2 = (s2 ^ s0) >>> 0;
    const n3 = (s3 ^ s1) >>> 0;
    state[1] = (s1 ^ n2) >>> 0;
    state[0] = (s0 ^ n3) >>> 0;
    state[2] = (n2 ^ t) >>> 0;
    state[3] = rotl(n3, 11);
    return result;
  };
  return {
    deterministic: true,
    bytes(length: number): Bytes {
      const out = new Uint8Array(length);
      for (let i = 0; i < length; i += 4) {
        const word = next();
        for (let j = 0; j < 4 && i + j < length; j++) {
          out[i + j] = (word >>> (8 * j)) & 0xff;
        }
      }
      return out;
    },
    int(bound: number): number {
      return next() % bound;
    },
  };
}

/**
 * Returns `seed` for the one request of its length and throws on any other,
 * so a key pair or encapsulation is derived from a test vector's value.
 */
export function fixedRandom(seed: Bytes): RandomSource {
  let used = false;
  return {
    deterministic: true,
    bytes(length: number): Bytes {
      if (used || length !== seed.length) {
        throw new Error(`unexpected request for ${length} random bytes`);
      }
      used = true;
      return seed;
    },
  };
}

function rotl(value: number, shift: number): number {
  return ((value << shift) | (value >>> (32 - shift))) >>> 0;
}
