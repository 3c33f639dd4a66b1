/**
 * Double Ratchet (Signal Double Ratchet specification, sections 3 and 5)
 * with the Cloak profile: KDF_RK = HKDF-SHA256 (root-key.ts), KDF_CK =
 * HMAC-SHA256 with constants 0x01 and 0x02 (chain-key.ts), and AES-256-GCM
 * under a key and IV derived from the message key and a per-message salt
 * (message-key.ts).
 *
 * State is immutable: `ratchetEncrypt` and `ratchetDecrypt` return a new
 * state and never change their input, so a failed decryption leaves the
 * caller's state as it was. Message keys are deleted as soon as they are
 * used. Once the sender moves to a new ratchet key, the receiving chain's
 * key is dropped and the chain keeps only its skipped message keys.
 *
 * The message is header ‖ ciphertext. The header (58 bytes) is version,
 * the sender's ratchet public key (0x01 ‖ 32 bytes), previous sending chain
 * length, message number and a 16-byte salt. The AES-GCM associated data is
 * session AD ‖ sender direction byte ‖ length-prefixed header.
 */
import { type Bytes, concat, constantTimeEqual, toHex } from './bytes';
import { KeyType } from './certificate';
import { ChainKey } from './chain-key';
import { ByteReader, ByteWriter } from './encoding';
import { CryptoError } from './errors';
import {
  MAX_COUNTER,
  MAX_OLD_RECEIVING_CHAINS,
  MAX_SKIP,
  MAX_SKIPPED_KEYS_PER_CHAIN,
  MAX_SKIPPED_KEYS_PER_SESSION,
  SKIPPED_KEY_MAX_AGE_MS,
} from './limits';
import {
  decryptWithMessageKey,
  encryptWithMessageKey,
  MESSAGE_SALT_LENGTH,
} from './message-key';
import {
  generateStorableX25519KeyPair,
  importPrivateKey,
  importX25519PublicKey,
  isCanonicalX25519PublicKey,
  x25519,
} from './primitives';
import type { RandomSource } from './random';
import { RootKey } from './root-key';
import { SecretBytes } from './secret-bytes';

export const MESSAGE_VERSION = 1;
export const HEADER_LENGTH = 1 + 33 + 4 + 4 + MESSAGE_SALT_LENGTH;
const AES_GCM_TAG_LENGTH = 16;

/** Role of this party in the session set-up. */
export type Direction = 'initiator' | 'responder';

/**
 * Our current ratchet key pair. The responder starts with its signed prekey,
 * whose non-extractable private key is used only while the first message is
 * received. Every later pair is generated extractable and kept as PKCS#8, so
 * that the state can be stored. A state read from storage imports that
 * PKCS#8 key only when a DH ratchet step needs it, because most messages
 * need none.
 */
export type OurRatchetKey =
  | { readonly kind: 'signed-prekey'; readonly privateKey: CryptoKey }
  | {
      readonly kind: 'ratchet';
      readonly publicKey: Bytes;
      readonly pkcs8: SecretBytes;
      /** Returns the private key, importing `pkcs8` on the first call. */
      readonly privateKey: () => Promise<CryptoKey>;
    };

/**
 * Ratchet private keys this process generated or imported, by public key,
 * most recent last. The engine reads its session record from storage for
 * every message, and importing a PKCS#8 X25519 key costs a scalar
 * multiplication, so a DH ratchet step on a state just read takes the key
 * from here when it can. An entry is used only if its PKCS#8 bytes equal
 * the state's, so a stored state can never select another key. A DH
 * ratchet step deletes the entry of the key pair it replaces.
 */
const recentRatchetKeys = new Map<
  string,
  { readonly pkcs8: SecretBytes; readonly key: CryptoKey }
>();
const MAX_RECENT_RATCHET_KEYS = 64;

