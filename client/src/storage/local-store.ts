/**
 * Reads and writes of one account's IndexedDB, with sealing. Secret bytes
 * are sealed with the storage key before a transaction opens, because an
 * IndexedDB transaction commits by itself as soon as it waits for anything
 * but its own requests. Each method that changes several stores does so in
 * one transaction, so a crash leaves either all or none of its writes.
 */
import type { IDBPIndex, IDBPTransaction, StoreNames } from 'idb';
import {
  type Bytes,
  constantTimeEqual,
  fromUtf8,
  toBase64Url,
  toHex,
  utf8,
} from '../../../shared/crypto/bytes';
import type {
  AccountKeys,
  LocalIdentity,
  PqPrekeyPair,
  SignedPrekeyPair,
} from '../../../shared/crypto/keys';
import type { RandomSource } from '../../../shared/crypto/random';
import { openRecord, sealRecord } from '../../../shared/crypto/sealed-storage';
import { SecretBytes } from '../../../shared/crypto/secret-bytes';
import {
  openOwnSenderKey,
  openSenderKeyRecord,
  type OwnSenderKey,
  sealOwnSenderKey,
  sealSenderKeyRecord,
  type SenderKeyRecord,
} from '../../../shared/crypto/sender-key';
import type { PrekeyLookup } from '../../../shared/crypto/session';
import type {
  Address,
  Envelope,
  RegisterRequest,
} from '../../../shared/wire/schemas';
import { ClientError, identityChanged } from '../errors';
import type { CloakDb } from './db';
import { inRatchetOrder, type RatchetPosition } from './thread-order';
import {
  type CloakSchema,
  type ContactRow,
  type ConversationRow,
  type GroupRow,
  type HeldGroupMessageRow,
  type MessageRow,
  type MessageState,
  type OutboxRow,
  type PrekeyRow,
  type PrekeyType,
  SELF,
  type SettingsRow,
} from './schema';

/** Record kinds bound into the associated data of every sealed record. */
export const RecordKind = {
  session: 'session',
  message: 'message',
  pqPrekey: 'pq-prekey',
} as const;

/** Schema version of sealed records, bound into their associated data. */
export const SEALED_RECORD_VERSION = 1;

export function addressKey(address: Address): string {
  return `${address.userId}.${address.deviceId}`;
}

export function prekeyRowId(type: PrekeyType, keyId: number): string {
  return `${type}:${keyId}`;
}

export function messageKey(peerId: string, messageId: string): string {
  return `${peerId}/${messageId}`;
}

const GROUP_PREFIX = 'group:';

/** Returns the conversation id of a group, from its base64url group id. */
export function groupConversationId(groupId: string): string {
  return `${GROUP_PREFIX}${groupId}`;
}

/** Returns the base64url group id of a group conversation, or undefined. */
export function groupIdOf(conversationId: string): string | undefined {
  return conversationId.startsWith(GROUP_PREFIX)
    ? conversationId.slice(GROUP_PREFIX.length)
    : undefined;
}

/** Our sender key in one group, with what the store keeps beside it. */
export interface StoredOwnSenderKey {
  readonly senderKey: OwnSenderKey;
  readonly keyEpoch: number;
  readonly distributedTo: readonly string[];
}

/** One decrypted group message, committed with its sender key record. */
export interface GroupReceivedCommit {
  readonly envelopeId: string;
  readonly conversationId: string;
  readonly recordId: string;
  readonly record: SenderKeyRecord;
  readonly text?: {
    readonly messageId: string;
    readonly text: string;
    readonly sentAt: number;
  };
  readonly unread: boolean;
  readonly now: number;
}

/** Bounds of the held group messages, enforced by `holdGroupMessage`. */
export interface HeldGroupMessageLimits {
  /** Envelopes from one sender across all groups. */
  readonly perSender: number;
  readonly perGroup: number;
  readonly total: number;
}

export interface ConversationView {
  readonly peerId: string;
  readonly kind: 'direct' | 'group';
  /** The contact's user id, or the group's name. */
  readonly name: string;
  readonly unread: number;
  /** Local time of the last message or of the conversation's creation. */
  readonly lastActivity: number;
  /** The newest row of the thread, absent while the thread is empty. */
  readonly lastMessage: MessagePreview | undefined;
}

export interface MessagePreview {
  readonly direction: MessageRow['direction'];
  readonly text: string;
}

export interface MessageView {
  readonly key: string;
  readonly messageId: string;
  readonly direction: MessageRow['direction'];
  readonly text: string;
  readonly sentAt: number;
  readonly state: MessageState;
}

export interface SerializedSession {
  readonly address: Address;
  /** `serializeSessionRecord` output, sealed by the store. */
  readonly record: Bytes;
}

/** Everything one decrypted envelope changes, written in one transaction. */
export interface ReceivedCommit {
  readonly envelopeId: string;
  readonly session: SerializedSession;
  readonly theirIdentityKey: Bytes;
  readonly consumed: {
    readonly oneTimePrekeyId?: number;
    readonly pqPrekeyId?: number;
    readonly pqPrekeyLastResort?: boolean;
    readonly setupId?: Bytes;
  };
  readonly text?: {
    readonly messageId: string;
    readonly text: string;
    readonly sentAt: number;
    /** Ratchet position, which orders the thread; see `inRatchetOrder`. */
    readonly position?: RatchetPosition;
  };
  /** Ids of our messages that the peer reports delivered. */
  readonly deliveredIds?: readonly string[];
  /** Text of a thread notice for messages that will never decrypt. */
  readonly missingNotice?: string;
  /** A group's new verified state that the content carried, with notices. */
  readonly group?: {
    readonly row: GroupRow;
    readonly notices: readonly { readonly id: string; readonly text: string }[];
  };
  /** True when the text counts as unread (its thread is not open). */
  readonly unread: boolean;
  readonly now: number;
}

export type ReceivedResult =
  | { readonly status: 'duplicate' }
  | {
      readonly status: 'committed';
      readonly newMessage: boolean;
      readonly delivered: number;
    };

type ReadWrite<S extends StoreNames<CloakSchema>[]> = IDBPTransaction<
  CloakSchema,
  S,
  'readwrite'
>;

/**
 * Runs `body` in a read-write transaction and waits for the commit. If
 * `body` throws, the transaction is aborted so that none of its writes land.
 */
async function inTransaction<S extends StoreNames<CloakSchema>[], T>(
  db: CloakDb,
  stores: S,
  body: (tx: ReadWrite<S>) => Promise<T>,
): Promise<T> {
  const tx = db.transaction(stores, 'readwrite');
  try {
    const result = await body(tx);
    await tx.done;
    return result;
  } catch (error) {
    try {
      tx.abort();
    } catch {
      // Already finished or aborted; `tx.done` reports which.
    }
    await tx.done.catch(() => undefined);
    throw error;
  }
}

