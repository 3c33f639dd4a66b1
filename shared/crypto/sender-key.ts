/**
 * Sender Keys for group messages, in the shape of libsignal's
 * `sender_keys.rs` and `group_cipher.rs`. Each sender device keeps, per
 * group, a distribution id, a chain id, a chain key at some iteration and an
 * Ed25519 signing key. It sends the distribution message (chain id,
 * iteration, chain key, public signing key) to every member device over the
 * pairwise Double Ratchet sessions, then encrypts each group message once.
 *
 * Chain steps are those of the Double Ratchet (chain-key.ts): message key =
 * HMAC(chain key, 0x01), next chain key = HMAC(chain key, 0x02). Each
 * message carries a fresh 16-byte salt, and key ‖ IV = HKDF(IKM = message
 * key, salt, info `Cloak-v1/SK/message`, 44 bytes).
 *
 * Message = header ‖ AES-256-GCM ciphertext ‖ Ed25519 signature. The
 * 57-byte header is version, group id (16 bytes), distribution id (16
 * bytes), chain id, iteration and salt. The associated data is
 * `Cloak-v1/SK/AD` ‖ length-prefixed header, and the signature covers
 * header ‖ ciphertext under the context `Cloak-v1/sig/sender-key-message`.
 * The plaintext is framed with the sender's address and padded to 160-byte
 * blocks, so a member who copies another sender's chain and signing key
 * into its own distribution message still cannot pass that sender's
 * messages off as its own.
 *
 * A receiver keeps per (sender device, distribution id) a record of at most
 * 5 states, newest first, so that messages on a chain the sender has since
 * rotated away from still decrypt. It accepts a message at most 2,000
 * iterations ahead and stores at most 2,000 skipped message keys per state.
 * All functions are pure: they return a new state or record and never
 * change their input, so a failed decryption changes nothing.
 *
 * A sender rotates (new chain id, chain key and signing key under the same
 * distribution id) when a member or device leaves, when its own devices
 * change, and after 7 days or 1,000 messages. A new member receives only the
 * current chain at its current iteration, so it reads from joining onwards.
 */
import type { Address } from '../wire/schemas';
import {
  type Bytes,
  concat,
  constantTimeEqual,
  lengthPrefixed,
  utf8,
} from './bytes';
import { encodeKey, KeyType } from './certificate';
import { ChainKey } from './chain-key';
import { ByteReader, ByteWriter } from './encoding';
import { CryptoError } from './errors';
import { openFrame, padFrame } from './frame';
import {
  SENDER_KEY_AD_LABEL,
  SENDER_KEY_MESSAGE_INFO,
  SignatureContext,
} from './labels';
import {
  MAX_COUNTER,
  MAX_SENDER_KEY_SKIP,
  MAX_SENDER_KEY_STATES,
  MAX_SKIPPED_SENDER_KEYS,
  SENDER_KEY_MAX_AGE_MS,
  SENDER_KEY_MAX_MESSAGES,
} from './limits';
import { deriveMessageCipherKeys, type MessageCipherKeys } from './message-key';
import {
  aesGcmDecrypt,
  aesGcmEncrypt,
  ed25519Sign,
  ed25519Verify,
  exportPrivateKey,
  generateEd25519KeyPair,
  importPrivateKey,
  isWeakEd25519Point,
} from './primitives';
import type { RandomSource } from './random';
import { openRecord, sealRecord } from './sealed-storage';
import { SecretBytes } from './secret-bytes';

export const SENDER_KEY_MESSAGE_VERSION = 1;
export const SENDER_KEY_DISTRIBUTION_VERSION = 1;
export const GROUP_ID_LENGTH = 16;
export const DISTRIBUTION_ID_LENGTH = 16;
export const SENDER_KEY_SALT_LENGTH = 16;
export const SENDER_KEY_HEADER_LENGTH =
  1 + GROUP_ID_LENGTH + DISTRIBUTION_ID_LENGTH + 4 + 4 + SENDER_KEY_SALT_LENGTH;
