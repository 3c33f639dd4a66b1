/**
 * Wire schemas shared by the relay and the client. Binary fields travel as
 * unpadded base64url strings with fixed or capped lengths, so a schema check
 * rejects a malformed key before any cryptography runs.
 */
import { z } from 'zod';
import {
  MAX_ACCESS_LOG_ENTRIES,
  MAX_ACK_IDS,
  MAX_ENVELOPE_BODY_BYTES,
  MAX_GROUP_RECIPIENTS,
  MAX_PREKEYS_PER_UPLOAD,
  USERNAME_MAX_LENGTH,
  USERNAME_MIN_LENGTH,
} from './limits';

/** Length of the base64url form of `n` bytes, without padding. */
export function base64UrlLength(n: number): number {
  return Math.ceil((n * 4) / 3);
}

const BASE64URL_ALPHABET =
  'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/**
 * Checks that unpadded base64url text is the only encoding of its bytes: a
 * length that is not 1 mod 4, and zero bits after the last byte. Otherwise a
 * signed field could travel in several spellings of the same bytes.
 */
export function isCanonicalBase64Url(text: string): boolean {
  const rest = text.length % 4;
  if (rest === 1) return false;
  if (rest === 0) return true;
  const last = BASE64URL_ALPHABET.indexOf(text.charAt(text.length - 1));
  // Two trailing characters carry 4 spare bits, three characters carry 2.
  const spareBitsMask = rest === 2 ? 0x0f : 0x03;
  return last >= 0 && (last & spareBitsMask) === 0;
}

/** Adds the base64url alphabet and canonical-form checks after `text`'s own. */
function base64UrlBytes(text: z.ZodString) {
  return text
    .regex(/^[A-Za-z0-9_-]*$/, 'must be base64url')
    .refine(isCanonicalBase64Url, 'must be canonical base64url');
}

function fixedBytes(n: number) {
  const length = base64UrlLength(n);
  return base64UrlBytes(
    z
      .string()
      .length(length, `must be ${n} bytes as base64url (${length} characters)`),
  );
}

function cappedBytes(max: number) {
  return base64UrlBytes(
    z.string().min(1).max(base64UrlLength(max), `must be at most ${max} bytes`),
  );
}

/** Raw 32-byte X25519 or Ed25519 public key. */
export const PublicKey32 = fixedBytes(32);
/** Raw 1184-byte ML-KEM-768 public key. */
export const KemPublicKey = fixedBytes(1184);
/** Raw 64-byte Ed25519 signature. */
export const Signature = fixedBytes(64);
/** 128-bit random identifier. */
export const Id128 = fixedBytes(16);
/** 32-byte sign-in nonce. */
export const Nonce = fixedBytes(32);

export const USERNAME_PATTERN = /^[a-z0-9._-]+$/;

/** Case-folds a username before validation and lookup. */
export function foldUsername(name: string): string {
  return name.trim().toLowerCase();
}

export const Username = z
  .string()
  .transform(foldUsername)
  .pipe(
    z
      .string()
      .min(
        USERNAME_MIN_LENGTH,
        `must be at least ${USERNAME_MIN_LENGTH} characters`,
      )
      .max(
        USERNAME_MAX_LENGTH,
        `must be at most ${USERNAME_MAX_LENGTH} characters`,
      )
      .regex(
        USERNAME_PATTERN,
        'may contain only lowercase letters, digits, ".", "_" and "-"',
      ),
  );

export const DeviceId = z.number().int().min(1).max(0x7fffffff);
export const KeyId = z.number().int().min(0).max(0xffffffff);

export const Address = z.strictObject({
  userId: Username,
  deviceId: DeviceId,
});
export type Address = z.infer<typeof Address>;

/**
 * The user identity key's signature over the device's identity: user id,
 * device id, both device public keys and the time of issue.
 */
export const DeviceCertificate = z.strictObject({
  userId: Username,
  deviceId: DeviceId,
  identityKey: PublicKey32,
  signingKey: PublicKey32,
  dhKey: PublicKey32,
  issuedAt: z.number().int().min(0),
  signature: Signature,
});
export type DeviceCertificate = z.infer<typeof DeviceCertificate>;

/** X25519 signed prekey, signed by the device signing key. */
export const SignedPrekey = z.strictObject({
  keyId: KeyId,
  publicKey: PublicKey32,
  signature: Signature,
});
export type SignedPrekey = z.infer<typeof SignedPrekey>;

/** ML-KEM-768 prekey, one-time or last-resort, signed by the device signing key. */
export const PqPrekey = z.strictObject({
  keyId: KeyId,
  publicKey: KemPublicKey,
  signature: Signature,
});
export type PqPrekey = z.infer<typeof PqPrekey>;

export const OneTimePrekey = z.strictObject({
  keyId: KeyId,
  publicKey: PublicKey32,
});
export type OneTimePrekey = z.infer<typeof OneTimePrekey>;

/** The one-time prekey lists of a registration or an upload. */
const oneTimePrekeyLists = {
  oneTimePrekeys: z.array(OneTimePrekey).max(MAX_PREKEYS_PER_UPLOAD),
  oneTimePqPrekeys: z.array(PqPrekey).max(MAX_PREKEYS_PER_UPLOAD),
};

/** Public keys and signatures a device publishes when its account is created. */
export const RegisterRequest = z.strictObject({
  certificate: DeviceCertificate,
  signedPrekey: SignedPrekey,
  lastResortPqPrekey: PqPrekey,
  ...oneTimePrekeyLists,
});
export type RegisterRequest = z.infer<typeof RegisterRequest>;

/** New prekeys from a signed-in device; any part may be absent. */
export const PrekeyUpload = z.strictObject({
  signedPrekey: SignedPrekey.optional(),
  lastResortPqPrekey: PqPrekey.optional(),
  ...oneTimePrekeyLists,
});
export type PrekeyUpload = z.infer<typeof PrekeyUpload>;

