/**
 * The only module that calls WebCrypto and ML-KEM. Everything above it works
 * with these functions, so a change of primitive happens in one place.
 *
 * X25519 and Ed25519 private keys are `CryptoKey`s. Product code creates them
 * non-extractable with `generateKey`. With a deterministic random source, for
 * frozen test vectors, the private key is derived from that source and
 * imported as PKCS#8 instead, because `generateKey` ignores injected
 * randomness.
 */
import { type Bytes, concat, copyBytes, fromHex, utf8 } from './bytes';
import { CryptoError } from './errors';
import type { RandomSource } from './random';
import { SecretBytes } from './secret-bytes';

let cachedSubtle: SubtleCrypto | undefined;

/** Returns WebCrypto's `SubtleCrypto`, read once because each getter is a binding call. */
const subtle = (): SubtleCrypto => (cachedSubtle ??= globalThis.crypto.subtle);

/**
 * Returns `bytes` itself when it is backed by an `ArrayBuffer`, else a copy.
 * WebCrypto copies every input when it is called, so a caller changing its
 * buffer afterwards cannot affect an operation.
 */
function bufferSource(bytes: Uint8Array): Bytes {
  return bytes.buffer instanceof ArrayBuffer
    ? (bytes as Bytes)
    : copyBytes(bytes);
}

export interface KeyPair {
  readonly privateKey: CryptoKey;
  /** Raw 32-byte public key. */
  readonly publicKey: Bytes;
}

export interface KeyOptions {
  /** True only for keys whose PKCS#8 form must be stored, such as ratchet keys. */
  readonly extractable: boolean;
}

// PKCS#8 prefixes for a raw 32-byte private key (RFC 8410 section 7).
const X25519_PKCS8_PREFIX = new Uint8Array([
  0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04,
  0x22, 0x04, 0x20,
]);
const ED25519_PKCS8_PREFIX = new Uint8Array([
  0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04,
  0x22, 0x04, 0x20,
]);

async function publicKeyOf(privateKey: CryptoKey): Promise<Bytes> {
  // A private key's JWK holds the public point as `x`; WebCrypto cannot
  // export it from a non-extractable key, so generation keeps the pair.
  const jwk = await subtle().exportKey('jwk', privateKey);
  if (typeof jwk.x !== 'string') {
    throw new CryptoError('invalid-key', 'publicKeyOf', 'JWK without x');
  }
  return base64UrlToBytes(jwk.x);
}