const SIGNATURE_LENGTH = 64;
const AES_GCM_TAG_LENGTH = 16;
const RECORD_VERSION = 1;

/** Slots of `sealRecord` for the two stored forms. */
export const OWN_SENDER_KEY_RECORD_KIND = 'own-sender-key';
export const SENDER_KEY_RECORD_KIND = 'sender-key';

/** The sender's Ed25519 signing key; the PKCS#8 form is kept for storage. */
export interface SenderSigningKey {
  readonly publicKey: Bytes;
  readonly privateKey: CryptoKey;
  readonly pkcs8: SecretBytes;
}

/** Our own sending chain in one group. */
export interface OwnSenderKey {
  readonly groupId: Bytes;
  readonly distributionId: Bytes;
  readonly chainId: number;
  /** Its index is the iteration of the next message, and so the count sent. */
  readonly chainKey: ChainKey;
  readonly signingKey: SenderSigningKey;
  /** Creation time of this chain, in milliseconds since the epoch. */
  readonly createdAt: number;
}

/**
 * Distribution message: a sender's chain as each member device receives it
 * over a pairwise session.
 */
export interface SenderKeyDistribution {
  readonly groupId: Bytes;
  readonly distributionId: Bytes;
  readonly chainId: number;
  readonly iteration: number;
  readonly chainKey: SecretBytes;
  /** The sender's public Ed25519 signing key for this chain. */
  readonly signingKey: Bytes;
}

// NOTE: skipped sender message keys are bounded by count only. Unlike the
// Double Ratchet's 14 days, they do not expire with age yet.
export interface SkippedSenderMessageKey {
  readonly iteration: number;
  readonly messageKey: SecretBytes;
}

/** One receiving chain of a sender. */
export interface SenderKeyState {
  readonly chainId: number;
  /** Its index is the next expected iteration. */
  readonly chainKey: ChainKey;
  readonly signingKey: Bytes;
  /** Keys of iterations not yet received, in increasing iteration. */
  readonly skippedKeys: readonly SkippedSenderMessageKey[];
}

/** Receiver's states for one (sender device, distribution id). */
export interface SenderKeyRecord {
  readonly groupId: Bytes;
  readonly distributionId: Bytes;
  /** Newest first, at most `MAX_SENDER_KEY_STATES`. */
  readonly states: readonly SenderKeyState[];
}

export interface GroupMessageHeader {
  readonly groupId: Bytes;
  readonly distributionId: Bytes;
  readonly chainId: number;
  readonly iteration: number;
  readonly salt: Bytes;
}

function randomChainId(random: RandomSource, avoid?: number): number {
  for (;;) {
    const bytes = random.bytes(4);
    const value =
      new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0) & 0x7fffffff;
    if (value !== avoid) return value;
  }
}

async function newChain(
  groupId: Bytes,
  distributionId: Bytes,
  random: RandomSource,
  now: number,
  avoidChainId?: number,
): Promise<OwnSenderKey> {
  const chainId = randomChainId(random, avoidChainId);
  const chainKey = new ChainKey(new SecretBytes(random.bytes(32)), 0);
  const pair = await generateEd25519KeyPair(random, { extractable: true });
  return {
    groupId,
    distributionId,
    chainId,
    chainKey,
    signingKey: {
      publicKey: pair.publicKey,
      privateKey: pair.privateKey,
      pkcs8: new SecretBytes(await exportPrivateKey(pair.privateKey)),
    },
    createdAt: now,
  };
}

function checkId(id: Uint8Array, length: number, name: string): void {
  if (id.length !== length) {
    throw new CryptoError(
      'invalid-key',
      'createSenderKey',
      `${name} must be ${length} bytes, got ${id.length}`,
    );
  }
}

/** Creates our first sending chain in a group, with a random distribution id. */
export async function createSenderKey(
  groupId: Bytes,
  random: RandomSource,
  now: number,
): Promise<OwnSenderKey> {
  checkId(groupId, GROUP_ID_LENGTH, 'group id');
  return newChain(groupId, random.bytes(DISTRIBUTION_ID_LENGTH), random, now);
}

