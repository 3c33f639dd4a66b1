/**
 * NIST ACVP known answers for ML-KEM-768 (FIPS 203), run through the
 * primitives wrapper. A random source that returns the vector's seed stands
 * in for the CSPRNG, so key generation and encapsulation are reproducible.
 */
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { type Bytes, concat, fromHex, toHex } from './bytes';
import { CryptoError } from './errors';
import {
  type KemKeyPair,
  ML_KEM_768_CIPHERTEXT_LENGTH,
  ML_KEM_768_PUBLIC_KEY_LENGTH,
  mlKem768Decapsulate,
  mlKem768Encapsulate,
  mlKem768Generate,
} from './primitives';
import { SecretBytes } from './secret-bytes';
import { fixedRandom } from './test-support/deterministic-random';

interface Group<Test> {
  readonly tgId: number;
  readonly testType: string;
  readonly tests: readonly Test[];
}

interface MlKemVectors {
  readonly parameterSet: string;
  readonly keyGen: Group<{
    tcId: number;
    d: string;
    z: string;
    ek: string;
    dk: string;
  }>;
  readonly encapsulation: Group<{
    tcId: number;
    ek: string;
    m: string;
    c: string;
    k: string;
  }>;
  readonly decapsulation: Group<{
    tcId: number;
    reason: string;
    dk: string;
    c: string;
    k: string;
  }>;
  readonly encapsulationKeyCheck: Group<{
    tcId: number;
    reason: string;
    testPassed: boolean;
    ek: string;
  }>;
  readonly decapsulationKeyCheck: Group<{
    tcId: number;
    reason: string;
    testPassed: boolean;
    dk: string;
  }>;
}

const vectors = JSON.parse(
  readFileSync(
    new URL('./vectors/acvp/ml_kem_768.json', import.meta.url),
    'utf8',
  ),
) as MlKemVectors;

async function rejection(operation: () => Promise<unknown>): Promise<unknown> {
  try {
    await operation();
  } catch (error) {
    return error;
  }
  return undefined;
}

// The decapsulation key is dk_PKE (384k bytes) ‖ ek ‖ H(ek) ‖ z with k = 3,
// so the encapsulation key starts at byte 1152.
function encapsulationKeyOf(secretKey: Bytes): Bytes {
  return secretKey.slice(1152, 1152 + ML_KEM_768_PUBLIC_KEY_LENGTH);
}

describe('ACVP ML-KEM-768', () => {
  it('contains the ML-KEM-768 groups', () => {
    expect(vectors.parameterSet).toBe('ML-KEM-768');
    expect(vectors.keyGen.tests).toHaveLength(25);
    expect(vectors.encapsulation.tests).toHaveLength(25);
    expect(vectors.decapsulation.tests).toHaveLength(10);
    const reasons = vectors.decapsulation.tests.map((test) => test.reason);
    expect(reasons).toContain('modified ciphertext');
    expect(reasons).toContain('valid decapsulation');
  });

  it.each(vectors.keyGen.tests)('keyGen tcId $tcId', async (test) => {
    // mlKem768Generate draws the 64-byte seed d ‖ z.
    const pair = await mlKem768Generate(
      fixedRandom(concat(fromHex(test.d), fromHex(test.z))),
    );
    expect(toHex(pair.publicKey)).toBe(test.ek.toLowerCase());
    expect(toHex(pair.secretKey.reveal())).toBe(test.dk.toLowerCase());
    expect(String(pair.secretKey)).not.toContain(test.dk.toLowerCase());
  });

  it.each(vectors.encapsulation.tests)(
    'encapsulation tcId $tcId',
    async (test) => {
      const { cipherText, sharedSecret } = await mlKem768Encapsulate(
        fromHex(test.ek),
        fixedRandom(fromHex(test.m)),
      );
      expect(cipherText).toHaveLength(ML_KEM_768_CIPHERTEXT_LENGTH);
      expect(toHex(cipherText)).toBe(test.c.toLowerCase());
      expect(toHex(sharedSecret)).toBe(test.k.toLowerCase());
    },
  );

  // A modified ciphertext is not an error: decapsulation returns the implicit
  // rejection secret J(z ‖ c), which the vector gives as k.
  it.each(vectors.decapsulation.tests)(
    'decapsulation tcId $tcId: $reason',
    async (test) => {
      const sharedSecret = await mlKem768Decapsulate(
        fromHex(test.c),
        new SecretBytes(fromHex(test.dk)),
      );
      expect(toHex(sharedSecret)).toBe(test.k.toLowerCase());
    },
  );

  it.each(vectors.encapsulationKeyCheck.tests)(
    'encapsulation key check tcId $tcId: $reason',
    async (test) => {
      const operation = () =>
        mlKem768Encapsulate(fromHex(test.ek), fixedRandom(new Uint8Array(32)));
      if (test.testPassed) {
        expect((await operation()).cipherText).toHaveLength(
          ML_KEM_768_CIPHERTEXT_LENGTH,
        );
        return;
      }
      const error = await rejection(operation);
      expect(error).toBeInstanceOf(CryptoError);
      expect((error as CryptoError).code).toBe('invalid-key');
    },
  );

  it.each(vectors.decapsulationKeyCheck.tests)(
    'decapsulation key check tcId $tcId: $reason',
    async (test) => {
      const secretKey = fromHex(test.dk);
      const { cipherText, sharedSecret } = await mlKem768Encapsulate(
        encapsulationKeyOf(secretKey),
        fixedRandom(new Uint8Array(32).fill(1)),
      );
      const operation = () =>
        mlKem768Decapsulate(cipherText, new SecretBytes(secretKey));
      if (test.testPassed) {
        expect(toHex(await operation())).toBe(toHex(sharedSecret));
        return;
      }
      const error = await rejection(operation);
      expect(error).toBeInstanceOf(CryptoError);
      expect((error as CryptoError).code).toBe('invalid-key');
    },
  );
});