function rememberRatchetKey(
  publicKey: Bytes,
  pkcs8: SecretBytes,
  key: CryptoKey,
): void {
  const id = toHex(publicKey);
  recentRatchetKeys.delete(id);
  recentRatchetKeys.set(id, { pkcs8, key });
  if (recentRatchetKeys.size > MAX_RECENT_RATCHET_KEYS) {
    const oldest = recentRatchetKeys.keys().next().value;
    if (oldest !== undefined) recentRatchetKeys.delete(oldest);
  }
}

/**
 * Returns the `privateKey` of an `OurRatchetKey`: `imported` when given,
 * else a remembered key with the same PKCS#8 bytes, else `pkcs8` imported
 * on the first call.
 */
function lazyPrivateKey(
  publicKey: Bytes,
  pkcs8: SecretBytes,
  imported?: CryptoKey,
): () => Promise<CryptoKey> {
  let key: Promise<CryptoKey> | undefined =
    imported === undefined ? undefined : Promise.resolve(imported);
  return () => {
    if (key === undefined) {
      const recent = recentRatchetKeys.get(toHex(publicKey));
      key =
        recent !== undefined && recent.pkcs8.equals(pkcs8)
          ? Promise.resolve(recent.key)
          : importPrivateKey('X25519', pkcs8.reveal(), {
              extractable: true,
            }).then((loaded) => {
              rememberRatchetKey(publicKey, pkcs8, loaded);
              return loaded;
            });
    }
    return key;
  };
}

function ourPrivateKey(key: OurRatchetKey): Promise<CryptoKey> {
  return key.kind === 'ratchet'
    ? key.privateKey()
    : Promise.resolve(key.privateKey);
}

export interface SkippedMessageKey {
  readonly counter: number;
  readonly messageKey: SecretBytes;
  /** Time the key was stored, in milliseconds since the epoch. */
  readonly storedAt: number;
}

export interface ReceivingChain {
  readonly theirRatchetKey: Bytes;
  /** Undefined once the sender moved on to a new ratchet key. */
  readonly chainKey: ChainKey | undefined;
  /** Keys of messages not yet received, in increasing message number. */
  readonly skippedKeys: readonly SkippedMessageKey[];
}

export interface RatchetState {
  readonly direction: Direction;
  readonly associatedData: Bytes;
  readonly rootKey: RootKey;
  readonly ourRatchetKey: OurRatchetKey;
  readonly sendingChain: ChainKey | undefined;
  readonly previousSendingChainLength: number;
  /** Receiving chains, newest first. Only the first may still have a chain key. */
  readonly receivingChains: readonly ReceivingChain[];
}

export interface MessageHeader {
  readonly ratchetKey: Bytes;
  readonly previousChainLength: number;
  readonly counter: number;
  readonly salt: Bytes;
}

function directionByte(sender: Direction): number {
  return sender === 'initiator' ? 0x01 : 0x02;
}

function opposite(direction: Direction): Direction {
  return direction === 'initiator' ? 'responder' : 'initiator';
}

function messageAssociatedData(
  state: RatchetState,
  sender: Direction,
  header: Uint8Array,
): Bytes {
  // The same bytes as concat(AD, direction, lengthPrefixed(header)), in one
  // allocation.
  const sessionData = state.associatedData;
  const out = new Uint8Array(sessionData.length + 1 + 4 + header.length);
  out.set(sessionData);
  let offset = sessionData.length;
  out[offset++] = directionByte(sender);
  out[offset++] = header.length >>> 24;
  out[offset++] = (header.length >>> 16) & 0xff;
  out[offset++] = (header.length >>> 8) & 0xff;
  out[offset++] = header.length & 0xff;
  out.set(header, offset);
  return out;
}

async function newRatchetKey(
  random: RandomSource,
): Promise<OurRatchetKey & { kind: 'ratchet' }> {
  const pair = await generateStorableX25519KeyPair(random);
  const pkcs8 = new SecretBytes(pair.pkcs8);
  rememberRatchetKey(pair.publicKey, pkcs8, pair.privateKey);
  return {
    kind: 'ratchet',
    publicKey: pair.publicKey,
    pkcs8,
    privateKey: lazyPrivateKey(pair.publicKey, pkcs8, pair.privateKey),
  };
}