/**
 * Replaces our chain: a new chain id, chain key and signing key under the
 * same distribution id. Members that receive the new distribution message
 * read on; a removed member, who does not, cannot read anything sent on it.
 */
export async function rotateSenderKey(
  senderKey: OwnSenderKey,
  random: RandomSource,
  now: number,
): Promise<OwnSenderKey> {
  return newChain(
    senderKey.groupId,
    senderKey.distributionId,
    random,
    now,
    senderKey.chainId,
  );
}

/** True once the chain has sent 1,000 messages or is 7 days old. */
export function needsRotation(senderKey: OwnSenderKey, now: number): boolean {
  return (
    senderKey.chainKey.index >= SENDER_KEY_MAX_MESSAGES ||
    now - senderKey.createdAt >= SENDER_KEY_MAX_AGE_MS
  );
}

/** Returns the distribution message of our chain at its current iteration. */
export function senderKeyDistribution(
  senderKey: OwnSenderKey,
): SenderKeyDistribution {
  return {
    groupId: senderKey.groupId,
    distributionId: senderKey.distributionId,
    chainId: senderKey.chainId,
    iteration: senderKey.chainKey.index,
    chainKey: senderKey.chainKey.key,
    signingKey: senderKey.signingKey.publicKey,
  };
}

/**
 * Group id, distribution id, chain id and iteration: the fields after the
 * version byte of both a distribution message and a group message header.
 */
type ChainPosition = Pick<
  GroupMessageHeader,
  'groupId' | 'distributionId' | 'chainId' | 'iteration'
>;

function encodeChainPosition(position: ChainPosition): Bytes {
  return concat(
    position.groupId,
    position.distributionId,
    new ByteWriter().u32(position.chainId).u32(position.iteration).finish(),
  );
}

function readChainPosition(reader: ByteReader): ChainPosition {
  return {
    groupId: reader.raw('group id', GROUP_ID_LENGTH),
    distributionId: reader.raw('distribution id', DISTRIBUTION_ID_LENGTH),
    chainId: reader.u32('chain id'),
    iteration: reader.u32('iteration'),
  };
}

/** Throws `counter-overflow` for a chain id or iteration at `MAX_COUNTER`. */
function checkCounters(position: ChainPosition, operation: string): void {
  const { chainId, iteration } = position;
  if (chainId >= MAX_COUNTER || iteration >= MAX_COUNTER) {
    throw new CryptoError(
      'counter-overflow',
      operation,
      `chain id ${chainId} or iteration ${iteration} is at or above the limit ${MAX_COUNTER}`,
    );
  }
}

/**
 * Encodes a distribution message: version, group id, distribution id,
 * chain id, iteration, chain key and the signing key as 0x02 ‖ 32 bytes.
 * The output contains the chain key, so it travels only inside a pairwise
 * session's ciphertext.
 */
export function encodeSenderKeyDistribution(
  distribution: SenderKeyDistribution,
): Bytes {
  return concat(
    new Uint8Array([SENDER_KEY_DISTRIBUTION_VERSION]),
    encodeChainPosition(distribution),
    distribution.chainKey.reveal(),
    encodeKey(KeyType.ed25519, distribution.signingKey),
  );
}

/** Decodes and checks a distribution message; throws `invalid-message`. */
export function decodeSenderKeyDistribution(
  bytes: Uint8Array,
): SenderKeyDistribution {
  const operation = 'decodeSenderKeyDistribution';
  const reader = new ByteReader(bytes, 'invalid-message', operation);
  reader.version('distribution message', SENDER_KEY_DISTRIBUTION_VERSION);
  const position = readChainPosition(reader);
  const chainKey = new SecretBytes(reader.raw('chain key', 32));
  const keyType = reader.u8('signing key type');
  const signingKey = reader.raw('signing key', 32);
  reader.end();
  if (keyType !== KeyType.ed25519) {
    throw new CryptoError(
      'invalid-message',
      operation,
      `signing key type 0x${keyType.toString(16)}, expected 0x02`,
    );
  }
  if (isWeakEd25519Point(signingKey)) {
    throw new CryptoError(
      'invalid-key',
      operation,
      'signing key is a weak Ed25519 point',
    );
  }
  checkCounters(position, operation);
  return { ...position, chainKey, signingKey };
}

