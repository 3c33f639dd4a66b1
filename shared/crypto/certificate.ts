/**
 * Device certificates and prekey signatures (the signed blobs of the key
 * directory). Each signature covers a canonical, length-prefixed encoding
 * under its own context label, so a signature made for one purpose never
 * verifies for another.
 */
import type {
  DeviceCertificate,
  PqPrekey,
  SignedPrekey,
} from '../wire/schemas';
import {
  type Bytes,
  concat,
  fromBase64Url,
  lengthPrefixed,
  toBase64Url,
  uint32,
  utf8,
} from './bytes';
import { SignatureContext } from './labels';
import { ed25519Sign, ed25519Verify } from './primitives';

/** Key type prefixes with disjoint ranges. */
export const KeyType = {
  x25519: 0x01,
  ed25519: 0x02,
  mlKem768: 0x03,
} as const;

export function encodeKey(
  type: (typeof KeyType)[keyof typeof KeyType],
  publicKey: Uint8Array,
): Bytes {
  return concat(new Uint8Array([type]), publicKey);
}

/** Encodes a non-negative integer below 2^53 as 8 big-endian bytes. */
function uint64(value: number): Bytes {
  return concat(
    uint32(Math.floor(value / 0x1_0000_0000)),
    uint32(value % 0x1_0000_0000),
  );
}

type UnsignedCertificate = Omit<DeviceCertificate, 'signature'>;

function certificatePayload(certificate: UnsignedCertificate): Bytes {
  return lengthPrefixed(
    utf8(certificate.userId),
    uint32(certificate.deviceId),
    encodeKey(KeyType.ed25519, fromBase64Url(certificate.identityKey)),
    encodeKey(KeyType.ed25519, fromBase64Url(certificate.signingKey)),
    encodeKey(KeyType.x25519, fromBase64Url(certificate.dhKey)),
    uint64(certificate.issuedAt),
  );
}

/** Signs a device certificate with the user identity key. */
export async function signDeviceCertificate(
  identityPrivateKey: CryptoKey,
  certificate: UnsignedCertificate,
): Promise<DeviceCertificate> {
  const signature = await ed25519Sign(
    identityPrivateKey,
    SignatureContext.deviceCertificate,
    certificatePayload(certificate),
  );
  return { ...certificate, signature: toBase64Url(signature) };
}

/** Checks the certificate's signature under the identity key it names. */
export async function verifyDeviceCertificate(
  certificate: DeviceCertificate,
): Promise<boolean> {
  return ed25519Verify(
    fromBase64Url(certificate.identityKey),
    SignatureContext.deviceCertificate,
    certificatePayload(certificate),
    fromBase64Url(certificate.signature),
  );
}

type PrekeyOwner = Pick<DeviceCertificate, 'userId' | 'deviceId'>;

/** Wire form shared by signed prekeys and PQ prekeys. */
interface WirePrekey {
  keyId: number;
  publicKey: string;
  signature: string;
}

/** Signature context and key type of one kind of prekey. */
interface PrekeyKind {
  readonly context: string;
  readonly keyType: (typeof KeyType)[keyof typeof KeyType];
}

const SIGNED_PREKEY: PrekeyKind = {
  context: SignatureContext.signedPrekey,
  keyType: KeyType.x25519,
};

const PQ_PREKEY: PrekeyKind = {
  context: SignatureContext.pqPrekey,
  keyType: KeyType.mlKem768,
};

function prekeyPayload(
  owner: PrekeyOwner,
  keyId: number,
  encodedKey: Uint8Array,
): Bytes {
  return lengthPrefixed(
    utf8(owner.userId),
    uint32(owner.deviceId),
    uint32(keyId),
    encodedKey,
  );
}

async function signPrekey(
  kind: PrekeyKind,
  signingPrivateKey: CryptoKey,
  owner: PrekeyOwner,
  keyId: number,
  publicKey: Uint8Array,
): Promise<WirePrekey> {
  const signature = await ed25519Sign(
    signingPrivateKey,
    kind.context,
    prekeyPayload(owner, keyId, encodeKey(kind.keyType, publicKey)),
  );
  return {
    keyId,
    publicKey: toBase64Url(publicKey),
    signature: toBase64Url(signature),
  };
}

async function verifyPrekey(
  kind: PrekeyKind,
  certificate: DeviceCertificate,
  prekey: WirePrekey,
): Promise<boolean> {
  return ed25519Verify(
    fromBase64Url(certificate.signingKey),
    kind.context,
    prekeyPayload(
      certificate,
      prekey.keyId,
      encodeKey(kind.keyType, fromBase64Url(prekey.publicKey)),
    ),
    fromBase64Url(prekey.signature),
  );
}

/** Signs an X25519 signed prekey with the device signing key. */
export async function signSignedPrekey(
  signingPrivateKey: CryptoKey,
  owner: PrekeyOwner,
  keyId: number,
  publicKey: Uint8Array,
): Promise<SignedPrekey> {
  return signPrekey(SIGNED_PREKEY, signingPrivateKey, owner, keyId, publicKey);
}

/** Signs an ML-KEM-768 prekey (one-time or last-resort) with the device signing key. */
export async function signPqPrekey(
  signingPrivateKey: CryptoKey,
  owner: PrekeyOwner,
  keyId: number,
  publicKey: Uint8Array,
): Promise<PqPrekey> {
  return signPrekey(PQ_PREKEY, signingPrivateKey, owner, keyId, publicKey);
}

/** Checks a signed prekey against the device signing key in the certificate. */
export async function verifySignedPrekey(
  certificate: DeviceCertificate,
  prekey: SignedPrekey,
): Promise<boolean> {
  return verifyPrekey(SIGNED_PREKEY, certificate, prekey);
}

/** Checks a PQ prekey against the device signing key in the certificate. */
export async function verifyPqPrekey(
  certificate: DeviceCertificate,
  prekey: PqPrekey,
): Promise<boolean> {
  return verifyPrekey(PQ_PREKEY, certificate, prekey);
}

/** Builds the bytes a device signs to sign in to a relay. */
export function signInPayload(
  origin: string,
  userId: string,
  deviceId: number,
  nonce: Uint8Array,
): Bytes {
  return lengthPrefixed(utf8(origin), utf8(userId), uint32(deviceId), nonce);
}

export async function signSignIn(
  signingPrivateKey: CryptoKey,
  origin: string,
  userId: string,
  deviceId: number,
  nonce: Uint8Array,
): Promise<Bytes> {
  return ed25519Sign(
    signingPrivateKey,
    SignatureContext.signIn,
    signInPayload(origin, userId, deviceId, nonce),
  );
}

export async function verifySignIn(
  signingPublicKey: Uint8Array,
  origin: string,
  userId: string,
  deviceId: number,
  nonce: Uint8Array,
  signature: Uint8Array,
): Promise<boolean> {
  return ed25519Verify(
    signingPublicKey,
    SignatureContext.signIn,
    signInPayload(origin, userId, deviceId, nonce),
    signature,
  );
}