/**
 * Initialises the initiator: a fresh ratchet key pair, and the first
 * sending chain from DH(our ratchet key, their signed prekey).
 */
export async function initInitiator(
  sharedSecret: SecretBytes,
  associatedData: Bytes,
  theirSignedPrekey: Bytes,
  random: RandomSource,
): Promise<RatchetState> {
  const ourRatchetKey = await newRatchetKey(random);
  const { rootKey, chainKey } = await new RootKey(sharedSecret).step(
    await x25519(await ourRatchetKey.privateKey(), theirSignedPrekey),
  );
  return {
    direction: 'initiator',
    associatedData,
    rootKey,
    ourRatchetKey,
    sendingChain: chainKey,
    previousSendingChainLength: 0,
    receivingChains: [],
  };
}

/** Initialises the responder with its signed prekey as first ratchet key pair. */
export function initResponder(
  sharedSecret: SecretBytes,
  associatedData: Bytes,
  signedPrekey: CryptoKey,
): RatchetState {
  return {
    direction: 'responder',
    associatedData,
    rootKey: new RootKey(sharedSecret),
    ourRatchetKey: { kind: 'signed-prekey', privateKey: signedPrekey },
    sendingChain: undefined,
    previousSendingChainLength: 0,
    receivingChains: [],
  };
}

function encodeHeader(
  ratchetKey: Bytes,
  previousChainLength: number,
  counter: number,
  salt: Bytes,
): Bytes {
  const header = new Uint8Array(HEADER_LENGTH);
  header[0] = MESSAGE_VERSION;
  header[1] = KeyType.x25519;
  header.set(ratchetKey, 2);
  let offset = 2 + ratchetKey.length;
  for (const value of [previousChainLength, counter]) {
    header[offset++] = value >>> 24;
    header[offset++] = (value >>> 16) & 0xff;
    header[offset++] = (value >>> 8) & 0xff;
    header[offset++] = value & 0xff;
  }
  header.set(salt, offset);
  return header;
}

/** Parses and checks a message header before any key is derived. */
export function parseHeader(message: Uint8Array): MessageHeader {
  const operation = 'parseHeader';
  if (message.length < HEADER_LENGTH + AES_GCM_TAG_LENGTH) {
    throw new CryptoError(
      'invalid-message',
      operation,
      `message of ${message.length} bytes is shorter than header and tag`,
    );
  }
  const reader = new ByteReader(
    message.subarray(0, HEADER_LENGTH),
    'invalid-message',
    operation,
  );
  reader.version('message', MESSAGE_VERSION);

  const keyType = reader.u8('ratchet key type');
  if (keyType !== KeyType.x25519) {
    throw new CryptoError(
      'invalid-message',
      operation,
      `ratchet key type 0x${keyType.toString(16)}, expected 0x01`,
    );
  }
  const ratchetKey = reader.raw('ratchet key', 32);
  if (!isCanonicalX25519PublicKey(ratchetKey)) {
    throw new CryptoError(
      'invalid-message',
      operation,
      'ratchet key is a non-canonical X25519 key',
    );
  }
  const previousChainLength = reader.u32('previous chain length');
  const counter = reader.u32('message number');
  const salt = reader.raw('salt', MESSAGE_SALT_LENGTH);

  for (const [name, value] of [
    ['message number', counter],
    ['previous chain length', previousChainLength],
  ] as const) {
    if (value >= MAX_COUNTER) {
      throw new CryptoError(
        'counter-overflow',
        operation,
        `${name} ${value} is at or above the limit ${MAX_COUNTER}`,
      );
    }
  }
  return { ratchetKey, previousChainLength, counter, salt };
}

