/**
 * Sessions with one peer device (Sesame revision 2): the current session and
 * up to 40 earlier ones. Sending always uses the current session. Receiving
 * tries the current one first, then the earlier ones, and promotes whichever
 * decrypts. All functions are pure: they return a new record and never
 * change their input, so a failure leaves the caller's record as it was.
 *
 * Set-up: the initiator runs PQXDH (pqxdh.ts) and sends `prekey` envelopes,
 * each carrying the set-up data, until the first reply arrives. The
 * responder looks for a session with the same base key (EK_A) first and
 * runs PQXDH only for an unknown one. A new set-up that names a deleted
 * one-time prekey, or whose set-up id was already seen when it uses no
 * one-time prekey, is rejected as a replay. The caller deletes the consumed
 * one-time prekeys and remembers the set-up id in the same storage
 * transaction that stores the new record.
 *
 * Inside the ratchet, the plaintext is framed with the sender and recipient
 * addresses and then padded, so a message for one device fails on another
 * and a reflected message fails.
 */
import { type Address, type PrekeyBundle } from '../wire/schemas';
import { type Bytes, constantTimeEqual } from './bytes';
import {
  type Direction,
  initInitiator,
  initResponder,
  parseHeader,
  type RatchetState,
  ratchetDecrypt,
  ratchetEncrypt,
  readRatchetState,
  writeRatchetState,
} from './double-ratchet';
import { ByteReader, ByteWriter } from './encoding';
import { CryptoError } from './errors';
import { openFrame, padFrame, readAddress, writeAddress } from './frame';
import { LAST_RESORT_KEY_ID_BASE, type LocalIdentity } from './keys';
import {
  MAX_EARLIER_SESSIONS,
  MAX_UNACKNOWLEDGED_SESSION_AGE_MS,
} from './limits';
import {
  agreeAsInitiator,
  agreeAsResponder,
  certificateAddress,
  decodeSetup,
  encodeSetup,
  type PqxdhAgreement,
  type SetupMessage,
  verifyPeerCertificate,
} from './pqxdh';
import { sha256 } from './primitives';
import type { SecretBytes } from './secret-bytes';
import type { RandomSource } from './random';

/** The responder's private prekeys, read from client storage. */
export interface PrekeyLookup {
  /** X25519 private signed prekey. */
  signedPrekey(keyId: number): Promise<CryptoKey | undefined>;
  /** X25519 private one-time prekey; undefined once deleted. */
  oneTimePrekey(keyId: number): Promise<CryptoKey | undefined>;
  /** ML-KEM-768 secret key of a one-time or last-resort PQ prekey. */
  pqPrekey(keyId: number): Promise<SecretBytes | undefined>;
  /** True if a set-up with this id was already accepted. */
  hasSeenSetup(setupId: Bytes): Promise<boolean>;
}

/** One session with a peer device. */
export interface SessionState {
  readonly ratchet: RatchetState;
  /** EK_A, the initiator's base key; identifies the session's set-up. */
  readonly baseKey: Bytes;
  readonly theirAddress: Address;
  readonly theirIdentityKey: Bytes;
  /** Initiator only: the set-up data, sent until the first reply arrives. */
  readonly pendingSetup: Bytes | undefined;
  /** Responder only: SHA-256 of the set-up data that created the session. */
  readonly setupDigest: Bytes | undefined;
  /**
   * Time of the set-up, in milliseconds since the epoch. Undefined in
   * records stored before it was kept (record version 1).
   */
  readonly createdAt: number | undefined;
  /**
   * Receiving chains this session has started, the dropped oldest ones
   * included. Undefined while none was dropped, so that it equals
   * `ratchet.receivingChains.length`; see `receivingChainCount`.
   */
  readonly receivingChainCount?: number | undefined;
}

/**
 * Place of a received message among the messages of one peer device, in
 * ratchet order: session, then receiving chain, then message number.
 * Compare two positions with `comparePositions`.
 */
export interface MessagePosition {
  /**
   * Set-up time of the decrypting session on this device, in ms since the
   * epoch, which orders the sessions by creation; 0 when unknown (records
   * of version 1).
   */
  readonly session: number;
  /** Receiving chain within the session, counted from 0 in order of arrival. */
  readonly chain: number;
  /** Message number within the receiving chain. */
  readonly message: number;
}