/**
 * Adds a sender's chain to its record (creating the record for a first
 * distribution message). A chain id already known with the same signing
 * key keeps its state, so a repeated distribution message cannot rewind
 * it. One with another signing key replaces it. The oldest state goes
 * beyond `MAX_SENDER_KEY_STATES`.
 */
export function processSenderKeyDistribution(
  record: SenderKeyRecord | undefined,
  distribution: SenderKeyDistribution,
): SenderKeyRecord {
  const operation = 'processSenderKeyDistribution';
  if (
    record !== undefined &&
    (!constantTimeEqual(record.groupId, distribution.groupId) ||
      !constantTimeEqual(record.distributionId, distribution.distributionId))
  ) {
    throw new CryptoError(
      'invalid-state',
      operation,
      'distribution message is for another group or distribution id than the record',
    );
  }
  const states = record?.states ?? [];
  const existing = states.find(
    (state) =>
      state.chainId === distribution.chainId &&
      constantTimeEqual(state.signingKey, distribution.signingKey),
  );
  const fresh: SenderKeyState = existing ?? {
    chainId: distribution.chainId,
    chainKey: new ChainKey(distribution.chainKey, distribution.iteration),
    signingKey: distribution.signingKey,
    skippedKeys: [],
  };
  return {
    groupId: distribution.groupId,
    distributionId: distribution.distributionId,
    states: [
      fresh,
      ...states.filter((state) => state.chainId !== distribution.chainId),
    ].slice(0, MAX_SENDER_KEY_STATES),
  };
}

async function deriveCipherKeys(
  messageKey: SecretBytes,
  salt: Uint8Array,
): Promise<MessageCipherKeys> {
  return deriveMessageCipherKeys(messageKey, salt, SENDER_KEY_MESSAGE_INFO);
}

function associatedData(header: Uint8Array): Bytes {
  return concat(utf8(SENDER_KEY_AD_LABEL), lengthPrefixed(header));
}

function encodeHeader(header: GroupMessageHeader): Bytes {
  return concat(
    new Uint8Array([SENDER_KEY_MESSAGE_VERSION]),
    encodeChainPosition(header),
    header.salt,
  );
}

/** Parses the decrypted frame and checks that it names `sender`. */
function openGroupFrame(padded: Uint8Array, sender: Address): Bytes {
  const operation = 'decryptGroupMessage';
  const { addresses, plaintext } = openFrame(padded, 1, operation);
  const [named] = addresses as [Address];
  if (named.userId !== sender.userId || named.deviceId !== sender.deviceId) {
    throw new CryptoError(
      'untrusted-identity',
      operation,
      'message names another sender device than the one it came from',
    );
  }
  return plaintext;
}

/**
 * Encrypts one group message on our chain and signs it. Returns the
 * advanced sender key, which the caller stores before sending.
 */
