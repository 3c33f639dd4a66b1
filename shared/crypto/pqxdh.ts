/**
 * PQXDH key agreement (Signal PQXDH revision 3) with the parameters
 * curve25519, SHA-256, ML-KEM-768 and info
 * `Cloak-v1_CURVE25519_SHA-256_ML-KEM-768`.
 *
 * The initiator verifies the bundle (user identity key → device certificate
 * → prekey signatures, and the pinned identity key), then computes
 * DH1 = DH(IK_A, SPK_B), DH2 = DH(EK_A, IK_B), DH3 = DH(EK_A, SPK_B),
 * DH4 = DH(EK_A, OPK_B) when a one-time prekey is present, and encapsulates
 * (CT, SS) to the PQ prekey. SK = HKDF(IKM = 32 × 0xFF ‖ DH1 ‖ DH2 ‖ DH3
 * [‖ DH4] ‖ SS, salt = 32 zero bytes, 32 bytes). IK here is the device
 * identity DH key that the device certificate binds to the user identity
 * key, because WebCrypto has no XEdDSA.
 *
 * This module owns no state: session.ts keeps the set-up until the first
 * reply and runs the replay checks.
 */
import { DeviceCertificate, PrekeyBundle, type Address } from '../wire/schemas';
import {
  type Bytes,
  concat,
  constantTimeEqual,
  fromBase64Url,
  lengthPrefixed,
  toBase64Url,
  uint32,
  utf8,
} from './bytes';
import {
  encodeKey,
  KeyType,
  verifyDeviceCertificate,
  verifyPqPrekey,
  verifySignedPrekey,
} from './certificate';
import { ByteReader, ByteWriter } from './encoding';
import { CryptoError } from './errors';
import type { LocalIdentity } from './keys';
import { PQXDH_INFO, SESSION_AD_LABEL, SETUP_ID_INFO } from './labels';
import {
  generateX25519KeyPair,
  hkdfSha256,
  importX25519PublicKey,
  isCanonicalX25519PublicKey,
  ML_KEM_768_CIPHERTEXT_LENGTH,
  ML_KEM_768_PUBLIC_KEY_LENGTH,
  mlKem768Decapsulate,
  mlKem768Encapsulate,
  x25519,
} from './primitives';
import type { RandomSource } from './random';
import { SecretBytes } from './secret-bytes';

const SETUP_VERSION = 1;
const SETUP_ID_LENGTH = 16;
const ML_KEM_768_SECRET_KEY_LENGTH = 2400;
// FIPS 203 decapsulation key layout: dk_PKE (384·k bytes) ‖ ek ‖ H(ek) ‖ z.
const ML_KEM_768_EK_OFFSET = 1152;

/** The set-up data an initiator sends with every message until the first reply. */
export interface SetupMessage {
  readonly certificate: DeviceCertificate;
  /** EK_A, the initiator's ephemeral X25519 public key. */
  readonly baseKey: Bytes;
  readonly signedPrekeyId: number;
  readonly oneTimePrekeyId: number | undefined;
  readonly pqPrekeyId: number;
  readonly kemCipherText: Bytes;
}

export interface PqxdhResult {
  /** SK, the first root key. */
  readonly sharedSecret: SecretBytes;
  /** The session's associated data, fixed for its lifetime. */
  readonly associatedData: Bytes;
  /** SK-derived id that marks this set-up for replay checks. */
  readonly setupId: Bytes;
}

export interface PqxdhInitiatorResult extends PqxdhResult {
  readonly setup: SetupMessage;
  readonly theirIdentityKey: Bytes;
  readonly theirSignedPrekey: Bytes;
}

/**
 * A `PqxdhResult` whose set-up id is derived only on request, because a
 * session needs it only for set-ups without a one-time prekey.
 */
export interface PqxdhAgreement extends Omit<PqxdhResult, 'setupId'> {
  deriveSetupId(): Promise<Bytes>;
}

export type PqxdhInitiatorAgreement = PqxdhAgreement &
  Omit<PqxdhInitiatorResult, keyof PqxdhResult>;

/** The responder's private keys named by a set-up. */
export interface ResponderPrekeys {
  readonly signedPrekey: CryptoKey;
  readonly oneTimePrekey: CryptoKey | undefined;
  /** ML-KEM-768 secret key (FIPS 203 encoding, 2,400 bytes). */
  readonly pqSecretKey: SecretBytes;
}