/** Orders two positions of the same peer device: negative when `a` is first. */
export function comparePositions(
  a: MessagePosition,
  b: MessagePosition,
): number {
  return a.session - b.session || a.chain - b.chain || a.message - b.message;
}

/** Returns how many receiving chains `session` has started, dropped ones included. */
export function receivingChainCount(session: SessionState): number {
  return session.receivingChainCount ?? session.ratchet.receivingChains.length;
}

/** All sessions with one peer device. */
export interface SessionRecord {
  readonly current: SessionState;
  /** Earlier sessions, most recently used first, at most 40. */
  readonly previous: readonly SessionState[];
}

export interface ConsumedPrekeys {
  oneTimePrekeyId?: number;
  pqPrekeyId?: number;
  /** True for a last-resort PQ prekey (id at or above `LAST_RESORT_KEY_ID_BASE`), which is kept. */
  pqPrekeyLastResort?: boolean;
  /** Set-up id to remember; present for set-ups without a one-time prekey. */
  setupId?: Bytes;
}

const PREKEY_MESSAGE_VERSION = 1;
/** Version 2 adds each session's set-up time; version 1 is still read. */
const RECORD_VERSION_WITH_SETUP_TIME = 2;
/**
 * Version 3 adds each session's receiving chain count. A record whose
 * sessions dropped no receiving chain is still written as version 2, since
 * the count then equals the number of chains kept.
 */
const RECORD_VERSION = 3;
const MAX_SETUP_BYTES = 4096;

function sameAddress(a: Address, b: Address): boolean {
  return a.userId === b.userId && a.deviceId === b.deviceId;
}

/** Parses the decrypted frame and checks both addresses against the envelope. */
function openMessageFrame(
  padded: Uint8Array,
  expectedSender: Address,
  expectedRecipient: Address,
): Bytes {
  const operation = 'decryptMessage';
  const { addresses, plaintext } = openFrame(padded, 2, operation);
  const [sender, recipient] = addresses as [Address, Address];
  if (!sameAddress(sender, expectedSender)) {
    throw new CryptoError(
      'untrusted-identity',
      operation,
      'sender inside the message differs from the envelope sender',
    );
  }
  if (!sameAddress(recipient, expectedRecipient)) {
    throw new CryptoError(
      'untrusted-identity',
      operation,
      'message is addressed to another device',
    );
  }
  return plaintext;
}

function localAddress(local: LocalIdentity): Address {
  return { userId: local.userId, deviceId: local.deviceId };
}

/** Puts `session` first and keeps up to 40 earlier sessions. */
function withCurrent(
  session: SessionState,
  earlier: readonly SessionState[],
): SessionRecord {
  return { current: session, previous: earlier.slice(0, MAX_EARLIER_SESSIONS) };
}

/**
 * Starts a session from a prekey bundle. Verifies identity key →
 * certificate → prekey signatures and the pinned identity key. Any failure
 * throws a `CryptoError` and creates nothing. With `existing`, the new
 * session becomes current and the existing ones become earlier sessions.
 */
export async function initiateSession(
  local: LocalIdentity,
  bundle: PrekeyBundle,
  pinnedIdentityKey: Bytes | undefined,
  random: RandomSource,
  now: number,
  existing?: SessionRecord,
): Promise<{ record: SessionRecord; theirIdentityKey: Bytes }> {
  const theirAddress = certificateAddress(bundle.certificate);
  if (
    existing !== undefined &&
    !sameAddress(existing.current.theirAddress, theirAddress)
  ) {
    throw new CryptoError(
      'invalid-state',
      'initiateSession',
      'session record belongs to another peer device than the bundle',
    );
  }
  const agreement = await agreeAsInitiator(
    local,
    bundle,
    pinnedIdentityKey,
    random,
  );
  const ratchet = await initInitiator(
    agreement.sharedSecret,
    agreement.associatedData,
    agreement.theirSignedPrekey,
    random,
  );
  const session: SessionState = {
    ratchet,
    baseKey: agreement.setup.baseKey,
    theirAddress,
    theirIdentityKey: agreement.theirIdentityKey,
    pendingSetup: encodeSetup(agreement.setup),
    setupDigest: undefined,
    createdAt: now,
  };
  const earlier =
    existing === undefined ? [] : [existing.current, ...existing.previous];
  return {
    record: withCurrent(session, earlier),
    theirIdentityKey: agreement.theirIdentityKey,
  };
}

