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
  fromBase64Url,
  toBase64Url,
} from '../../../shared/crypto/bytes';
import { CryptoError } from '../../../shared/crypto/errors';
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
  encodeContent,
  MAX_RECEIPT_MESSAGE_IDS,
  MAX_TEXT_LENGTH,
} from '../../../shared/wire/content';
import {
  ONE_TIME_PREKEY_POOL_SIZE,
  ONE_TIME_PREKEY_REFILL_THRESHOLD,
} from '../../../shared/wire/limits';
import {
  type Address,
  type Envelope,
  PrekeyBundle,
  PrekeyCounts,
  SendResult,
  Username,
} from '../../../shared/wire/schemas';
import { ClientError, identityChanged, untrustedMessage } from '../errors';
import type { LocalStore, SerializedSession } from '../storage/local-store';
import type { OutboxRow } from '../storage/schema';
import { createLogger } from './logger';
import { cloakProtocol, type Protocol } from './protocol';
import { KeyedQueue } from './queue';
import { RelayError, type Transport } from './transport';

const log = createLogger('engine');

/** Change notice, so that the user interface reloads only the changed part. */
export type EngineChange =
  | { readonly type: 'conversations' }
  | { readonly type: 'messages'; readonly peerId: string };

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

function sameAddress(a: Address, b: Address): boolean {
  return a.userId === b.userId && a.deviceId === b.deviceId;
}

export class Engine {
  private readonly store: LocalStore;
  private readonly identity: LocalIdentity;
  private readonly transport: Transport;
  private readonly protocol: Protocol;
  private readonly random: RandomSource;
  private readonly now: () => number;
  private readonly onChange: (change: EngineChange) => void;
  private readonly onError: (error: ClientError) => void;

  private readonly queue = new KeyedQueue();
  /** Contacts whose identity key changed. Sending to them is blocked. */
  private readonly blockedPeers = new Set<string>();
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

  /** Processes one envelope pushed by the relay. */
  receive(envelope: Envelope): Promise<void> {
    return this.queue.run(envelope.from.userId, () =>
      this.receiveInQueue(envelope),
    );
  }

  private async receiveInQueue(envelope: Envelope): Promise<void> {
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
      await this.handleDecryptionFailure(envelope, error);
      return;
    }

    const content = parseContent(decrypted.plaintext);
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
          content?.type === 'text'
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
        unread: this.activePeer !== from.userId,
        now: this.now(),
      });
    } catch (error) {
      // Nothing was written, so the relay keeps the envelope for later.
      this.reportIdentityChange(from.userId, error);
      log.error('receive commit failed', error);
      return;
    }

    await this.acknowledge(envelope.id);
    if (outcome.status === 'duplicate') return;
    const changed =
      outcome.newMessage ||
      outcome.delivered > 0 ||
      decrypted.droppedMessageKeys > 0;
    if (changed) {
      this.onChange({ type: 'messages', peerId: from.userId });
      this.onChange({ type: 'conversations' });
    }
    if (content?.type === 'text' && outcome.newMessage) {
      void this.sendReceipt(from, [content.messageId]);
    }
  }

  private async handleDecryptionFailure(
    envelope: Envelope,
    error: unknown,
  ): Promise<void> {
    if (CryptoError.is(error, 'untrusted-identity')) {
      this.blockedPeers.add(envelope.from.userId);
      this.onError(untrustedMessage(envelope.from.userId));
      // NOTE: nothing accepts a changed identity key yet. The envelope stays
      // unacknowledged, so the relay delivers it again after each sign-in
      // and the alert comes back.
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

  /** Shows and records an identity key change; returns whether it was one. */
  private reportIdentityChange(peerId: string, error: unknown): boolean {
    const changed =
      CryptoError.is(error, 'untrusted-identity') ||
      ClientError.is(error, 'identity-changed');
    if (!changed) return false;
    this.blockedPeers.add(peerId);
    this.onError(identityChanged(peerId));
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
      await this.initiateSessions(peerId);
      this.onChange({ type: 'conversations' });
      return peerId;
    });
  }

  /** Encrypts and sends a text message to every device of a contact. */
  sendText(peerId: string, text: string): Promise<void> {
    if (text.length === 0 || text.length > MAX_TEXT_LENGTH) {
      return Promise.reject(
        new ClientError(
          'invalid-message',
          `A message must have 1 to ${MAX_TEXT_LENGTH} characters.`,
        ),
      );
    }
    return this.queue.run(peerId, async () => {
      if (this.blockedPeers.has(peerId)) throw identityChanged(peerId);
      const messageId = toBase64Url(this.random.bytes(16));
      const sentAt = this.now();
      const row = await this.store.addOutgoingMessage(
        peerId,
        messageId,
        text,
        sentAt,
      );
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

  /** Fetches the prekey bundles of every device of a contact. */
  private async fetchBundles(peerId: string): Promise<PrekeyBundle[]> {
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
      return reply.bundles;
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
  }

  /**
   * Fetches a contact's prekey bundles, starts a session with each device
   * and pins the contact's identity key on first use.
   */
  private async initiateSessions(peerId: string): Promise<void> {
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
    log.info('prekeys uploaded', { count });
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
    await this.store.addRotatedPrekeys(
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
    log.info('signed prekey rotated');
  }
}