/** Every object store, which together hold one account. */
const ACCOUNT_STORES = [
  'identity',
  'storageKey',
  'settings',
  'prekeys',
  'sessions',
  'contacts',
  'setupIds',
  'conversations',
  'messages',
  'processed',
  'outbox',
] as const satisfies readonly StoreNames<CloakSchema>[];

/** Settings of a row written before a field existed take these values. */
const DEFAULT_SETTINGS: SettingsRow = {
  storageNoticeShown: false,
  nextOneTimePrekeyId: 1,
};

let lastOrder = 0;

/** Returns a strictly increasing number near `now`, for thread order. */
function nextOrder(now: number): number {
  lastOrder = Math.max(lastOrder + 1, now * 1000);
  return lastOrder;
}

export class LocalStore {
  private constructor(
    readonly db: CloakDb,
    private readonly storageKey: CryptoKey,
    private readonly random: RandomSource,
  ) {}

  /** Opens the stored account, or returns undefined when there is none. */
  static async open(
    db: CloakDb,
    random: RandomSource,
  ): Promise<{ store: LocalStore; identity: LocalIdentity } | undefined> {
    const identity = await db.get('identity', SELF);
    const storageKey = await db.get('storageKey', SELF);
    if (!identity || !storageKey) return undefined;
    return { store: new LocalStore(db, storageKey, random), identity };
  }

  /**
   * Stores a new account's identity, storage key and private prekeys in one
   * transaction. ML-KEM secret keys are sealed with the storage key first.
   * With `pendingRegistration`, the account is marked as not yet confirmed
   * by the relay until `markRegistered` runs.
   */
  static async create(
    db: CloakDb,
    keys: AccountKeys,
    storageKey: CryptoKey,
    random: RandomSource,
    options: { readonly pendingRegistration?: RegisterRequest } = {},
  ): Promise<LocalStore> {
    const store = new LocalStore(db, storageKey, random);
    const pqRows = await Promise.all(
      [keys.lastResortPqPrekey, ...keys.oneTimePqPrekeys].map((prekey) =>
        store.pqPrekeyRow(
          prekey.keyId,
          prekey.keyPair.secretKey,
          prekey.keyPair.publicKey,
          prekey.signature,
          prekey.lastResort ? keys.signedPrekey.createdAt : undefined,
        ),
      ),
    );
    const oneTimeIds = [
      ...keys.oneTimePrekeys.map((prekey) => prekey.keyId),
      ...keys.oneTimePqPrekeys.map((prekey) => prekey.keyId),
    ];
    const settings: SettingsRow = {
      storageNoticeShown: false,
      nextOneTimePrekeyId: Math.max(0, ...oneTimeIds) + 1,
      ...(options.pendingRegistration
        ? { pendingRegistration: options.pendingRegistration }
        : {}),
    };
    const stores: ['identity', 'storageKey', 'settings', 'prekeys'] = [
      'identity',
      'storageKey',
      'settings',
      'prekeys',
    ];
    await inTransaction(db, stores, async (tx) => {
      if (await tx.objectStore('identity').get(SELF)) {
        throw new ClientError(
          'storage-failed',
          'This browser already holds a Cloak account. Reload the page.',
        );
      }
      await tx.objectStore('identity').put(keys.identity, SELF);
      await tx.objectStore('storageKey').put(storageKey, SELF);
      await tx.objectStore('settings').put(settings, SELF);
      const prekeys = tx.objectStore('prekeys');
      const signed = keys.signedPrekey;
      await prekeys.put({
        id: prekeyRowId('signed', signed.keyId),
        type: 'signed',
        keyId: signed.keyId,
        privateKey: signed.keyPair.privateKey,
        publicKey: signed.keyPair.publicKey,
        signature: signed.signature,
        createdAt: signed.createdAt,
      });
      for (const prekey of keys.oneTimePrekeys) {
        await prekeys.put({
          id: prekeyRowId('one-time', prekey.keyId),
          type: 'one-time',
          keyId: prekey.keyId,
          privateKey: prekey.keyPair.privateKey,
          publicKey: prekey.keyPair.publicKey,
        });
      }
      for (const row of pqRows) await prekeys.put(row);
    });
    return store;
  }

  /** Seals a PQ prekey. Pass `lastResortCreatedAt` only for a last-resort key. */
  private async pqPrekeyRow(
    keyId: number,
    secretKey: SecretBytes,
    publicKey: Bytes,
    signature: Bytes,
    lastResortCreatedAt: number | undefined,
  ): Promise<PrekeyRow> {
    return {
      id: prekeyRowId('pq', keyId),
      type: 'pq',
      keyId,
      sealedSecretKey: await this.sealSecret(
        RecordKind.pqPrekey,
        keyId,
        secretKey,
      ),
      publicKey,
      signature,
      lastResort: lastResortCreatedAt !== undefined,
      ...(lastResortCreatedAt === undefined
        ? {}
        : { createdAt: lastResortCreatedAt }),
    };
  }

  private seal(kind: string, id: string | number, plaintext: Bytes) {
    return sealRecord(
      this.storageKey,
      kind,
      String(id),
      SEALED_RECORD_VERSION,
      plaintext,
      this.random,
    );
  }

  /** Seals a secret, zeroing the revealed copy once it is encrypted. */
  private async sealSecret(
    kind: string,
    id: string | number,
    secret: SecretBytes,
  ) {
    const plaintext = secret.reveal();
    try {
      return await this.seal(kind, id, plaintext);
    } finally {
      plaintext.fill(0);
    }
  }

  private open(kind: string, id: string | number, sealed: Bytes) {
    return openRecord(
      this.storageKey,
      kind,
      String(id),
      SEALED_RECORD_VERSION,
      sealed,
    );
  }

  // Settings and prekeys.

  async settings(): Promise<SettingsRow> {
    const row = await this.db.get('settings', SELF);
    return { ...DEFAULT_SETTINGS, ...row };
  }

  /** Returns the registration request the relay has not confirmed yet. */
  async pendingRegistration(): Promise<RegisterRequest | undefined> {
    return (await this.settings()).pendingRegistration;
  }

  /** Records that the relay has accepted the registration request. */
  async markRegistered(): Promise<void> {
    await inTransaction(this.db, ['settings'], async (tx) => {
      const settings = tx.objectStore('settings');
      const row = await settings.get(SELF);
      if (!row?.pendingRegistration) return;
      const { pendingRegistration: _confirmed, ...registered } = row;
      await settings.put(registered, SELF);
    });
  }