/**
 * Awaits independent operations together, so that their WebCrypto calls
 * overlap, then throws the first failure in list order, so that the error
 * does not depend on which operation finished first.
 */
async function allInOrder<T>(operations: readonly Promise<T>[]): Promise<T[]> {
  const results = await Promise.allSettled(operations);
  return results.map((result) => {
    if (result.status === 'rejected') throw result.reason;
    return result.value;
  });
}

/** Computes X25519 with each of `pairs` at once, importing each public key once. */
async function x25519All(
  pairs: readonly (readonly [CryptoKey, Uint8Array])[],
): Promise<Bytes[]> {
  const imported = new Map<Uint8Array, Promise<CryptoKey>>();
  for (const [, publicKey] of pairs) {
    if (!imported.has(publicKey)) {
      imported.set(publicKey, importX25519PublicKey(publicKey));
    }
  }
  return allInOrder(
    pairs.map(async ([privateKey, publicKey]) =>
      x25519(privateKey, await (imported.get(publicKey) as Promise<CryptoKey>)),
    ),
  );
}

export function certificateAddress(certificate: DeviceCertificate): Address {
  return { userId: certificate.userId, deviceId: certificate.deviceId };
}

/**
 * Checks that a peer's certificate verifies under the identity key it names
 * and that this key matches the pinned one, when there is one. Throws
 * `invalid-signature` or `untrusted-identity`.
 */
export async function verifyPeerCertificate(
  certificate: DeviceCertificate,
  pinnedIdentityKey: Uint8Array | undefined,
  operation: string,
): Promise<Bytes> {
  if (!(await verifyDeviceCertificate(certificate))) {
    throw new CryptoError(
      'invalid-signature',
      operation,
      'device certificate does not verify under its identity key',
    );
  }
  const identityKey = fromBase64Url(certificate.identityKey);
  if (
    pinnedIdentityKey !== undefined &&
    !constantTimeEqual(identityKey, pinnedIdentityKey)
  ) {
    throw new CryptoError(
      'untrusted-identity',
      operation,
      'identity key differs from the pinned one',
    );
  }
  return identityKey;
}

/**
 * Builds the session's associated data: `Cloak-v1/AD`, then the initiator's
 * and the responder's identity key, user id, device id and identity DH key,
 * then the PQ prekey, each part length-prefixed.
 */
export function sessionAssociatedData(
  initiator: DeviceCertificate,
  responder: DeviceCertificate,
  pqPrekey: Uint8Array,
): Bytes {
  const party = (certificate: DeviceCertificate): Uint8Array[] => [
    encodeKey(KeyType.ed25519, fromBase64Url(certificate.identityKey)),
    utf8(certificate.userId),
    uint32(certificate.deviceId),
    encodeKey(KeyType.x25519, fromBase64Url(certificate.dhKey)),
  ];
  return lengthPrefixed(
    utf8(SESSION_AD_LABEL),
    ...party(initiator),
    ...party(responder),
    encodeKey(KeyType.mlKem768, pqPrekey),
  );
}

/**
 * Derives SK from the DH outputs and the KEM shared secret, and builds the
 * associated data from both certificates. The set-up id comes from SK.
 */
async function completeAgreement(
  dhOutputs: readonly Uint8Array[],
  kemSharedSecret: Uint8Array,
  initiator: DeviceCertificate,
  responder: DeviceCertificate,
  pqPrekey: Uint8Array,
): Promise<PqxdhAgreement> {
  const sk = await hkdfSha256(
    concat(new Uint8Array(32).fill(0xff), ...dhOutputs, kemSharedSecret),
    new Uint8Array(32),
    utf8(PQXDH_INFO),
    32,
  );
  const sharedSecret = new SecretBytes(sk);
  return {
    sharedSecret,
    associatedData: sessionAssociatedData(initiator, responder, pqPrekey),
    deriveSetupId: () =>
      hkdfSha256(
        sharedSecret.reveal(),
        new Uint8Array(32),
        utf8(SETUP_ID_INFO),
        SETUP_ID_LENGTH,
      ),
  };
}

