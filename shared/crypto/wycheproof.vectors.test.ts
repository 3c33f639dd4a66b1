/**
 * Wycheproof vectors run through the primitives wrapper on the runtime's
 * WebCrypto. `valid` cases must pass and `invalid` cases must be rejected.
 * `acceptable` cases are pinned to what the wrapper does with them, each
 * rule stated where it is checked.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { concat, fromHex, toHex } from './bytes';
import { CryptoError } from './errors';
import {
  aesGcmDecrypt,
  aesGcmEncrypt,
  ed25519VerifyRaw,
  generateX25519KeyPair,
  hkdfSha256,
  hmacSha256,
  x25519,
} from './primitives';
import { fixedRandom } from './test-support/deterministic-random';

type Result = 'valid' | 'invalid' | 'acceptable';

interface TestFile<Group> {
  readonly algorithm: string;
  readonly testGroups: readonly Group[];
}

interface XdhTest {
  readonly tcId: number;
  readonly comment: string;
  readonly flags: readonly string[];
  readonly public: string;
  readonly private: string;
  readonly shared: string;
  readonly result: Result;
}

interface EddsaGroup {
  readonly publicKey: { readonly pk: string };
  readonly tests: readonly {
    readonly tcId: number;
    readonly comment: string;
    readonly msg: string;
    readonly sig: string;
    readonly result: Result;
  }[];
}

interface HkdfTest {
  readonly tcId: number;
  readonly ikm: string;
  readonly salt: string;
  readonly info: string;
  readonly size: number;
  readonly okm: string;
  readonly result: Result;
}

interface MacGroup {
  readonly keySize: number;
  readonly tagSize: number;
  readonly tests: readonly {
    readonly tcId: number;
    readonly key: string;
    readonly msg: string;
    readonly tag: string;
    readonly result: Result;
  }[];
}

interface AeadGroup {
  readonly ivSize: number;
  readonly keySize: number;
  readonly tagSize: number;
  readonly tests: readonly {
    readonly tcId: number;
    readonly key: string;
    readonly iv: string;
    readonly aad: string;
    readonly msg: string;
    readonly ct: string;
    readonly tag: string;
    readonly result: Result;
  }[];
}

function readVectors<Group>(name: string): TestFile<Group> {
  const url = new URL(`./vectors/wycheproof/${name}`, import.meta.url);
  return JSON.parse(readFileSync(url, 'utf8')) as TestFile<Group>;
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('Wycheproof X25519', () => {
  const file = readVectors<{ readonly tests: readonly XdhTest[] }>(
    'x25519_test.json',
  );
  const tests = file.testGroups.flatMap((group) => group.tests);

  // The wrapper rejects an all-zero shared secret (the output of a low-order
  // public key) with `invalid-key`. Every other case, including the
  // `acceptable` twist and non-canonical public keys, must yield `shared`.
  it.each(tests)('tcId $tcId: $comment', async (test) => {
    const { privateKey } = await generateX25519KeyPair(
      fixedRandom(fromHex(test.private)),
      { extractable: false },
    );
    const operation = x25519(privateKey, fromHex(test.public));
    if (test.flags.includes('ZeroSharedSecret')) {
      expect(test.result).toBe('acceptable');
      const error = await rejection(operation);
      expect(error).toBeInstanceOf(CryptoError);
      expect((error as CryptoError).code).toBe('invalid-key');
      return;
    }
    expect(test.result).not.toBe('invalid');
    expect(toHex(await operation)).toBe(test.shared);
  });

  it('covers every low-order public key case', () => {
    const lowOrder = tests.filter((test) =>
      test.flags.includes('LowOrderPublic'),
    );
    expect(lowOrder.length).toBeGreaterThan(0);
    for (const test of lowOrder) {
      expect(test.flags, `tcId ${test.tcId}`).toContain('ZeroSharedSecret');
    }
  });
});

describe('Wycheproof Ed25519', () => {
  const file = readVectors<EddsaGroup>('ed25519_test.json');
  const tests = file.testGroups.flatMap((group) =>
    group.tests.map((test) => ({ ...test, publicKey: group.publicKey.pk })),
  );

  it.each(tests)('tcId $tcId: $comment', async (test) => {
    expect(test.result).not.toBe('acceptable');
    const verified = await ed25519VerifyRaw(
      fromHex(test.publicKey),
      fromHex(test.msg),
      fromHex(test.sig),
    );
    expect(verified).toBe(test.result === 'valid');
  });
});

describe('Wycheproof HKDF-SHA256', () => {
  const file = readVectors<{ readonly tests: readonly HkdfTest[] }>(
    'hkdf_sha256_test.json',
  );
  const tests = file.testGroups.flatMap((group) => group.tests);

  it.each(tests)('tcId $tcId: size $size, $result', async (test) => {
    const operation = hkdfSha256(
      fromHex(test.ikm),
      fromHex(test.salt),
      fromHex(test.info),
      test.size,
    );
    if (test.result === 'invalid') {
      await expect(operation).rejects.toThrow();
      return;
    }
    expect(test.result).toBe('valid');
    expect(toHex(await operation)).toBe(test.okm);
  });
});

describe('Wycheproof HMAC-SHA256', () => {
  const file = readVectors<MacGroup>('hmac_sha256_test.json');
  const tests = file.testGroups.flatMap((group) =>
    group.tests.map((test) => ({ ...test, tagSize: group.tagSize })),
  );

  // The wrapper returns the full 256-bit tag. A truncated tag is its prefix,
  // so groups with a 128-bit tagSize compare the first 16 bytes.
  it.each(tests)('tcId $tcId: tagSize $tagSize, $result', async (test) => {
    expect(test.result).not.toBe('acceptable');
    const mac = await hmacSha256(fromHex(test.key), fromHex(test.msg));
    expect(mac.length).toBe(32);
    const truncated = toHex(mac.subarray(0, test.tagSize / 8));
    if (test.result === 'valid') {
      expect(truncated).toBe(test.tag);
    } else {
      expect(truncated).not.toBe(test.tag);
    }
  });
});

describe('Wycheproof AES-256-GCM', () => {
  const file = readVectors<AeadGroup>('aes_gcm_test.json');
  const tests = file.testGroups.flatMap((group) =>
    group.tests.map((test) => ({
      ...test,
      ivSize: group.ivSize,
      keySize: group.keySize,
      tagSize: group.tagSize,
    })),
  );

  it('contains only 256-bit keys and full tags', () => {
    for (const test of tests) {
      expect(test.keySize, `tcId ${test.tcId}`).toBe(256);
      expect(test.tagSize, `tcId ${test.tcId}`).toBe(128);
      expect([0, 96], `tcId ${test.tcId}`).toContain(test.ivSize);
    }
  });

  it.each(tests)('tcId $tcId: ivSize $ivSize, $result', async (test) => {
    expect(test.result).not.toBe('acceptable');
    const key = fromHex(test.key);
    const iv = fromHex(test.iv);
    const aad = fromHex(test.aad);
    const sealed = concat(fromHex(test.ct), fromHex(test.tag));

    if (test.result === 'valid') {
      const encrypted = await aesGcmEncrypt(key, iv, fromHex(test.msg), aad);
      expect(toHex(encrypted)).toBe(toHex(sealed));
      const decrypted = await aesGcmDecrypt(key, iv, sealed, aad);
      expect(toHex(decrypted)).toBe(test.msg);
      return;
    }

    const error = await rejection(aesGcmDecrypt(key, iv, sealed, aad));
    expect(error).toBeInstanceOf(CryptoError);
    expect((error as CryptoError).code).toBe('decryption-failed');
    if (test.ivSize !== 96) {
      await expect(
        aesGcmEncrypt(key, iv, fromHex(test.msg), aad),
      ).rejects.toThrow(CryptoError);
    }
  });
});