  /**
   * Deletes an account whose registration the relay rejected, so that the
   * user can pick another username. Throws `storage-failed` for an account
   * that is registered, which this never deletes.
   */
  async deletePendingAccount(): Promise<void> {
    const stores = [...ACCOUNT_STORES];
    await inTransaction(this.db, stores, async (tx) => {
      const row = await tx.objectStore('settings').get(SELF);
      if (!row?.pendingRegistration) {
        throw new ClientError(
          'storage-failed',
          'The account is registered, so it was not deleted.',
        );
      }
      for (const name of stores) await tx.objectStore(name).clear();
    });
  }

  /**
   * Returns true when the storage notice has not been shown yet, and records
   * it as shown in the same transaction, so that it appears only once.
   */
  async takeStorageNotice(): Promise<boolean> {
    return inTransaction(this.db, ['settings'], async (tx) => {
      const settings = tx.objectStore('settings');
      const row = { ...DEFAULT_SETTINGS, ...(await settings.get(SELF)) };
      if (row.storageNoticeShown) return false;
      await settings.put({ ...row, storageNoticeShown: true }, SELF);
      return true;
    });
  }

  /**
   * Records the open conversation, or none, so that a reload opens the
   * same one again.
   */
  async setOpenConversation(peerId: string | undefined): Promise<void> {
    await inTransaction(this.db, ['settings'], async (tx) => {
      const settings = tx.objectStore('settings');
      const row = { ...DEFAULT_SETTINGS, ...(await settings.get(SELF)) };
      if (row.openConversation === peerId) return;
      const { openConversation: _previous, ...rest } = row;
      await settings.put(
        peerId === undefined ? rest : { ...rest, openConversation: peerId },
        SELF,
      );
    });
  }

  /**
   * Returns the conversation that was open last, if it still exists.
   */
  async openConversation(): Promise<string | undefined> {
    const peerId = (await this.settings()).openConversation;
    if (peerId === undefined) return undefined;
    return (await this.hasConversation(peerId)) ? peerId : undefined;
  }

  /** Looks up our private prekeys for a session set-up. */
  prekeyLookup(): PrekeyLookup {
    return {
      signedPrekey: async (keyId) => {
        const row = await this.db.get('prekeys', prekeyRowId('signed', keyId));
        return row?.type === 'signed' ? row.privateKey : undefined;
      },
      oneTimePrekey: async (keyId) => {
        const id = prekeyRowId('one-time', keyId);
        const row = await this.db.get('prekeys', id);
        return row?.type === 'one-time' ? row.privateKey : undefined;
      },
      pqPrekey: async (keyId) => {
        const row = await this.db.get('prekeys', prekeyRowId('pq', keyId));
        if (row?.type !== 'pq') return undefined;
        const opened = await this.open(
          RecordKind.pqPrekey,
          keyId,
          row.sealedSecretKey,
        );
        const secretKey = new SecretBytes(opened);
        opened.fill(0);
        return secretKey;
      },
      hasSeenSetup: async (setupId) =>
        (await this.db.get('setupIds', toHex(setupId))) !== undefined,
    };
  }

  /** Counts our one-time prekeys of each kind (last-resort keys excluded). */
  async countOneTimePrekeys(): Promise<{ x25519: number; pq: number }> {
    const x25519 = await this.db.countFromIndex(
      'prekeys',
      'by-type',
      'one-time',
    );
    const pqRows = await this.db.getAllFromIndex('prekeys', 'by-type', 'pq');
    const pq = pqRows.filter((row) => row.type === 'pq' && !row.lastResort);
    return { x25519, pq: pq.length };
  }

  /**
   * Stores new one-time prekeys and advances the next free key id. Call it
   * before publishing the public halves, so that a published key always
   * has its private key here.
   */
  async addOneTimePrekeys(
    oneTime: readonly {
      keyId: number;
      privateKey: CryptoKey;
      publicKey: Bytes;
    }[],
    pq: readonly {
      keyId: number;
      secretKey: SecretBytes;
      publicKey: Bytes;
      signature: Bytes;
    }[],
    nextOneTimePrekeyId: number,
  ): Promise<void> {
    const pqRows = await Promise.all(
      pq.map((prekey) =>
        this.pqPrekeyRow(
          prekey.keyId,
          prekey.secretKey,
          prekey.publicKey,
          prekey.signature,
          undefined,
        ),
      ),
    );
    await inTransaction(this.db, ['prekeys', 'settings'], async (tx) => {
      const prekeys = tx.objectStore('prekeys');
      for (const prekey of oneTime) {
        await prekeys.put({
          id: prekeyRowId('one-time', prekey.keyId),
          type: 'one-time',
          ...prekey,
        });
      }
      for (const row of pqRows) await prekeys.put(row);
      const settings = tx.objectStore('settings');
      const row = { ...DEFAULT_SETTINGS, ...(await settings.get(SELF)) };
      await settings.put({ ...row, nextOneTimePrekeyId }, SELF);
    });
  }

  /**
   * Returns the newest signed prekey and the newest last-resort PQ prekey,
   * which are the ones published on the relay.
   */
  async currentRotatingPrekeys(): Promise<{
    signedPrekey: { keyId: number; createdAt: number } | undefined;
    lastResortKeyId: number | undefined;
  }> {
    const signed = await this.db.getAllFromIndex(
      'prekeys',
      'by-type',
      'signed',
    );
    const pq = await this.db.getAllFromIndex('prekeys', 'by-type', 'pq');
    let signedPrekey: { keyId: number; createdAt: number } | undefined;
    for (const row of signed) {
      if (row.type !== 'signed') continue;
      if (!signedPrekey || row.keyId > signedPrekey.keyId) {
        signedPrekey = { keyId: row.keyId, createdAt: row.createdAt };
      }
    }
    let lastResortKeyId: number | undefined;
    for (const row of pq) {
      if (row.type !== 'pq' || !row.lastResort) continue;
      lastResortKeyId = Math.max(lastResortKeyId ?? 0, row.keyId);
    }
    return { signedPrekey, lastResortKeyId };
  }

  /**
   * Returns the public halves of the newest signed prekey and last-resort
   * PQ prekey, as a registration request carries them, or undefined when
   * either is missing.
   */
  async currentPublicPrekeys(): Promise<
    Pick<RegisterRequest, 'signedPrekey' | 'lastResortPqPrekey'> | undefined
  > {
    const rows = await this.db.getAll('prekeys');
    let signed: Extract<PrekeyRow, { type: 'signed' }> | undefined;
    let lastResort: Extract<PrekeyRow, { type: 'pq' }> | undefined;
    for (const row of rows) {
      if (row.type === 'signed' && (!signed || row.keyId > signed.keyId)) {
        signed = row;
      }
      const isLastResort = row.type === 'pq' && row.lastResort;
      if (isLastResort && (!lastResort || row.keyId > lastResort.keyId)) {
        lastResort = row;
      }
    }
    if (!signed || !lastResort) return undefined;
    return {
      signedPrekey: {
        keyId: signed.keyId,
        publicKey: toBase64Url(signed.publicKey),
        signature: toBase64Url(signed.signature),
      },
      lastResortPqPrekey: {
        keyId: lastResort.keyId,
        publicKey: toBase64Url(lastResort.publicKey),
        signature: toBase64Url(lastResort.signature),
      },
    };
  }

