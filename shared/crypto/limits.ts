/**
 * Bounds of the Double Ratchet and of the session record. Each rejection
 * that one of them causes names the limit and the value that broke it.
 */

/** Maximum number of message keys one message may skip in its receiving chain. */
export const MAX_SKIP = 1_000;
/** Maximum skipped message keys stored per receiving chain. The oldest go first. */
export const MAX_SKIPPED_KEYS_PER_CHAIN = 1_000;
/** Maximum skipped message keys stored per session. The oldest go first. */
export const MAX_SKIPPED_KEYS_PER_SESSION = 2_000;
/** Age after which a skipped message key is deleted, in milliseconds. */
export const SKIPPED_KEY_MAX_AGE_MS = 14 * 24 * 60 * 60 * 1000;
/** Old receiving chains kept for their skipped keys, besides the current one. */
export const MAX_OLD_RECEIVING_CHAINS = 5;
/** Message numbers and chain lengths at or above this value are rejected. */
export const MAX_COUNTER = 2 ** 31;
/** Earlier sessions kept per peer device, besides the current one. */
export const MAX_EARLIER_SESSIONS = 40;
/** Padded plaintext lengths are multiples of this many bytes. */
export const PADDING_BLOCK = 160;
/**
 * Age after which an initiator stops sending a set-up that got no reply, in
 * milliseconds. The responder keeps a signed prekey's private key for 30
 * days after rotation, so an older set-up may name a key that is gone.
 */
export const MAX_UNACKNOWLEDGED_SESSION_AGE_MS = 30 * 24 * 60 * 60 * 1000;
