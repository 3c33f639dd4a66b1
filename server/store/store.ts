/**
 * The relay's storage interface. The relay holds only public keys and opaque
 * ciphertext: accounts (username bound to a user identity key), device
 * certificates, prekeys and queued envelopes. Each method is atomic, so a
 * caller never sees half of a registration, a bundle or a send.
 */
import type {
  AccessLogEntry,
  Address,
  DeviceCertificate,
  Envelope,
  EnvelopeKind,
  KeyChanged,
  PrekeyBundle,
  PrekeyCounts,
  PrekeyUpload,
  RegisterRequest,
} from '../../shared/wire/schemas';

export type RegisterOutcome =
  /** A new device was stored (and a new account, if the username was free). */
  | { readonly kind: 'created'; readonly prekeys: PrekeyCounts }
  /** The same certificate was already stored; nothing changed. */
  | { readonly kind: 'unchanged'; readonly prekeys: PrekeyCounts }
  /** The account's identity key issued a new certificate for this device id. */
  | { readonly kind: 'replaced'; readonly prekeys: PrekeyCounts }
  /** The username belongs to another user identity key. */
  | { readonly kind: 'username-taken' }
  /**
   * A different certificate for this device that is not newer than the
   * stored one, such as an old certificate copied from a bundle.
   */
  | { readonly kind: 'stale-certificate' };

export interface BundleResult {
  readonly bundles: PrekeyBundle[];
  /** Pool sizes of each device after this fetch, keyed by device id. */
  readonly counts: ReadonlyMap<number, PrekeyCounts>;
}

export interface NewEnvelope {
  readonly id: string;
  readonly kind: EnvelopeKind;
  readonly from: Address;
  readonly to: Address;
  readonly body: string;
  readonly serverTs: number;
}

export type StoreEnvelopeResult =
  | {
      readonly duplicate: false;
      readonly serverTs: number;
      readonly seq: number;
    }
  /** The sender device already sent this id; `serverTs` is the first one. */
  | { readonly duplicate: true; readonly serverTs: number };

/** A group envelope: one body queued for every listed device. */
export interface NewGroupEnvelope {
  readonly id: string;
  readonly from: Address;
  /** Recipient devices, each listed once. */
  readonly to: readonly Address[];
  readonly body: string;
  readonly serverTs: number;
}

export type StoreGroupEnvelopeResult =
  | { readonly outcome: 'stored'; readonly serverTs: number }
  /** The sender device already sent this id; `serverTs` is the first one. */
  | { readonly outcome: 'duplicate'; readonly serverTs: number }
  /** Some listed devices are not registered; nothing was stored. */
  | {
      readonly outcome: 'unknown-devices';
      readonly devices: readonly Address[];
    };

export interface Store {
  /**
   * Binds the username to the certificate's identity key if it is free, and
   * stores the device with its prekeys. Signatures must be verified first.
   */
  registerDevice(request: RegisterRequest): Promise<RegisterOutcome>;

  /** Returns a device's certificate, or undefined if it is not registered. */
  getDevice(address: Address): Promise<DeviceCertificate | undefined>;

  /**
   * Builds one bundle per device of `userId`, deleting the one-time prekey
   * and one-time PQ prekey it hands out. Returns undefined for an unknown user.
   */
  takeBundles(userId: string): Promise<BundleResult | undefined>;

  /** Adds or replaces a device's prekeys; signatures must be verified first. */
  uploadPrekeys(address: Address, upload: PrekeyUpload): Promise<PrekeyCounts>;

  /** Returns the sizes of a device's one-time prekey pools. */
  prekeyCounts(address: Address): Promise<PrekeyCounts>;

  /**
   * Commits an envelope with the recipient's next `seq`, unless its sender
   * device already sent the same id (then nothing is queued).
   */
  storeEnvelope(envelope: NewEnvelope): Promise<StoreEnvelopeResult>;

  /**
   * Commits a group envelope in one transaction: one delivery per listed
   * device, each with that device's next `seq`, sharing one stored body.
   * Stores nothing if a device is not registered or the sender device
   * already sent the same id.
   */
  storeGroupEnvelope(
    envelope: NewGroupEnvelope,
  ): Promise<StoreGroupEnvelopeResult>;

  /** Returns up to `limit` queued envelopes of a device with seq > `afterSeq`. */
  envelopesAfter(
    address: Address,
    afterSeq: number,
    limit: number,
  ): Promise<Envelope[]>;

  /** Deletes the listed envelopes of this device only; returns how many. */
  deleteEnvelopes(address: Address, ids: readonly string[]): Promise<number>;

  /** Deletes deduplication records older than `before` (ms since epoch). */
  pruneSentIds(before: number): Promise<number>;

  /** Returns the certificates of every device of a user, by device id. */
  listDevices(userId: string): Promise<DeviceCertificate[]>;

  /** Records that `requesterId` fetched the bundles of `targetId` at `at`. */
  recordBundleAccess(
    targetId: string,
    requesterId: string,
    at: number,
  ): Promise<void>;

  /**
   * Returns up to `limit` fetches of `targetId`'s bundles at or after
   * `since`, newest first.
   */
  bundleAccessLog(
    targetId: string,
    since: number,
    limit: number,
  ): Promise<AccessLogEntry[]>;

  /**
   * Records a key change of `userId` at `at` and returns the users who
   * fetched its bundles from `fetchedSince` up to `at`.
   */
  recordKeyChange(
    userId: string,
    at: number,
    fetchedSince: number,
  ): Promise<string[]>;

  /**
   * Stores `at` as the device's sign-in time and returns the previous one,
   * or undefined on its first sign-in.
   */
  markSignedIn(address: Address, at: number): Promise<number | undefined>;

  /**
   * Returns, per changed user, the latest key change after `since` of the
   * users whose bundles `requesterId` fetched within `fetchWindowMs` before the
   * change, oldest first and at most `limit`.
   */
  keyChangesSeenBy(
    requesterId: string,
    since: number,
    fetchWindowMs: number,
    limit: number,
  ): Promise<KeyChanged[]>;

  /** Deletes access log rows and key changes older than `before`. */
  pruneKeyDirectoryLogs(before: number): Promise<number>;

  close(): Promise<void>;
}