  /**
   * Stores a rotated signed prekey and last-resort PQ prekey, and deletes
   * the private halves of keys that were replaced more than `retentionMs`
   * ago. Replaced keys stay meanwhile, so that set-ups a peer started
   * before the rotation still complete. Returns the number of deleted keys.
   */
  async addRotatedPrekeys(
    signedPrekey: SignedPrekeyPair,
    lastResort: PqPrekeyPair,
    now: number,
    retentionMs: number,
  ): Promise<number> {
    const pqRow = await this.pqPrekeyRow(
      lastResort.keyId,
      lastResort.keyPair.secretKey,
      lastResort.keyPair.publicKey,
      lastResort.signature,
      now,
    );
    return inTransaction(this.db, ['prekeys'], async (tx) => {
      const prekeys = tx.objectStore('prekeys');
      await prekeys.put({
        id: prekeyRowId('signed', signedPrekey.keyId),
        type: 'signed',
        keyId: signedPrekey.keyId,
        privateKey: signedPrekey.keyPair.privateKey,
        publicKey: signedPrekey.keyPair.publicKey,
        signature: signedPrekey.signature,
        createdAt: signedPrekey.createdAt,
      });
      await prekeys.put(pqRow);

      const signedRows: RotatingRow[] = [];
      const lastResortRows: RotatingRow[] = [];
      for (const row of await prekeys.getAll()) {
        if (row.type === 'signed') signedRows.push(row);
        if (row.type === 'pq' && row.lastResort) {
          lastResortRows.push({ ...row, createdAt: row.createdAt ?? 0 });
        }
      }
      let deleted = 0;
      for (const rows of [signedRows, lastResortRows]) {
        for (const id of replacedBefore(rows, now - retentionMs)) {
          await prekeys.delete(id);
          deleted++;
        }
      }
      return deleted;
    });
  }

  // Sessions and contacts.

  /** Opens the sealed session record for a peer device. */
  async loadSession(address: Address): Promise<Bytes | undefined> {
    const key = addressKey(address);
    const row = await this.db.get('sessions', key);
    if (!row) return undefined;
    return this.open(RecordKind.session, key, row.sealed);
  }

  /** Lists the peer devices we have a session with. */
  async sessionAddresses(userId: string): Promise<Address[]> {
    const rows = await this.db.getAllFromIndex('sessions', 'by-user', userId);
    return rows.map((row) => ({ userId: row.userId, deviceId: row.deviceId }));
  }

  async contact(userId: string): Promise<ContactRow | undefined> {
    return this.db.get('contacts', userId);
  }

  async isProcessed(envelopeId: string): Promise<boolean> {
    return (await this.db.get('processed', envelopeId)) !== undefined;
  }

  private async sealSession(session: SerializedSession, now: number) {
    const key = addressKey(session.address);
    return {
      address: key,
      userId: session.address.userId,
      deviceId: session.address.deviceId,
      sealed: await this.seal(RecordKind.session, key, session.record),
      updatedAt: now,
    };
  }

  /**
   * Stores sessions we initiated with a contact's devices and pins the
   * contact's identity key on first use. With `createConversation` it also
   * lists the (empty) conversation, as "Start chat" does; a session that
   * only carries group traffic lists nothing. Throws `identity-changed` if
   * a different key is already pinned.
   */
  async addInitiatedSessions(
    peerId: string,
    sessions: readonly SerializedSession[],
    theirIdentityKey: Bytes,
    now: number,
    createConversation = false,
  ): Promise<void> {
    const rows = await Promise.all(
      sessions.map((session) => this.sealSession(session, now)),
    );
    const stores: ['sessions', 'contacts', 'conversations'] = [
      'sessions',
      'contacts',
      'conversations',
    ];
    await inTransaction(this.db, stores, async (tx) => {
      await pinIdentityKey(
        tx.objectStore('contacts'),
        peerId,
        theirIdentityKey,
        now,
      );
      for (const row of rows) await tx.objectStore('sessions').put(row);
      if (createConversation) {
        await touchConversation(
          tx.objectStore('conversations'),
          peerId,
          now,
          0,
        );
      }
    });
  }

  // Identity key changes and verification.

  /**
   * Records that `identityKey` differs from the key pinned for `peerId`:
   * stores it as pending, which blocks sending, clears the verified mark
   * and adds a notice to the thread. Returns false, writing nothing, when
   * no key is pinned yet, when the key is the pinned one, or when it is
   * already pending.
   */
  async recordIdentityChange(
    peerId: string,
    identityKey: Bytes,
    now: number,
  ): Promise<boolean> {
    const noticeId = `key-change-${toBase64Url(this.random.bytes(12))}`;
    const key = messageKey(peerId, noticeId);
    const notice: MessageRow = {
      key,
      peerId,
      messageId: noticeId,
      direction: 'notice',
      sealedText: await this.seal(
        RecordKind.message,
        key,
        utf8(`${peerId}'s safety number changed.`),
      ),
      sentAt: now,
      state: 'received',
      order: nextOrder(now),
    };
    const stores: ['contacts', 'messages'] = ['contacts', 'messages'];
    return inTransaction(this.db, stores, async (tx) => {
      const contacts = tx.objectStore('contacts');
      const row = await contacts.get(peerId);
      if (!row || constantTimeEqual(row.identityKey, identityKey)) {
        return false;
      }
      const pending = row.pendingIdentityKey;
      if (pending && constantTimeEqual(pending, identityKey)) return false;
      await contacts.put({
        ...row,
        verified: false,
        pendingIdentityKey: identityKey,
        changedAt: pending ? (row.changedAt ?? now) : now,
      });
      await tx.objectStore('messages').put(notice);
      return true;
    });
  }

  /**
   * Pins the pending identity key of `peerId`, which must equal
   * `identityKey` (the key the user saw), and deletes every session with
   * the contact, since those were agreed with the replaced key. Returns the
   * number of sessions deleted. Throws `identity-changed` when the pending
   * key is another one, such as after a second change.
   */
  async acceptIdentityKey(
    peerId: string,
    identityKey: Bytes,
    verified: boolean,
    now: number,
  ): Promise<number> {
    const stores: ['contacts', 'sessions'] = ['contacts', 'sessions'];
    return inTransaction(this.db, stores, async (tx) => {
      const contacts = tx.objectStore('contacts');
      const row = await contacts.get(peerId);
      const pending = row?.pendingIdentityKey;
      if (!row || !pending || !constantTimeEqual(pending, identityKey)) {
        throw identityChangedAgain(peerId);
      }
      await contacts.put({
        userId: peerId,
        identityKey: pending,
        pinnedAt: now,
        verified,
        ...(row.keyChangeNoticeAt === undefined
          ? {}
          : { keyChangeNoticeAt: row.keyChangeNoticeAt }),
      });
      const sessions = tx.objectStore('sessions');
      const keys = await sessions.index('by-user').getAllKeys(peerId);
      for (const key of keys) await sessions.delete(key);
      return keys.length;
    });
  }