/** Adds the set-up id to an agreement. */
async function withSetupId<T extends PqxdhAgreement>(
  agreement: T,
): Promise<Omit<T, 'deriveSetupId'> & { setupId: Bytes }> {
  const { deriveSetupId, ...result } = agreement;
  return { ...result, setupId: await deriveSetupId() };
}

/** Verifies a prekey bundle; throws `invalid-bundle`, `invalid-signature` or `untrusted-identity`. */
export async function verifyPrekeyBundle(
  local: LocalIdentity,
  bundle: PrekeyBundle,
  pinnedIdentityKey: Uint8Array | undefined,
): Promise<Bytes> {
  const operation = 'verifyPrekeyBundle';
  const parsed = PrekeyBundle.safeParse(bundle);
  if (
    !parsed.success ||
    parsed.data.certificate.userId !== bundle.certificate.userId
  ) {
    throw new CryptoError('invalid-bundle', operation, 'malformed bundle');
  }
  if (
    bundle.certificate.userId === local.userId &&
    bundle.certificate.deviceId === local.deviceId
  ) {
    throw new CryptoError(
      'invalid-bundle',
      operation,
      'bundle names this device itself',
    );
  }
  // The three signatures are checked at once and judged in chain order:
  // identity key → certificate, then certificate → each prekey.
  const signedPrekeyValid = verifySignedPrekey(
    bundle.certificate,
    bundle.signedPrekey,
  );
  const pqPrekeyValid = verifyPqPrekey(bundle.certificate, bundle.pqPrekey);
  const [identityKey, signedValid, pqValid] = await allInOrder<Bytes | boolean>(
    [
      verifyPeerCertificate(bundle.certificate, pinnedIdentityKey, operation),
      signedPrekeyValid,
      pqPrekeyValid,
    ],
  );
  if (signedValid !== true) {
    throw new CryptoError(
      'invalid-signature',
      operation,
      `signed prekey ${bundle.signedPrekey.keyId} has an invalid signature`,
    );
  }
  if (pqValid !== true) {
    throw new CryptoError(
      'invalid-signature',
      operation,
      `PQ prekey ${bundle.pqPrekey.keyId} has an invalid signature`,
    );
  }
  return identityKey as Bytes;
}

/** Runs the initiator's half of PQXDH against a verified bundle. */
export async function pqxdhInitiate(
  local: LocalIdentity,
  bundle: PrekeyBundle,
  pinnedIdentityKey: Uint8Array | undefined,
  random: RandomSource,
): Promise<PqxdhInitiatorResult> {
  return withSetupId(
    await agreeAsInitiator(local, bundle, pinnedIdentityKey, random),
  );
}

/** Runs `pqxdhInitiate` without deriving the set-up id. */
export async function agreeAsInitiator(
  local: LocalIdentity,
  bundle: PrekeyBundle,
  pinnedIdentityKey: Uint8Array | undefined,
  random: RandomSource,
): Promise<PqxdhInitiatorAgreement> {
  // The base key pair is made while the bundle is checked; it is used only
  // once the bundle verified.
  const baseKeyGenerating = generateX25519KeyPair(random, {
    extractable: false,
  });
  baseKeyGenerating.catch(() => undefined); // awaited below
  const theirIdentityKey = await verifyPrekeyBundle(
    local,
    bundle,
    pinnedIdentityKey,
  ).catch(async (error: unknown) => {
    await baseKeyGenerating.catch(() => undefined);
    throw error;
  });
  const theirIdentityDhKey = fromBase64Url(bundle.certificate.dhKey);
  const theirSignedPrekey = fromBase64Url(bundle.signedPrekey.publicKey);
  const theirPqPrekey = fromBase64Url(bundle.pqPrekey.publicKey);
  const baseKeyPair = await baseKeyGenerating;

  const pairs: (readonly [CryptoKey, Uint8Array])[] = [
    [local.dhKey.privateKey, theirSignedPrekey],
    [baseKeyPair.privateKey, theirIdentityDhKey],
    [baseKeyPair.privateKey, theirSignedPrekey],
  ];
  if (bundle.oneTimePrekey !== undefined) {
    pairs.push([
      baseKeyPair.privateKey,
      fromBase64Url(bundle.oneTimePrekey.publicKey),
    ]);
  }
  // The DH computations run while ML-KEM encapsulates.
  const dhRunning = x25519All(pairs);
  dhRunning.catch(() => undefined); // awaited below; marks a rejection handled
  const encapsulated = await mlKem768Encapsulate(theirPqPrekey, random).catch(
    async (error: unknown) => {
      await dhRunning.catch(() => undefined);
      throw error;
    },
  );
  const dhOutputs = await dhRunning;
  const { cipherText, sharedSecret: kemSecret } = encapsulated;
  const agreement = await completeAgreement(
    dhOutputs,
    kemSecret,
    local.certificate,
    bundle.certificate,
    theirPqPrekey,
  );
  return {
    ...agreement,
    theirIdentityKey,
    theirSignedPrekey,
    setup: {
      certificate: local.certificate,
      baseKey: baseKeyPair.publicKey,
      signedPrekeyId: bundle.signedPrekey.keyId,
      oneTimePrekeyId: bundle.oneTimePrekey?.keyId,
      pqPrekeyId: bundle.pqPrekey.keyId,
      kemCipherText: cipherText,
    },
  };
}

