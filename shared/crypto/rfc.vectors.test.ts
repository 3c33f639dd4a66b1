/**
 * Known answers from the RFCs that define Cloak's classical primitives, run
 * through the primitives wrapper: HKDF (RFC 5869), HMAC-SHA-256 (RFC 4231),
 * X25519 (RFC 7748) and Ed25519 (RFC 8032).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { type Bytes, fromHex, toHex, utf8 } from './bytes';
import { CryptoError } from './errors';
import {
  ed25519Sign,
  ed25519Verify,
  ed25519VerifyRaw,
  exportPrivateKey,
  generateEd25519KeyPair,
  generateX25519KeyPair,
  hkdfSha256,
  hmacSha256,
  importPrivateKey,
  signedPayload,
  x25519,
} from './primitives';
import { fixedRandom } from './test-support/deterministic-random';

function readVectors<T>(name: string): T {
  const url = new URL(`./vectors/rfc/${name}`, import.meta.url);
  return JSON.parse(readFileSync(url, 'utf8')) as T;
}

// PKCS#8 prefix of a raw X25519 private key (RFC 8410 section 7), used to
// import many scalars quickly in the iterated test.
const X25519_PKCS8_PREFIX = fromHex('302e020100300506032b656e04220420');

async function x25519PrivateKey(scalar: Bytes): Promise<CryptoKey> {
  const pkcs8 = new Uint8Array(X25519_PKCS8_PREFIX.length + scalar.length);
  pkcs8.set(X25519_PKCS8_PREFIX);
  pkcs8.set(scalar, X25519_PKCS8_PREFIX.length);
  return importPrivateKey('X25519', pkcs8, { extractable: false });
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('RFC 5869 HKDF-SHA256', () => {
  const { tests } = readVectors<{
    tests: readonly {
      name: string;
      ikm: string;
      salt: string;
      info: string;
      length: number;
      okm: string;
    }[];
  }>('hkdf_sha256_rfc5869.json');

  it('contains test cases 1 to 3', () => {
    expect(tests).toHaveLength(3);
  });

  it.each(tests)('$name', async (test) => {
    const okm = await hkdfSha256(
      fromHex(test.ikm),
      fromHex(test.salt),
      fromHex(test.info),
      test.length,
    );
    expect(toHex(okm)).toBe(test.okm);
  });
});

describe('RFC 4231 HMAC-SHA256', () => {
  const { tests } = readVectors<{
    tests: readonly { name: string; key: string; data: string; mac: string }[];
  }>('hmac_sha256_rfc4231.json');

  it('contains test cases 1 to 7', () => {
    expect(tests).toHaveLength(7);
  });

  // Test case 5 lists only the first 128 bits of the output. Each case
  // compares as many bytes as the RFC lists, which is all 32 for the others.
  it.each(tests)('$name', async (test) => {
    const mac = await hmacSha256(fromHex(test.key), fromHex(test.data));
    expect(mac).toHaveLength(32);
    expect(toHex(mac.subarray(0, test.mac.length / 2))).toBe(test.mac);
  });
});

interface X25519Vectors {
  readonly scalarMultiplication: readonly {
    name: string;
    scalar: string;
    u: string;
    output: string;
  }[];
  readonly iterated: {
    start: string;
    after1: string;
    after1000: string;
  };
  readonly diffieHellman: {
    alicePrivate: string;
    alicePublic: string;
    bobPrivate: string;
    bobPublic: string;
    shared: string;
  };
}

describe('RFC 7748 X25519', () => {
  const vectors = readVectors<X25519Vectors>('x25519_rfc7748.json');

  it.each(vectors.scalarMultiplication)('$name', async (test) => {
    const { privateKey } = await generateX25519KeyPair(
      fixedRandom(fromHex(test.scalar)),
      { extractable: false },
    );
    const output = await x25519(privateKey, fromHex(test.u));
    expect(toHex(output)).toBe(test.output);
  });

  // Section 5.2: k and u start at 9, and each step sets k = X25519(k, u) and
  // u to the previous k. The 1,000,000-iteration result is not run because it
  // takes minutes.
  it('matches 1 and 1,000 iterations', async () => {
    let k = fromHex(vectors.iterated.start);
    let u = fromHex(vectors.iterated.start);
    for (let i = 1; i <= 1000; i++) {
      const next = await x25519(await x25519PrivateKey(k), u);
      u = k;
      k = next;
      if (i === 1) expect(toHex(k)).toBe(vectors.iterated.after1);
    }
    expect(toHex(k)).toBe(vectors.iterated.after1000);
  });

  it('matches the Diffie-Hellman example', async () => {
    const dh = vectors.diffieHellman;
    const alice = await generateX25519KeyPair(
      fixedRandom(fromHex(dh.alicePrivate)),
      { extractable: false },
    );
    const bob = await generateX25519KeyPair(
      fixedRandom(fromHex(dh.bobPrivate)),
      { extractable: false },
    );
    expect(toHex(alice.publicKey)).toBe(dh.alicePublic);
    expect(toHex(bob.publicKey)).toBe(dh.bobPublic);
    const aliceShared = await x25519(alice.privateKey, bob.publicKey);
    const bobShared = await x25519(bob.privateKey, alice.publicKey);
    expect(toHex(aliceShared)).toBe(dh.shared);
    expect(toHex(bobShared)).toBe(dh.shared);
  });

  it('exports a deterministic key as PKCS#8', async () => {
    const dh = vectors.diffieHellman;
    const alice = await generateX25519KeyPair(
      fixedRandom(fromHex(dh.alicePrivate)),
      { extractable: true },
    );
    const pkcs8 = await exportPrivateKey(alice.privateKey);
    expect(toHex(pkcs8)).toBe(toHex(X25519_PKCS8_PREFIX) + dh.alicePrivate);
  });
});

describe('x25519 low-order public keys', () => {
  // The small-order points: 0 (order 4), 1 (order 1), the two points of
  // order 8 and p - 1 (order 2), plus p and p + 1, the non-canonical
  // encodings of 0 and 1, where p = 2^255 - 19. X25519 with any of them
  // outputs all zeros.
  const lowOrderPoints = [
    '0000000000000000000000000000000000000000000000000000000000000000',
    '0100000000000000000000000000000000000000000000000000000000000000',
    'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800',
    '5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157',
    'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
    'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
    'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  ];

  it.each(lowOrderPoints)('rejects %s', async (point) => {
    const { privateKey } = await generateX25519KeyPair(
      fixedRandom(
        fromHex(
          '77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a',
        ),
      ),
      { extractable: false },
    );
    const error = await rejection(x25519(privateKey, fromHex(point)));
    expect(error).toBeInstanceOf(CryptoError);
    expect((error as CryptoError).code).toBe('invalid-key');
    expect((error as CryptoError).operation).toBe('x25519');
  });

  it.each([31, 33, 0])('rejects a %i-byte public key', async (length) => {
    const { privateKey } = await generateX25519KeyPair(
      fixedRandom(new Uint8Array(32).fill(7)),
      { extractable: false },
    );
    const error = await rejection(x25519(privateKey, new Uint8Array(length)));
    expect(error).toBeInstanceOf(CryptoError);
    expect((error as CryptoError).code).toBe('invalid-key');
  });
});

describe('RFC 8032 Ed25519', () => {
  const { tests } = readVectors<{
    tests: readonly {
      name: string;
      secretKey: string;
      publicKey: string;
      message: string;
      signature: string;
    }[];
  }>('ed25519_rfc8032.json');

  it('contains tests 1, 2, 3 and 1024', () => {
    expect(tests.map((test) => test.name)).toEqual([
      'TEST 1',
      'TEST 2',
      'TEST 3',
      'TEST 1024 (1023-byte message)',
    ]);
    expect(tests[3]?.message).toHaveLength(2 * 1023);
  });

  it.each(tests)('$name', async (test) => {
    const pair = await generateEd25519KeyPair(
      fixedRandom(fromHex(test.secretKey)),
      { extractable: false },
    );
    expect(toHex(pair.publicKey)).toBe(test.publicKey);

    // ed25519Sign always prepends a context label, so the RFC's raw
    // signature is made with WebCrypto on the key the wrapper derived.
    const message = fromHex(test.message);
    const signature = new Uint8Array(
      await globalThis.crypto.subtle.sign('Ed25519', pair.privateKey, message),
    );
    expect(toHex(signature)).toBe(test.signature);
    expect(
      await ed25519VerifyRaw(pair.publicKey, message, fromHex(test.signature)),
    ).toBe(true);
  });

  it.each(tests)('$name with a context label', async (test) => {
    const pair = await generateEd25519KeyPair(
      fixedRandom(fromHex(test.secretKey)),
      { extractable: false },
    );
    const message = fromHex(test.message);
    const context = 'Cloak-v1/sig/test';
    const signature = await ed25519Sign(pair.privateKey, context, message);

    expect(
      await ed25519Verify(pair.publicKey, context, message, signature),
    ).toBe(true);
    expect(
      await ed25519VerifyRaw(
        pair.publicKey,
        signedPayload(context, message),
        signature,
      ),
    ).toBe(true);
    expect(
      await ed25519Verify(
        pair.publicKey,
        'Cloak-v1/sig/other',
        message,
        signature,
      ),
    ).toBe(false);
    expect(await ed25519VerifyRaw(pair.publicKey, message, signature)).toBe(
      false,
    );
  });

  it('rejects a signature over a changed message', async () => {
    const test = tests[2];
    if (test === undefined) throw new Error('TEST 3 missing');
    const message = fromHex(test.message);
    message[0] = (message[0] ?? 0) ^ 1;
    expect(
      await ed25519VerifyRaw(
        fromHex(test.publicKey),
        message,
        fromHex(test.signature),
      ),
    ).toBe(false);
  });

  it('rejects small-order public keys', async () => {
    // With a public key A of order dividing 8, the signature R = identity,
    // S = 0 satisfies [S]B = R + [k]A whenever [k]A is the identity, which
    // happens for one message in 1, 2, 4 or 8. Anyone could sign for A.
    const identity = fromHex('01' + '00'.repeat(31));
    const forged = new Uint8Array(64);
    forged.set(identity);
    const ys = [
      '00'.repeat(32),
      '01' + '00'.repeat(31),
      'ec' + 'ff'.repeat(30) + '7f',
      '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05',
      'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a',
    ];
    for (const y of ys) {
      for (const sign of [0x00, 0x80]) {
        const publicKey = fromHex(y);
        publicKey[31] = (publicKey[31] ?? 0) | sign;
        for (let i = 0; i < 32; i++) {
          const message = utf8(`message ${i}`);
          expect(
            await ed25519Verify(
              publicKey,
              'Cloak-v1/sig/test',
              message,
              forged,
            ),
            `${toHex(publicKey)}, message ${i}`,
          ).toBe(false);
        }
      }
    }
  });

  it('rejects a non-canonical public key', async () => {
    // y = p + 1 is a second spelling of the identity point.
    const identity = fromHex('ee' + 'ff'.repeat(30) + '7f');
    const forged = new Uint8Array(64);
    forged[0] = 1;
    expect(
      await ed25519Verify(identity, 'Cloak-v1/sig/test', utf8('m'), forged),
    ).toBe(false);
  });

  it('separates context from message', () => {
    expect(toHex(signedPayload('ab', utf8('c')))).toBe('61620063');
  });
});