  /**
   * Marks `peerId` verified after the user compared the safety number of
   * `identityKey`. Throws `identity-changed` when that key is no longer
   * the pinned one or a change is pending; a pending key is accepted with
   * `acceptIdentityKey` instead.
   */
  async markVerified(peerId: string, identityKey: Bytes): Promise<void> {
    await inTransaction(this.db, ['contacts'], async (tx) => {
      const contacts = tx.objectStore('contacts');
      const row = await contacts.get(peerId);
      if (
        !row ||
        row.pendingIdentityKey !== undefined ||
        !constantTimeEqual(row.identityKey, identityKey)
      ) {
        throw identityChangedAgain(peerId);
      }
      if (!row.verified) await contacts.put({ ...row, verified: true });
    });
  }

  /** Records the newest `keys:changed` notice checked for `peerId`. */
  async setKeyChangeNotice(peerId: string, changedAt: number): Promise<void> {
    await inTransaction(this.db, ['contacts'], async (tx) => {
      const contacts = tx.objectStore('contacts');
      const row = await contacts.get(peerId);
      if (!row || (row.keyChangeNoticeAt ?? -1) >= changedAt) return;
      await contacts.put({ ...row, keyChangeNoticeAt: changedAt });
    });
  }

  // Receiving.

  /**
   * Commits one decrypted envelope: the new session record, the message or
   * receipt, the processed envelope id, the deletion of consumed one-time
   * prekeys and the set-up id. An envelope id that is already processed
   * writes nothing and returns `duplicate`.
   */
  async commitReceived(commit: ReceivedCommit): Promise<ReceivedResult> {
    const peerId = commit.session.address.userId;
    const session = await this.sealSession(commit.session, commit.now);
    const text = commit.text;
    const key = text ? messageKey(peerId, text.messageId) : undefined;
    const sealedText =
      text && key
        ? await this.seal(RecordKind.message, key, utf8(text.text))
        : undefined;
    const notice = commit.missingNotice
      ? await this.noticeRow(
          peerId,
          commit.envelopeId,
          commit.missingNotice,
          commit.now,
        )
      : undefined;
    const group = commit.group;
    const groupConversation = group
      ? groupConversationId(group.row.groupId)
      : undefined;
    const groupNotices =
      group && groupConversation
        ? await Promise.all(
            group.notices.map((notice) =>
              this.sealedNotice(
                groupConversation,
                notice.id,
                notice.text,
                commit.now,
              ),
            ),
          )
        : [];
    const stores: [
      'processed',
      'sessions',
      'contacts',
      'prekeys',
      'setupIds',
      'conversations',
      'messages',
      'groups',
    ] = [
      'processed',
      'sessions',
      'contacts',
      'prekeys',
      'setupIds',
      'conversations',
      'messages',
      'groups',
    ];
    return inTransaction(this.db, stores, async (tx) => {
      const processed = tx.objectStore('processed');
      if (await processed.get(commit.envelopeId)) {
        return { status: 'duplicate' } as const;
      }
      await processed.put({ id: commit.envelopeId, processedAt: commit.now });
      await pinIdentityKey(
        tx.objectStore('contacts'),
        peerId,
        commit.theirIdentityKey,
        commit.now,
      );
      await tx.objectStore('sessions').put(session);
      await deleteConsumedPrekeys(tx.objectStore('prekeys'), commit.consumed);
      if (commit.consumed.setupId) {
        await tx.objectStore('setupIds').put({
          id: toHex(commit.consumed.setupId),
          seenAt: commit.now,
        });
      }

      let newMessage = false;
      const messages = tx.objectStore('messages');
      if (text && key && sealedText && !(await messages.get(key))) {
        await messages.put({
          key,
          peerId,
          messageId: text.messageId,
          direction: 'in',
          sealedText,
          sentAt: text.sentAt,
          state: 'received',
          order: nextOrder(commit.now),
          ...(text.position ? { position: text.position } : {}),
        });
        newMessage = true;
      }
      if (notice && !(await messages.get(notice.key))) {
        await messages.put(notice);
      }
      const conversations = tx.objectStore('conversations');
      if (group && groupConversation) {
        await tx.objectStore('groups').put(group.row);
        for (const row of groupNotices) {
          if (!(await messages.get(row.key))) await messages.put(row);
        }
        await touchConversation(
          conversations,
          groupConversation,
          commit.now,
          0,
        );
      }
      if (newMessage) {
        const unread = commit.unread ? 1 : 0;
        await touchConversation(conversations, peerId, commit.now, unread);
      }

      let delivered = 0;
      for (const id of commit.deliveredIds ?? []) {
        const row = await messages.get(messageKey(peerId, id));
        if (row?.direction !== 'out' || row.state === 'delivered') continue;
        await messages.put({ ...row, state: 'delivered' });
        delivered++;
      }
      return { status: 'committed', newMessage, delivered } as const;
    });
  }

  /** Builds a sealed thread notice, ordered before the message that found it. */
  private async noticeRow(
    peerId: string,
    envelopeId: string,
    text: string,
    now: number,
  ): Promise<MessageRow> {
    const noticeId = `missing-${envelopeId}`;
    const key = messageKey(peerId, noticeId);
    return {
      key,
      peerId,
      messageId: noticeId,
      direction: 'notice',
      sealedText: await this.seal(RecordKind.message, key, utf8(text)),
      sentAt: now,
      state: 'received',
      order: nextOrder(now),
    };
  }

  // Sending.

  /** Creates an outgoing message in state `sending`. */
  async addOutgoingMessage(
    peerId: string,
    messageId: string,
    text: string,
    now: number,
  ): Promise<MessageRow> {
    const key = messageKey(peerId, messageId);
    const row: MessageRow = {
      key,
      peerId,
      messageId,
      direction: 'out',
      sealedText: await this.seal(RecordKind.message, key, utf8(text)),
      sentAt: now,
      state: 'sending',
      order: nextOrder(now),
    };
    await inTransaction(this.db, ['messages', 'conversations'], async (tx) => {
      await tx.objectStore('messages').put(row);
      await touchConversation(tx.objectStore('conversations'), peerId, now, 0);
    });
    return row;
  }

