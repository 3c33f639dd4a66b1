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

/**
 * Sender Keys. A receiver accepts a message at most this many iterations
 * ahead of its chain, and keeps at most as many skipped message keys per
 * sender key state, the oldest going first (libsignal `consts.rs`
 * MAX_MESSAGE_KEYS; its forward jump limit, MAX_FORWARD_JUMPS, is 25,000).
 */
export const MAX_SENDER_KEY_SKIP = 2_000;
export const MAX_SKIPPED_SENDER_KEYS = 2_000;
/** Sender key states kept per sender and distribution id (libsignal MAX_SENDER_KEY_STATES). */
export const MAX_SENDER_KEY_STATES = 5;
/** A sender rotates its sender key after this many messages. */
export const SENDER_KEY_MAX_MESSAGES = 1_000;
/** A sender rotates its sender key after this age, in milliseconds. */
export const SENDER_KEY_MAX_AGE_MS = 7 * 24 * 60 * 60 * 1000;

/** Most members of a group, and most member devices a group envelope names. */
export const MAX_GROUP_MEMBERS = 1_000;
/**
 * Maximum number of admins of a group, and of user ids one group change
 * names. Together with `MAX_GROUP_MEMBERS` they keep every group-state
 * entry small enough for the pairwise envelope that carries it.
 */
export const MAX_GROUP_ADMINS = 64;
export const MAX_GROUP_CHANGE_USERS = 64;
/** Maximum length of a group name, in UTF-8 bytes. */
export const MAX_GROUP_NAME_BYTES = 256;
