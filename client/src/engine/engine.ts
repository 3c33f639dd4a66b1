/**
 * The session engine: the one place where this account's ratchets step.
 * Only the tab holding the account's Web Lock runs it, and every ratchet
 * operation runs in the per-conversation queue, so no two operations ever
 * load the same session record at once.
 *
 * Receive: decrypt on the loaded copy of the session, then commit the new
 * session record, the message, the processed envelope id, the consumed
 * prekeys and the set-up id in one IndexedDB transaction. Only then is the
 * envelope acknowledged to the relay. A failed decryption writes nothing.
 *
 * Send: create the message as `sending`, encrypt, commit the new session
 * record and the envelope (outbox) in one transaction, then send the stored
 * envelope. Until the relay acknowledges it, the same envelope is sent again
 * after every sign-in and, while connected, after a delay that doubles from
 * `RESEND_DELAY_MS` to `MAX_RESEND_DELAY_MS`. A resend never encrypts again.
 */
import { z } from 'zod';
import {
  type Bytes,
  constantTimeEqual,
  fromBase64Url,
  toBase64Url,
} from '../../../shared/crypto/bytes';
import { CryptoError } from '../../../shared/crypto/errors';
import {
  applyGroupChange,
  applyJoiningChange,
  createGroup,
  decodeGroupStateEntry,
  decodeSignedGroupChange,
  encodeSignedGroupChange,
  type GroupChange,
  type GroupState,
  signGroupChange,
  type SignedGroupChange,
} from '../../../shared/crypto/group-state';
import { MAX_GROUP_NAME_BYTES } from '../../../shared/crypto/limits';
import { verifyPeerCertificate } from '../../../shared/crypto/pqxdh';
import {
  type SafetyNumber,
  computeSafetyNumber,
} from '../../../shared/crypto/safety-number';
import {
  createSenderKey,
  decodeSenderKeyDistribution,
  decryptGroupMessage,
  encodeSenderKeyDistribution,
  encryptGroupMessage,
  GROUP_ID_LENGTH,
  needsRotation,
  parseGroupMessageHeader,
  processSenderKeyDistribution,
  rotateSenderKey,
  senderKeyDistribution,
} from '../../../shared/crypto/sender-key';
import type { SessionRecord } from '../../../shared/crypto/session';
import {
  LAST_RESORT_KEY_ID_BASE,
  type LocalIdentity,
  toWirePqPrekey,
} from '../../../shared/crypto/keys';
import { type RandomSource, systemRandom } from '../../../shared/crypto/random';
import {
  type Content,
  decodeContent,
  type GroupChangeContent,
  type GroupLogContent,
  type GroupLogRequestContent,
  MAX_GROUP_LOG_REPLY_CHARS,
  MAX_GROUP_LOG_REQUEST_VERSIONS,
  type SenderKeyContent,
  encodeContent,
  MAX_RECEIPT_MESSAGE_IDS,
  MAX_TEXT_LENGTH,
} from '../../../shared/wire/content';
import {
  ONE_TIME_PREKEY_POOL_SIZE,
  ONE_TIME_PREKEY_REFILL_THRESHOLD,
} from '../../../shared/wire/limits';
import {
  AccessLog,
  type AccessLogEntry,
  type Address,
  type Envelope,
  KeyChanged,
  PrekeyBundle,
  PrekeyCounts,
  SendResult,
  Username,
} from '../../../shared/wire/schemas';
import { ClientError, identityChanged } from '../errors';
import {
  addressKey,
  groupConversationId,
  groupIdOf,
  type LocalStore,
  type SerializedSession,
  type StoredOwnSenderKey,
} from '../storage/local-store';
import type {
  ContactRow,
  GroupRow,
  HeldGroupMessageRow,
  MessageRow,
  OutboxRow,
} from '../storage/schema';
import {
  describeGroupChange,
  groupStateOf,
  HELD_GROUP_MESSAGE_TTL_MS,
  heldMessageNotice,
  MAX_HELD_GROUP_MESSAGES,
  MAX_HELD_GROUP_MESSAGES_PER_GROUP,
  MAX_HELD_GROUP_MESSAGES_PER_SENDER,
  removesMember,
  senderKeyRecordId,
} from './groups';
import { createLogger } from './logger';
import { cloakProtocol, type Protocol } from './protocol';
import { KeyedQueue } from './queue';
import { RelayError, type Transport } from './transport';

const log = createLogger('engine');

/** Change notice, so that the user interface reloads only the changed part. */
export type EngineChange =
  | { readonly type: 'conversations' }
  | { readonly type: 'messages'; readonly peerId: string }
  /** The contact's verified mark or pending identity key changed. */
  | { readonly type: 'contact'; readonly peerId: string };

/** A group's verified membership, as the user interface shows it. */
export interface GroupInfo {
  readonly name: string;
  /** User ids, sorted. */
  readonly members: readonly string[];
  readonly admins: readonly string[];
  /** False once we left or were removed. */
  readonly isMember: boolean;
  readonly isAdmin: boolean;
}

/** Identity key status of a contact, as the user interface shows it. */
export interface ContactStatus {
  /** True once safety numbers were compared for the pinned key. */
  readonly verified: boolean;
  /**
   * Local time at which a different identity key was seen, while it waits
   * for the user to accept it. Sending is blocked meanwhile.
   */
  readonly keyChangedAt: number | undefined;
}

/** A conversation's safety number and the identity key it was made from. */
export interface ContactSafetyNumber {
  readonly safetyNumber: SafetyNumber;
  /** The contact's key in the number: the pending one while a change waits. */
  readonly identityKey: Bytes;
  /** True when the number belongs to a new key that is not accepted yet. */
  readonly pending: boolean;
}

export interface EngineOptions {
  readonly store: LocalStore;
  readonly identity: LocalIdentity;
  readonly transport: Transport;
  readonly protocol?: Protocol;
  readonly random?: RandomSource;
  readonly now?: () => number;
  readonly onChange?: (change: EngineChange) => void;
  readonly onError?: (error: ClientError) => void;
}

/** First delay before an unacknowledged envelope is sent again. */
export const RESEND_DELAY_MS = 1_000;
/** Maximum delay between resends of an unacknowledged envelope. */
export const MAX_RESEND_DELAY_MS = 60_000;

/** Age at which the signed prekey and the last-resort PQ prekey rotate. */
export const PREKEY_ROTATION_MS = 7 * 24 * 60 * 60 * 1000;
/** How long a replaced signed or last-resort prekey keeps its private key. */
export const REPLACED_PREKEY_RETENTION_MS = 30 * 24 * 60 * 60 * 1000;

const BundleReply = z.strictObject({
  bundles: z.array(PrekeyBundle).min(1),
});

/**
 * Parses decrypted content. Invalid content is dropped, but the session
 * still advances because the ciphertext was authentic.
 */
function parseContent(plaintext: Bytes): Content | undefined {
  try {
    return decodeContent(plaintext);
  } catch (error) {
    log.error('invalid content dropped', error);
    return undefined;
  }
}

/**
 * Returns true for relay rejections that a resend of the same envelope
 * cannot fix; timeouts, rate limits and lost connections are retried.
 */
function isPermanentRejection(error: unknown): boolean {
  return (
    RelayError.is(error, 'invalid-request') ||
    RelayError.is(error, 'payload-too-large') ||
    RelayError.is(error, 'not-found')
  );
}

/**
 * Returns the thread notice for skipped message keys that were deleted
 * unused, so that a relay withholding messages is visible.
 */
function missingNotice(peerId: string, count: number): string | undefined {
  if (count <= 0) return undefined;
  const messages = count === 1 ? '1 message' : `${count} messages`;
  return (
    `${messages} from ${peerId} never arrived and can no longer be ` +
    'decrypted. The relay may have withheld them.'
  );
}

/** Work that a received envelope leaves for after its sender's queue. */
type FollowUp = () => Promise<void>;

/** A request for the group-state entries between two versions. */
interface GroupLogRequest {
  readonly userId: string;
  readonly groupId: string;
  readonly fromVersion: number;
  readonly toVersion: number;
}

/** A group's new row, its thread notices and any log request it needs. */
interface GroupUpdate {
  readonly row: GroupRow;
  readonly notices: { id: string; text: string }[];
  readonly request?: GroupLogRequest;
}

/** Outcome of one attempt to decrypt a group message. */
type GroupMessageAttempt =
  | { readonly status: 'done' }
  | { readonly status: 'waiting'; readonly groupId: string };

/** Returns the trimmed group name, or throws when its length is invalid. */
function checkedGroupName(name: string): string {
  const trimmed = name.trim();
  const length = new TextEncoder().encode(trimmed).length;
  if (length === 0 || length > MAX_GROUP_NAME_BYTES) {
    throw new ClientError(
      'invalid-message',
      `A group name must have 1 to ${MAX_GROUP_NAME_BYTES} bytes, but ` +
        `"${trimmed.slice(0, 40)}" has ${length}.`,
    );
  }
  return trimmed;
}

/** Maximum number of signed changes kept ahead of a group's version. */
const MAX_PENDING_GROUP_CHANGES = 20;

