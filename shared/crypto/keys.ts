/**
 * Account and device keys (user identity key, device signing key, device
 * identity DH key, device certificate) and the prekeys a device publishes.
 * Long-term private keys are non-extractable `CryptoKey`s. ML-KEM secret keys
 * are raw bytes, which the caller keeps sealed with the storage key.
 *
 * Key ids: signed prekeys, one-time prekeys and PQ prekeys each have their
 * own id space. One-time and last-resort PQ prekeys share one space, because
 * a set-up names either by id, so last-resort ids start at
 * `LAST_RESORT_KEY_ID_BASE` and one-time ids stay below it.
 */
import type {
  DeviceCertificate,
  PqPrekey,
  RegisterRequest,
  SignedPrekey,
} from '../wire/schemas';
import { ONE_TIME_PREKEY_POOL_SIZE } from '../wire/limits';
import { type Bytes, fromBase64Url, toBase64Url } from './bytes';
import {
  signDeviceCertificate,
  signPqPrekey,
  signSignedPrekey,
} from './certificate';
import { CryptoError } from './errors';
import {
  generateEd25519KeyPair,
  generateX25519KeyPair,
  type KemKeyPair,
  type KeyPair,
  mlKem768Generate,
} from './primitives';
import type { RandomSource } from './random';

/** One device of one account. */
export interface LocalIdentity {
  userId: string;
  deviceId: number;
  /** User identity key (UIK), Ed25519. */
  identityKey: KeyPair;
  /** Device signing key, Ed25519, which signs prekeys and sign-in challenges. */
  signingKey: KeyPair;
  /** Device identity DH key, X25519. */
  dhKey: KeyPair;
  certificate: DeviceCertificate;
}

export interface SignedPrekeyPair {
  keyId: number;
  keyPair: KeyPair;
  signature: Bytes;
  createdAt: number;
}

export interface PqPrekeyPair {
  keyId: number;
  keyPair: KemKeyPair;
  signature: Bytes;
  lastResort: boolean;
}

export interface OneTimePrekeyPair {
  keyId: number;
  keyPair: KeyPair;
}

export interface AccountKeys {
  identity: LocalIdentity;
  signedPrekey: SignedPrekeyPair;
  lastResortPqPrekey: PqPrekeyPair;
  oneTimePrekeys: OneTimePrekeyPair[];
  oneTimePqPrekeys: PqPrekeyPair[];
}

/** First key id of last-resort PQ prekeys; one-time PQ prekey ids stay below. */
export const LAST_RESORT_KEY_ID_BASE = 0x8000_0000;

const NON_EXTRACTABLE = { extractable: false } as const;

/**
 * Creates the keys of a new account's first device: identity keys and
 * certificate, signed prekey 1, last-resort PQ prekey
 * `LAST_RESORT_KEY_ID_BASE + 1`, and `oneTimeCount` one-time prekeys of each
 * kind with ids 1 to `oneTimeCount` (100 by default).
 */
export async function createAccountKeys(
  userId: string,
  deviceId: number,
  random: RandomSource,
  now: number,
  oneTimeCount = ONE_TIME_PREKEY_POOL_SIZE,
): Promise<AccountKeys> {
  const identity = await createLocalIdentity(userId, deviceId, random, now);
  const signedPrekey = await generateSignedPrekey(identity, 1, random, now);
  const lastResortPqPrekey = await generatePqPrekey(
    identity,
    LAST_RESORT_KEY_ID_BASE + 1,
    true,
    random,
  );
  const oneTime = await generateOneTimePrekeys(
    identity,
    1,
    oneTimeCount,
    random,
  );
  return { identity, signedPrekey, lastResortPqPrekey, ...oneTime };
}

/** Creates the identity keys of a device and its certificate, issued `now`. */
export async function createLocalIdentity(
  userId: string,
  deviceId: number,
  random: RandomSource,
  now: number,
): Promise<LocalIdentity> {
  const identityKey = await generateEd25519KeyPair(random, NON_EXTRACTABLE);
  const signingKey = await generateEd25519KeyPair(random, NON_EXTRACTABLE);
  const dhKey = await generateX25519KeyPair(random, NON_EXTRACTABLE);
  const certificate = await signDeviceCertificate(identityKey.privateKey, {
    userId,
    deviceId,
    identityKey: toBase64Url(identityKey.publicKey),
    signingKey: toBase64Url(signingKey.publicKey),
    dhKey: toBase64Url(dhKey.publicKey),
    issuedAt: now,
  });
  return { userId, deviceId, identityKey, signingKey, dhKey, certificate };
}