describe('mlKem768 wrapper', () => {
  const keyGen = vectors.keyGen.tests[0];
  const encapsulation = vectors.encapsulation.tests[0];
  if (keyGen === undefined || encapsulation === undefined) {
    throw new Error('ML-KEM-768 vectors missing');
  }
  let pair: KemKeyPair;
  beforeAll(async () => {
    pair = await mlKem768Generate(
      fixedRandom(concat(fromHex(keyGen.d), fromHex(keyGen.z))),
    );
  });

  it('decapsulates its own encapsulation', async () => {
    const { cipherText, sharedSecret } = await mlKem768Encapsulate(
      pair.publicKey,
      fixedRandom(fromHex(encapsulation.m)),
    );
    expect(toHex(await mlKem768Decapsulate(cipherText, pair.secretKey))).toBe(
      toHex(sharedSecret),
    );
  });

  it('implicitly rejects a flipped ciphertext bit', async () => {
    const { cipherText, sharedSecret } = await mlKem768Encapsulate(
      pair.publicKey,
      fixedRandom(fromHex(encapsulation.m)),
    );
    const modified = cipherText.slice();
    modified[100] = (modified[100] ?? 0) ^ 0x01;
    const rejected = await mlKem768Decapsulate(modified, pair.secretKey);
    expect(rejected).toHaveLength(32);
    expect(toHex(rejected)).not.toBe(toHex(sharedSecret));
    // Implicit rejection is deterministic for a given key and ciphertext.
    expect(toHex(await mlKem768Decapsulate(modified, pair.secretKey))).toBe(
      toHex(rejected),
    );
  });

  it.each([0, 1087, 1089])('rejects a %i-byte ciphertext', async (length) => {
    const error = await rejection(() =>
      mlKem768Decapsulate(new Uint8Array(length), pair.secretKey),
    );
    expect(error).toBeInstanceOf(CryptoError);
    expect((error as CryptoError).code).toBe('invalid-message');
  });

  it('rejects a truncated secret key', async () => {
    const { cipherText } = await mlKem768Encapsulate(
      pair.publicKey,
      fixedRandom(fromHex(encapsulation.m)),
    );
    const error = await rejection(() =>
      mlKem768Decapsulate(
        cipherText,
        new SecretBytes(pair.secretKey.reveal().subarray(0, 2399)),
      ),
    );
    expect(error).toBeInstanceOf(CryptoError);
    expect((error as CryptoError).code).toBe('invalid-key');
  });

  it.each([1183, 1185])('rejects a %i-byte public key', async (length) => {
    const error = await rejection(() =>
      mlKem768Encapsulate(
        new Uint8Array(length),
        fixedRandom(new Uint8Array(32)),
      ),
    );
    expect(error).toBeInstanceOf(CryptoError);
    expect((error as CryptoError).code).toBe('invalid-key');
  });
});