function base64UrlToBytes(text: string): Bytes {
  const base64 = text.replace(/-/g, '+').replace(/_/g, '/');
  const binary = atob(base64 + '='.repeat((4 - (base64.length % 4)) % 4));
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

async function generatePair(
  algorithm: 'X25519' | 'Ed25519',
  random: RandomSource,
  options: KeyOptions,
): Promise<KeyPair> {
  const usages: KeyUsage[] = algorithm === 'X25519' ? ['deriveBits'] : ['sign'];
  if (random.deterministic) {
    const prefix =
      algorithm === 'X25519' ? X25519_PKCS8_PREFIX : ED25519_PKCS8_PREFIX;
    const seed = random.bytes(32);
    const extractableKey = await subtle().importKey(
      'pkcs8',
      concat(prefix, seed),
      { name: algorithm },
      true,
      usages,
    );
    const publicKey = await publicKeyOf(extractableKey);
    const privateKey = options.extractable
      ? extractableKey
      : await subtle().importKey(
          'pkcs8',
          concat(prefix, seed),
          { name: algorithm },
          false,
          usages,
        );
    return { privateKey, publicKey };
  }
  const pair = (await subtle().generateKey(
    { name: algorithm },
    options.extractable,
    usages,
  )) as CryptoKeyPair;
  const publicKey = new Uint8Array(
    await subtle().exportKey('raw', pair.publicKey),
  );
  return { privateKey: pair.privateKey, publicKey };
}

export function generateX25519KeyPair(
  random: RandomSource,
  options: KeyOptions,
): Promise<KeyPair> {
  return generatePair('X25519', random, options);
}

/** An extractable X25519 key pair with its private key as PKCS#8. */
export interface StorableKeyPair extends KeyPair {
  readonly pkcs8: Bytes;
}

/**
 * Creates an extractable X25519 key pair and its PKCS#8 form, for keys that
 * are stored, such as ratchet keys. One JWK export yields both the public
 * key (`x`) and the private scalar (`d`), so this takes two WebCrypto calls
 * where `generateX25519KeyPair` and `exportPrivateKey` take three.
 */
export async function generateStorableX25519KeyPair(
  random: RandomSource,
): Promise<StorableKeyPair> {
  if (random.deterministic) {
    const pkcs8 = concat(X25519_PKCS8_PREFIX, random.bytes(32));
    const privateKey = await subtle().importKey(
      'pkcs8',
      pkcs8,
      { name: 'X25519' },
      true,
      ['deriveBits'],
    );
    return { privateKey, publicKey: await publicKeyOf(privateKey), pkcs8 };
  }
  const pair = (await subtle().generateKey({ name: 'X25519' }, true, [
    'deriveBits',
  ])) as CryptoKeyPair;
  const jwk = await subtle().exportKey('jwk', pair.privateKey);
  if (typeof jwk.x !== 'string' || typeof jwk.d !== 'string') {
    throw new CryptoError(
      'invalid-key',
      'generateStorableX25519KeyPair',
      'JWK without x or d',
    );
  }
  return {
    privateKey: pair.privateKey,
    publicKey: base64UrlToBytes(jwk.x),
    pkcs8: concat(X25519_PKCS8_PREFIX, base64UrlToBytes(jwk.d)),
  };
}

export function generateEd25519KeyPair(
  random: RandomSource,
  options: KeyOptions,
): Promise<KeyPair> {
  return generatePair('Ed25519', random, options);
}

/** Exports an extractable private key as PKCS#8 for encrypted storage. */
export async function exportPrivateKey(privateKey: CryptoKey): Promise<Bytes> {
  return new Uint8Array(await subtle().exportKey('pkcs8', privateKey));
}

/** Imports a PKCS#8 private key written by `exportPrivateKey`. */
export async function importPrivateKey(
  algorithm: 'X25519' | 'Ed25519',
  pkcs8: Bytes,
  options: KeyOptions,
): Promise<CryptoKey> {
  try {
    return await subtle().importKey(
      'pkcs8',
      pkcs8,
      { name: algorithm },
      options.extractable,
      algorithm === 'X25519' ? ['deriveBits'] : ['sign'],
    );
  } catch (cause) {
    throw new CryptoError(
      'invalid-key',
      'importPrivateKey',
      `${algorithm} PKCS#8 key rejected`,
      { cause },
    );
  }
}

/**
 * Imports a raw 32-byte X25519 public key, for several `x25519` calls with
 * the same peer key. A malformed key is rejected with `invalid-key`.
 */
export async function importX25519PublicKey(
  publicKey: Uint8Array,
): Promise<CryptoKey> {
  if (publicKey.length !== 32) {
    throw new CryptoError(
      'invalid-key',
      'x25519',
      `public key must be 32 bytes, got ${publicKey.length}`,
    );
  }
  try {
    return await subtle().importKey(
      'raw',
      bufferSource(publicKey),
      { name: 'X25519' },
      true,
      [],
    );
  } catch (cause) {
    throw new CryptoError(
      'invalid-key',
      'x25519',
      'public key rejected (low order or malformed)',
      { cause },
    );
  }
}

/**
 * Computes X25519(ourPrivateKey, theirPublicKey), where `theirPublicKey` is
 * raw bytes or a key from `importX25519PublicKey`. A low-order or
 * malformed public key is rejected with `invalid-key`; callers must not
 * retry.
 */
export async function x25519(
  ourPrivateKey: CryptoKey,
  theirPublicKey: Uint8Array | CryptoKey,
): Promise<Bytes> {
  const publicKey =
    theirPublicKey instanceof Uint8Array
      ? await importX25519PublicKey(theirPublicKey)
      : theirPublicKey;
  let shared: ArrayBuffer;
  try {
    shared = await subtle().deriveBits(
      { name: 'X25519', public: publicKey },
      ourPrivateKey,
      256,
    );
  } catch (cause) {
    throw new CryptoError(
      'invalid-key',
      'x25519',
      'public key rejected (low order or malformed)',
      { cause },
    );
  }
  const out = new Uint8Array(shared);
  // Some runtimes return the all-zero output of a low-order point instead of
  // throwing (RFC 7748 section 6.1 asks the caller to check).
  if (out.every((byte) => byte === 0)) {
    throw new CryptoError('invalid-key', 'x25519', 'all-zero shared secret');
  }
  return out;
}

/** Joins a signature context label, a zero byte and the message. */
export function signedPayload(context: string, message: Uint8Array): Bytes {
  return concat(utf8(context), new Uint8Array([0]), message);
}

export async function ed25519Sign(
  privateKey: CryptoKey,
  context: string,
  message: Uint8Array,
): Promise<Bytes> {
  return new Uint8Array(
    await subtle().sign(
      { name: 'Ed25519' },
      privateKey,
      signedPayload(context, message),
    ),
  );
}

// y-coordinates (little-endian, sign bit of x cleared) of the eight Ed25519
// points of order dividing 8: y = 0 (order 4), 1 (identity), p - 1 (order 2)
// and the two y values of the four points of order 8.
const ED25519_SMALL_ORDER_Y = [
  '00'.repeat(32),
  '01' + '00'.repeat(31),
  'ec' + 'ff'.repeat(30) + '7f',
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05',
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a',
].map(fromHex);

/** True if the 32 little-endian bytes, top bit cleared, are at least p = 2^255 - 19. */
function isAtLeastFieldPrime(encoded: Uint8Array): boolean {
  if (((encoded[31] ?? 0) & 0x7f) !== 0x7f) return false;
  for (let i = 1; i < 31; i++) if (encoded[i] !== 0xff) return false;
  return (encoded[0] ?? 0) >= 0xed;
}

/**
 * True for an Ed25519 point encoding whose y is not below p, or whose point
 * has order dividing 8. Anyone can make signatures that verify under such a
 * public key, and WebCrypto on Node 20 accepts them, so `ed25519Verify`
 * rejects them first (strict verification).
 */
export function isWeakEd25519Point(encoded: Uint8Array): boolean {
  if (encoded.length !== 32 || isAtLeastFieldPrime(encoded)) return true;
  const y = encoded.slice();
  y[31] = (y[31] ?? 0) & 0x7f;
  return ED25519_SMALL_ORDER_Y.some((weak) =>
    weak.every((byte, i) => byte === y[i]),
  );
}

/**
 * True for a canonical X25519 public key: top bit clear and u below p.
 * X25519 ignores the top bit and reduces u modulo p (RFC 7748 section 5),
 * so each key has other encodings with the same DH output. The set-up and
 * header parsers reject those, so that a key's bytes identify the key.
 */
export function isCanonicalX25519PublicKey(publicKey: Uint8Array): boolean {
  return (
    publicKey.length === 32 &&
    ((publicKey[31] ?? 0) & 0x80) === 0 &&
    !isAtLeastFieldPrime(publicKey)
  );
}

/**
 * Returns false for a wrong signature, a malformed key, or a public key or
 * signature point R that `isWeakEd25519Point` flags; never throws.
 */
export async function ed25519Verify(
  publicKey: Uint8Array,
  context: string,
  message: Uint8Array,
  signature: Uint8Array,
): Promise<boolean> {
  if (publicKey.length !== 32 || signature.length !== 64) return false;
  if (isWeakEd25519Point(publicKey)) return false;
  if (isWeakEd25519Point(signature.subarray(0, 32))) return false;
  try {
    const key = await subtle().importKey(
      'raw',
      copyBytes(publicKey),
      { name: 'Ed25519' },
      false,
      ['verify'],
    );
    return await subtle().verify(
      { name: 'Ed25519' },
      key,
      copyBytes(signature),
      signedPayload(context, message),
    );
  } catch {
    return false;
  }
}

/** Verifies a signature over raw bytes, with no context label (vector tests). */
export async function ed25519VerifyRaw(
  publicKey: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
): Promise<boolean> {
  try {
    const key = await subtle().importKey(
      'raw',
      copyBytes(publicKey),
      { name: 'Ed25519' },
      false,
      ['verify'],
    );
    return await subtle().verify(
      { name: 'Ed25519' },
      key,
      copyBytes(signature),
      copyBytes(message),
    );
  } catch {
    return false;
  }
}

export async function hkdfSha256(
  inputKeyMaterial: Uint8Array,
  salt: Uint8Array,
  info: Uint8Array,
  length: number,
): Promise<Bytes> {
  const key = await subtle().importKey(
    'raw',
    bufferSource(inputKeyMaterial),
    'HKDF',
    false,
    ['deriveBits'],
  );
  return new Uint8Array(
    await subtle().deriveBits(
      {
        name: 'HKDF',
        hash: 'SHA-256',
        salt: bufferSource(salt),
        info: bufferSource(info),
      },
      key,
      length * 8,
    ),
  );
}

/** Imports an HMAC-SHA256 key, for several `hmacSha256` calls with it. */
export function importHmacKey(key: Uint8Array): Promise<CryptoKey> {
  return subtle().importKey(
    'raw',
    bufferSource(key),
    { name: 'HMAC', hash: 'SHA-256' },
    false,
    ['sign'],
  );
}

/** HMAC-SHA256 under raw key bytes or a key from `importHmacKey`. */
export async function hmacSha256(
  key: Uint8Array | CryptoKey,
  data: Uint8Array,
): Promise<Bytes> {
  const hmacKey = key instanceof Uint8Array ? await importHmacKey(key) : key;
  return new Uint8Array(
    await subtle().sign('HMAC', hmacKey, bufferSource(data)),
  );
}

export const AES_GCM_IV_LENGTH = 12;

async function aesKey(key: Uint8Array | CryptoKey): Promise<CryptoKey> {
  if (key instanceof Uint8Array) {
    if (key.length !== 32) {
      throw new CryptoError(
        'invalid-key',
        'aesKey',
        `AES-256 key must be 32 bytes, got ${key.length}`,
      );
    }
    return subtle().importKey('raw', bufferSource(key), 'AES-GCM', false, [
      'encrypt',
      'decrypt',
    ]);
  }
  return key;
}

/** AES-256-GCM with a 96-bit IV and a full 128-bit tag appended. */
export async function aesGcmEncrypt(
  key: Uint8Array | CryptoKey,
  iv: Uint8Array,
  plaintext: Uint8Array,
  associatedData: Uint8Array,
): Promise<Bytes> {
  if (iv.length !== AES_GCM_IV_LENGTH) {
    throw new CryptoError(
      'invalid-key',
      'aesGcmEncrypt',
      `IV must be 12 bytes, got ${iv.length}`,
    );
  }
  return new Uint8Array(
    await subtle().encrypt(
      {
        name: 'AES-GCM',
        iv: bufferSource(iv),
        additionalData: bufferSource(associatedData),
        tagLength: 128,
      },
      await aesKey(key),
      bufferSource(plaintext),
    ),
  );
}

/** Decrypts and authenticates; any failure is `decryption-failed`. */
export async function aesGcmDecrypt(
  key: Uint8Array | CryptoKey,
  iv: Uint8Array,
  ciphertext: Uint8Array,
  associatedData: Uint8Array,
): Promise<Bytes> {
  if (iv.length !== AES_GCM_IV_LENGTH || ciphertext.length < 16) {
    throw new CryptoError(
      'decryption-failed',
      'aesGcmDecrypt',
      `invalid IV (${iv.length} bytes) or ciphertext (${ciphertext.length} bytes)`,
    );
  }
  try {
    return new Uint8Array(
      await subtle().decrypt(
        {
          name: 'AES-GCM',
          iv: bufferSource(iv),
          additionalData: bufferSource(associatedData),
          tagLength: 128,
        },
        await aesKey(key),
        bufferSource(ciphertext),
      ),
    );
  } catch (cause) {
    throw new CryptoError(
      'decryption-failed',
      'aesGcmDecrypt',
      'authentication failed',
      { cause },
    );
  }
}

/** Creates a non-extractable AES-256-GCM key, used as the storage key. */
export async function generateAesKey(): Promise<CryptoKey> {
  return subtle().generateKey({ name: 'AES-GCM', length: 256 }, false, [
    'encrypt',
    'decrypt',
  ]);
}

export async function sha256(data: Uint8Array): Promise<Bytes> {
  return new Uint8Array(await subtle().digest('SHA-256', copyBytes(data)));
}

export async function sha512(data: Uint8Array): Promise<Bytes> {
  return new Uint8Array(await subtle().digest('SHA-512', copyBytes(data)));
}

export const ML_KEM_768_PUBLIC_KEY_LENGTH = 1184;
export const ML_KEM_768_CIPHERTEXT_LENGTH = 1088;

export interface KemKeyPair {
  readonly publicKey: Bytes;
  /** The decapsulation key, which prints as a redaction marker. */
  readonly secretKey: SecretBytes;
}

type MlKem768 = typeof import('@noble/post-quantum/ml-kem.js').ml_kem768;

let mlKem768Loading: Promise<MlKem768> | undefined;

/**
 * Loads `@noble/post-quantum` on first use, so that browsers fetch its chunk
 * only when a key is generated or a session starts, not on every page load.
 * A failed load (for example while offline) is not cached, so the next call
 * tries again.
 */
function loadMlKem768(): Promise<MlKem768> {
  mlKem768Loading ??= import('@noble/post-quantum/ml-kem.js').then(
    (module) => module.ml_kem768,
    (error: unknown) => {
      mlKem768Loading = undefined;
      throw error;
    },
  );
  return mlKem768Loading;
}

export async function mlKem768Generate(
  random: RandomSource,
): Promise<KemKeyPair> {
  const mlKem768 = await loadMlKem768();
  const { publicKey, secretKey } = mlKem768.keygen(random.bytes(64));
  const keyPair = {
    publicKey: copyBytes(publicKey),
    secretKey: new SecretBytes(secretKey),
  };
  secretKey.fill(0);
  return keyPair;
}

export async function mlKem768Encapsulate(
  publicKey: Uint8Array,
  random: RandomSource,
): Promise<{ cipherText: Bytes; sharedSecret: Bytes }> {
  if (publicKey.length !== ML_KEM_768_PUBLIC_KEY_LENGTH) {
    throw new CryptoError(
      'invalid-key',
      'mlKem768Encapsulate',
      `public key must be ${ML_KEM_768_PUBLIC_KEY_LENGTH} bytes, got ${publicKey.length}`,
    );
  }
  const mlKem768 = await loadMlKem768();
  try {
    const { cipherText, sharedSecret } = mlKem768.encapsulate(
      publicKey,
      random.bytes(32),
    );
    return {
      cipherText: copyBytes(cipherText),
      sharedSecret: copyBytes(sharedSecret),
    };
  } catch (cause) {
    throw new CryptoError(
      'invalid-key',
      'mlKem768Encapsulate',
      'public key rejected',
      { cause },
    );
  }
}

export async function mlKem768Decapsulate(
  cipherText: Uint8Array,
  secretKey: SecretBytes,
): Promise<Bytes> {
  if (cipherText.length !== ML_KEM_768_CIPHERTEXT_LENGTH) {
    throw new CryptoError(
      'invalid-message',
      'mlKem768Decapsulate',
      `ciphertext must be ${ML_KEM_768_CIPHERTEXT_LENGTH} bytes, got ${cipherText.length}`,
    );
  }
  const mlKem768 = await loadMlKem768();
  const rawSecretKey = secretKey.reveal();
  try {
    // A modified ciphertext does not throw: ML-KEM then returns the implicit
    // rejection secret, which matches no encapsulation. Only a malformed
    // secret key (wrong length or failed hash check) throws here.
    return copyBytes(mlKem768.decapsulate(cipherText, rawSecretKey));
  } catch (cause) {
    throw new CryptoError(
      'invalid-key',
      'mlKem768Decapsulate',
      'secret key rejected (wrong length or hash check failed)',
      { cause },
    );
  } finally {
    rawSecretKey.fill(0);
  }
}