export async function generateSignedPrekey(
  identity: LocalIdentity,
  keyId: number,
  random: RandomSource,
  now: number,
): Promise<SignedPrekeyPair> {
  const keyPair = await generateX25519KeyPair(random, NON_EXTRACTABLE);
  const signed = await signSignedPrekey(
    identity.signingKey.privateKey,
    identity,
    keyId,
    keyPair.publicKey,
  );
  return {
    keyId,
    keyPair,
    signature: fromBase64Url(signed.signature),
    createdAt: now,
  };
}

/** Creates a signed ML-KEM-768 prekey, one-time or last-resort. */
export async function generatePqPrekey(
  identity: LocalIdentity,
  keyId: number,
  lastResort: boolean,
  random: RandomSource,
): Promise<PqPrekeyPair> {
  const inRange = lastResort
    ? keyId >= LAST_RESORT_KEY_ID_BASE
    : keyId < LAST_RESORT_KEY_ID_BASE;
  if (!inRange) {
    throw new CryptoError(
      'invalid-key',
      'generatePqPrekey',
      `key id ${keyId} is outside the ${lastResort ? 'last-resort' : 'one-time'} range`,
    );
  }
  const keyPair = await mlKem768Generate(random);
  const signed = await signPqPrekey(
    identity.signingKey.privateKey,
    identity,
    keyId,
    keyPair.publicKey,
  );
  return {
    keyId,
    keyPair,
    signature: fromBase64Url(signed.signature),
    lastResort,
  };
}

/**
 * Creates `count` one-time prekeys and `count` one-time PQ prekeys, both
 * with ids `firstKeyId` to `firstKeyId + count - 1`.
 */
export async function generateOneTimePrekeys(
  identity: LocalIdentity,
  firstKeyId: number,
  count: number,
  random: RandomSource,
): Promise<{
  oneTimePrekeys: OneTimePrekeyPair[];
  oneTimePqPrekeys: PqPrekeyPair[];
}> {
  if (firstKeyId < 0 || firstKeyId + count > LAST_RESORT_KEY_ID_BASE) {
    throw new CryptoError(
      'invalid-key',
      'generateOneTimePrekeys',
      `key ids ${firstKeyId} to ${firstKeyId + count - 1} leave the one-time range`,
    );
  }
  const oneTimePrekeys: OneTimePrekeyPair[] = [];
  const oneTimePqPrekeys: PqPrekeyPair[] = [];
  for (let i = 0; i < count; i++) {
    const keyPair = await generateX25519KeyPair(random, NON_EXTRACTABLE);
    oneTimePrekeys.push({ keyId: firstKeyId + i, keyPair });
  }
  for (let i = 0; i < count; i++) {
    oneTimePqPrekeys.push(
      await generatePqPrekey(identity, firstKeyId + i, false, random),
    );
  }
  return { oneTimePrekeys, oneTimePqPrekeys };
}

export function toWireSignedPrekey(prekey: SignedPrekeyPair): SignedPrekey {
  return {
    keyId: prekey.keyId,
    publicKey: toBase64Url(prekey.keyPair.publicKey),
    signature: toBase64Url(prekey.signature),
  };
}

export function toWirePqPrekey(prekey: PqPrekeyPair): PqPrekey {
  return {
    keyId: prekey.keyId,
    publicKey: toBase64Url(prekey.keyPair.publicKey),
    signature: toBase64Url(prekey.signature),
  };
}

/** Returns the public half of new account keys, as the relay expects it. */
export function toRegisterRequest(keys: AccountKeys): RegisterRequest {
  return {
    certificate: keys.identity.certificate,
    signedPrekey: toWireSignedPrekey(keys.signedPrekey),
    lastResortPqPrekey: toWirePqPrekey(keys.lastResortPqPrekey),
    oneTimePrekeys: keys.oneTimePrekeys.map((prekey) => ({
      keyId: prekey.keyId,
      publicKey: toBase64Url(prekey.keyPair.publicKey),
    })),
    oneTimePqPrekeys: keys.oneTimePqPrekeys.map(toWirePqPrekey),
  };
}