/** Encrypts one message on the sending chain. */
export async function ratchetEncrypt(
  state: RatchetState,
  plaintext: Uint8Array,
  random: RandomSource,
): Promise<{ state: RatchetState; message: Bytes }> {
  const operation = 'ratchetEncrypt';
  const chain = state.sendingChain;
  if (chain === undefined || state.ourRatchetKey.kind !== 'ratchet') {
    throw new CryptoError(
      'invalid-state',
      operation,
      'no sending chain before the first message is received',
    );
  }
  if (chain.index >= MAX_COUNTER) {
    throw new CryptoError(
      'counter-overflow',
      operation,
      `sending chain reached the limit ${MAX_COUNTER}`,
    );
  }
  const { messageKey, next } = await chain.step();
  const salt = random.bytes(MESSAGE_SALT_LENGTH);
  const header = encodeHeader(
    state.ourRatchetKey.publicKey,
    state.previousSendingChainLength,
    chain.index,
    salt,
  );
  const ciphertext = await encryptWithMessageKey(
    messageKey,
    salt,
    plaintext,
    messageAssociatedData(state, state.direction, header),
  );
  return {
    state: { ...state, sendingChain: next },
    message: concat(header, ciphertext),
  };
}

/** Time and operation name of one decryption, and the keys it skipped. */
interface DecryptContext {
  readonly now: number;
  readonly operation: string;
  skippedKeysAdded: number;
}

/**
 * Checks that a chain at `chainKey` may advance to message `counter`.
 * Throws `too-many-skipped` past `MAX_SKIP`.
 */
function checkGap(
  chainKey: ChainKey,
  counter: number,
  operation: string,
): void {
  const gap = counter - chainKey.index;
  if (gap > MAX_SKIP) {
    throw new CryptoError(
      'too-many-skipped',
      operation,
      `message ${counter} would skip ${gap} keys after message ${chainKey.index - 1}, at most ${MAX_SKIP} allowed`,
    );
  }
}

/**
 * Walks a chain from `chainKey` to message `counter`. Returns the chain key
 * of that message and those of the messages it skips, whose message keys
 * `storeSkipped` derives once the message is authentic.
 */
async function walkChain(
  chainKey: ChainKey,
  counter: number,
  operation: string,
): Promise<{ target: ChainKey; skipped: ChainKey[] }> {
  checkGap(chainKey, counter, operation);
  const skipped: ChainKey[] = [];
  let target = chainKey;
  while (target.index < counter) {
    skipped.push(target);
    target = await target.next();
  }
  return { target, skipped };
}

/** Stores the message keys of skipped chain keys in `chain`. */
async function storeSkipped(
  chain: ReceivingChain,
  skipped: readonly ChainKey[],
  context: DecryptContext,
): Promise<ReceivingChain> {
  if (skipped.length === 0) return chain;
  const skippedKeys = [...chain.skippedKeys];
  for (const chainKey of skipped) {
    skippedKeys.push({
      counter: chainKey.index,
      messageKey: await chainKey.messageKey(),
      storedAt: context.now,
    });
  }
  context.skippedKeysAdded += skipped.length;
  return {
    ...chain,
    skippedKeys: skippedKeys.slice(-MAX_SKIPPED_KEYS_PER_CHAIN),
  };
}

/** Checks, before any key is derived, that a chain may close at `length`. */
function checkClose(
  chain: ReceivingChain | undefined,
  length: number,
  operation: string,
): void {
  if (chain?.chainKey === undefined) return;
  if (length < chain.chainKey.index) {
    throw new CryptoError(
      'invalid-message',
      operation,
      `previous chain length ${length} is below the ${chain.chainKey.index} messages already received`,
    );
  }
  checkGap(chain.chainKey, length, operation);
}

/** Closes a receiving chain, storing the keys of its messages up to `length`. */
async function closeChain(
  chain: ReceivingChain,
  length: number,
  context: DecryptContext,
): Promise<ReceivingChain> {
  if (chain.chainKey === undefined) return chain;
  const { skipped } = await walkChain(
    chain.chainKey,
    length,
    context.operation,
  );
  const closed = await storeSkipped(chain, skipped, context);
  return { ...closed, chainKey: undefined };
}