/**
 * Runs the responder's half of PQXDH. The caller has already checked the
 * initiator's certificate and looked up the named prekeys.
 */
export async function pqxdhRespond(
  local: LocalIdentity,
  setup: SetupMessage,
  prekeys: ResponderPrekeys,
): Promise<PqxdhResult> {
  return withSetupId(await agreeAsResponder(local, setup, prekeys));
}

/** Runs `pqxdhRespond` without deriving the set-up id. */
export async function agreeAsResponder(
  local: LocalIdentity,
  setup: SetupMessage,
  prekeys: ResponderPrekeys,
): Promise<PqxdhAgreement> {
  if (prekeys.pqSecretKey.length !== ML_KEM_768_SECRET_KEY_LENGTH) {
    throw new CryptoError(
      'invalid-key',
      'pqxdhRespond',
      `ML-KEM-768 secret key must be ${ML_KEM_768_SECRET_KEY_LENGTH} bytes, got ${prekeys.pqSecretKey.length}`,
    );
  }
  const theirIdentityDhKey = fromBase64Url(setup.certificate.dhKey);
  const pairs: (readonly [CryptoKey, Uint8Array])[] = [
    [prekeys.signedPrekey, theirIdentityDhKey],
    [local.dhKey.privateKey, setup.baseKey],
    [prekeys.signedPrekey, setup.baseKey],
  ];
  if (prekeys.oneTimePrekey !== undefined) {
    pairs.push([prekeys.oneTimePrekey, setup.baseKey]);
  }
  // The DH computations run while ML-KEM decapsulates.
  const dhRunning = x25519All(pairs);
  dhRunning.catch(() => undefined); // awaited below; marks a rejection handled
  const kemSecret = await mlKem768Decapsulate(
    setup.kemCipherText,
    prekeys.pqSecretKey,
  ).catch(async (error: unknown) => {
    await dhRunning.catch(() => undefined);
    throw error;
  });
  const dhOutputs = await dhRunning;
  const rawSecretKey = prekeys.pqSecretKey.reveal();
  const pqPublicKey = rawSecretKey.slice(
    ML_KEM_768_EK_OFFSET,
    ML_KEM_768_EK_OFFSET + ML_KEM_768_PUBLIC_KEY_LENGTH,
  );
  rawSecretKey.fill(0);
  return completeAgreement(
    dhOutputs,
    kemSecret,
    setup.certificate,
    local.certificate,
    pqPublicKey,
  );
}

function encodeCertificate(certificate: DeviceCertificate): Bytes {
  return new ByteWriter()
    .bytes(utf8(certificate.userId))
    .u32(certificate.deviceId)
    .bytes(encodeKey(KeyType.ed25519, fromBase64Url(certificate.identityKey)))
    .bytes(encodeKey(KeyType.ed25519, fromBase64Url(certificate.signingKey)))
    .bytes(encodeKey(KeyType.x25519, fromBase64Url(certificate.dhKey)))
    .u64(certificate.issuedAt)
    .bytes(fromBase64Url(certificate.signature))
    .finish();
}

function readKey(reader: ByteReader, field: string, type: number): Bytes {
  const encoded = reader.fixed(field, 33);
  if (encoded[0] !== type) {
    throw new CryptoError(
      'invalid-message',
      'decodeSetup',
      `${field} has key type 0x${(encoded[0] ?? 0).toString(16)}, expected 0x0${type}`,
    );
  }
  const key = encoded.slice(1);
  if (type === KeyType.x25519 && !isCanonicalX25519PublicKey(key)) {
    throw new CryptoError(
      'invalid-message',
      'decodeSetup',
      `${field} is a non-canonical X25519 key`,
    );
  }
  return key;
}

