/**
 * Safety numbers: what two people compare, read aloud or as a QR code, to
 * check that each has the other's real user identity key. The derivation
 * follows libsignal's `rust/protocol/src/fingerprint.rs`.
 *
 * Per party, the fingerprint is SHA-512 iterated 5,200 times: the first
 * round hashes version ‖ identity key ‖ user id ‖ identity key, and each
 * later round hashes the previous digest ‖ identity key. The identity key is
 * the encoded Ed25519 key (0x02 ‖ 32 bytes). The first 30 bytes of each
 * fingerprint become 30 digits, and the two 30-digit halves are joined in
 * sorted order, so both parties see the same 60 digits.
 *
 * Only the user identity key and the user id go in, so adding or replacing
 * a device does not change the number. A new identity key always does.
 */
import { type Bytes, concat, constantTimeEqual, utf8 } from './bytes';
import { KeyType, encodeKey } from './certificate';
import { CryptoError } from './errors';
import { sha512 } from './primitives';

/** Version of the derivation and of the scannable form. */
export const SAFETY_NUMBER_VERSION = 1;
/** SHA-512 rounds per fingerprint, as in libsignal. */
export const SAFETY_NUMBER_ITERATIONS = 5200;
/** Fingerprint bytes per party in the scannable form. */
export const SCANNABLE_FINGERPRINT_BYTES = 32;
/** Length of the scannable form: version byte and two fingerprints. */
export const SCANNABLE_SAFETY_NUMBER_BYTES =
  1 + 2 * SCANNABLE_FINGERPRINT_BYTES;

const DIGITS_PER_PARTY = 30;
const CHUNK_BYTES = 5;
const CHUNK_DIGITS = 5;
const ED25519_PUBLIC_KEY_BYTES = 32;

/** One side of a conversation: a user id and its user identity key. */
export interface SafetyNumberParty {
  readonly userId: string;
  /** Raw 32-byte Ed25519 user identity key. */
  readonly identityKey: Uint8Array;
}

export interface SafetyNumber {
  /** 60 digits, the same for both parties. */
  readonly digits: string;
  /** `digits` in twelve groups of five, for display. */
  readonly groups: readonly string[];
  /**
   * Version byte, then our fingerprint, then theirs (32 bytes each). The
   * other party's scannable form has the two fingerprints swapped.
   */
  readonly scannable: Bytes;
}

/**
 * Computes one party's fingerprint from an encoded identity key and a
 * stable id. It is exported for known-answer tests, and the product calls
 * `computeSafetyNumber`.
 */
export async function iteratedFingerprint(
  version: number,
  encodedIdentityKey: Uint8Array,
  stableId: Uint8Array,
  iterations: number = SAFETY_NUMBER_ITERATIONS,
): Promise<Bytes> {
  if (!Number.isInteger(iterations) || iterations < 2) {
    throw new RangeError(`invalid fingerprint iteration count ${iterations}`);
  }
  const versionBytes = new Uint8Array([version >>> 8, version & 0xff]);
  let digest = await sha512(
    concat(versionBytes, encodedIdentityKey, stableId, encodedIdentityKey),
  );
  for (let round = 1; round < iterations; round++) {
    digest = await sha512(concat(digest, encodedIdentityKey));
  }
  return digest;
}

/**
 * Turns the first 30 bytes of a fingerprint into 30 digits: six 5-byte
 * big-endian chunks, each reduced mod 100,000 and zero-padded to 5 digits.
 */
export function fingerprintDigits(fingerprint: Uint8Array): string {
  if (fingerprint.length < DIGITS_PER_PARTY) {
    throw new RangeError(
      `fingerprint has ${fingerprint.length} bytes; at least ${DIGITS_PER_PARTY} are needed`,
    );
  }
  let digits = '';
  for (let offset = 0; offset < DIGITS_PER_PARTY; offset += CHUNK_BYTES) {
    // A 40-bit value fits a double exactly, so no BigInt is needed.
    let chunk = 0;
    for (let i = 0; i < CHUNK_BYTES; i++) {
      chunk = chunk * 256 + (fingerprint[offset + i] ?? 0);
    }
    digits += String(chunk % 100_000).padStart(CHUNK_DIGITS, '0');
  }
  return digits;
}

async function partyFingerprint(party: SafetyNumberParty): Promise<Bytes> {
  if (party.identityKey.length !== ED25519_PUBLIC_KEY_BYTES) {
    throw new CryptoError(
      'invalid-key',
      'computeSafetyNumber',
      `identity key of ${party.identityKey.length} bytes; expected ${ED25519_PUBLIC_KEY_BYTES}`,
    );
  }
  return iteratedFingerprint(
    SAFETY_NUMBER_VERSION,
    encodeKey(KeyType.ed25519, party.identityKey),
    utf8(party.userId),
  );
}

/** Splits digits into groups of five for display. */
export function groupDigits(digits: string): string[] {
  const groups: string[] = [];
  for (let i = 0; i < digits.length; i += CHUNK_DIGITS) {
    groups.push(digits.slice(i, i + CHUNK_DIGITS));
  }
  return groups;
}

/**
 * Computes the safety number of a conversation from our side. Both parties
 * get the same `digits`, and each gets its own `scannable` form.
 */
export async function computeSafetyNumber(
  local: SafetyNumberParty,
  remote: SafetyNumberParty,
): Promise<SafetyNumber> {
  const ourFingerprint = await partyFingerprint(local);
  const theirFingerprint = await partyFingerprint(remote);
  const ourDigits = fingerprintDigits(ourFingerprint);
  const theirDigits = fingerprintDigits(theirFingerprint);
  const digits =
    ourDigits < theirDigits ? ourDigits + theirDigits : theirDigits + ourDigits;
  const scannable = concat(
    new Uint8Array([SAFETY_NUMBER_VERSION]),
    ourFingerprint.subarray(0, SCANNABLE_FINGERPRINT_BYTES),
    theirFingerprint.subarray(0, SCANNABLE_FINGERPRINT_BYTES),
  );
  return { digits, groups: groupDigits(digits), scannable };
}

function checkScannable(operation: string, scannable: Uint8Array): void {
  const version = scannable[0];
  if (version !== SAFETY_NUMBER_VERSION) {
    throw new CryptoError(
      'version-mismatch',
      operation,
      `scanned safety number has version ${version ?? 'none'}; this app uses version ${SAFETY_NUMBER_VERSION}, so both people need the same app version`,
    );
  }
  if (scannable.length !== SCANNABLE_SAFETY_NUMBER_BYTES) {
    throw new CryptoError(
      'invalid-message',
      operation,
      `scanned safety number has ${scannable.length} bytes; expected ${SCANNABLE_SAFETY_NUMBER_BYTES}`,
    );
  }
}

/**
 * Checks a scanned safety number against ours. The scanned form lists the
 * other party's fingerprint first, so it matches when its halves, swapped,
 * equal ours. The comparison runs in constant time. Returns false on a
 * mismatch, and throws `version-mismatch` or `invalid-message` when the
 * scanned bytes are not a safety number of this version.
 */
export function compareScannedSafetyNumber(
  ours: Uint8Array,
  scanned: Uint8Array,
): boolean {
  const operation = 'compareScannedSafetyNumber';
  checkScannable(operation, ours);
  checkScannable(operation, scanned);
  const split = 1 + SCANNABLE_FINGERPRINT_BYTES;
  const swapped = concat(scanned.subarray(split), scanned.subarray(1, split));
  return constantTimeEqual(swapped, ours.subarray(1));
}