  /**
   * Stores the new session records and the envelopes encrypted with them in
   * one transaction, so that a stored session never runs ahead of its stored
   * ciphertext.
   */
  async commitEncrypted(
    sessions: readonly SerializedSession[],
    outbox: readonly OutboxRow[],
    now: number,
  ): Promise<void> {
    const rows = await Promise.all(
      sessions.map((session) => this.sealSession(session, now)),
    );
    await inTransaction(this.db, ['sessions', 'outbox'], async (tx) => {
      for (const row of rows) await tx.objectStore('sessions').put(row);
      for (const item of outbox) await tx.objectStore('outbox').put(item);
    });
  }

  async setMessageState(key: string, state: MessageState): Promise<void> {
    await inTransaction(this.db, ['messages'], async (tx) => {
      const row = await tx.objectStore('messages').get(key);
      if (row) await tx.objectStore('messages').put({ ...row, state });
    });
  }

  /**
   * Removes an envelope the relay has stored. When it was the last pending
   * envelope of a message still `sending`, the message becomes `sent`.
   * Returns true when a message changed state.
   */
  async completeOutbox(envelopeId: string): Promise<boolean> {
    return inTransaction(this.db, ['outbox', 'messages'], async (tx) => {
      const outbox = tx.objectStore('outbox');
      const item = await outbox.get(envelopeId);
      if (!item) return false;
      await outbox.delete(envelopeId);
      if (item.messageKey === undefined) return false;
      const left = await outbox.index('by-message').count(item.messageKey);
      if (left > 0) return false;
      const messages = tx.objectStore('messages');
      const row = await messages.get(item.messageKey);
      if (row?.state !== 'sending') return false;
      await messages.put({ ...row, state: 'sent' });
      return true;
    });
  }

  /**
   * Removes an envelope the relay rejected for good and marks its message
   * `failed`. Returns true when a message changed state.
   */
  async failOutbox(envelopeId: string): Promise<boolean> {
    return inTransaction(this.db, ['outbox', 'messages'], async (tx) => {
      const outbox = tx.objectStore('outbox');
      const item = await outbox.get(envelopeId);
      if (!item) return false;
      await outbox.delete(envelopeId);
      if (item.messageKey === undefined) return false;
      const messages = tx.objectStore('messages');
      const row = await messages.get(item.messageKey);
      if (row?.state !== 'sending') return false;
      await messages.put({ ...row, state: 'failed' });
      return true;
    });
  }

  /** Lists stored envelopes not yet acknowledged by the relay, oldest first. */
  async pendingOutbox(): Promise<OutboxRow[]> {
    return this.db.getAllFromIndex('outbox', 'by-time');
  }

  // Views for the user interface.

  /** Lists the conversations with their newest message, newest first. */
  async listConversations(): Promise<ConversationView[]> {
    const rows = await this.db.getAll('conversations');
    const views = await Promise.all(
      rows.map(async ({ peerId, unread, lastActivity }) => ({
        peerId,
        ...(await this.conversationName(peerId)),
        unread,
        lastActivity,
        lastMessage: await this.lastMessage(peerId),
      })),
    );
    return views.sort(byLastActivity);
  }

  private async conversationName(
    peerId: string,
  ): Promise<{ kind: 'direct' | 'group'; name: string }> {
    const groupId = groupIdOf(peerId);
    if (groupId === undefined) return { kind: 'direct', name: peerId };
    const group = await this.db.get('groups', groupId);
    return { kind: 'group', name: group?.name ?? 'Group' };
  }

  /** Opens the newest message row of a conversation, in thread order. */
  private async lastMessage(
    peerId: string,
  ): Promise<MessagePreview | undefined> {
    const range = IDBKeyRange.bound([peerId, -Infinity], [peerId, Infinity]);
    const cursor = await this.db
      .transaction('messages')
      .store.index('by-conversation')
      .openCursor(range, 'prev');
    const row = cursor?.value;
    if (!row) return undefined;
    const text = await this.open(RecordKind.message, row.key, row.sealedText);
    return { direction: row.direction, text: fromUtf8(text) };
  }

  /**
   * Returns a stored message and the number of its envelopes still in the
   * outbox. A message still `sending` without envelopes was stored by a
   * tab that closed before it committed the encrypted envelopes.
   */
  async storedMessage(
    peerId: string,
    messageId: string,
  ): Promise<{ row: MessageRow; envelopes: number } | undefined> {
    const key = messageKey(peerId, messageId);
    const tx = this.db.transaction(['messages', 'outbox']);
    const row = await tx.objectStore('messages').get(key);
    const envelopes = await tx
      .objectStore('outbox')
      .index('by-message')
      .count(key);
    await tx.done;
    return row ? { row, envelopes } : undefined;
  }

  async hasConversation(peerId: string): Promise<boolean> {
    return (await this.db.get('conversations', peerId)) !== undefined;
  }

  /**
   * Opens every message of a conversation, in thread order: arrival order,
   * with incoming messages of each peer device in ratchet order.
   */
  async listMessages(peerId: string): Promise<MessageView[]> {
    const range = IDBKeyRange.bound([peerId, -Infinity], [peerId, Infinity]);
    const rows = inRatchetOrder(
      await this.db.getAllFromIndex('messages', 'by-conversation', range),
    );
    return Promise.all(
      rows.map(async (row) => ({
        key: row.key,
        messageId: row.messageId,
        direction: row.direction,
        text: fromUtf8(
          await this.open(RecordKind.message, row.key, row.sealedText),
        ),
        sentAt: row.sentAt,
        state: row.state,
      })),
    );
  }

  async markRead(peerId: string): Promise<void> {
    await inTransaction(this.db, ['conversations'], async (tx) => {
      const row = await tx.objectStore('conversations').get(peerId);
      if (row && row.unread !== 0) {
        await tx.objectStore('conversations').put({ ...row, unread: 0 });
      }
    });
  }

  // Groups.

  async group(groupId: string): Promise<GroupRow | undefined> {
    return this.db.get('groups', groupId);
  }

  /**
   * Stores a group's verified state, creates its conversation on first use
   * and adds `notice` (such as "alice added carol") to its thread, in one
   * transaction.
   */
  async putGroup(
    row: GroupRow,
    notice: { readonly id: string; readonly text: string } | undefined,
    now: number,
  ): Promise<void> {
    const conversationId = groupConversationId(row.groupId);
    const noticeRow = notice
      ? await this.sealedNotice(conversationId, notice.id, notice.text, now)
      : undefined;
    const stores: ['groups', 'conversations', 'messages'] = [
      'groups',
      'conversations',
      'messages',
    ];
    await inTransaction(this.db, stores, async (tx) => {
      await tx.objectStore('groups').put(row);
      const messages = tx.objectStore('messages');
      if (noticeRow && !(await messages.get(noticeRow.key))) {
        await messages.put(noticeRow);
      }
      await touchConversation(
        tx.objectStore('conversations'),
        conversationId,
        now,
        0,
      );
    });
  }

