/**
 * The IndexedDB schema of one Cloak installation. Private X25519 and Ed25519
 * keys and the storage key are non-extractable `CryptoKey`s, stored as such
 * by structured clone, so their bytes never reach JavaScript. Everything
 * else secret (session records, ML-KEM secret keys, message text) is sealed
 * with the storage key before it is written.
 */
import type { DBSchema } from 'idb';
import type { Bytes } from '../../../shared/crypto/bytes';
import type { LocalIdentity } from '../../../shared/crypto/keys';
import type { RatchetPosition } from './thread-order';
import type {
  Envelope,
  RegisterRequest,
  SendEnvelopeRequest,
} from '../../../shared/wire/schemas';

export const DB_NAME = 'cloak';
export const DB_VERSION = 4;

/** Key of the single row in the `identity`, `storageKey` and `settings` stores. */
export const SELF = 'self';

export interface SettingsRow {
  /**
   * True once the notice about local-only keys has been shown, so that it
   * appears once per account, right after the account is created.
   */
  readonly storageNoticeShown: boolean;
  /** Next free key id for one-time prekeys (X25519 and ML-KEM share it). */
  readonly nextOneTimePrekeyId: number;
  /**
   * The registration request (public keys and signatures only), kept while
   * the relay has not confirmed it, so that the same request can be sent
   * again. Absent once the account is registered.
   */
  readonly pendingRegistration?: RegisterRequest;
  /** The contact whose conversation was open last, reopened on reload. */
  readonly openConversation?: string;
}

export type PrekeyRow =
  | {
      readonly id: string;
      readonly type: 'signed';
      readonly keyId: number;
      readonly privateKey: CryptoKey;
      readonly publicKey: Bytes;
      readonly signature: Bytes;
      readonly createdAt: number;
    }
  | {
      readonly id: string;
      readonly type: 'one-time';
      readonly keyId: number;
      readonly privateKey: CryptoKey;
      readonly publicKey: Bytes;
    }
  | {
      readonly id: string;
      readonly type: 'pq';
      readonly keyId: number;
      /** ML-KEM-768 secret key sealed with the storage key. */
      readonly sealedSecretKey: Bytes;
      readonly publicKey: Bytes;
      readonly signature: Bytes;
      readonly lastResort: boolean;
      /** Creation time of a last-resort key, which rotates with the signed prekey. */
      readonly createdAt?: number;
    };

export type PrekeyType = PrekeyRow['type'];

export interface SessionRow {
  /** `userId.deviceId` of the peer device. */
  readonly address: string;
  readonly userId: string;
  readonly deviceId: number;
  /** `serializeSessionRecord` output sealed with the storage key. */
  readonly sealed: Bytes;
  readonly updatedAt: number;
}

export interface ContactRow {
  readonly userId: string;
  /** The user identity key pinned on first use, or accepted later. */
  readonly identityKey: Bytes;
  readonly pinnedAt: number;
  /** True once the user compared safety numbers for `identityKey`. */
  readonly verified?: boolean;
  /**
   * A different identity key seen for this contact and not yet accepted.
   * While it is present, sending to the contact is blocked.
   */
  readonly pendingIdentityKey?: Bytes;
  /** Local time at which `pendingIdentityKey` was first seen. */
  readonly changedAt?: number;
  /**
   * `changedAt` of the newest relay `keys:changed` notice already checked,
   * so that the relay's repeats of it cost nothing.
   */
  readonly keyChangeNoticeAt?: number;
}

export interface ConversationRow {
  /**
   * The contact's user id, one conversation per contact; for a group,
   * `group:` and the group id (a colon never occurs in a user id).
   */
  readonly peerId: string;
  /** Absent in rows stored before groups existed, which are direct. */
  readonly kind?: 'direct' | 'group';
  readonly createdAt: number;
  readonly lastActivity: number;
  readonly unread: number;
}

export type MessageState =
  'sending' | 'sent' | 'delivered' | 'failed' | 'received';

export interface MessageRow {
  /** `peerId/messageId`, the record id bound into the sealed text. */
  readonly key: string;
  readonly peerId: string;
  /** 128-bit id chosen by the sender, as base64url, or a local notice id. */
  readonly messageId: string;
  /** `notice` rows are local notes in the thread, such as missing messages. */
  readonly direction: 'in' | 'out' | 'notice';
  /** UTF-8 text sealed with the storage key. */
  readonly sealedText: Bytes;
  /** The sender's clock when the message was written. */
  readonly sentAt: number;
  readonly state: MessageState;
  /**
   * Local insertion order. The thread is sorted by it, except that incoming
   * messages follow their `position`.
   */
  readonly order: number;
  /**
   * Incoming messages only: the sending device and the message's ratchet
   * position (session set-up time, chain and message number). Absent in
   * rows stored before it was kept.
   */
  readonly position?: RatchetPosition;
}

