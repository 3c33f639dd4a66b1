/**
 * Protocol labels. Every info string, signature context and associated-data
 * tag starts with `Cloak-v1`; changing any of them is a new protocol version.
 */

export const PROTOCOL_LABEL = 'Cloak-v1';

export const PQXDH_INFO = 'Cloak-v1_CURVE25519_SHA-256_ML-KEM-768';
export const SESSION_AD_LABEL = 'Cloak-v1/AD';
export const ROOT_KEY_INFO = 'Cloak-v1/DR/root';
export const MESSAGE_KEY_INFO = 'Cloak-v1/DR/message';
export const SENDER_KEY_MESSAGE_INFO = 'Cloak-v1/SK/message';
export const SENDER_KEY_AD_LABEL = 'Cloak-v1/SK/AD';
/** Prefix of the SHA-256 input that chains group-state log entries. */
export const GROUP_STATE_HASH_LABEL = 'Cloak-v1/group-state/hash';
export const STORAGE_AD_LABEL = 'Cloak-v1/storage';

/** Signature contexts; each is followed by a zero byte when signed. */
export const SignatureContext = {
  deviceCertificate: 'Cloak-v1/sig/device-cert',
  signedPrekey: 'Cloak-v1/sig/signed-prekey',
  pqPrekey: 'Cloak-v1/sig/pq-prekey',
  deviceList: 'Cloak-v1/sig/device-list',
  groupState: 'Cloak-v1/sig/group-state',
  senderKeyMessage: 'Cloak-v1/sig/sender-key-message',
  keyLog: 'Cloak-v1/sig/key-log',
  signIn: 'Cloak-v1/sig/sign-in',
} as const;

/** Info string of the id that marks a set-up without a one-time prekey. */
export const SETUP_ID_INFO = 'Cloak-v1/PQXDH/setup-id';