/** Returns the version of a signed change, checking that it is for `groupId`. */
function groupChangeVersion(bytes: Uint8Array, groupId: string): number {
  const entry = decodeGroupStateEntry(decodeSignedGroupChange(bytes).entry);
  if (toBase64Url(entry.groupId) !== groupId) {
    throw new CryptoError(
      'invalid-message',
      'groupChangeVersion',
      'a change names another group than its content',
    );
  }
  return entry.version;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

/** Returns true when `bytes` is the entry of `version` in the row's log. */
function loggedChange(row: GroupRow, version: number, bytes: Bytes): boolean {
  const [first] = row.log;
  if (first === undefined) return false;
  const logged = row.log[version - groupChangeVersion(first, row.groupId)];
  return logged !== undefined && equalBytes(logged, bytes);
}

function sameAddress(a: Address, b: Address): boolean {
  return a.userId === b.userId && a.deviceId === b.deviceId;
}

/** Replies to one member's group-log requests per group and window. */
const LOG_REPLIES_PER_WINDOW = 5;
const LOG_REPLY_WINDOW_MS = 60_000;
/** Requesters remembered at once; the count starts over beyond it. */
const MAX_LOG_REPLY_KEYS = 1_000;

/**
 * Pairwise sends of one group change or sender key that run at once. Each
 * member has its own session and queue, so their order does not matter,
 * and a bounded number keeps a 1,000-member group within the relay's send
 * limits while each send waits for its acknowledgement.
 */
const PAIRWISE_FAN_OUT = 8;

/**
 * Runs `task` for every item, at most `limit` at a time. After a task
 * fails no new one starts, and the first error is thrown once the running
 * ones have settled.
 */
async function forEachLimited<T>(
  items: readonly T[],
  limit: number,
  task: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (failure === undefined && next < items.length) {
      const item = items[next] as T;
      next += 1;
      try {
        await task(item);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, worker),
  );
  if (failure !== undefined) throw failure.error;
}

/** Decodes a caller's group id, which must be `GROUP_ID_LENGTH` bytes. */
function checkedGroupId(groupId: string): Bytes {
  const bytes = (() => {
    try {
      return fromBase64Url(groupId);
    } catch {
      return undefined;
    }
  })();
  if (bytes?.length !== GROUP_ID_LENGTH) {
    throw new ClientError(
      'internal-error',
      `Invalid group id "${groupId}": expected ${GROUP_ID_LENGTH} bytes in base64url. Create the group again.`,
    );
  }
  return bytes;
}

export class Engine {
  /** Times of recent replies to group-log requests, by group and requester. */
  private readonly logReplies = new Map<string, number[]>();
  private readonly store: LocalStore;
  private readonly identity: LocalIdentity;
  private readonly transport: Transport;
  private readonly protocol: Protocol;
  private readonly random: RandomSource;
  private readonly now: () => number;
  private readonly onChange: (change: EngineChange) => void;
  private readonly onError: (error: ClientError) => void;

  private readonly queue = new KeyedQueue();
  /**
   * Envelopes from a changed identity key, per contact, left unacknowledged
   * until the user accepts the key. After a reload the relay delivers them
   * again at sign-in, and they are held here again.
   */
  private readonly heldEnvelopes = new Map<string, Envelope[]>();
  /** Envelope ids being sent right now, so that a flush skips them. */
  private readonly inFlight = new Set<string>();
  private resendTimer: ReturnType<typeof setTimeout> | undefined;
  private resendDelayMs = RESEND_DELAY_MS;
  private refill: Promise<void> | undefined;
  private rotation: Promise<void> | undefined;
  private activePeer: string | undefined;

  constructor(options: EngineOptions) {
    this.store = options.store;
    this.identity = options.identity;
    this.transport = options.transport;
    this.protocol = options.protocol ?? cloakProtocol;
    this.random = options.random ?? systemRandom;
    this.now = options.now ?? Date.now;
    this.onChange = options.onChange ?? (() => undefined);
    this.onError = options.onError ?? (() => undefined);
  }

  get self(): Address {
    return { userId: this.identity.userId, deviceId: this.identity.deviceId };
  }

  /** Sets the open conversation; its incoming messages are not unread. */
  async setActiveConversation(peerId: string | undefined): Promise<void> {
    this.activePeer = peerId;
    if (peerId === undefined) return;
    await this.store.markRead(peerId);
    this.onChange({ type: 'conversations' });
  }

  // Receiving.

  /**
   * Processes one envelope pushed by the relay, then the follow-ups it
   * caused, such as retrying a group's held messages or answering a log
   * request. Those run outside the sender's queue, because they take
   * other queues.
   */
  async receive(envelope: Envelope): Promise<void> {
    const followUps = await this.queue.run(envelope.from.userId, () =>
      this.receiveInQueue(envelope),
    );
    for (const followUp of followUps ?? []) {
      await followUp().catch((error: unknown) =>
        log.error('follow-up failed', error),
      );
    }
  }

  /**
   * Processes one envelope in its sender's queue and returns the work it
   * leaves for after the queue (see `receive`).
   */
  private async receiveInQueue(
    envelope: Envelope,
  ): Promise<FollowUp[] | undefined> {
    if (await this.store.isProcessed(envelope.id)) {
      log.info('duplicate envelope acknowledged');
      await this.acknowledge(envelope.id);
      return;
    }
    if (!sameAddress(envelope.to, this.self)) {
      log.warn('envelope for another device dropped');
      await this.acknowledge(envelope.id);
      return;
    }
    if (envelope.kind === 'group') {
      await this.receiveGroupMessage(envelope);
      return;
    }
    if (envelope.kind !== 'prekey' && envelope.kind !== 'message') {
      log.warn('unsupported envelope kind dropped');
      await this.acknowledge(envelope.id);
      return;
    }

    const from = envelope.from;
    const contact = await this.store.contact(from.userId);
    const stored = await this.store.loadSession(from);
    const record = stored
      ? await this.protocol.deserializeSessionRecord(stored)
      : undefined;

    let decrypted: Awaited<ReturnType<Protocol['decryptMessage']>>;
    try {
      decrypted = await this.protocol.decryptMessage({
        record,
        local: this.identity,
        from,
        kind: envelope.kind,
        body: fromBase64Url(envelope.body),
        prekeys: this.store.prekeyLookup(),
        pinnedIdentityKey: contact?.identityKey,
        random: this.random,
        now: this.now(),
      });
    } catch (error) {
      await this.handleDecryptionFailure(envelope, error, contact);
      return;
    }

    const content = parseContent(decrypted.plaintext);
    if (content?.type === 'group-change' || content?.type === 'group-log') {
      // The group's state is committed with the envelope, so it runs in the
      // group's queue, which never waits for a contact's queue.
      return this.queue.run(groupConversationId(content.groupId), () =>
        this.commitReceivedInQueue(envelope, decrypted, content),
      );
    }
    return this.commitReceivedInQueue(envelope, decrypted, content);
  }

  /** Commits a decrypted envelope and returns what `receiveInQueue` returns. */
  private async commitReceivedInQueue(
    envelope: Envelope,
    decrypted: Awaited<ReturnType<Protocol['decryptMessage']>>,
    content: Content | undefined,
  ): Promise<FollowUp[] | undefined> {
    const from = envelope.from;
    const sender = {
      userId: from.userId,
      identityKey: decrypted.theirIdentityKey,
    };
    let group: GroupUpdate | undefined;
    if (content?.type === 'group-change') {
      group = await this.acceptReceivedGroupChange(content, sender);
    } else if (content?.type === 'group-log') {
      group = await this.acceptGroupLog(content, sender);
    }
    const session: SerializedSession = {
      address: from,
      record: this.protocol.serializeSessionRecord(decrypted.record),
    };
    let outcome;
    try {
      outcome = await this.store.commitReceived({
        envelopeId: envelope.id,
        session,
        theirIdentityKey: decrypted.theirIdentityKey,
        consumed: decrypted.consumed,
        text:
          content?.type === 'text' && content.groupId === undefined
            ? {
                messageId: content.messageId,
                text: content.text,
                sentAt: content.sentAt,
                position: { deviceId: from.deviceId, ...decrypted.position },
              }
            : undefined,
        deliveredIds:
          content?.type === 'receipt' ? content.messageIds : undefined,
        missingNotice: missingNotice(from.userId, decrypted.droppedMessageKeys),
        ...(group ? { group: { row: group.row, notices: group.notices } } : {}),
        unread: this.activePeer !== from.userId,
        now: this.now(),
      });
    } catch (error) {
      // Nothing was written, so the relay keeps the envelope for later.
      this.reportIdentityChange(from.userId, error);
      log.error('receive commit failed', error);
      return undefined;
    }

    const followUps: FollowUp[] = [];
    if (
      outcome.status === 'committed' &&
      content?.type === 'sender-key' &&
      (await this.receiveSenderKey(from, content))
    ) {
      followUps.push(() => this.retryHeldGroupMessages(content.groupId));
    }
    if (outcome.status === 'committed' && group) {
      const { row, request } = group;
      const conversationId = groupConversationId(row.groupId);
      this.onChange({ type: 'messages', peerId: conversationId });
      this.onChange({ type: 'conversations' });
      log.info('group state stored', {
        version: row.version,
        pending: row.pending?.length ?? 0,
      });
      followUps.push(() => this.retryHeldGroupMessages(row.groupId));
      if (request) followUps.push(() => this.requestGroupLog(request));
    }
    if (
      outcome.status === 'committed' &&
      content?.type === 'group-log-request'
    ) {
      followUps.push(() => this.answerGroupLogRequest(from.userId, content));
    }
    await this.acknowledge(envelope.id);
    if (outcome.status === 'duplicate') return undefined;
    const changed =
      outcome.newMessage ||
      outcome.delivered > 0 ||
      decrypted.droppedMessageKeys > 0;
    if (changed) {
      this.onChange({ type: 'messages', peerId: from.userId });
      this.onChange({ type: 'conversations' });
    }
    if (
      content?.type === 'text' &&
      content.groupId === undefined &&
      outcome.newMessage
    ) {
      void this.sendReceipt(from, [content.messageId]);
    }
    return followUps;
  }

  private async handleDecryptionFailure(
    envelope: Envelope,
    error: unknown,
    contact: ContactRow | undefined,
  ): Promise<void> {
    if (
      CryptoError.is(error, 'untrusted-identity') &&
      (await this.holdFromChangedIdentity(envelope, contact))
    ) {
      return;
    }
    log.error('decryption failed', error);
    if (CryptoError.is(error, 'duplicate-message')) {
      await this.acknowledge(envelope.id);
      return;
    }
    this.onError(
      new ClientError(
        'decryption-failed',
        `A message from ${envelope.from.userId} could not be decrypted and ` +
          'was dropped.',
        { cause: error },
      ),
    );
    await this.acknowledge(envelope.id);
  }

  /**
   * Checks whether a set-up that failed the pinned-key check comes from a
   * new identity key of the sender: it must decrypt without the pin, under
   * a certificate that verifies. Then the change is recorded and the
   * envelope is held unacknowledged until the user accepts the key.
   * Returns false for anything else, which is then dropped as undecryptable.
   */
  private async holdFromChangedIdentity(
    envelope: Envelope,
    contact: ContactRow | undefined,
  ): Promise<boolean> {
    if (!contact || envelope.kind !== 'prekey') return false;
    let theirIdentityKey: Bytes;
    try {
      // The decryption is pure: nothing of it is stored until acceptance.
      const trial = await this.protocol.decryptMessage({
        record: undefined,
        local: this.identity,
        from: envelope.from,
        kind: envelope.kind,
        body: fromBase64Url(envelope.body),
        prekeys: this.store.prekeyLookup(),
        pinnedIdentityKey: undefined,
        random: this.random,
        now: this.now(),
      });
      theirIdentityKey = trial.theirIdentityKey;
    } catch (error) {
      log.error('set-up from unpinned identity failed', error);
      return false;
    }
    if (constantTimeEqual(theirIdentityKey, contact.identityKey)) return false;

    const peerId = envelope.from.userId;
    const held = this.heldEnvelopes.get(peerId) ?? [];
    if (!held.some((other) => other.id === envelope.id)) held.push(envelope);
    this.heldEnvelopes.set(peerId, held);
    log.warn('envelope from changed identity key held', { held: held.length });
    await this.recordIdentityChange(peerId, theirIdentityKey);
    return true;
  }

  /** Stores a changed identity key as pending and notifies the interface. */
  private async recordIdentityChange(
    peerId: string,
    identityKey: Bytes,
  ): Promise<void> {
    const recorded = await this.store.recordIdentityChange(
      peerId,
      identityKey,
      this.now(),
    );
    if (!recorded) return;
    log.warn('identity key change recorded');
    this.onChange({ type: 'contact', peerId });
    this.onChange({ type: 'messages', peerId });
  }

  /** Shows an identity key change; returns whether the error was one. */
  private reportIdentityChange(peerId: string, error: unknown): boolean {
    const changed =
      CryptoError.is(error, 'untrusted-identity') ||
      ClientError.is(error, 'identity-changed');
    if (!changed) return false;
    this.onError(identityChanged(peerId));
    this.onChange({ type: 'contact', peerId });
    return true;
  }

  private async acknowledge(envelopeId: string): Promise<void> {
    if (!this.transport.connected) return;
    try {
      await this.transport.request('envelope:ack', { ids: [envelopeId] });
    } catch (error) {
      // The relay delivers the envelope again and the processed id makes
      // the second copy a duplicate.
      log.error('acknowledgement failed', error);
    }
  }

  // Identity keys and verification.

  /**
   * Handles the relay's `keys:changed` notice: fetches the contact's
   * bundles again and compares their identity key with the pinned one. A
   * notice already checked (same or older `changedAt`) is dropped, because
   * the relay repeats notices at every sign-in.
   */
  handleKeyChanged(notice: KeyChanged): Promise<void> {
    const parsed = KeyChanged.safeParse(notice);
    if (!parsed.success) return Promise.resolve();
    const { userId: peerId, changedAt } = parsed.data;
    return this.queue.run(peerId, async () => {
      const contact = await this.store.contact(peerId);
      if (!contact) return;
      if ((contact.keyChangeNoticeAt ?? -1) >= changedAt) {
        log.info('repeated key change notice dropped');
        return;
      }
      try {
        await this.fetchBundles(peerId);
        log.info('key change notice checked', { changed: false });
      } catch (error) {
        if (!ClientError.is(error, 'identity-changed')) {
          // Not marked as checked, so the next sign-in's repeat retries.
          log.error('key change check failed', error);
          return;
        }
        log.info('key change notice checked', { changed: true });
      }
      await this.store.setKeyChangeNotice(peerId, changedAt);
    });
  }

  /** Returns the verified mark and any pending key change of a contact. */
  async contactStatus(peerId: string): Promise<ContactStatus> {
    const contact = await this.store.contact(peerId);
    return {
      verified: contact?.verified === true,
      keyChangedAt: contact?.pendingIdentityKey ? contact.changedAt : undefined,
    };
  }

  /**
   * Computes the safety number of the conversation with `peerId`. While a
   * key change is pending, the number is the one of the new key, so that
   * the user can verify it before accepting it.
   */
  async safetyNumber(peerId: string): Promise<ContactSafetyNumber> {
    const contact = await this.store.contact(peerId);
    if (!contact) {
      throw new ClientError(
        'no-session',
        `No identity key of ${peerId} is known yet. Start the chat first.`,
      );
    }
    const identityKey = contact.pendingIdentityKey ?? contact.identityKey;
    const safetyNumber = await computeSafetyNumber(
      {
        userId: this.identity.userId,
        identityKey: this.identity.identityKey.publicKey,
      },
      { userId: peerId, identityKey },
    );
    return {
      safetyNumber,
      identityKey,
      pending: contact.pendingIdentityKey !== undefined,
    };
  }

  /**
   * Accepts the pending identity key of `peerId`, which must be
   * `identityKey` (the key the user saw): pins it, discards the sessions
   * agreed with the old key, and then processes the held envelopes from
   * the new key. With `verified`, the contact is also marked verified.
   */
  acceptIdentityKey(peerId: string, identityKey: Bytes): Promise<void> {
    return this.queue.run(peerId, () =>
      this.acceptInQueue(peerId, identityKey, false),
    );
  }

  /**
   * Marks `peerId` verified for `identityKey`, the key whose safety number
   * the user compared. A pending key is accepted at the same time.
   */
  markVerified(peerId: string, identityKey: Bytes): Promise<void> {
    return this.queue.run(peerId, async () => {
      const contact = await this.store.contact(peerId);
      if (contact?.pendingIdentityKey) {
        await this.acceptInQueue(peerId, identityKey, true);
        return;
      }
      await this.store.markVerified(peerId, identityKey);
      log.info('contact verified');
      this.onChange({ type: 'contact', peerId });
    });
  }

  private async acceptInQueue(
    peerId: string,
    identityKey: Bytes,
    verified: boolean,
  ): Promise<void> {
    const discarded = await this.store.acceptIdentityKey(
      peerId,
      identityKey,
      verified,
      this.now(),
    );
    log.info('identity key accepted', {
      sessionsDiscarded: discarded,
      verified,
    });
    this.onChange({ type: 'contact', peerId });
    const held = this.heldEnvelopes.get(peerId) ?? [];
    this.heldEnvelopes.delete(peerId);
    for (const envelope of held) {
      const followUps = await this.receiveInQueue(envelope);
      // Not awaited, because a follow-up may queue behind this contact.
      for (const followUp of followUps ?? []) {
        followUp().catch((error: unknown) =>
          log.error('follow-up failed', error),
        );
      }
    }
  }

  /**
   * Fetches who fetched this user's prekey bundles, newest first. The relay
   * keeps entries for `KEY_DIRECTORY_LOG_RETENTION_MS` (30 days).
   */
  async readAccessLog(): Promise<AccessLogEntry[]> {
    if (!this.transport.connected) {
      throw new ClientError(
        'offline',
        'Cloak is offline, so it cannot load the key access log. Try ' +
          'again when the status shows Connected.',
      );
    }
    try {
      const reply = await this.transport.request('keys:access-log', {});
      return AccessLog.parse(reply).entries;
    } catch (error) {
      throw new ClientError(
        'relay-error',
        'The key access log could not be loaded. Try again.',
        { cause: error },
      );
    }
  }

  // Sending.

  /**
   * Validates a username and opens a conversation with it, fetching the
   * contact's prekey bundles and starting a session with each device when
   * there is no conversation yet. Returns the case-folded user id.
   */
  async startChat(username: string): Promise<string> {
    const parsed = Username.safeParse(username);
    if (!parsed.success) {
      throw new ClientError(
        'invalid-username',
        `"${username.trim()}" is not a valid username: ` +
          (parsed.error.issues[0]?.message ?? 'invalid'),
      );
    }
    const peerId = parsed.data;
    if (peerId === this.identity.userId) {
      throw new ClientError(
        'invalid-username',
        'Chats with yourself are not supported. Enter another username.',
      );
    }
    return this.queue.run(peerId, async () => {
      if (await this.store.hasConversation(peerId)) return peerId;
      await this.initiateSessions(peerId, true);
      this.onChange({ type: 'conversations' });
      return peerId;
    });
  }

  /**
   * Encrypts and sends a text message to every device of a contact, or to
   * a group. A caller that may send the same message twice (a follower tab
   * during a leader change) passes its own message id as `givenId`: when
   * that message is already stored, nothing happens, because the outbox
   * sends it. Only a stored message still `sending` without envelopes is
   * encrypted (once) again; a tab that closed between the two writes
   * leaves it so.
   */
  sendText(peerId: string, text: string, givenId?: string): Promise<void> {
    if (text.length === 0 || text.length > MAX_TEXT_LENGTH) {
      return Promise.reject(
        new ClientError(
          'invalid-message',
          `A message must have 1 to ${MAX_TEXT_LENGTH} characters.`,
        ),
      );
    }
    const groupId = groupIdOf(peerId);
    if (groupId !== undefined) {
      return this.sendGroupText(groupId, text, givenId);
    }
    return this.queue.run(peerId, async () => {
      const stored = await this.unsentMessage(peerId, givenId);
      if (stored === 'sent') return;
      const contact = await this.store.contact(peerId);
      if (contact?.pendingIdentityKey) throw identityChanged(peerId);
      const messageId = givenId ?? toBase64Url(this.random.bytes(16));
      const row =
        stored ??
        (await this.store.addOutgoingMessage(
          peerId,
          messageId,
          text,
          this.now(),
        ));
      const sentAt = row.sentAt;
      this.onChange({ type: 'messages', peerId });
      this.onChange({ type: 'conversations' });

      let outbox: OutboxRow[];
      try {
        outbox = await this.encryptForContact(
          peerId,
          { v: 1, type: 'text', messageId, sentAt, text },
          row.key,
        );
      } catch (error) {
        await this.store.setMessageState(row.key, 'failed');
        this.onChange({ type: 'messages', peerId });
        this.reportIdentityChange(peerId, error);
        throw error;
      }
      for (const item of outbox) void this.deliver(item);
    });
  }

  /**
   * Looks up a message the caller may have sent before: undefined when it
   * is new, `sent` when it is stored with its envelopes (or sent), or its
   * row when it was stored but never encrypted.
   */
  private async unsentMessage(
    conversationId: string,
    messageId: string | undefined,
  ): Promise<MessageRow | 'sent' | undefined> {
    if (messageId === undefined) return undefined;
    const stored = await this.store.storedMessage(conversationId, messageId);
    if (!stored) return undefined;
    const { row, envelopes } = stored;
    return row.state === 'sending' && envelopes === 0 ? row : 'sent';
  }

  /** Sends a delivery receipt for messages we have committed. */
  private sendReceipt(to: Address, messageIds: string[]): Promise<void> {
    return this.queue
      .run(to.userId, async () => {
        const ids = messageIds.slice(0, MAX_RECEIPT_MESSAGE_IDS);
        const content: Content = {
          v: 1,
          type: 'receipt',
          receipt: 'delivered',
          messageIds: ids,
        };
        const outbox = await this.encryptFor(
          to.userId,
          [to],
          content,
          undefined,
        );
        for (const item of outbox) void this.deliver(item);
      })
      .catch((error: unknown) => log.error('receipt failed', error));
  }

  /** Encrypts content for every device of a contact we hold a session with. */
  private async encryptForContact(
    peerId: string,
    content: Content,
    messageRowKey: string | undefined,
  ): Promise<OutboxRow[]> {
    let addresses = await this.store.sessionAddresses(peerId);
    if (addresses.length === 0) {
      await this.initiateSessions(peerId);
      addresses = await this.store.sessionAddresses(peerId);
    }
    return this.encryptFor(peerId, addresses, content, messageRowKey);
  }

  /**
   * Encrypts the content for each device and commits the new session records
   * with the envelopes in one transaction. Returns the stored envelopes.
   */
  private async encryptFor(
    peerId: string,
    addresses: readonly Address[],
    content: Content,
    messageRowKey: string | undefined,
  ): Promise<OutboxRow[]> {
    const plaintext = encodeContent(content);
    const sessions: SerializedSession[] = [];
    const outbox: OutboxRow[] = [];
    for (const address of addresses) {
      const stored = await this.store.loadSession(address);
      if (!stored) continue;
      const record = await this.protocol.deserializeSessionRecord(stored);
      const encrypted = await this.encryptInSession(record, address, plaintext);
      sessions.push({
        address,
        record: this.protocol.serializeSessionRecord(encrypted.record),
      });
      const id = toBase64Url(this.random.bytes(16));
      outbox.push({
        id,
        envelope: {
          v: 1,
          kind: encrypted.kind,
          id,
          to: address,
          body: toBase64Url(encrypted.body),
        },
        peerId,
        messageKey: messageRowKey,
        createdAt: this.now(),
      });
    }
    if (outbox.length === 0) {
      throw new ClientError(
        'no-session',
        `There is no session with ${peerId} to encrypt to.`,
      );
    }
    await this.store.commitEncrypted(sessions, outbox, this.now());
    return outbox;
  }

  /**
   * Encrypts in the current session of `record`. A set-up that got no reply
   * for too long is replaced first by a new session from a fresh bundle of
   * the same device, and the message goes out in that new session.
   */
  private async encryptInSession(
    record: SessionRecord,
    address: Address,
    plaintext: Bytes,
  ): Promise<Awaited<ReturnType<Protocol['encryptMessage']>>> {
    try {
      return await this.protocol.encryptMessage(
        record,
        this.identity,
        address,
        plaintext,
        this.random,
        this.now(),
      );
    } catch (error) {
      if (!CryptoError.is(error, 'stale-session')) throw error;
      log.info('stale session replaced');
    }
    const restarted = await this.restartSession(record, address);
    return this.protocol.encryptMessage(
      restarted,
      this.identity,
      address,
      plaintext,
      this.random,
      this.now(),
    );
  }

  /**
   * Starts a new session with one device from a fresh bundle. The earlier
   * sessions stay in the record, so a late reply to them still decrypts.
   */
  private async restartSession(
    record: SessionRecord,
    address: Address,
  ): Promise<SessionRecord> {
    const peerId = address.userId;
    const bundles = await this.fetchBundles(peerId);
    const bundle = bundles.find(
      (candidate) => candidate.certificate.deviceId === address.deviceId,
    );
    if (!bundle || bundle.certificate.userId !== peerId) {
      throw new ClientError(
        'no-session',
        `The relay has no keys for device ${address.deviceId} of ${peerId}, ` +
          'so no new session could be started.',
      );
    }
    const contact = await this.store.contact(peerId);
    try {
      const started = await this.protocol.initiateSession(
        this.identity,
        bundle,
        contact?.identityKey,
        this.random,
        this.now(),
        record,
      );
      return started.record;
    } catch (error) {
      if (this.reportIdentityChange(peerId, error)) {
        throw identityChanged(peerId);
      }
      throw new ClientError(
        'relay-error',
        `The keys of ${peerId} are invalid, so no session was started.`,
        { cause: error },
      );
    }
  }

  /**
   * Fetches the prekey bundles of every device of a contact and compares
   * their identity key with the pinned one. A different key is recorded as
   * pending and throws `identity-changed`.
   */
  private async fetchBundles(peerId: string): Promise<PrekeyBundle[]> {
    let bundles: PrekeyBundle[];
    if (!this.transport.connected) {
      throw new ClientError(
        'offline',
        `Cloak is offline, so it cannot fetch the keys of ${peerId}. ` +
          'Try again when the status shows Connected.',
      );
    }
    try {
      const reply = BundleReply.parse(
        await this.transport.request('keys:bundle', { userId: peerId }),
      );
      bundles = reply.bundles;
    } catch (error) {
      if (RelayError.is(error, 'not-found')) {
        throw new ClientError(
          'unknown-user',
          `No account named "${peerId}" exists. Check the spelling.`,
        );
      }
      throw new ClientError(
        'relay-error',
        `The keys of ${peerId} could not be fetched. Try again.`,
        { cause: error },
      );
    }
    await this.compareBundleIdentity(peerId, bundles);
    return bundles;
  }

  /**
   * Checks every bundle's certificate under its identity key and compares
   * that key with the contact's pinned one. Records a change and throws
   * `identity-changed` when they differ.
   */
  private async compareBundleIdentity(
    peerId: string,
    bundles: readonly PrekeyBundle[],
  ): Promise<void> {
    const contact = await this.store.contact(peerId);
    if (!contact) return;
    for (const bundle of bundles) {
      let identityKey: Bytes;
      try {
        identityKey = await verifyPeerCertificate(
          bundle.certificate,
          undefined,
          'compareBundleIdentity',
        );
      } catch (error) {
        throw new ClientError(
          'relay-error',
          `The keys of ${peerId} are invalid, so no session was started.`,
          { cause: error },
        );
      }
      if (!constantTimeEqual(identityKey, contact.identityKey)) {
        await this.recordIdentityChange(peerId, identityKey);
        throw identityChanged(peerId);
      }
    }
  }

  /**
   * Fetches a contact's prekey bundles, starts a session with each device
   * and pins the contact's identity key on first use. `createConversation`
   * lists the conversation with them, for "Start chat".
   */
  private async initiateSessions(
    peerId: string,
    createConversation = false,
  ): Promise<void> {
    const bundles = await this.fetchBundles(peerId);
    const contact = await this.store.contact(peerId);
    const sessions: SerializedSession[] = [];
    let theirIdentityKey: Bytes | undefined;
    for (const bundle of bundles) {
      if (bundle.certificate.userId !== peerId) {
        throw new ClientError(
          'relay-error',
          `The relay returned keys of another user for ${peerId}.`,
        );
      }
      let started;
      try {
        started = await this.protocol.initiateSession(
          this.identity,
          bundle,
          contact?.identityKey ?? theirIdentityKey,
          this.random,
          this.now(),
        );
      } catch (error) {
        if (this.reportIdentityChange(peerId, error)) {
          throw identityChanged(peerId);
        }
        throw new ClientError(
          'relay-error',
          `The keys of ${peerId} are invalid, so no session was started.`,
          { cause: error },
        );
      }
      theirIdentityKey = started.theirIdentityKey;
      sessions.push({
        address: {
          userId: peerId,
          deviceId: bundle.certificate.deviceId,
        },
        record: this.protocol.serializeSessionRecord(started.record),
      });
    }
    if (!theirIdentityKey) {
      throw new ClientError('unknown-user', `${peerId} has no devices.`);
    }
    try {
      await this.store.addInitiatedSessions(
        peerId,
        sessions,
        theirIdentityKey,
        this.now(),
        createConversation,
      );
    } catch (error) {
      this.reportIdentityChange(peerId, error);
      throw error;
    }
  }

  /** Sends a stored envelope; on the relay's acknowledgement it is `sent`. */
  private async deliver(item: OutboxRow): Promise<void> {
    if (!this.transport.connected || this.inFlight.has(item.id)) return;
    this.inFlight.add(item.id);
    try {
      SendResult.parse(
        await this.transport.request('envelope:send', item.envelope),
      );
      this.resendDelayMs = RESEND_DELAY_MS;
      if (await this.store.completeOutbox(item.id)) {
        this.onChange({ type: 'messages', peerId: item.peerId });
      }
    } catch (error) {
      log.error('send failed', error);
      if (!isPermanentRejection(error)) {
        // Kept in the outbox; a later flush sends the same envelope again.
        this.scheduleResend();
        return;
      }
      if (await this.store.failOutbox(item.id)) {
        this.onChange({ type: 'messages', peerId: item.peerId });
      }
    } finally {
      this.inFlight.delete(item.id);
    }
  }

  /**
   * Flushes the outbox after the current resend delay and doubles the delay.
   * While offline the flush does nothing, and the flush after the next
   * sign-in sends the envelopes instead.
   */
  private scheduleResend(): void {
    if (this.resendTimer !== undefined) return;
    const delay = this.resendDelayMs;
    this.resendDelayMs = Math.min(delay * 2, MAX_RESEND_DELAY_MS);
    this.resendTimer = setTimeout(() => {
      this.resendTimer = undefined;
      void this.flushOutbox();
    }, delay);
  }

  /** Sends every stored envelope the relay has not acknowledged, in order. */
  async flushOutbox(): Promise<void> {
    for (const item of await this.store.pendingOutbox()) {
      if (!this.transport.connected) return;
      await this.deliver(item);
    }
  }

  // Groups.

  /** The signer of our own group changes: our user identity key. */
  private groupAuthor(): { userId: string; identityKey: CryptoKey } {
    return {
      userId: this.identity.userId,
      identityKey: this.identity.identityKey.privateKey,
    };
  }

  /**
   * Returns the pinned identity key of a change's author. An author we have
   * no contact with (an admin who added members before we joined) is
   * pinned on first use from its bundles, as a new chat would be.
   */
  private async authorIdentityKey(
    userId: string,
    sender?: { readonly userId: string; readonly identityKey: Bytes },
  ): Promise<Bytes> {
    if (userId === this.identity.userId) {
      return this.identity.identityKey.publicKey;
    }
    let contact = await this.store.contact(userId);
    // The sender of the envelope is pinned with the envelope's commit.
    if (!contact && sender?.userId === userId) return sender.identityKey;
    if (!contact) {
      await this.initiateSessions(userId);
      contact = await this.store.contact(userId);
    }
    if (!contact) {
      throw new ClientError('unknown-user', `${userId} has no identity key.`);
    }
    return contact.identityKey;
  }

  /**
   * Verifies signed changes in order on top of `row` (undefined before the
   * creation) and returns the new row with a notice per change. Throws the
   * `CryptoError` of the first change that fails; nothing is stored then.
   */
  private async acceptGroupChanges(
    groupId: string,
    row: GroupRow | undefined,
    changes: readonly Bytes[],
    sender?: { readonly userId: string; readonly identityKey: Bytes },
  ): Promise<{ row: GroupRow; notices: { id: string; text: string }[] }> {
    let state: GroupState | undefined = row ? groupStateOf(row) : undefined;
    const log = [...(row?.log ?? [])];
    const notices: { id: string; text: string }[] = [];
    let keyEpoch = row?.keyEpoch ?? 0;
    for (const bytes of changes) {
      const signed = decodeSignedGroupChange(bytes);
      const entry = decodeGroupStateEntry(signed.entry);
      if (toBase64Url(entry.groupId) !== groupId) {
        throw new CryptoError(
          'invalid-message',
          'acceptGroupChanges',
          'a change names another group than its content',
        );
      }
      const identityKey = await this.authorIdentityKey(entry.author, sender);
      state = await applyGroupChange(state, signed, identityKey);
      log.push(bytes);
      notices.push({
        id: `change-${entry.version}`,
        text: describeGroupChange(entry),
      });
      if (removesMember(entry)) keyEpoch++;
    }
    if (!state) {
      throw new CryptoError(
        'missing-group-change',
        'acceptGroupChanges',
        'no change to apply',
      );
    }
    return {
      row: {
        groupId,
        name: state.name,
        version: state.version,
        hash: state.hash,
        members: state.members,
        admins: state.admins,
        log,
        keyEpoch,
        ...(row?.pending ? { pending: row.pending } : {}),
      },
      notices,
    };
  }

  /**
   * Verifies the change that adds us to a group, received from `sender`
   * over a pairwise session, and returns our first row of the group with
   * its notice. Only the admin who signed the change may send it, because
   * that admin is the trust anchor of the member list it states (see
   * `applyJoiningChange`). A row kept from an earlier membership is
   * replaced only by a later version.
   */
  private async acceptJoiningChange(
    groupId: string,
    row: GroupRow | undefined,
    bytes: Bytes,
    sender: { readonly userId: string; readonly identityKey: Bytes },
  ): Promise<{ row: GroupRow; notices: { id: string; text: string }[] }> {
    const operation = 'acceptJoiningChange';
    const signed = decodeSignedGroupChange(bytes);
    const entry = decodeGroupStateEntry(signed.entry);
    if (toBase64Url(entry.groupId) !== groupId) {
      throw new CryptoError(
        'invalid-message',
        operation,
        'a change names another group than its content',
      );
    }
    if (entry.author !== sender.userId) {
      throw new CryptoError(
        'unauthorized-change',
        operation,
        `the change that adds us is signed by ${entry.author} but came from ${sender.userId}`,
      );
    }
    if (row && entry.version <= row.version) {
      throw new CryptoError(
        'replayed-group-change',
        operation,
        `entry version ${entry.version} is not after our last version ${row.version}`,
      );
    }
    const identityKey = await this.authorIdentityKey(entry.author, sender);
    const state = await applyJoiningChange(
      signed,
      identityKey,
      this.identity.userId,
    );
    return {
      row: {
        groupId,
        name: state.name,
        version: state.version,
        hash: state.hash,
        members: state.members,
        admins: state.admins,
        log: [bytes],
        // A new epoch, so that a sender key from an earlier membership is
        // replaced before our next message.
        keyEpoch: (row?.keyEpoch ?? 0) + (row ? 1 : 0),
      },
      notices: [
        { id: `change-${entry.version}`, text: describeGroupChange(entry) },
      ],
    };
  }

  private async storeGroup(
    row: GroupRow,
    notices: readonly { id: string; text: string }[],
  ): Promise<void> {
    const [first, ...rest] = notices;
    await this.store.putGroup(row, first, this.now());
    for (const notice of rest) {
      await this.store.addNotice(
        groupConversationId(row.groupId),
        notice.id,
        notice.text,
        this.now(),
      );
    }
    this.onChange({
      type: 'messages',
      peerId: groupConversationId(row.groupId),
    });
    this.onChange({ type: 'conversations' });
  }

  /**
   * Verifies a group change received over a pairwise session and returns
   * the new state for the caller to commit with the envelope. A change that
   * no admin signed, that forks or replays the log, or that does not follow
   * the verified state is rejected: the state stays as it was and the
   * thread shows a warning. A change that skips versions is kept pending,
   * and the sender is asked for the entries between.
   */
  private async acceptReceivedGroupChange(
    content: GroupChangeContent,
    sender: { readonly userId: string; readonly identityKey: Bytes },
  ): Promise<GroupUpdate | undefined> {
    const groupId = content.groupId;
    const row = await this.store.group(groupId);
    const change = fromBase64Url(content.change);
    if (!row?.members.includes(this.identity.userId)) {
      try {
        return await this.acceptJoiningChange(groupId, row, change, sender);
      } catch (error) {
        await this.warnRejectedChange(undefined, error);
        return undefined;
      }
    }
    return this.advanceGroup(row, [change], sender, false);
  }

  /**
   * Applies the entries of a log reply, together with the pending ones,
   * to a group we are a member of. Entries are verified one by one, as if
   * each had arrived alone, so a dishonest reply changes nothing.
   */
  private async acceptGroupLog(
    content: GroupLogContent,
    sender: { readonly userId: string; readonly identityKey: Bytes },
  ): Promise<GroupUpdate | undefined> {
    const row = await this.store.group(content.groupId);
    if (!row?.members.includes(this.identity.userId)) {
      log.warn('group log for a group without us dropped');
      return undefined;
    }
    const entries = content.entries.map((entry) => fromBase64Url(entry));
    return this.advanceGroup(row, entries, sender, true);
  }

  /**
   * Applies received signed changes and the group's pending ones in version
   * order on top of `row`. A change for the next version is verified and
   * applied, one for a later version is kept pending (at most
   * `MAX_PENDING_GROUP_CHANGES`, lowest versions first), and one equal to
   * an entry of our log is ignored. Every other change is rejected with a
   * warning, including a second, different entry for a version we have
   * (a fork). Returns undefined when nothing changed. When changes remain
   * pending, the update asks the sender for the entries before them: after
   * a change that became pending, or after a log reply that made progress.
   */
  private async advanceGroup(
    row: GroupRow,
    received: readonly Bytes[],
    sender: { readonly userId: string; readonly identityKey: Bytes },
    isLogReply: boolean,
  ): Promise<GroupUpdate | undefined> {
    const known = row.pending ?? [];
    const candidates: { bytes: Bytes; version: number }[] = [];
    for (const bytes of [...known, ...received]) {
      try {
        const version = groupChangeVersion(bytes, row.groupId);
        if (!candidates.some((other) => equalBytes(other.bytes, bytes))) {
          candidates.push({ bytes, version });
        }
      } catch (error) {
        await this.warnRejectedChange(row.groupId, error);
      }
    }
    candidates.sort((a, b) => a.version - b.version);

    let current = row;
    const notices: { id: string; text: string }[] = [];
    const pending: Bytes[] = [];
    for (const candidate of candidates) {
      if (candidate.version > current.version + 1) {
        pending.push(candidate.bytes);
        continue;
      }
      if (loggedChange(current, candidate.version, candidate.bytes)) continue;
      try {
        const accepted = await this.acceptGroupChanges(
          row.groupId,
          current,
          [candidate.bytes],
          sender,
        );
        current = accepted.row;
        notices.push(...accepted.notices);
      } catch (error) {
        await this.warnRejectedChange(row.groupId, error);
      }
    }

    const kept = pending.slice(0, MAX_PENDING_GROUP_CHANGES);
    if (kept.length < pending.length) {
      log.warn('pending group changes dropped', {
        dropped: pending.length - kept.length,
      });
    }
    const progressed = current.version > row.version;
    const pendingChanged =
      kept.length !== known.length ||
      kept.some((bytes, i) => !equalBytes(bytes, known[i] ?? new Uint8Array()));
    if (!progressed && !pendingChanged) return undefined;

    const update: GroupUpdate = {
      row: { ...current, pending: kept.length > 0 ? kept : undefined },
      notices,
    };
    const [lowest] = kept;
    // NOTE: only the sender of this content is asked. When it lacks the
    // entries too (it joined after them), the changes stay pending until a
    // later change or reply fills the gap.
    const asks = isLogReply ? progressed : pendingChanged;
    if (lowest === undefined || !asks) return update;
    const fromVersion = current.version + 1;
    const toVersion = Math.min(
      groupChangeVersion(lowest, row.groupId) - 1,
      fromVersion + MAX_GROUP_LOG_REQUEST_VERSIONS - 1,
    );
    return {
      ...update,
      request: {
        userId: sender.userId,
        groupId: row.groupId,
        fromVersion,
        toVersion,
      },
    };
  }

  /** Shows a warning for a rejected group change, in its thread if known. */
  private async warnRejectedChange(
    groupId: string | undefined,
    error: unknown,
  ): Promise<void> {
    log.error('group change rejected', error);
    const warning =
      'A change to this group was rejected because it is not signed ' +
      'by an admin or does not follow the verified member list. The ' +
      'member list stays as it was.';
    this.onError(
      new ClientError('group-change-rejected', warning, { cause: error }),
    );
    if (groupId === undefined) return;
    const conversationId = groupConversationId(groupId);
    try {
      await this.store.addNotice(
        conversationId,
        `rejected-${toBase64Url(this.random.bytes(16))}`,
        warning,
        this.now(),
      );
      this.onChange({ type: 'messages', peerId: conversationId });
    } catch (cause) {
      log.error('rejection notice failed', cause);
    }
  }

  /** Asks a member for the group-state entries we are missing. */
  private async requestGroupLog(request: GroupLogRequest): Promise<void> {
    log.info('group log requested', {
      versions: request.toVersion - request.fromVersion + 1,
    });
    await this.sendPairwise(request.userId, {
      v: 1,
      type: 'group-log-request',
      groupId: request.groupId,
      fromVersion: request.fromVersion,
      toVersion: request.toVersion,
    });
  }

  /**
   * Counts one reply to a group-log request from one member of one group,
   * and returns false over `LOG_REPLIES_PER_WINDOW` per `LOG_REPLY_WINDOW_MS`.
   */
  private takeLogReply(key: string): boolean {
    const now = this.now();
    const recent = (this.logReplies.get(key) ?? []).filter(
      (time) => now - time < LOG_REPLY_WINDOW_MS,
    );
    if (recent.length >= LOG_REPLIES_PER_WINDOW) return false;
    if (this.logReplies.size >= MAX_LOG_REPLY_KEYS) this.logReplies.clear();
    this.logReplies.set(key, [...recent, now]);
    return true;
  }

  /**
   * Sends a member the entries of our log in the requested range, as many
   * as fit in one envelope. Only a member of our verified state gets them,
   * because the entries name every member.
   */
  private async answerGroupLogRequest(
    userId: string,
    content: GroupLogRequestContent,
  ): Promise<void> {
    const row = await this.store.group(content.groupId);
    const self = this.identity.userId;
    if (!row?.members.includes(userId) || !row.members.includes(self)) {
      log.warn('group log request from a non-member dropped');
      return;
    }
    if (!this.takeLogReply(`${content.groupId} ${userId}`)) {
      // Each reply may fill an envelope, so a member asking in a loop
      // would spend our send allowance at the relay.
      log.warn('group log request over the reply limit dropped');
      return;
    }
    const [first] = row.log;
    if (first === undefined) return;
    const firstVersion = groupChangeVersion(first, row.groupId);
    const entries: string[] = [];
    let chars = 0;
    for (
      let version = content.fromVersion;
      version <= content.toVersion;
      version++
    ) {
      const bytes = row.log[version - firstVersion];
      if (bytes === undefined) continue;
      const entry = toBase64Url(bytes);
      if (chars + entry.length > MAX_GROUP_LOG_REPLY_CHARS) break;
      entries.push(entry);
      chars += entry.length;
    }
    log.info('group log reply sent', { entries: entries.length });
    if (entries.length === 0) return;
    await this.sendPairwise(userId, {
      v: 1,
      type: 'group-log',
      groupId: row.groupId,
      entries,
    });
  }

  /**
   * Stores a member device's sender key and returns true once it is stored.
   * Membership is checked when its messages arrive, so a distribution that
   * overtakes the change adding its sender is kept.
   */
  private async receiveSenderKey(
    from: Address,
    content: SenderKeyContent,
  ): Promise<boolean> {
    try {
      const distribution = decodeSenderKeyDistribution(
        fromBase64Url(content.distribution),
      );
      if (toBase64Url(distribution.groupId) !== content.groupId) {
        throw new CryptoError(
          'invalid-message',
          'receiveSenderKey',
          'distribution names another group than its content',
        );
      }
      const id = senderKeyRecordId(
        content.groupId,
        from,
        distribution.distributionId,
      );
      const record = await this.store.senderKeyRecord(id);
      await this.store.putSenderKeyRecord(
        id,
        processSenderKeyDistribution(record, distribution),
      );
      return true;
    } catch (error) {
      log.error('sender key dropped', error);
      return false;
    }
  }

  /**
   * Decrypts a group message from a member of the verified state. A message
   * that cannot be decrypted yet, because its sender key or the change
   * that makes its sender a member has not arrived, is held in IndexedDB
   * and acknowledged only once it is stored there. Other messages that
   * fail are dropped.
   */
  private async receiveGroupMessage(envelope: Envelope): Promise<void> {
    await this.expireHeldGroupMessages();
    let attempt: GroupMessageAttempt;
    try {
      attempt = await this.attemptGroupMessage(envelope);
    } catch (error) {
      this.reportGroupMessageFailure(envelope, error);
      await this.acknowledge(envelope.id);
      return;
    }
    if (attempt.status === 'waiting') {
      try {
        await this.holdGroupMessage(attempt.groupId, envelope);
      } catch (error) {
        // Not acknowledged, so the relay delivers the envelope again.
        log.error('group message hold failed', error);
        return;
      }
    }
    await this.acknowledge(envelope.id);
  }

  /**
   * Tries to decrypt and commit a group message, in its sender's queue.
   * Returns `waiting` when the sender is not a member of our verified
   * state yet, or we have no sender key state for its chain. Throws for
   * a message that will never decrypt.
   */
  private async attemptGroupMessage(
    envelope: Envelope,
  ): Promise<GroupMessageAttempt> {
    const from = envelope.from;
    const body = fromBase64Url(envelope.body);
    const header = parseGroupMessageHeader(body);
    const groupId = toBase64Url(header.groupId);
    const conversationId = groupConversationId(groupId);
    const row = await this.store.group(groupId);
    if (row && !row.members.includes(this.identity.userId)) {
      throw new ClientError(
        'not-group-member',
        `A group message from ${from.userId} was dropped, because you are ` +
          'no longer a member of the group.',
      );
    }
    if (!row?.members.includes(from.userId)) {
      return { status: 'waiting', groupId };
    }
    const recordId = senderKeyRecordId(groupId, from, header.distributionId);
    const record = await this.store.senderKeyRecord(recordId);
    if (!record) return { status: 'waiting', groupId };
    let decrypted;
    try {
      decrypted = await decryptGroupMessage(record, from, body);
    } catch (error) {
      // A newer chain of this sender whose distribution has not arrived.
      if (CryptoError.is(error, 'unknown-sender-key')) {
        return { status: 'waiting', groupId };
      }
      throw error;
    }
    const content = parseContent(decrypted.plaintext);
    const text =
      content?.type === 'text' && content.groupId === groupId
        ? {
            messageId: content.messageId,
            text: content.text,
            sentAt: content.sentAt,
          }
        : undefined;
    const newMessage = await this.store.commitGroupReceived({
      envelopeId: envelope.id,
      conversationId,
      recordId,
      record: decrypted.record,
      text,
      unread: this.activePeer !== conversationId,
      now: this.now(),
    });
    if (newMessage) {
      this.onChange({ type: 'messages', peerId: conversationId });
      this.onChange({ type: 'conversations' });
    }
    return { status: 'done' };
  }

  private reportGroupMessageFailure(envelope: Envelope, error: unknown): void {
    log.error('group message dropped', error);
    if (CryptoError.is(error, 'duplicate-message')) return;
    this.onError(
      ClientError.is(error)
        ? error
        : new ClientError(
            'decryption-failed',
            `A group message from ${envelope.from.userId} could not be ` +
              'decrypted and was dropped.',
            { cause: error },
          ),
    );
  }

  /**
   * Stores a group envelope until it can be decrypted. When the bounds
   * push older held envelopes out, their threads show a notice.
   */
  private async holdGroupMessage(
    groupId: string,
    envelope: Envelope,
  ): Promise<void> {
    const dropped = await this.store.holdGroupMessage(
      groupId,
      envelope,
      {
        perSender: MAX_HELD_GROUP_MESSAGES_PER_SENDER,
        perGroup: MAX_HELD_GROUP_MESSAGES_PER_GROUP,
        total: MAX_HELD_GROUP_MESSAGES,
      },
      this.now(),
    );
    log.info('group message held', { dropped: dropped.length });
    await this.noticeDeletedHeldMessages(dropped, 'overflow');
  }

  /**
   * Tries a group's held messages again, each in its sender's queue, in
   * the order they were held. Those that still wait stay held.
   */
  private async retryHeldGroupMessages(groupId: string): Promise<void> {
    const bySender = new Map<string, HeldGroupMessageRow[]>();
    for (const row of await this.store.heldGroupMessages(groupId)) {
      const rows = bySender.get(row.envelope.from.userId) ?? [];
      rows.push(row);
      bySender.set(row.envelope.from.userId, rows);
    }
    for (const [userId, rows] of bySender) {
      await this.queue.run(userId, async () => {
        for (const row of rows) await this.retryHeldGroupMessage(row);
      });
    }
  }

  private async retryHeldGroupMessage(row: HeldGroupMessageRow): Promise<void> {
    try {
      if (await this.store.isProcessed(row.id)) {
        await this.store.deleteHeldGroupMessage(row.id);
        return;
      }
      const attempt = await this.attemptGroupMessage(row.envelope);
      if (attempt.status === 'done') log.info('held group message decrypted');
    } catch (error) {
      await this.store
        .deleteHeldGroupMessage(row.id)
        .catch((cause: unknown) => log.error('held delete failed', cause));
      this.reportGroupMessageFailure(row.envelope, error);
    }
  }

  /**
   * Deletes the group envelopes held for longer than
   * `HELD_GROUP_MESSAGE_TTL_MS`, each with a notice in its thread.
   */
  async expireHeldGroupMessages(): Promise<void> {
    const expired = await this.store.takeExpiredGroupMessages(
      this.now() - HELD_GROUP_MESSAGE_TTL_MS,
    );
    if (expired.length === 0) return;
    log.info('held group messages expired', { count: expired.length });
    await this.noticeDeletedHeldMessages(expired, 'expired');
  }

  /**
   * Adds a notice for each deleted held envelope to the thread of its
   * group, when we are a member of that group. A group we never joined has
   * no thread, and its envelopes go without a notice.
   */
  private async noticeDeletedHeldMessages(
    rows: readonly HeldGroupMessageRow[],
    reason: 'expired' | 'overflow',
  ): Promise<void> {
    for (const row of rows) {
      const group = await this.store.group(row.groupId);
      if (!group?.members.includes(this.identity.userId)) continue;
      const conversationId = groupConversationId(row.groupId);
      await this.store.addNotice(
        conversationId,
        `held-${row.id}`,
        heldMessageNotice(row.envelope.from.userId, reason),
        this.now(),
      );
      this.onChange({ type: 'messages', peerId: conversationId });
    }
  }

  /** Returns a group's verified membership, or undefined if unknown. */
  async groupInfo(conversationId: string): Promise<GroupInfo | undefined> {
    const groupId = groupIdOf(conversationId);
    const row =
      groupId === undefined ? undefined : await this.store.group(groupId);
    if (!row) return undefined;
    const self = this.identity.userId;
    return {
      name: row.name,
      members: row.members,
      admins: row.admins,
      isMember: row.members.includes(self),
      isAdmin: row.admins.includes(self),
    };
  }

  /** Creates a group with us as its only member and admin. */
  async createGroup(name: string, givenId?: string): Promise<string> {
    const trimmed = checkedGroupName(name);
    if (givenId !== undefined) {
      // A repeated request (another tab's, after a leader change) finds the
      // group that the first one created.
      const existing = await this.store.group(givenId);
      if (existing) return groupConversationId(givenId);
    }
    const groupIdBytes =
      givenId === undefined
        ? this.random.bytes(GROUP_ID_LENGTH)
        : checkedGroupId(givenId);
    const groupId = toBase64Url(groupIdBytes);
    const signed = await createGroup(
      groupIdBytes,
      trimmed,
      [],
      this.groupAuthor(),
      this.now(),
    );
    const conversationId = groupConversationId(groupId);
    await this.queue.run(conversationId, async () => {
      const accepted = await this.acceptGroupChanges(groupId, undefined, [
        encodeSignedGroupChange(signed),
      ]);
      await this.storeGroup(accepted.row, accepted.notices);
    });
    log.info('group created');
    return conversationId;
  }

  /** Adds a user to a group we administer; the user reads from now on. */
  async addGroupMember(
    conversationId: string,
    username: string,
  ): Promise<void> {
    const parsed = Username.safeParse(username);
    if (!parsed.success) {
      throw new ClientError(
        'invalid-username',
        `"${username.trim()}" is not a valid username: ` +
          (parsed.error.issues[0]?.message ?? 'invalid'),
      );
    }
    const userId = parsed.data;
    await this.queue.run(userId, async () => {
      if ((await this.store.sessionAddresses(userId)).length === 0) {
        await this.initiateSessions(userId);
      }
    });
    await this.changeGroup(conversationId, { type: 'add', userIds: [userId] });
  }

  /** Renames a group we administer. */
  async renameGroup(conversationId: string, name: string): Promise<void> {
    await this.changeGroup(conversationId, {
      type: 'rename',
      name: checkedGroupName(name),
    });
  }

  /** Makes a member an admin (`admin` true) or a plain member again. */
  setGroupAdmin(
    conversationId: string,
    userId: string,
    admin: boolean,
  ): Promise<void> {
    return this.changeGroup(conversationId, {
      type: admin ? 'promote' : 'demote',
      userIds: [userId],
    });
  }

  /** Removes a member from a group we administer. */
  removeGroupMember(conversationId: string, userId: string): Promise<void> {
    return this.changeGroup(conversationId, {
      type: 'remove',
      userIds: [userId],
    });
  }

  /**
   * Leaves a group. When we are its last admin, another member is made an
   * admin first, so that the group can still change.
   */
  async leaveGroup(conversationId: string): Promise<void> {
    const info = await this.groupInfo(conversationId);
    const self = this.identity.userId;
    const successor = info?.members.find((member) => member !== self);
    if (info?.isAdmin && info.admins.length === 1 && successor) {
      await this.changeGroup(conversationId, {
        type: 'promote',
        userIds: [successor],
      });
    }
    await this.changeGroup(conversationId, { type: 'leave' });
  }

  /**
   * Signs a change, applies it to our verified state and sends it over the
   * pairwise sessions to every member before and after it. A new member
   * gets only this change and starts its verified state from it.
   */
  private async changeGroup(
    conversationId: string,
    change: GroupChange,
  ): Promise<void> {
    const groupId = groupIdOf(conversationId);
    if (groupId === undefined) {
      throw new ClientError('not-group-member', 'This is not a group.');
    }
    const result = await this.queue.run(conversationId, async () => {
      const row = await this.store.group(groupId);
      if (!row?.members.includes(this.identity.userId)) {
        throw new ClientError(
          'not-group-member',
          'You are no longer a member of this group.',
        );
      }
      let signed: SignedGroupChange;
      try {
        signed = await signGroupChange(
          groupStateOf(row),
          change,
          this.groupAuthor(),
          this.now(),
        );
      } catch (error) {
        throw new ClientError(
          'invalid-message',
          CryptoError.is(error, 'unauthorized-change')
            ? 'Only an admin of the group can do that.'
            : 'That change does not apply to the current member list.',
          { cause: error },
        );
      }
      const encoded = encodeSignedGroupChange(signed);
      const accepted = await this.acceptGroupChanges(groupId, row, [encoded]);
      await this.storeGroup(accepted.row, accepted.notices);
      return { before: row, after: accepted.row, encoded };
    });
    const self = this.identity.userId;
    const recipients = [
      ...new Set([...result.before.members, ...result.after.members]),
    ].filter((member) => member !== self);
    const content: Content = {
      v: 1,
      type: 'group-change',
      groupId,
      change: toBase64Url(result.encoded),
    };
    await forEachLimited(recipients, PAIRWISE_FAN_OUT, (member) =>
      this.sendPairwise(member, content),
    );
  }

  /** Encrypts a content for every device of a member and sends it in order. */
  private async sendPairwise(userId: string, content: Content): Promise<void> {
    const outbox = await this.queue.run(userId, () =>
      this.encryptForContact(userId, content, undefined),
    );
    for (const item of outbox) await this.deliver(item);
  }

  /**
   * Encrypts a text once with our sender key and sends one envelope to
   * every device of the verified members. Our chain is replaced first when
   * a member left since it was made, or when it is due; each member device
   * without its distribution gets it over a pairwise session first.
   */
  private sendGroupText(
    groupId: string,
    text: string,
    givenId: string | undefined,
  ): Promise<void> {
    const conversationId = groupConversationId(groupId);
    return this.queue.run(`send:${conversationId}`, async () => {
      const stored = await this.unsentMessage(conversationId, givenId);
      if (stored === 'sent') return;
      const row = await this.store.group(groupId);
      if (!row?.members.includes(this.identity.userId)) {
        throw new ClientError(
          'not-group-member',
          'You are no longer a member of this group.',
        );
      }
      const messageId = givenId ?? toBase64Url(this.random.bytes(16));
      const message =
        stored ??
        (await this.store.addOutgoingMessage(
          conversationId,
          messageId,
          text,
          this.now(),
        ));
      const sentAt = message.sentAt;
      this.onChange({ type: 'messages', peerId: conversationId });
      this.onChange({ type: 'conversations' });
      let item: OutboxRow | undefined;
      try {
        item = await this.encryptForGroup(
          row,
          { v: 1, type: 'text', messageId, sentAt, text, groupId },
          message.key,
        );
      } catch (error) {
        await this.store.setMessageState(message.key, 'failed');
        this.onChange({ type: 'messages', peerId: conversationId });
        throw error;
      }
      if (!item) {
        await this.store.setMessageState(message.key, 'sent');
        this.onChange({ type: 'messages', peerId: conversationId });
        return;
      }
      await this.deliver(item);
    });
  }

  private async encryptForGroup(
    row: GroupRow,
    content: Content,
    messageRowKey: string,
  ): Promise<OutboxRow | undefined> {
    const now = this.now();
    let own: StoredOwnSenderKey | undefined = await this.store.ownSenderKey(
      row.groupId,
    );
    if (
      !own ||
      own.keyEpoch !== row.keyEpoch ||
      needsRotation(own.senderKey, now)
    ) {
      const senderKey = own
        ? await rotateSenderKey(own.senderKey, this.random, now)
        : await createSenderKey(fromBase64Url(row.groupId), this.random, now);
      own = { senderKey, keyEpoch: row.keyEpoch, distributedTo: [] };
      log.info('sender key replaced');
    }

    const recipients: Address[] = [];
    for (const member of row.members) {
      if (member === this.identity.userId) continue;
      let addresses = await this.store.sessionAddresses(member);
      if (addresses.length === 0) {
        await this.queue.run(member, () => this.initiateSessions(member));
        addresses = await this.store.sessionAddresses(member);
      }
      recipients.push(...addresses);
    }
    if (recipients.length === 0) return undefined;

    const distributedTo = new Set(own.distributedTo);
    const distribution: Content = {
      v: 1,
      type: 'sender-key',
      groupId: row.groupId,
      distribution: toBase64Url(
        encodeSenderKeyDistribution(senderKeyDistribution(own.senderKey)),
      ),
    };
    const missing = recipients.filter(
      (address) => !distributedTo.has(addressKey(address)),
    );
    const missingUsers = [...new Set(missing.map(({ userId }) => userId))];
    await forEachLimited(missingUsers, PAIRWISE_FAN_OUT, async (userId) => {
      await this.sendPairwise(userId, distribution);
      for (const address of missing) {
        if (address.userId === userId) distributedTo.add(addressKey(address));
      }
    });

    const encrypted = await encryptGroupMessage(
      own.senderKey,
      this.self,
      encodeContent(content),
      this.random,
    );
    const id = toBase64Url(this.random.bytes(16));
    const item: OutboxRow = {
      id,
      envelope: {
        v: 1,
        kind: 'group',
        id,
        to: recipients,
        body: toBase64Url(encrypted.message),
      },
      peerId: groupConversationId(row.groupId),
      messageKey: messageRowKey,
      createdAt: now,
    };
    await this.store.commitGroupEncrypted(
      row.groupId,
      {
        senderKey: encrypted.senderKey,
        keyEpoch: own.keyEpoch,
        distributedTo: [...distributedTo],
      },
      [],
      [item],
      now,
    );
    return item;
  }

  // Prekeys.

  /**
   * Tops the one-time prekey pools up to `ONE_TIME_PREKEY_POOL_SIZE` when
   * either is below the refill threshold. Private keys are stored before
   * the public halves are published. Concurrent calls share one refill.
   */
  refillPrekeys(counts: PrekeyCounts): Promise<void> {
    const parsed = PrekeyCounts.safeParse(counts);
    if (!parsed.success) return Promise.resolve();
    const lowest = Math.min(
      parsed.data.oneTimePrekeys,
      parsed.data.oneTimePqPrekeys,
    );
    if (lowest >= ONE_TIME_PREKEY_REFILL_THRESHOLD) return Promise.resolve();
    log.info('one-time prekeys low', {
      oneTimePrekeys: parsed.data.oneTimePrekeys,
      oneTimePqPrekeys: parsed.data.oneTimePqPrekeys,
      refillRunning: this.refill !== undefined,
    });
    this.refill ??= this.uploadPrekeys(ONE_TIME_PREKEY_POOL_SIZE - lowest)
      .catch((error: unknown) => log.error('prekey refill failed', error))
      .finally(() => {
        this.refill = undefined;
      });
    return this.refill;
  }

  private async uploadPrekeys(count: number): Promise<void> {
    const settings = await this.store.settings();
    const first = settings.nextOneTimePrekeyId;
    const generated = await this.protocol.generateOneTimePrekeys(
      this.identity,
      first,
      count,
      this.random,
    );
    await this.store.addOneTimePrekeys(
      generated.oneTimePrekeys.map((prekey) => ({
        keyId: prekey.keyId,
        privateKey: prekey.keyPair.privateKey,
        publicKey: prekey.keyPair.publicKey,
      })),
      generated.oneTimePqPrekeys.map((prekey) => ({
        keyId: prekey.keyId,
        secretKey: prekey.keyPair.secretKey,
        publicKey: prekey.keyPair.publicKey,
        signature: prekey.signature,
      })),
      first + count,
    );
    await this.transport.request('keys:upload', {
      oneTimePrekeys: generated.oneTimePrekeys.map((prekey) => ({
        keyId: prekey.keyId,
        publicKey: toBase64Url(prekey.keyPair.publicKey),
      })),
      oneTimePqPrekeys: generated.oneTimePqPrekeys.map(toWirePqPrekey),
    });
    log.info('one-time prekeys uploaded', {
      count,
      firstKeyId: first,
      lastKeyId: first + count - 1,
    });
  }

  /**
   * Replaces the signed prekey and the last-resort PQ prekey once the
   * signed one is `PREKEY_ROTATION_MS` old, and publishes both. Concurrent
   * calls share one rotation.
   */
  rotatePrekeysIfDue(): Promise<void> {
    this.rotation ??= this.rotatePrekeys()
      .catch((error: unknown) => log.error('prekey rotation failed', error))
      .finally(() => {
        this.rotation = undefined;
      });
    return this.rotation;
  }

  private async rotatePrekeys(): Promise<void> {
    const now = this.now();
    const current = await this.store.currentRotatingPrekeys();
    const age = now - (current.signedPrekey?.createdAt ?? 0);
    if (current.signedPrekey && age < PREKEY_ROTATION_MS) return;

    const signedPrekey = await this.protocol.generateSignedPrekey(
      this.identity,
      (current.signedPrekey?.keyId ?? 0) + 1,
      this.random,
      now,
    );
    const lastResort = await this.protocol.generatePqPrekey(
      this.identity,
      (current.lastResortKeyId ?? LAST_RESORT_KEY_ID_BASE) + 1,
      true,
      this.random,
    );
    const deleted = await this.store.addRotatedPrekeys(
      signedPrekey,
      lastResort,
      now,
      REPLACED_PREKEY_RETENTION_MS,
    );
    // NOTE: if this upload fails, the relay keeps handing out the replaced
    // keys (still valid for 30 days) until the next rotation is due.
    await this.transport.request('keys:upload', {
      signedPrekey: {
        keyId: signedPrekey.keyId,
        publicKey: toBase64Url(signedPrekey.keyPair.publicKey),
        signature: toBase64Url(signedPrekey.signature),
      },
      lastResortPqPrekey: toWirePqPrekey(lastResort),
      oneTimePrekeys: [],
      oneTimePqPrekeys: [],
    });
    log.info('signed prekey rotated', {
      signedPrekeyId: signedPrekey.keyId,
      lastResortKeyId: lastResort.keyId,
      replacedKeysDeleted: deleted,
    });
  }
}