export async function encryptGroupMessage(
  senderKey: OwnSenderKey,
  sender: Address,
  plaintext: Uint8Array,
  random: RandomSource,
): Promise<{ senderKey: OwnSenderKey; message: Bytes }> {
  const chain = senderKey.chainKey;
  if (chain.index >= MAX_COUNTER) {
    throw new CryptoError(
      'counter-overflow',
      'encryptGroupMessage',
      `chain reached the limit ${MAX_COUNTER}; rotate the sender key`,
    );
  }
  const header = encodeHeader({
    groupId: senderKey.groupId,
    distributionId: senderKey.distributionId,
    chainId: senderKey.chainId,
    iteration: chain.index,
    salt: random.bytes(SENDER_KEY_SALT_LENGTH),
  });
  const { key, iv } = await deriveCipherKeys(
    await chain.messageKey(),
    header.subarray(SENDER_KEY_HEADER_LENGTH - SENDER_KEY_SALT_LENGTH),
  );
  const ciphertext = await aesGcmEncrypt(
    key,
    iv,
    padFrame([sender], plaintext),
    associatedData(header),
  );
  const signed = concat(header, ciphertext);
  const signature = await ed25519Sign(
    senderKey.signingKey.privateKey,
    SignatureContext.senderKeyMessage,
    signed,
  );
  return {
    senderKey: { ...senderKey, chainKey: await chain.next() },
    message: concat(signed, signature),
  };
}

/**
 * Parses a group message's header before any key is derived, so that the
 * caller can find the record of (sender device, distribution id).
 */
export function parseGroupMessageHeader(
  message: Uint8Array,
): GroupMessageHeader {
  const operation = 'parseGroupMessageHeader';
  const minimum =
    SENDER_KEY_HEADER_LENGTH + AES_GCM_TAG_LENGTH + SIGNATURE_LENGTH;
  if (message.length < minimum) {
    throw new CryptoError(
      'invalid-message',
      operation,
      `message of ${message.length} bytes is shorter than the ${minimum} of header, tag and signature`,
    );
  }
  const reader = new ByteReader(
    message.subarray(0, SENDER_KEY_HEADER_LENGTH),
    'invalid-message',
    operation,
  );
  reader.version('group message', SENDER_KEY_MESSAGE_VERSION);
  const position = readChainPosition(reader);
  const salt = reader.raw('salt', SENDER_KEY_SALT_LENGTH);
  checkCounters(position, operation);
  return { ...position, salt };
}

/**
 * Finds the message key of `iteration` in `state`: a stored skipped key,
 * or the chain walked forward at most `MAX_SENDER_KEY_SKIP` steps. Returns
 * the state as it would be after the message, for the caller to keep only
 * if the message is authentic.
 */
async function messageKeyFor(
  state: SenderKeyState,
  iteration: number,
): Promise<{ messageKey: SecretBytes; next: SenderKeyState }> {
  const operation = 'decryptGroupMessage';
  const chainKey = state.chainKey;
  if (iteration < chainKey.index) {
    const skipped = state.skippedKeys.find(
      (key) => key.iteration === iteration,
    );
    if (skipped === undefined) {
      throw new CryptoError(
        'duplicate-message',
        operation,
        `iteration ${iteration} of chain ${state.chainId} was already received or its key evicted`,
      );
    }
    return {
      messageKey: skipped.messageKey,
      next: {
        ...state,
        skippedKeys: state.skippedKeys.filter((key) => key !== skipped),
      },
    };
  }
  const gap = iteration - chainKey.index;
  if (gap > MAX_SENDER_KEY_SKIP) {
    throw new CryptoError(
      'too-many-skipped',
      operation,
      `iteration ${iteration} would skip ${gap} keys after iteration ${chainKey.index - 1} of chain ${state.chainId}, at most ${MAX_SENDER_KEY_SKIP} allowed`,
    );
  }
  const skippedKeys = [...state.skippedKeys];
  let target = chainKey;
  while (target.index < iteration) {
    skippedKeys.push({
      iteration: target.index,
      messageKey: await target.messageKey(),
    });
    target = await target.next();
  }
  return {
    messageKey: await target.messageKey(),
    next: {
      ...state,
      chainKey: await target.next(),
      skippedKeys: skippedKeys.slice(-MAX_SKIPPED_SENDER_KEYS),
    },
  };
}

/**
 * Decrypts a group message from `sender`, the relay-stamped sender device,
 * with the record kept for it and the message's distribution id. Checks
 * the signature under the chain's signing key before any key is derived.
 * Throws a `CryptoError` on any failure; the input record never changes.
 */