export interface ProcessedRow {
  /** Envelope id, as base64url. */
  readonly id: string;
  readonly processedAt: number;
}

export interface SetupIdRow {
  /** Session set-up id, as hex. */
  readonly id: string;
  readonly seenAt: number;
}

export interface OutboxRow {
  /** Envelope id, as base64url; a resend reuses it. */
  readonly id: string;
  /** The stored ciphertext; a resend sends it again, never re-encrypts. */
  readonly envelope: SendEnvelopeRequest;
  readonly peerId: string;
  /** Key of the outgoing message row, absent for receipts. */
  readonly messageKey?: string;
  readonly createdAt: number;
}

/** A group's verified state and the log it was verified from. */
export interface GroupRow {
  /** Group id, as base64url. */
  readonly groupId: string;
  readonly name: string;
  readonly version: number;
  /** Hash of the latest accepted entry. */
  readonly hash: Bytes;
  /** User ids, sorted. */
  readonly members: readonly string[];
  readonly admins: readonly string[];
  /**
   * Every accepted signed change (`encodeSignedGroupChange`) since we
   * joined, oldest first. The first is the creation or the change that
   * added us, which starts our verified state.
   */
  readonly log: readonly Bytes[];
  /**
   * Signed changes that arrived ahead of `version`, lowest version first,
   * kept until the entries between arrive. Absent when there are none.
   */
  readonly pending?: readonly Bytes[];
  /**
   * Raised each time a member leaves or is removed. Our sender key records
   * the epoch it was made in, and a key from an earlier epoch is replaced
   * before the next message.
   */
  readonly keyEpoch: number;
}

/** Our sending chain in one group, sealed with the storage key. */
export interface OwnSenderKeyRow {
  /** Group id, as base64url. */
  readonly groupId: string;
  readonly sealed: Bytes;
  readonly keyEpoch: number;
  /** `userId.deviceId` of every device that has received this chain's distribution. */
  readonly distributedTo: readonly string[];
}

/** A member device's sender key record, sealed with the storage key. */
export interface SenderKeyRow {
  /** `groupId/userId.deviceId/distributionId`, ids as base64url. */
  readonly id: string;
  readonly sealed: Bytes;
}

/**
 * A group envelope that cannot be decrypted yet: its sender key, or the
 * change that makes its sender a member, has not arrived. Only the
 * ciphertext envelope is kept, never a plaintext.
 */
export interface HeldGroupMessageRow {
  /** Envelope id, as base64url. */
  readonly id: string;
  /** Group id from the message header, as base64url. */
  readonly groupId: string;
  readonly envelope: Envelope;
  /** Local time at which the envelope was first held. */
  readonly heldAt: number;
  /** Strictly increasing in the order envelopes were held. */
  readonly order: number;
}

export interface CloakSchema extends DBSchema {
  groups: { key: string; value: GroupRow };
  heldGroupMessages: {
    key: string;
    value: HeldGroupMessageRow;
    indexes: {
      'by-group': [string, number];
      'by-time': number;
      'by-group-sender': [string, string, number];
      'by-sender': [string, number];
    };
  };
  ownSenderKeys: { key: string; value: OwnSenderKeyRow };
  senderKeys: { key: string; value: SenderKeyRow };
  identity: { key: string; value: LocalIdentity };
  storageKey: { key: string; value: CryptoKey };
  settings: { key: string; value: SettingsRow };
  prekeys: {
    key: string;
    value: PrekeyRow;
    indexes: { 'by-type': PrekeyType };
  };
  sessions: {
    key: string;
    value: SessionRow;
    indexes: { 'by-user': string };
  };
  contacts: { key: string; value: ContactRow };
  setupIds: { key: string; value: SetupIdRow };
  conversations: { key: string; value: ConversationRow };
  messages: {
    key: string;
    value: MessageRow;
    indexes: { 'by-conversation': [string, number] };
  };
  processed: {
    key: string;
    value: ProcessedRow;
    indexes: { 'by-time': number };
  };
  outbox: {
    key: string;
    value: OutboxRow;
    indexes: { 'by-message': string; 'by-time': number };
  };
}