/**
 * Encrypts a message in the current session. Returns `prekey` with the
 * set-up data until the peer's first reply has been decrypted. Throws
 * `stale-session` when that set-up is 30 days old or older: the caller
 * then starts a new session from a fresh bundle.
 */
export async function encryptMessage(
  record: SessionRecord,
  local: LocalIdentity,
  peer: Address,
  plaintext: Bytes,
  random: RandomSource,
  now: number,
): Promise<{ record: SessionRecord; kind: 'prekey' | 'message'; body: Bytes }> {
  const session = record.current;
  if (!sameAddress(session.theirAddress, peer)) {
    throw new CryptoError(
      'invalid-state',
      'encryptMessage',
      'session record belongs to another peer device',
    );
  }
  if (
    session.pendingSetup !== undefined &&
    session.createdAt !== undefined &&
    now - session.createdAt >= MAX_UNACKNOWLEDGED_SESSION_AGE_MS
  ) {
    throw new CryptoError(
      'stale-session',
      'encryptMessage',
      `set-up from ${new Date(session.createdAt).toISOString()} got no reply in 30 days; start a new session from a fresh bundle`,
    );
  }
  const frame = padFrame([localAddress(local), peer], plaintext);
  const { state, message } = await ratchetEncrypt(
    session.ratchet,
    frame,
    random,
  );
  const updated: SessionRecord = {
    current: { ...session, ratchet: state },
    previous: record.previous,
  };
  if (session.pendingSetup === undefined) {
    return { record: updated, kind: 'message', body: message };
  }
  const body = new ByteWriter()
    .u8(PREKEY_MESSAGE_VERSION)
    .bytes(session.pendingSetup)
    .bytes(message)
    .finish();
  return { record: updated, kind: 'prekey', body };
}

export interface DecryptInput {
  record: SessionRecord | undefined;
  local: LocalIdentity;
  /** The sender, as stamped by the relay. */
  from: Address;
  kind: 'prekey' | 'message';
  body: Bytes;
  prekeys: PrekeyLookup;
  pinnedIdentityKey: Bytes | undefined;
  random: RandomSource;
  now: number;
}

export interface DecryptResult {
  record: SessionRecord;
  plaintext: Bytes;
  theirIdentityKey: Bytes;
  consumed: ConsumedPrekeys;
  /**
   * Skipped message keys of the decrypting session deleted unused by this
   * call, because they expired after 14 days or a limit evicted them. Each
   * is a message that will never decrypt, to be shown as "message missing".
   */
  droppedMessageKeys: number;
  /** Ratchet order of the message among those of the same peer device. */
  position: MessagePosition;
}

/** Decrypts a ratchet message in one session; returns the updated session. */
async function decryptInSession(
  session: SessionState,
  message: Uint8Array,
  input: DecryptInput,
): Promise<{
  session: SessionState;
  plaintext: Bytes;
  droppedMessageKeys: number;
  position: MessagePosition;
}> {
  const {
    state,
    plaintext: padded,
    droppedKeys,
  } = await ratchetDecrypt(session.ratchet, message, input.random, input.now);
  const plaintext = openMessageFrame(
    padded,
    input.from,
    localAddress(input.local),
  );

  // Receiving chains are kept newest first and dropped only from the old
  // end, so a chain's number follows from its index and the chain count.
  const header = parseHeader(message);
  const known = session.ratchet.receivingChains.some((chain) =>
    constantTimeEqual(chain.theirRatchetKey, header.ratchetKey),
  );
  const chainCount = receivingChainCount(session) + (known ? 0 : 1);
  const index = state.receivingChains.findIndex((chain) =>
    constantTimeEqual(chain.theirRatchetKey, header.ratchetKey),
  );
  const position: MessagePosition = {
    session: session.createdAt ?? 0,
    chain: chainCount - 1 - Math.max(index, 0),
    message: header.counter,
  };
  const counted =
    chainCount === state.receivingChains.length ? undefined : chainCount;
  return {
    // Any decrypted message is a reply, so the set-up data is no longer sent.
    session: {
      ...session,
      ratchet: state,
      pendingSetup: undefined,
      receivingChainCount: counted,
    },
    plaintext,
    droppedMessageKeys: droppedKeys,
    position,
  };
}