export async function decryptGroupMessage(
  record: SenderKeyRecord,
  sender: Address,
  message: Uint8Array,
): Promise<{ record: SenderKeyRecord; plaintext: Bytes }> {
  const operation = 'decryptGroupMessage';
  const header = parseGroupMessageHeader(message);
  if (
    !constantTimeEqual(header.groupId, record.groupId) ||
    !constantTimeEqual(header.distributionId, record.distributionId)
  ) {
    throw new CryptoError(
      'unknown-sender-key',
      operation,
      'message is for another group or distribution id than the record',
    );
  }
  const index = record.states.findIndex(
    (state) => state.chainId === header.chainId,
  );
  const state = record.states[index];
  if (state === undefined) {
    throw new CryptoError(
      'unknown-sender-key',
      operation,
      `no state for chain ${header.chainId}; the sender's distribution message has not arrived`,
    );
  }

  const signedLength = message.length - SIGNATURE_LENGTH;
  const signed = message.subarray(0, signedLength);
  const valid = await ed25519Verify(
    state.signingKey,
    SignatureContext.senderKeyMessage,
    signed,
    message.subarray(signedLength),
  );
  if (!valid) {
    throw new CryptoError(
      'invalid-signature',
      operation,
      `signature does not verify under the signing key of chain ${header.chainId}`,
    );
  }

  const { messageKey, next } = await messageKeyFor(state, header.iteration);
  const { key, iv } = await deriveCipherKeys(messageKey, header.salt);
  const padded = await aesGcmDecrypt(
    key,
    iv,
    signed.subarray(SENDER_KEY_HEADER_LENGTH),
    associatedData(signed.subarray(0, SENDER_KEY_HEADER_LENGTH)),
  );
  const plaintext = openGroupFrame(padded, sender);

  const states = [...record.states];
  states[index] = next;
  return { record: { ...record, states }, plaintext };
}

// Serialization. Both forms contain raw chain keys, message keys or a
// private key, so they leave this module only sealed with the storage key.

function writeChainKey(writer: ByteWriter, chainKey: ChainKey): void {
  writer.bytes(chainKey.key.reveal()).u32(chainKey.index);
}

function readChainKey(reader: ByteReader): ChainKey {
  const key = new SecretBytes(reader.fixed('chain key', 32));
  return new ChainKey(key, reader.u32('iteration'));
}

interface RecordIds {
  readonly groupId: Bytes;
  readonly distributionId: Bytes;
}

/** Starts either stored form: version, group id and distribution id. */
function startRecord(ids: RecordIds): ByteWriter {
  return new ByteWriter()
    .u8(RECORD_VERSION)
    .bytes(ids.groupId)
    .bytes(ids.distributionId);
}

function readRecordIds(reader: ByteReader): RecordIds {
  reader.version('record', RECORD_VERSION);
  return {
    groupId: reader.fixed('group id', GROUP_ID_LENGTH),
    distributionId: reader.fixed('distribution id', DISTRIBUTION_ID_LENGTH),
  };
}

function serializeOwnSenderKey(senderKey: OwnSenderKey): Bytes {
  const writer = startRecord(senderKey).u32(senderKey.chainId);
  writeChainKey(writer, senderKey.chainKey);
  return writer
    .bytes(senderKey.signingKey.publicKey)
    .bytes(senderKey.signingKey.pkcs8.reveal())
    .u64(senderKey.createdAt)
    .finish();
}

async function deserializeOwnSenderKey(bytes: Bytes): Promise<OwnSenderKey> {
  const operation = 'openOwnSenderKey';
  const reader = new ByteReader(bytes, 'invalid-state', operation);
  const { groupId, distributionId } = readRecordIds(reader);
  const chainId = reader.u32('chain id');
  const chainKey = readChainKey(reader);
  const publicKey = reader.fixed('signing public key', 32);
  const pkcs8 = reader.bytes('signing private key', 128);
  const createdAt = reader.u64('created at');
  reader.end();
  const privateKey = await importPrivateKey('Ed25519', pkcs8, {
    extractable: true,
  });
  return {
    groupId,
    distributionId,
    chainId,
    chainKey,
    signingKey: { publicKey, privateKey, pkcs8: new SecretBytes(pkcs8) },
    createdAt,
  };
}