/**
 * Completes a DH ratchet step once the first message on a new ratchet key
 * from the other party is authentic: closes the previous receiving chain,
 * then makes a new key pair and sending chain from DH(new key, their key).
 * The new receiving chain and `rootKey` come from DH(our key, their key).
 */
async function completeDhRatchetStep(
  state: RatchetState,
  chains: readonly ReceivingChain[],
  receiving: ReceivingChain,
  rootKey: RootKey,
  header: MessageHeader,
  theirRatchetKey: CryptoKey,
  random: RandomSource,
  context: DecryptContext,
): Promise<RatchetState> {
  const [current, ...older] = chains;
  const closed =
    current === undefined
      ? []
      : [await closeChain(current, header.previousChainLength, context)];
  const ourRatchetKey = await newRatchetKey(random);
  const sending = await rootKey.step(
    await x25519(await ourRatchetKey.privateKey(), theirRatchetKey),
  );
  // The replaced key pair is not needed again, so it leaves memory with
  // the old state.
  if (state.ourRatchetKey.kind === 'ratchet') {
    recentRatchetKeys.delete(toHex(state.ourRatchetKey.publicKey));
  }
  return {
    ...state,
    rootKey: sending.rootKey,
    ourRatchetKey,
    sendingChain: sending.chainKey,
    previousSendingChainLength: state.sendingChain?.index ?? 0,
    receivingChains: [receiving, ...closed, ...older].slice(
      0,
      1 + MAX_OLD_RECEIVING_CHAINS,
    ),
  };
}

function withoutExpiredKeys(
  chains: readonly ReceivingChain[],
  now: number,
): ReceivingChain[] {
  const expired = (key: SkippedMessageKey) =>
    now - key.storedAt >= SKIPPED_KEY_MAX_AGE_MS;
  if (!chains.some((chain) => chain.skippedKeys.some(expired))) {
    return [...chains];
  }
  return chains.map((chain) => ({
    ...chain,
    skippedKeys: chain.skippedKeys.filter(
      (key) => now - key.storedAt < SKIPPED_KEY_MAX_AGE_MS,
    ),
  }));
}

/** Evicts the oldest skipped keys beyond the per-session limit. */
function capSkippedKeys(chains: readonly ReceivingChain[]): ReceivingChain[] {
  let count = 0;
  for (const chain of chains) count += chain.skippedKeys.length;
  if (count <= MAX_SKIPPED_KEYS_PER_SESSION) return [...chains];
  const entries: { chain: number; counter: number; storedAt: number }[] = [];
  chains.forEach((chain, index) => {
    for (const key of chain.skippedKeys) {
      entries.push({
        chain: index,
        counter: key.counter,
        storedAt: key.storedAt,
      });
    }
  });
  const excess = entries.length - MAX_SKIPPED_KEYS_PER_SESSION;
  if (excess <= 0) return [...chains];
  // Oldest first: earlier storage time, then older chain, then lower number.
  entries.sort(
    (a, b) =>
      a.storedAt - b.storedAt || b.chain - a.chain || a.counter - b.counter,
  );
  const evicted = new Set(
    entries.slice(0, excess).map((entry) => `${entry.chain}:${entry.counter}`),
  );
  return chains.map((chain, index) => ({
    ...chain,
    skippedKeys: chain.skippedKeys.filter(
      (key) => !evicted.has(`${index}:${key.counter}`),
    ),
  }));
}

/** Counts the skipped message keys a state holds. */
export function skippedKeyCount(state: RatchetState): number {
  let count = 0;
  for (const chain of state.receivingChains) count += chain.skippedKeys.length;
  return count;
}

/**
 * Decrypts one message. Works on a copy: on any failure it throws and the
 * caller keeps its state. Throws `duplicate-message` for a message whose key
 * was already used or evicted. `droppedKeys` counts skipped message keys
 * deleted unused (expired or evicted by a limit): each is a message that can
 * no longer be decrypted.
 *
 * Before the tag is checked, only the work that this message's key needs
 * runs: one DH and root step for a new ratchet key, at most `MAX_SKIP`
 * chain steps and one message key. Skipped message keys, the closing of the
 * previous chain and the new sending chain are derived only for an
 * authentic message.
 */
