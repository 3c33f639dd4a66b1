/** Sizes and rates the relay enforces; clients use the same values. */

/** Largest envelope body, in bytes before base64url encoding. */
export const MAX_ENVELOPE_BODY_BYTES = 64 * 1024;
/** Largest HTTP request body the relay parses. */
export const MAX_HTTP_BODY_BYTES = 1024 * 1024;
/** Largest Socket.IO message the relay accepts (Socket.IO `maxHttpBufferSize`). */
export const MAX_SOCKET_MESSAGE_BYTES = 1024 * 1024;

/** One-time prekeys (X25519 and ML-KEM) a device keeps published. */
export const ONE_TIME_PREKEY_POOL_SIZE = 100;
/** The relay asks for a refill when a pool falls below this many keys. */
export const ONE_TIME_PREKEY_REFILL_THRESHOLD = 25;
/** Most keys of one kind accepted in one upload. */
export const MAX_PREKEYS_PER_UPLOAD = 200;

/**
 * Most recipient devices one group envelope names (1,000 members with one
 * device each). The sender's own other devices count as recipients.
 */
export const MAX_GROUP_RECIPIENTS = 1000;
/**
 * A group envelope costs the sender one send token plus one for each
 * started block of this many recipient devices: 2 tokens for up to 100
 * devices, 11 for 1,000. So the fan-out work the relay does per token stays
 * within 100 queued deliveries.
 */
export const GROUP_RECIPIENTS_PER_SEND_TOKEN = 100;

/** Envelopes acknowledged in one `envelope:ack` event. */
export const MAX_ACK_IDS = 500;
/** Stored envelopes delivered per batch on reconnect. */
export const DELIVERY_BATCH_SIZE = 200;

/** Lifetime of a sign-in nonce. */
export const SIGN_IN_NONCE_TTL_MS = 60_000;

export const USERNAME_MIN_LENGTH = 3;
export const USERNAME_MAX_LENGTH = 32;

/** Most one-time prekeys of one kind the relay stores for a device. */
export const MAX_STORED_ONE_TIME_PREKEYS = 1000;
/** How long the relay remembers a sent envelope id to drop retries. */
export const SENT_ID_RETENTION_MS = 30 * 24 * 60 * 60 * 1000;

/**
 * How long the relay keeps each prekey bundle fetch (target, requester,
 * time) and each key change, for the access log and for key-change notices.
 */
export const KEY_DIRECTORY_LOG_RETENTION_MS = 30 * 24 * 60 * 60 * 1000;
/** Most entries returned by one `keys:access-log` request. */
export const MAX_ACCESS_LOG_ENTRIES = 200;
/** Most `keys:changed` notices the relay sends a device at sign-in. */
export const MAX_KEY_CHANGE_NOTICES = 1000;