function checkPinned(
  session: SessionState,
  pinnedIdentityKey: Bytes | undefined,
): boolean {
  return (
    pinnedIdentityKey === undefined ||
    constantTimeEqual(session.theirIdentityKey, pinnedIdentityKey)
  );
}

/**
 * Tries each session, current first, and promotes the one that decrypts.
 * When all fail, rethrows a `duplicate-message` error if one occurred, so
 * the caller can tell a replay from a corrupt message, else the first error.
 */
async function decryptInRecord(
  record: SessionRecord,
  message: Uint8Array,
  input: DecryptInput,
): Promise<DecryptResult> {
  const sessions = [record.current, ...record.previous];
  const errors: unknown[] = [];
  for (const [index, session] of sessions.entries()) {
    if (!checkPinned(session, input.pinnedIdentityKey)) continue;
    try {
      const result = await decryptInSession(session, message, input);
      const earlier = sessions.filter((_, other) => other !== index);
      return {
        record: withCurrent(result.session, earlier),
        plaintext: result.plaintext,
        droppedMessageKeys: result.droppedMessageKeys,
        theirIdentityKey: result.session.theirIdentityKey,
        consumed: {},
        position: result.position,
      };
    } catch (error) {
      if (!CryptoError.is(error)) throw error;
      errors.push(error);
    }
  }
  if (errors.length === 0) {
    throw new CryptoError(
      'untrusted-identity',
      'decryptMessage',
      'no session with the pinned identity key',
    );
  }
  throw (
    errors.find((error) => CryptoError.is(error, 'duplicate-message')) ??
    errors[0]
  );
}

/**
 * Looks up the responder's prekeys that a new set-up names, all at once,
 * judges them in order, and runs the responder's half of PQXDH.
 */
async function agreeWithPrekeys(
  input: DecryptInput,
  setup: SetupMessage,
): Promise<{
  signedPrekey: CryptoKey;
  oneTimePrekey: CryptoKey | undefined;
  agreement: PqxdhAgreement;
}> {
  const operation = 'decryptMessage';
  const [signedPrekey, oneTimePrekey, pqSecretKey] = await Promise.all([
    input.prekeys.signedPrekey(setup.signedPrekeyId),
    setup.oneTimePrekeyId === undefined
      ? undefined
      : input.prekeys.oneTimePrekey(setup.oneTimePrekeyId),
    input.prekeys.pqPrekey(setup.pqPrekeyId),
  ]);
  if (signedPrekey === undefined) {
    throw new CryptoError(
      'invalid-message',
      operation,
      `unknown signed prekey ${setup.signedPrekeyId}`,
    );
  }
  if (setup.oneTimePrekeyId !== undefined && oneTimePrekey === undefined) {
    throw new CryptoError(
      'replayed-setup',
      operation,
      `one-time prekey ${setup.oneTimePrekeyId} is unknown or already used`,
    );
  }
  if (pqSecretKey === undefined) {
    throw new CryptoError(
      'replayed-setup',
      operation,
      `PQ prekey ${setup.pqPrekeyId} is unknown or already used`,
    );
  }
  const agreement = await agreeAsResponder(input.local, setup, {
    signedPrekey,
    oneTimePrekey,
    pqSecretKey,
  });
  return { signedPrekey, oneTimePrekey, agreement };
}

/**
 * Decrypts an envelope body from `from`. For `prekey` bodies it checks the
 * initiator's certificate (valid under its identity key, naming `from`,
 * matching the pinned identity key) and either decrypts in the session with
 * the same base key or runs PQXDH for a new one. Throws a `CryptoError` on
 * any failure and never changes the input record.
 */
