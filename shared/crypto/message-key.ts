/**
 * Message encryption with a message key. Each message carries a fresh
 * 16-byte random salt, and key ‖ IV = HKDF(IKM = message key, salt,
 * info `Cloak-v1/DR/message`, 44 bytes), so a (key, IV) pair stays unique
 * even if a ratchet state were rolled back and a message key used twice.
 */
import { type Bytes, utf8 } from './bytes';
import { MESSAGE_KEY_INFO } from './labels';
import { aesGcmDecrypt, aesGcmEncrypt, hkdfSha256 } from './primitives';
import type { SecretBytes } from './secret-bytes';

export const MESSAGE_SALT_LENGTH = 16;

const MESSAGE_INFO_BYTES = utf8(MESSAGE_KEY_INFO);

export interface MessageCipherKeys {
  readonly key: Bytes;
  readonly iv: Bytes;
}

/**
 * Derives the AES-256-GCM key and IV of one message. Sender Keys pass their
 * own `info`, `Cloak-v1/SK/message`, so the two key spaces stay apart.
 */
export async function deriveMessageCipherKeys(
  messageKey: SecretBytes,
  salt: Uint8Array,
  info: string = MESSAGE_KEY_INFO,
): Promise<MessageCipherKeys> {
  const infoBytes = info === MESSAGE_KEY_INFO ? MESSAGE_INFO_BYTES : utf8(info);
  const derived = await hkdfSha256(messageKey.reveal(), salt, infoBytes, 44);
  return { key: derived.subarray(0, 32), iv: derived.subarray(32, 44) };
}

export async function encryptWithMessageKey(
  messageKey: SecretBytes,
  salt: Uint8Array,
  plaintext: Uint8Array,
  associatedData: Uint8Array,
): Promise<Bytes> {
  const { key, iv } = await deriveMessageCipherKeys(messageKey, salt);
  return aesGcmEncrypt(key, iv, plaintext, associatedData);
}

/** Throws `decryption-failed` when the tag does not verify. */
export async function decryptWithMessageKey(
  messageKey: SecretBytes,
  salt: Uint8Array,
  ciphertext: Uint8Array,
  associatedData: Uint8Array,
): Promise<Bytes> {
  const { key, iv } = await deriveMessageCipherKeys(messageKey, salt);
  return aesGcmDecrypt(key, iv, ciphertext, associatedData);
}
