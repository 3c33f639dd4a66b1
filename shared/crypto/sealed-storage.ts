/**
 * Sealing of secrets at rest with the storage key: AES-256-GCM with a random
 * 96-bit IV per write. The associated data binds the record kind, record id
 * and schema version, so a sealed record moved to another slot, or read as
 * another kind or version, fails to open.
 */
import { type Bytes, concat, lengthPrefixed, uint32, utf8 } from './bytes';
import { CryptoError } from './errors';
import { STORAGE_AD_LABEL } from './labels';
import { AES_GCM_IV_LENGTH, aesGcmDecrypt, aesGcmEncrypt } from './primitives';
import type { RandomSource } from './random';

const SEALED_FORMAT = 0x01;

function storageAssociatedData(
  kind: string,
  id: string,
  version: number,
): Bytes {
  return lengthPrefixed(
    utf8(STORAGE_AD_LABEL),
    utf8(kind),
    utf8(id),
    uint32(version),
  );
}

/** Encrypts `plaintext` for the slot (kind, id, version); returns format ‖ IV ‖ ciphertext. */
export async function sealRecord(
  storageKey: CryptoKey,
  kind: string,
  id: string,
  version: number,
  plaintext: Bytes,
  random: RandomSource,
): Promise<Bytes> {
  const iv = random.bytes(AES_GCM_IV_LENGTH);
  const ciphertext = await aesGcmEncrypt(
    storageKey,
    iv,
    plaintext,
    storageAssociatedData(kind, id, version),
  );
  return concat(new Uint8Array([SEALED_FORMAT]), iv, ciphertext);
}

/** Decrypts a sealed record; throws `decryption-failed` for any other slot or a modified record. */
export async function openRecord(
  storageKey: CryptoKey,
  kind: string,
  id: string,
  version: number,
  sealed: Bytes,
): Promise<Bytes> {
  if (sealed[0] !== SEALED_FORMAT) {
    throw new CryptoError(
      'decryption-failed',
      'openRecord',
      `unknown sealed format ${sealed[0] ?? 'of an empty record'}`,
    );
  }
  return aesGcmDecrypt(
    storageKey,
    sealed.subarray(1, 1 + AES_GCM_IV_LENGTH),
    sealed.subarray(1 + AES_GCM_IV_LENGTH),
    storageAssociatedData(kind, id, version),
  );
}