/**
 * One device's prekey bundle. `pqPrekey` is a one-time PQ prekey, or the
 * last-resort one when the pool is empty (`pqPrekeyLastResort` is then true).
 */
export const PrekeyBundle = z.strictObject({
  certificate: DeviceCertificate,
  signedPrekey: SignedPrekey,
  pqPrekey: PqPrekey,
  pqPrekeyLastResort: z.boolean(),
  oneTimePrekey: OneTimePrekey.optional(),
});
export type PrekeyBundle = z.infer<typeof PrekeyBundle>;

export const PrekeyCounts = z.strictObject({
  oneTimePrekeys: z.number().int().min(0),
  oneTimePqPrekeys: z.number().int().min(0),
});
export type PrekeyCounts = z.infer<typeof PrekeyCounts>;

export const EnvelopeKind = z.enum([
  'prekey',
  'message',
  'sender-key-distribution',
  'group',
]);
export type EnvelopeKind = z.infer<typeof EnvelopeKind>;

export const EnvelopeBody = cappedBytes(MAX_ENVELOPE_BODY_BYTES);

/** Envelope as a device sends it; the relay adds `from`, `serverTs` and `seq`. */
export const OutgoingEnvelope = z.strictObject({
  v: z.literal(1),
  kind: z.enum(['prekey', 'message']),
  id: Id128,
  to: Address,
  body: EnvelopeBody,
});
export type OutgoingEnvelope = z.infer<typeof OutgoingEnvelope>;

/**
 * A group message as a device sends it: one Sender Key ciphertext and the
 * member devices to queue it for, each listed once. The relay stores one
 * delivery per device, each with that device's `seq`, as `kind: 'group'`
 * with `to` set to that device. The list is all the relay learns about the
 * group; membership itself is checked by the members' clients.
 */
export const OutgoingGroupEnvelope = z.strictObject({
  v: z.literal(1),
  kind: z.literal('group'),
  id: Id128,
  to: z
    .array(Address)
    .min(1)
    .max(
      MAX_GROUP_RECIPIENTS,
      `must list at most ${MAX_GROUP_RECIPIENTS} devices`,
    ),
  body: EnvelopeBody,
});
export type OutgoingGroupEnvelope = z.infer<typeof OutgoingGroupEnvelope>;

/** Payload of `envelope:send`: a pairwise envelope or a group envelope, by `kind`. */
export const SendEnvelopeRequest = z.discriminatedUnion('kind', [
  OutgoingEnvelope,
  OutgoingGroupEnvelope,
]);
export type SendEnvelopeRequest = z.infer<typeof SendEnvelopeRequest>;

/** Envelope as the relay delivers it. */
export const Envelope = z.strictObject({
  v: z.literal(1),
  kind: EnvelopeKind,
  id: Id128,
  from: Address,
  to: Address,
  serverTs: z.number().int().min(0),
  seq: z.number().int().min(1),
  body: EnvelopeBody,
});
export type Envelope = z.infer<typeof Envelope>;

export const SendResult = z.strictObject({
  id: Id128,
  serverTs: z.number().int().min(0),
  /** True when the relay had already stored this id; nothing was queued. */
  duplicate: z.boolean(),
});
export type SendResult = z.infer<typeof SendResult>;

export const AckRequest = z.strictObject({
  ids: z.array(Id128).min(1).max(MAX_ACK_IDS),
});
export type AckRequest = z.infer<typeof AckRequest>;

export const SignInStart = z.strictObject({
  userId: Username,
  deviceId: DeviceId,
});
export type SignInStart = z.infer<typeof SignInStart>;

export const SignInChallenge = z.strictObject({ nonce: Nonce });
export type SignInChallenge = z.infer<typeof SignInChallenge>;

export const SignInFinish = z.strictObject({
  nonce: Nonce,
  signature: Signature,
});
export type SignInFinish = z.infer<typeof SignInFinish>;

export const BundleRequest = z.strictObject({ userId: Username });
export type BundleRequest = z.infer<typeof BundleRequest>;

/** The relay's reply to a registration: 201 when created, 200 when repeated. */
export const RegisterResponse = z.strictObject({
  userId: Username,
  deviceId: DeviceId,
  prekeys: PrekeyCounts,
});
export type RegisterResponse = z.infer<typeof RegisterResponse>;

/** Asks for the signed-in user's own bundle access log, newest first. */
export const AccessLogRequest = z.strictObject({
  limit: z.number().int().min(1).max(MAX_ACCESS_LOG_ENTRIES).optional(),
});
export type AccessLogRequest = z.infer<typeof AccessLogRequest>;

/** One fetch of the signed-in user's prekey bundles. */
export const AccessLogEntry = z.strictObject({
  /** The user whose device fetched the bundles. */
  requesterId: Username,
  /** Relay time of the fetch, in ms since the epoch. */
  fetchedAt: z.number().int().min(0),
});
export type AccessLogEntry = z.infer<typeof AccessLogEntry>;

export const AccessLog = z.strictObject({
  entries: z.array(AccessLogEntry).max(MAX_ACCESS_LOG_ENTRIES),
});
export type AccessLog = z.infer<typeof AccessLog>;

/**
 * A contact's device certificate or identity key changed on the relay.
 * Clients fetch the bundles again and compare the identity key with the
 * pinned one. The relay may send the same notice more than once, with the
 * same `changedAt`.
 */
export const KeyChanged = z.strictObject({
  userId: Username,
  /** Relay time of the change, in ms since the epoch. */
  changedAt: z.number().int().min(0),
});
export type KeyChanged = z.infer<typeof KeyChanged>;