export async function ratchetDecrypt(
  state: RatchetState,
  message: Uint8Array,
  random: RandomSource,
  now: number,
): Promise<{ state: RatchetState; plaintext: Bytes; droppedKeys: number }> {
  const operation = 'ratchetDecrypt';
  const context: DecryptContext = { now, operation, skippedKeysAdded: 0 };
  const header = parseHeader(message);
  const headerBytes = message.subarray(0, HEADER_LENGTH);
  const ciphertext = message.subarray(HEADER_LENGTH);
  const chains = withoutExpiredKeys(state.receivingChains, now);

  const chainIndex = chains.findIndex((chain) =>
    constantTimeEqual(chain.theirRatchetKey, header.ratchetKey),
  );
  let chain = chains[chainIndex];
  let rootKey = state.rootKey;
  let theirRatchetKey: CryptoKey | undefined;
  if (chain === undefined) {
    checkClose(chains[0], header.previousChainLength, operation);
    theirRatchetKey = await importX25519PublicKey(header.ratchetKey);
    const receiving = await state.rootKey.step(
      await x25519(await ourPrivateKey(state.ourRatchetKey), theirRatchetKey),
    );
    rootKey = receiving.rootKey;
    chain = {
      theirRatchetKey: header.ratchetKey,
      chainKey: receiving.chainKey,
      skippedKeys: [],
    };
  }

  const skipped = chain.skippedKeys.find(
    (key) => key.counter === header.counter,
  );
  let messageKey: SecretBytes;
  let walk: { target: ChainKey; skipped: ChainKey[] } | undefined;
  if (skipped !== undefined) {
    messageKey = skipped.messageKey;
  } else if (
    chain.chainKey !== undefined &&
    header.counter >= chain.chainKey.index
  ) {
    walk = await walkChain(chain.chainKey, header.counter, operation);
    messageKey = await walk.target.messageKey();
  } else {
    throw new CryptoError(
      'duplicate-message',
      operation,
      `message ${header.counter} of receiving chain ${chainIndex} was already received or its key expired`,
    );
  }

  const plaintext = await decryptWithMessageKey(
    messageKey,
    header.salt,
    ciphertext,
    messageAssociatedData(state, opposite(state.direction), headerBytes),
  );

  // The message is authentic: store what it skipped and update the chains.
  let received: ReceivingChain;
  if (walk === undefined) {
    received = {
      ...chain,
      skippedKeys: chain.skippedKeys.filter((key) => key !== skipped),
    };
  } else {
    const stored = await storeSkipped(chain, walk.skipped, context);
    received = { ...stored, chainKey: await walk.target.next() };
  }
  let next: RatchetState;
  if (theirRatchetKey !== undefined) {
    next = await completeDhRatchetStep(
      state,
      chains,
      received,
      rootKey,
      header,
      theirRatchetKey,
      random,
      context,
    );
  } else {
    const receivingChains = [...chains];
    receivingChains[chainIndex] = received;
    next = { ...state, receivingChains };
  }

  const result = {
    ...next,
    receivingChains: capSkippedKeys(next.receivingChains),
  };
  const keysBefore =
    skippedKeyCount(state) +
    context.skippedKeysAdded -
    (skipped === undefined ? 0 : 1);
  return {
    state: result,
    plaintext,
    droppedKeys: keysBefore - skippedKeyCount(result),
  };
}

// Serialization. The stored form contains raw secrets, so callers seal it
// with the storage key before it leaves memory.

function writeChainKey(writer: ByteWriter, chainKey: ChainKey): void {
  writer.bytes(chainKey.key.reveal()).u32(chainKey.index);
}

function readChainKey(reader: ByteReader): ChainKey {
  const key = new SecretBytes(reader.fixed('chain key', 32));
  return new ChainKey(key, reader.u32('chain index'));
}