function serializeSenderKeyRecord(record: SenderKeyRecord): Bytes {
  const writer = startRecord(record).u32(record.states.length);
  for (const state of record.states) {
    writer.u32(state.chainId);
    writeChainKey(writer, state.chainKey);
    writer.bytes(state.signingKey).u32(state.skippedKeys.length);
    for (const key of state.skippedKeys) {
      writer.u32(key.iteration).bytes(key.messageKey.reveal());
    }
  }
  return writer.finish();
}

function deserializeSenderKeyRecord(bytes: Bytes): SenderKeyRecord {
  const operation = 'openSenderKeyRecord';
  const reader = new ByteReader(bytes, 'invalid-state', operation);
  const { groupId, distributionId } = readRecordIds(reader);
  const count = reader.u32('state count');
  if (count > MAX_SENDER_KEY_STATES) {
    throw new CryptoError('invalid-state', operation, `${count} states`);
  }
  const states: SenderKeyState[] = [];
  for (let i = 0; i < count; i++) {
    const chainId = reader.u32('chain id');
    const chainKey = readChainKey(reader);
    const signingKey = reader.fixed('signing key', 32);
    const keyCount = reader.u32('skipped key count');
    if (keyCount > MAX_SKIPPED_SENDER_KEYS) {
      throw new CryptoError(
        'invalid-state',
        operation,
        `${keyCount} skipped keys`,
      );
    }
    const skippedKeys: SkippedSenderMessageKey[] = [];
    for (let j = 0; j < keyCount; j++) {
      const iteration = reader.u32('skipped iteration');
      skippedKeys.push({
        iteration,
        messageKey: new SecretBytes(reader.fixed('message key', 32)),
      });
    }
    states.push({ chainId, chainKey, signingKey, skippedKeys });
  }
  reader.end();
  return { groupId, distributionId, states };
}

/** Seals our sender key with the storage key, for the slot `id`. */
export function sealOwnSenderKey(
  storageKey: CryptoKey,
  id: string,
  senderKey: OwnSenderKey,
  random: RandomSource,
): Promise<Bytes> {
  return sealRecord(
    storageKey,
    OWN_SENDER_KEY_RECORD_KIND,
    id,
    RECORD_VERSION,
    serializeOwnSenderKey(senderKey),
    random,
  );
}

/** Opens what `sealOwnSenderKey` wrote; throws for another slot or a change. */
export async function openOwnSenderKey(
  storageKey: CryptoKey,
  id: string,
  sealed: Bytes,
): Promise<OwnSenderKey> {
  return deserializeOwnSenderKey(
    await openRecord(
      storageKey,
      OWN_SENDER_KEY_RECORD_KIND,
      id,
      RECORD_VERSION,
      sealed,
    ),
  );
}

/** Seals a sender's record with the storage key, for the slot `id`. */
export function sealSenderKeyRecord(
  storageKey: CryptoKey,
  id: string,
  record: SenderKeyRecord,
  random: RandomSource,
): Promise<Bytes> {
  return sealRecord(
    storageKey,
    SENDER_KEY_RECORD_KIND,
    id,
    RECORD_VERSION,
    serializeSenderKeyRecord(record),
    random,
  );
}

/** Opens what `sealSenderKeyRecord` wrote; throws for another slot or a change. */
export async function openSenderKeyRecord(
  storageKey: CryptoKey,
  id: string,
  sealed: Bytes,
): Promise<SenderKeyRecord> {
  return deserializeSenderKeyRecord(
    await openRecord(
      storageKey,
      SENDER_KEY_RECORD_KIND,
      id,
      RECORD_VERSION,
      sealed,
    ),
  );
}