export async function decryptMessage(
  input: DecryptInput,
): Promise<DecryptResult> {
  const operation = 'decryptMessage';
  const { record, from } = input;
  if (record !== undefined && !sameAddress(record.current.theirAddress, from)) {
    throw new CryptoError(
      'invalid-state',
      operation,
      'session record belongs to another peer device',
    );
  }
  if (input.kind === 'message') {
    if (record === undefined) {
      throw new CryptoError(
        'invalid-state',
        operation,
        'no session with the sender',
      );
    }
    return decryptInRecord(record, input.body, input);
  }

  const reader = new ByteReader(input.body, 'invalid-message', operation);
  reader.version('prekey message', PREKEY_MESSAGE_VERSION);
  const setupBytes = reader.bytes('set-up', MAX_SETUP_BYTES);
  const message = reader.bytes('message', input.body.length);
  reader.end();
  const setup = decodeSetup(setupBytes);
  if (!sameAddress(certificateAddress(setup.certificate), from)) {
    throw new CryptoError(
      'untrusted-identity',
      operation,
      'certificate names another device than the envelope sender',
    );
  }
  const sessions =
    record === undefined ? [] : [record.current, ...record.previous];
  const index = sessions.findIndex(
    (session) =>
      session.ratchet.direction === 'responder' &&
      constantTimeEqual(session.baseKey, setup.baseKey),
  );
  const known = sessions[index];
  const digesting = sha256(setupBytes);
  const verifying = verifyPeerCertificate(
    setup.certificate,
    input.pinnedIdentityKey,
    operation,
  );
  if (known !== undefined) {
    const theirIdentityKey = await verifying;
    const setupDigest = await digesting;
    if (
      known.setupDigest === undefined ||
      !constantTimeEqual(known.setupDigest, setupDigest)
    ) {
      throw new CryptoError(
        'invalid-message',
        operation,
        'set-up data differs from the one that created the session',
      );
    }
    const result = await decryptInSession(known, message, input);
    return {
      record: withCurrent(
        result.session,
        sessions.filter((_, other) => other !== index),
      ),
      plaintext: result.plaintext,
      droppedMessageKeys: result.droppedMessageKeys,
      theirIdentityKey,
      consumed: {},
      position: result.position,
    };
  }

  // A new set-up: the prekey lookups and PQXDH run while the certificate is
  // checked, and their results count only once it verified, so a bad
  // certificate still fails first and nothing is created.
  const agreeing = agreeWithPrekeys(input, setup);
  agreeing.catch(() => undefined); // awaited below; marks a rejection handled
  const theirIdentityKey = await verifying;
  const setupDigest = await digesting;
  const { oneTimePrekey, signedPrekey, agreement } = await agreeing;
  // Only a set-up without a one-time prekey is checked by its id.
  const setupId =
    oneTimePrekey === undefined ? await agreement.deriveSetupId() : undefined;
  if (setupId !== undefined && (await input.prekeys.hasSeenSetup(setupId))) {
    throw new CryptoError(
      'replayed-setup',
      operation,
      'set-up without a one-time prekey was already accepted',
    );
  }
  const fresh: SessionState = {
    ratchet: initResponder(
      agreement.sharedSecret,
      agreement.associatedData,
      signedPrekey,
    ),
    baseKey: setup.baseKey,
    theirAddress: from,
    theirIdentityKey,
    pendingSetup: undefined,
    setupDigest,
    createdAt: input.now,
  };
  const result = await decryptInSession(fresh, message, input);
  const consumed: ConsumedPrekeys = {
    pqPrekeyId: setup.pqPrekeyId,
    pqPrekeyLastResort: setup.pqPrekeyId >= LAST_RESORT_KEY_ID_BASE,
  };
  if (setup.oneTimePrekeyId !== undefined) {
    consumed.oneTimePrekeyId = setup.oneTimePrekeyId;
  }
  if (setupId !== undefined) consumed.setupId = setupId;
  return {
    record: withCurrent(result.session, sessions),
    plaintext: result.plaintext,
    theirIdentityKey,
    consumed,
    droppedMessageKeys: result.droppedMessageKeys,
    position: result.position,
  };
}

/** Returns true if the current session still sends its set-up data. */
export function isAwaitingReply(record: SessionRecord): boolean {
  return record.current.pendingSetup !== undefined;
}

export function sessionDirection(session: SessionState): Direction {
  return session.ratchet.direction;
}

// Serialization. The result contains raw root, chain and message keys, so
// seal it with `sealRecord` before it is stored.

function writeSession(
  writer: ByteWriter,
  session: SessionState,
  version: number,
): void {
  writer.bytes(session.baseKey);
  writeAddress(writer, session.theirAddress);
  writer
    .bytes(session.theirIdentityKey)
    .u8(session.pendingSetup === undefined ? 0 : 1)
    .bytes(session.pendingSetup ?? new Uint8Array(0))
    .u8(session.setupDigest === undefined ? 0 : 1)
    .bytes(session.setupDigest ?? new Uint8Array(0))
    .u8(session.createdAt === undefined ? 0 : 1)
    .u64(session.createdAt ?? 0);
  if (version >= 3) writer.u32(receivingChainCount(session));
  writeRatchetState(writer, session.ratchet);
}