  /** Adds a local notice, such as a rejected group change, to a thread. */
  async addNotice(
    conversationId: string,
    noticeId: string,
    text: string,
    now: number,
  ): Promise<void> {
    const row = await this.sealedNotice(conversationId, noticeId, text, now);
    await inTransaction(this.db, ['messages', 'conversations'], async (tx) => {
      const messages = tx.objectStore('messages');
      if (await messages.get(row.key)) return;
      await messages.put(row);
      await touchConversation(
        tx.objectStore('conversations'),
        conversationId,
        now,
        0,
      );
    });
  }

  private async sealedNotice(
    peerId: string,
    noticeId: string,
    text: string,
    now: number,
  ): Promise<MessageRow> {
    const key = messageKey(peerId, noticeId);
    // Taken before the seal, so that notices sealed at once keep call order.
    const order = nextOrder(now);
    return {
      key,
      peerId,
      messageId: noticeId,
      direction: 'notice',
      sealedText: await this.seal(RecordKind.message, key, utf8(text)),
      sentAt: now,
      state: 'received',
      order,
    };
  }

  async ownSenderKey(groupId: string): Promise<StoredOwnSenderKey | undefined> {
    const row = await this.db.get('ownSenderKeys', groupId);
    if (!row) return undefined;
    return {
      senderKey: await openOwnSenderKey(this.storageKey, groupId, row.sealed),
      keyEpoch: row.keyEpoch,
      distributedTo: row.distributedTo,
    };
  }

  /**
   * Stores our advanced sender key, the sessions that carried its
   * distribution and the envelopes in one transaction, so that a stored
   * chain never runs ahead of its stored ciphertext.
   */
  async commitGroupEncrypted(
    groupId: string,
    own: StoredOwnSenderKey,
    sessions: readonly SerializedSession[],
    outbox: readonly OutboxRow[],
    now: number,
  ): Promise<void> {
    const sealed = await sealOwnSenderKey(
      this.storageKey,
      groupId,
      own.senderKey,
      this.random,
    );
    const rows = await Promise.all(
      sessions.map((session) => this.sealSession(session, now)),
    );
    const stores: ['ownSenderKeys', 'sessions', 'outbox'] = [
      'ownSenderKeys',
      'sessions',
      'outbox',
    ];
    await inTransaction(this.db, stores, async (tx) => {
      await tx.objectStore('ownSenderKeys').put({
        groupId,
        sealed,
        keyEpoch: own.keyEpoch,
        distributedTo: own.distributedTo,
      });
      for (const row of rows) await tx.objectStore('sessions').put(row);
      for (const item of outbox) await tx.objectStore('outbox').put(item);
    });
  }

  async senderKeyRecord(id: string): Promise<SenderKeyRecord | undefined> {
    const row = await this.db.get('senderKeys', id);
    if (!row) return undefined;
    return openSenderKeyRecord(this.storageKey, id, row.sealed);
  }

  async putSenderKeyRecord(id: string, record: SenderKeyRecord): Promise<void> {
    const sealed = await sealSenderKeyRecord(
      this.storageKey,
      id,
      record,
      this.random,
    );
    await this.db.put('senderKeys', { id, sealed });
  }

  /**
   * Commits one decrypted group message: the advanced sender key record,
   * the processed envelope id and the message, in one transaction, and
   * deletes the held copy of the envelope if there is one. An envelope id
   * already processed writes nothing else and returns false.
   */
  async commitGroupReceived(commit: GroupReceivedCommit): Promise<boolean> {
    const sealedRecord = await sealSenderKeyRecord(
      this.storageKey,
      commit.recordId,
      commit.record,
      this.random,
    );
    const text = commit.text;
    const key = text
      ? messageKey(commit.conversationId, text.messageId)
      : undefined;
    const sealedText =
      text && key
        ? await this.seal(RecordKind.message, key, utf8(text.text))
        : undefined;
    const stores: [
      'processed',
      'senderKeys',
      'messages',
      'conversations',
      'heldGroupMessages',
    ] = [
      'processed',
      'senderKeys',
      'messages',
      'conversations',
      'heldGroupMessages',
    ];
    return inTransaction(this.db, stores, async (tx) => {
      await tx.objectStore('heldGroupMessages').delete(commit.envelopeId);
      const processed = tx.objectStore('processed');
      if (await processed.get(commit.envelopeId)) return false;
      await processed.put({ id: commit.envelopeId, processedAt: commit.now });
      await tx
        .objectStore('senderKeys')
        .put({ id: commit.recordId, sealed: sealedRecord });
      const messages = tx.objectStore('messages');
      if (!text || !key || !sealedText || (await messages.get(key))) {
        return false;
      }
      await messages.put({
        key,
        peerId: commit.conversationId,
        messageId: text.messageId,
        direction: 'in',
        sealedText,
        sentAt: text.sentAt,
        state: 'received',
        order: nextOrder(commit.now),
      });
      await touchConversation(
        tx.objectStore('conversations'),
        commit.conversationId,
        commit.now,
        commit.unread ? 1 : 0,
      );
      return true;
    });
  }

  /**
   * Stores a group envelope that cannot be decrypted yet. When its sender
   * then has more than `limits.perSender` envelopes held, its oldest are
   * deleted. When the group contains more than `limits.perGroup` envelopes, or
   * all groups more than `limits.total`, the oldest envelopes of the sender
   * with the most held envelopes in that scope are deleted. Deleted rows
   * go in the same transaction and are returned.
   * So a sender that floods envelopes nobody can decrypt (any user can
   * send them, member or not) deletes its own, not those of others, and
   * takes at most `perSender` envelopes of storage.
   * Holding an envelope id again keeps the first copy.
   */
  async holdGroupMessage(
    groupId: string,
    envelope: Envelope,
    limits: HeldGroupMessageLimits,
    now: number,
  ): Promise<HeldGroupMessageRow[]> {
    return inTransaction(this.db, ['heldGroupMessages'], async (tx) => {
      const held = tx.objectStore('heldGroupMessages');
      if (await held.get(envelope.id)) return [];
      await held.put({
        id: envelope.id,
        groupId,
        envelope,
        heldAt: now,
        order: nextOrder(now),
      });
      const dropped: HeldGroupMessageRow[] = [];
      const overall = held.index('by-sender');
      const fromSender = IDBKeyRange.bound(
        [envelope.from.userId],
        [envelope.from.userId, []],
      );
      const senderExcess = (await overall.count(fromSender)) - limits.perSender;
      if (senderExcess > 0) {
        await deleteOldest(overall, fromSender, senderExcess, dropped);
      }
      const bySender = held.index('by-group-sender');
      const inGroup = IDBKeyRange.bound([groupId], [groupId, []]);
      let excess = (await bySender.count(inGroup)) - limits.perGroup;
      while (excess > 0) {
        const sender = await largestSender(bySender, inGroup, 1);
        const range = IDBKeyRange.bound(
          [groupId, sender],
          [groupId, sender, []],
        );
        excess -= await deleteOldest(bySender, range, excess, dropped);
      }
      excess = (await held.count()) - limits.total;
      while (excess > 0) {
        const sender = await largestSender(overall, undefined, 0);
        const range = IDBKeyRange.bound([sender], [sender, []]);
        excess -= await deleteOldest(overall, range, excess, dropped);
      }
      return dropped;
    });
  }