export function writeRatchetState(
  writer: ByteWriter,
  state: RatchetState,
): void {
  if (state.ourRatchetKey.kind !== 'ratchet') {
    throw new CryptoError(
      'invalid-state',
      'writeRatchetState',
      'a responder state is stored only after its first message',
    );
  }
  writer
    .u8(directionByte(state.direction))
    .bytes(state.associatedData)
    .bytes(state.rootKey.key.reveal())
    .bytes(state.ourRatchetKey.publicKey)
    .bytes(state.ourRatchetKey.pkcs8.reveal())
    .u8(state.sendingChain === undefined ? 0 : 1);
  if (state.sendingChain !== undefined) {
    writeChainKey(writer, state.sendingChain);
  }
  writer.u32(state.previousSendingChainLength);
  writer.u32(state.receivingChains.length);
  for (const chain of state.receivingChains) {
    writer
      .bytes(chain.theirRatchetKey)
      .u8(chain.chainKey === undefined ? 0 : 1);
    if (chain.chainKey !== undefined) writeChainKey(writer, chain.chainKey);
    writer.u32(chain.skippedKeys.length);
    for (const key of chain.skippedKeys) {
      writer.u32(key.counter).bytes(key.messageKey.reveal()).u64(key.storedAt);
    }
  }
}

function readFlag(reader: ByteReader, field: string): boolean {
  const flag = reader.u8(field);
  if (flag > 1) {
    throw new CryptoError(
      'invalid-state',
      'readRatchetState',
      `${field} is ${flag}`,
    );
  }
  return flag === 1;
}

/**
 * Reads a state written by `writeRatchetState`. Synchronous, because the
 * ratchet private key is imported only when a DH ratchet step needs it.
 */
export function readRatchetState(reader: ByteReader): RatchetState {
  const operation = 'readRatchetState';
  const directionValue = reader.u8('direction');
  if (directionValue !== 1 && directionValue !== 2) {
    throw new CryptoError(
      'invalid-state',
      operation,
      `direction ${directionValue}`,
    );
  }
  const associatedData = reader.bytes('associated data', 4096);
  const rootKey = new RootKey(new SecretBytes(reader.fixed('root key', 32)));
  const publicKey = reader.fixed('ratchet public key', 32);
  const pkcs8 = new SecretBytes(reader.bytes('ratchet private key', 128));

  const sendingChain = readFlag(reader, 'sending chain flag')
    ? readChainKey(reader)
    : undefined;
  const previousSendingChainLength = reader.u32('previous chain length');

  const chainCount = reader.u32('receiving chain count');
  if (chainCount > 1 + MAX_OLD_RECEIVING_CHAINS) {
    throw new CryptoError(
      'invalid-state',
      operation,
      `${chainCount} receiving chains`,
    );
  }
  const receivingChains: ReceivingChain[] = [];
  for (let i = 0; i < chainCount; i++) {
    const theirRatchetKey = reader.fixed('their ratchet key', 32);
    const chainKey = readFlag(reader, 'chain key flag')
      ? readChainKey(reader)
      : undefined;
    const keyCount = reader.u32('skipped key count');
    if (keyCount > MAX_SKIPPED_KEYS_PER_CHAIN) {
      throw new CryptoError(
        'invalid-state',
        operation,
        `${keyCount} skipped keys`,
      );
    }
    const skippedKeys: SkippedMessageKey[] = [];
    for (let j = 0; j < keyCount; j++) {
      const counter = reader.u32('skipped counter');
      const messageKey = new SecretBytes(reader.fixed('message key', 32));
      skippedKeys.push({
        counter,
        messageKey,
        storedAt: reader.u64('stored at'),
      });
    }
    receivingChains.push({ theirRatchetKey, chainKey, skippedKeys });
  }

  return {
    direction: directionValue === 1 ? 'initiator' : 'responder',
    associatedData,
    rootKey,
    ourRatchetKey: {
      kind: 'ratchet',
      publicKey,
      pkcs8,
      privateKey: lazyPrivateKey(publicKey, pkcs8),
    },
    sendingChain,
    previousSendingChainLength,
    receivingChains,
  };
}