/**
 * Reads a presence flag and the length-prefixed field after it. A present
 * field is non-empty and an absent one empty, so each record has one
 * encoding.
 */
function readOptionalBytes(
  reader: ByteReader,
  field: string,
  maxLength: number,
): Bytes | undefined {
  const flag = reader.u8(`${field} flag`);
  const value = reader.bytes(field, maxLength);
  if (flag > 1 || (flag === 1) !== value.length > 0) {
    throw new CryptoError(
      'invalid-state',
      'deserializeSessionRecord',
      `${field} flag ${flag} does not match the field`,
    );
  }
  return flag === 1 ? value : undefined;
}

function readSession(reader: ByteReader, version: number): SessionState {
  const baseKey = reader.fixed('base key', 32);
  const theirAddress = readAddress(reader, 'deserializeSessionRecord');
  const theirIdentityKey = reader.fixed('identity key', 32);
  const pendingSetup = readOptionalBytes(
    reader,
    'pending set-up',
    MAX_SETUP_BYTES,
  );
  const setupDigest = readOptionalBytes(reader, 'set-up digest', 32);
  if (setupDigest !== undefined && setupDigest.length !== 32) {
    throw new CryptoError(
      'invalid-state',
      'deserializeSessionRecord',
      `set-up digest of ${setupDigest.length} bytes`,
    );
  }
  let createdAt: number | undefined;
  if (version >= 2) {
    const flag = reader.u8('set-up time flag');
    const value = reader.u64('set-up time');
    if (flag > 1 || (flag === 0 && value !== 0)) {
      throw new CryptoError(
        'invalid-state',
        'deserializeSessionRecord',
        `set-up time flag ${flag} does not match the field`,
      );
    }
    createdAt = flag === 1 ? value : undefined;
  }
  const chainCount = version >= 3 ? reader.u32('receiving chain count') : 0;

  const ratchet = readRatchetState(reader);
  const kept = ratchet.receivingChains.length;
  if (version >= 3 && chainCount < kept) {
    throw new CryptoError(
      'invalid-state',
      'deserializeSessionRecord',
      `receiving chain count ${chainCount} is below the ${kept} chains kept`,
    );
  }
  return {
    ratchet,
    baseKey,
    theirAddress,
    theirIdentityKey,
    pendingSetup,
    setupDigest,
    createdAt,
    receivingChainCount:
      version >= 3 && chainCount !== kept ? chainCount : undefined,
  };
}

/** Encodes a record; the output contains raw secrets and must be sealed. */
export function serializeSessionRecord(record: SessionRecord): Bytes {
  const sessions = [record.current, ...record.previous];
  const droppedChains = sessions.some(
    (session) =>
      receivingChainCount(session) !== session.ratchet.receivingChains.length,
  );
  const version = droppedChains
    ? RECORD_VERSION
    : RECORD_VERSION_WITH_SETUP_TIME;
  const writer = new ByteWriter().u8(version).u32(sessions.length);
  for (const session of sessions) writeSession(writer, session, version);
  return writer.finish();
}

/** Decodes a record; throws `invalid-state` on malformed input. */
export async function deserializeSessionRecord(
  bytes: Bytes,
): Promise<SessionRecord> {
  const operation = 'deserializeSessionRecord';
  const reader = new ByteReader(bytes, 'invalid-state', operation);
  const version = reader.u8('record version');
  if (version < 1 || version > RECORD_VERSION) {
    throw new CryptoError(
      'invalid-state',
      operation,
      `record version ${version}`,
    );
  }
  const count = reader.u32('session count');
  if (count < 1 || count > 1 + MAX_EARLIER_SESSIONS) {
    throw new CryptoError('invalid-state', operation, `${count} sessions`);
  }
  const sessions: SessionState[] = [];
  for (let i = 0; i < count; i++) {
    sessions.push(readSession(reader, version));
  }
  reader.end();
  const [current, ...previous] = sessions;
  if (current === undefined) {
    throw new CryptoError('invalid-state', operation, 'no current session');
  }
  return { current, previous };
}