  /** Returns the held envelopes of a group, in the order they were held. */
  async heldGroupMessages(groupId: string): Promise<HeldGroupMessageRow[]> {
    return this.db.getAllFromIndex(
      'heldGroupMessages',
      'by-group',
      IDBKeyRange.bound([groupId, -Infinity], [groupId, Infinity]),
    );
  }

  async deleteHeldGroupMessage(envelopeId: string): Promise<void> {
    await this.db.delete('heldGroupMessages', envelopeId);
  }

  /** Deletes and returns the envelopes held since before `before`. */
  async takeExpiredGroupMessages(
    before: number,
  ): Promise<HeldGroupMessageRow[]> {
    return inTransaction(this.db, ['heldGroupMessages'], async (tx) => {
      const expired: HeldGroupMessageRow[] = [];
      let cursor = await tx
        .objectStore('heldGroupMessages')
        .index('by-time')
        .openCursor(IDBKeyRange.upperBound(before, true));
      while (cursor) {
        expired.push(cursor.value);
        await cursor.delete();
        cursor = await cursor.continue();
      }
      return expired;
    });
  }

  /** Deletes processed envelope ids older than `before` (ms since epoch). */
  async pruneProcessed(before: number): Promise<void> {
    await inTransaction(this.db, ['processed'], async (tx) => {
      const range = IDBKeyRange.upperBound(before, true);
      let cursor = await tx
        .objectStore('processed')
        .index('by-time')
        .openCursor(range);
      while (cursor) {
        await cursor.delete();
        cursor = await cursor.continue();
      }
    });
  }
}

/** Orders conversations newest first, and equal times by peer id. */
function byLastActivity(a: ConversationView, b: ConversationView): number {
  if (a.lastActivity !== b.lastActivity) {
    return b.lastActivity - a.lastActivity;
  }
  if (a.peerId === b.peerId) return 0;
  return a.peerId < b.peerId ? -1 : 1;
}

interface RotatingRow {
  readonly id: string;
  readonly keyId: number;
  readonly createdAt: number;
}

/** Returns the ids of rows whose successor was created before `cutoff`. */
function replacedBefore(rows: RotatingRow[], cutoff: number): string[] {
  const sorted = [...rows].sort((a, b) => a.keyId - b.keyId);
  const ids: string[] = [];
  for (let i = 0; i + 1 < sorted.length; i++) {
    const row = sorted[i];
    const successor = sorted[i + 1];
    if (row && successor && successor.createdAt < cutoff) ids.push(row.id);
  }
  return ids;
}

function identityChangedAgain(peerId: string): ClientError {
  return new ClientError(
    'identity-changed',
    `The identity key of ${peerId} changed while you were checking it. ` +
      'Compare the new safety number and try again.',
  );
}

type ContactStore = ReturnType<ReadWrite<['contacts']>['objectStore']>;

async function pinIdentityKey(
  contacts: ContactStore,
  userId: string,
  identityKey: Bytes,
  now: number,
): Promise<void> {
  const pinned = await contacts.get(userId);
  if (!pinned) {
    await contacts.put({ userId, identityKey, pinnedAt: now });
    return;
  }
  if (!constantTimeEqual(pinned.identityKey, identityKey)) {
    throw identityChanged(userId);
  }
}

type ConversationStore = ReturnType<
  ReadWrite<['conversations']>['objectStore']
>;

async function touchConversation(
  conversations: ConversationStore,
  peerId: string,
  now: number,
  addUnread: number,
): Promise<void> {
  const row: ConversationRow | undefined = await conversations.get(peerId);
  await conversations.put({
    peerId,
    kind: groupIdOf(peerId) === undefined ? 'direct' : 'group',
    createdAt: row?.createdAt ?? now,
    lastActivity: Math.max(row?.lastActivity ?? 0, now),
    unread: (row?.unread ?? 0) + addUnread,
  });
}

type PrekeyStore = ReturnType<ReadWrite<['prekeys']>['objectStore']>;

async function deleteConsumedPrekeys(
  prekeys: PrekeyStore,
  consumed: ReceivedCommit['consumed'],
): Promise<void> {
  if (consumed.oneTimePrekeyId !== undefined) {
    await prekeys.delete(prekeyRowId('one-time', consumed.oneTimePrekeyId));
  }
  // The last-resort PQ prekey is reused until it rotates, so only one-time
  // PQ prekeys are deleted after their first use. The set-up's last-resort
  // flag is the initiator's claim, so the stored row decides.
  if (consumed.pqPrekeyId !== undefined) {
    const id = prekeyRowId('pq', consumed.pqPrekeyId);
    const row = await prekeys.get(id);
    if (row?.type === 'pq' && !row.lastResort) await prekeys.delete(id);
  }
}

type HeldIndex = IDBPIndex<
  CloakSchema,
  ['heldGroupMessages'],
  'heldGroupMessages',
  'by-group-sender' | 'by-sender',
  'readwrite'
>;

/**
 * Returns the sender with the most held envelopes in `range` of `index`,
 * whose keys name the sender at `senderAt`. Reads keys only.
 */
async function largestSender(
  index: HeldIndex,
  range: IDBKeyRange | undefined,
  senderAt: number,
): Promise<string> {
  const counts = new Map<string, number>();
  let largest = { sender: '', count: 0 };
  let cursor = await index.openKeyCursor(range);
  while (cursor) {
    const sender = String(cursor.key[senderAt]);
    const count = (counts.get(sender) ?? 0) + 1;
    counts.set(sender, count);
    if (count > largest.count) largest = { sender, count };
    cursor = await cursor.continue();
  }
  return largest.sender;
}

/**
 * Deletes up to `limit` rows of `range`, oldest first, adds them to
 * `dropped` and returns how many it deleted (at least one, so that an
 * eviction loop always ends).
 */
async function deleteOldest(
  index: HeldIndex,
  range: IDBKeyRange,
  limit: number,
  dropped: HeldGroupMessageRow[],
): Promise<number> {
  let deleted = 0;
  let cursor = await index.openCursor(range);
  while (cursor && deleted < limit) {
    dropped.push(cursor.value);
    await cursor.delete();
    deleted++;
    cursor = await cursor.continue();
  }
  return Math.max(deleted, 1);
}