function decodeCertificate(bytes: Uint8Array): DeviceCertificate {
  const reader = new ByteReader(bytes, 'invalid-message', 'decodeSetup');
  const userIdBytes = reader.bytes('user id', 256);
  const deviceId = reader.u32('device id');
  const identityKey = readKey(reader, 'identity key', KeyType.ed25519);
  const signingKey = reader.fixed('signing key', 33);
  const dhKey = readKey(reader, 'identity DH key', KeyType.x25519);
  const issuedAt = reader.u64('issued at');
  const signature = reader.fixed('signature', 64);
  reader.end();

  if (signingKey[0] !== KeyType.ed25519) {
    throw new CryptoError(
      'invalid-message',
      'decodeSetup',
      'bad signing key type',
    );
  }

  let userId: string;
  try {
    userId = new TextDecoder('utf-8', { fatal: true }).decode(userIdBytes);
  } catch (cause) {
    throw new CryptoError(
      'invalid-message',
      'decodeSetup',
      'user id is not UTF-8',
      { cause },
    );
  }
  const certificate: DeviceCertificate = {
    userId,
    deviceId,
    identityKey: toBase64Url(identityKey),
    signingKey: toBase64Url(signingKey.slice(1)),
    dhKey: toBase64Url(dhKey),
    issuedAt,
    signature: toBase64Url(signature),
  };

  const parsed = DeviceCertificate.safeParse(certificate);
  if (!parsed.success || parsed.data.userId !== userId) {
    throw new CryptoError(
      'invalid-message',
      'decodeSetup',
      'malformed certificate',
    );
  }
  return certificate;
}

export function encodeSetup(setup: SetupMessage): Bytes {
  const writer = new ByteWriter()
    .u8(SETUP_VERSION)
    .bytes(encodeCertificate(setup.certificate))
    .bytes(encodeKey(KeyType.x25519, setup.baseKey))
    .u32(setup.signedPrekeyId)
    .u8(setup.oneTimePrekeyId === undefined ? 0 : 1)
    .u32(setup.oneTimePrekeyId ?? 0)
    .u32(setup.pqPrekeyId)
    .bytes(setup.kemCipherText);
  return writer.finish();
}

/** Parses set-up data; throws `invalid-message` on any malformed field. */
export function decodeSetup(bytes: Uint8Array): SetupMessage {
  const operation = 'decodeSetup';
  const reader = new ByteReader(bytes, 'invalid-message', operation);
  reader.version('set-up', SETUP_VERSION);

  const certificate = decodeCertificate(reader.bytes('certificate', 1024));
  const baseKey = readKey(reader, 'base key', KeyType.x25519);
  const signedPrekeyId = reader.u32('signed prekey id');
  const hasOneTimePrekey = reader.u8('one-time prekey flag');
  const oneTimePrekeyId = reader.u32('one-time prekey id');
  const pqPrekeyId = reader.u32('PQ prekey id');
  const kemCipherText = reader.fixed(
    'KEM ciphertext',
    ML_KEM_768_CIPHERTEXT_LENGTH,
  );
  reader.end();

  if (
    hasOneTimePrekey > 1 ||
    (hasOneTimePrekey === 0 && oneTimePrekeyId !== 0)
  ) {
    throw new CryptoError('invalid-message', operation, 'invalid flag byte');
  }
  const setup: SetupMessage = {
    certificate,
    baseKey,
    signedPrekeyId,
    oneTimePrekeyId: hasOneTimePrekey === 1 ? oneTimePrekeyId : undefined,
    pqPrekeyId,
    kemCipherText,
  };
  // The responder matches repeated set-ups by their SHA-256, so each set-up
  // must have exactly one accepted encoding. This rejects, for example, a
  // user id behind a UTF-8 byte order mark, which the decoder drops.
  if (!constantTimeEqual(encodeSetup(setup), bytes)) {
    throw new CryptoError(
      'invalid-message',
      operation,
      'non-canonical set-up encoding',
    );
  }
  return setup;
}
