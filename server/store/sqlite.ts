/**
 * The SQLite store (better-sqlite3, WAL). Every method runs in one
 * transaction. With `synchronous=NORMAL` a committed transaction survives a
 * crash or `kill -9` of the relay, and with `FULL` a power loss as well.
 */
import Database from 'better-sqlite3';
import type {
  AccessLogEntry,
  Address,
  DeviceCertificate,
  Envelope,
  EnvelopeKind,
  KeyChanged,
  OneTimePrekey,
  PqPrekey,
  PrekeyBundle,
  PrekeyCounts,
  PrekeyUpload,
  RegisterRequest,
  SignedPrekey,
} from '../../shared/wire/schemas';
import { migrate } from './migrations';
import type {
  BundleResult,
  NewEnvelope,
  NewGroupEnvelope,
  RegisterOutcome,
  Store,
  StoreEnvelopeResult,
  StoreGroupEnvelopeResult,
} from './store';

export type SynchronousMode = 'NORMAL' | 'FULL';

export interface SqliteStoreOptions {
  /** Database file path; `:memory:` for a throwaway store. */
  readonly path: string;
  readonly synchronous?: SynchronousMode;
}

interface EnvelopeRow {
  seq: number;
  id: string;
  kind: string;
  sender_user: string;
  sender_device: number;
  recipient_user: string;
  recipient_device: number;
  server_ts: number;
  body: string;
}

interface PqPrekeyRow {
  key_id: number;
  public_key: string;
  signature: string;
}

/**
 * Takes a device's next envelope sequence number. Returns no row for an
 * unregistered device.
 */
const NEXT_SEQ_SQL = `UPDATE devices SET last_seq = last_seq + 1
  WHERE user_id = ? AND device_id = ? RETURNING last_seq`;

interface GroupCommitWrite {
  readonly run: () => unknown;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

export class SqliteStore implements Store {
  readonly db: Database.Database;
  /** Prepared statements by SQL text; see `prepare`. */
  private readonly statements = new Map<string, Database.Statement>();
  /** Writes waiting for the next group commit; see `inGroupCommit`. */
  private groupCommit: GroupCommitWrite[] = [];

  constructor(options: SqliteStoreOptions) {
    this.db = new Database(options.path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma(`synchronous = ${options.synchronous ?? 'NORMAL'}`);
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('busy_timeout = 5000');
    // Deleted rows, such as acknowledged envelope bodies, are overwritten
    // with zeros; `WalCheckpointer` then removes older copies from the WAL.
    this.db.pragma('secure_delete = ON');
    migrate(this.db);
  }

  /**
   * Runs `transaction` in the next group commit and resolves after that
   * commit. Envelope writes arriving in the same event-loop turn share one
   * SQLite transaction, so under load each commit writes a changed page to
   * the WAL once rather than once per envelope. Each write runs in its own
   * savepoint (a nested better-sqlite3 transaction), so one that throws is
   * undone and rejected alone. A failed commit rejects the whole group.
   */
  private inGroupCommit<T>(transaction: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.groupCommit.push({
        run: transaction,
        resolve: resolve as (value: unknown) => void,
        reject,
      });
      if (this.groupCommit.length === 1) {
        setImmediate(() => this.commitGroup());
      }
    });
  }

  private commitGroup(): void {
    const writes = this.groupCommit;
    this.groupCommit = [];
    const outcomes: ({ value: unknown } | { error: unknown })[] = [];
    try {
      this.db
        .transaction(() => {
          for (const write of writes) {
            try {
              outcomes.push({ value: write.run() });
            } catch (error) {
              outcomes.push({ error });
            }
          }
        })
        .immediate();
    } catch (error) {
      for (const write of writes) write.reject(error);
      return;
    }
    writes.forEach((write, index) => {
      const outcome = outcomes[index];
      if (outcome && 'value' in outcome) write.resolve(outcome.value);
      else write.reject(outcome?.error);
    });
  }

  /**
   * Returns the statement for `sql`, prepared on first use. Compiling the
   * SQL costs more than running most of these queries, and the relay runs
   * them per envelope. The statement comes back in its default row mode;
   * a caller that wants single values calls `pluck()` each time.
   */
  private prepare(sql: string): Database.Statement {
    let statement = this.statements.get(sql);
    if (statement === undefined) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    } else if (statement.reader) {
      statement.pluck(false);
    }
    return statement;
  }

  async registerDevice(request: RegisterRequest): Promise<RegisterOutcome> {
    const { certificate } = request;
    const register = this.db.transaction((): RegisterOutcome => {
      const account = this.prepare(
        'SELECT identity_key FROM accounts WHERE user_id = ?',
      ).get(certificate.userId) as { identity_key: string } | undefined;
      if (account && account.identity_key !== certificate.identityKey) {
        return { kind: 'username-taken' };
      }
      if (!account) {
        this.prepare(
          'INSERT INTO accounts (user_id, identity_key, created_at) VALUES (?, ?, ?)',
        ).run(certificate.userId, certificate.identityKey, Date.now());
      }
      const stored = this.readCertificate(certificate);
      if (stored && sameCertificate(stored, certificate)) {
        return { kind: 'unchanged', prekeys: this.countPrekeys(certificate) };
      }
      if (stored && certificate.issuedAt <= stored.issuedAt) {
        return { kind: 'stale-certificate' };
      }
      if (stored) {
        this.deletePrekeys(certificate);
        this.prepare(
          'UPDATE devices SET certificate = ? WHERE user_id = ? AND device_id = ?',
        ).run(
          JSON.stringify(certificate),
          certificate.userId,
          certificate.deviceId,
        );
      } else {
        this.prepare(
          `INSERT INTO devices (user_id, device_id, certificate, created_at)
             VALUES (?, ?, ?, ?)`,
        ).run(
          certificate.userId,
          certificate.deviceId,
          JSON.stringify(certificate),
          Date.now(),
        );
      }
      this.writePrekeys(certificate, request);
      return {
        kind: stored ? 'replaced' : 'created',
        prekeys: this.countPrekeys(certificate),
      };
    });
    return register.immediate();
  }

  async getDevice(address: Address): Promise<DeviceCertificate | undefined> {
    return this.readCertificate(address);
  }

  async takeBundles(userId: string): Promise<BundleResult | undefined> {
    const take = this.db.transaction((): BundleResult | undefined => {
      const certificates = this.readCertificates(userId);
      if (certificates.length === 0) return undefined;
      const bundles: PrekeyBundle[] = [];
      const counts = new Map<number, PrekeyCounts>();
      for (const certificate of certificates) {
        const bundle = this.takeBundle(certificate);
        if (bundle) bundles.push(bundle);
        counts.set(certificate.deviceId, this.countPrekeys(certificate));
      }
      return { bundles, counts };
    });
    return take.immediate();
  }

  async uploadPrekeys(
    address: Address,
    upload: PrekeyUpload,
  ): Promise<PrekeyCounts> {
    const write = this.db.transaction(() => {
      this.writePrekeys(address, upload);
      return this.countPrekeys(address);
    });
    return write.immediate();
  }

  async prekeyCounts(address: Address): Promise<PrekeyCounts> {
    return this.countPrekeys(address);
  }

  async storeEnvelope(envelope: NewEnvelope): Promise<StoreEnvelopeResult> {
    const store = this.db.transaction((): StoreEnvelopeResult => {
      const firstServerTs = this.recordSentId(envelope);
      if (firstServerTs !== undefined) {
        return { duplicate: true, serverTs: firstServerTs };
      }
      const seq = this.prepare(NEXT_SEQ_SQL)
        .pluck()
        .get(envelope.to.userId, envelope.to.deviceId) as number | undefined;
      if (seq === undefined) {
        throw new Error('recipient device is not registered');
      }
      this.prepare(
        `INSERT INTO envelopes (recipient_user, recipient_device, seq, id, kind,
             sender_user, sender_device, server_ts, body)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(
        envelope.to.userId,
        envelope.to.deviceId,
        seq,
        envelope.id,
        envelope.kind,
        envelope.from.userId,
        envelope.from.deviceId,
        envelope.serverTs,
        envelope.body,
      );
      return { duplicate: false, serverTs: envelope.serverTs, seq };
    });
    return this.inGroupCommit(store);
  }

  async storeGroupEnvelope(
    envelope: NewGroupEnvelope,
  ): Promise<StoreGroupEnvelopeResult> {
    const store = this.db.transaction((): StoreGroupEnvelopeResult => {
      const exists = this.prepare(
        'SELECT 1 FROM devices WHERE user_id = ? AND device_id = ?',
      ).pluck();
      const nextSeq = this.prepare(NEXT_SEQ_SQL).pluck();
      const insert = this.prepare(
        `INSERT INTO envelopes (recipient_user, recipient_device, seq, id, kind,
           sender_user, sender_device, server_ts, body, body_id)
         VALUES (?, ?, ?, ?, 'group', ?, ?, ?, '', ?)`,
      );
      const unknown = envelope.to.filter(
        (device) => exists.get(device.userId, device.deviceId) === undefined,
      );
      if (unknown.length > 0) {
        return { outcome: 'unknown-devices', devices: unknown };
      }
      const firstServerTs = this.recordSentId(envelope);
      if (firstServerTs !== undefined) {
        return { outcome: 'duplicate', serverTs: firstServerTs };
      }
      const bodyId = this.prepare(
        'INSERT INTO envelope_bodies (body, refs) VALUES (?, ?) RETURNING body_id',
      )
        .pluck()
        .get(envelope.body, envelope.to.length) as number;
      for (const device of envelope.to) {
        const seq = nextSeq.get(device.userId, device.deviceId) as number;
        insert.run(
          device.userId,
          device.deviceId,
          seq,
          envelope.id,
          envelope.from.userId,
          envelope.from.deviceId,
          envelope.serverTs,
          bodyId,
        );
      }
      return { outcome: 'stored', serverTs: envelope.serverTs };
    });
    return this.inGroupCommit(store);
  }

  async envelopesAfter(
    address: Address,
    afterSeq: number,
    limit: number,
  ): Promise<Envelope[]> {
    const rows = this.prepare(
      `SELECT e.seq, e.id, e.kind, e.sender_user, e.sender_device,
           e.recipient_user, e.recipient_device, e.server_ts,
           CASE WHEN e.body_id IS NULL THEN e.body ELSE b.body END AS body
         FROM envelopes AS e
         LEFT JOIN envelope_bodies AS b ON b.body_id = e.body_id
         WHERE e.recipient_user = ? AND e.recipient_device = ? AND e.seq > ?
         ORDER BY e.seq LIMIT ?`,
    ).all(address.userId, address.deviceId, afterSeq, limit) as EnvelopeRow[];
    return rows.map(toEnvelope);
  }

  async deleteEnvelopes(
    address: Address,
    ids: readonly string[],
  ): Promise<number> {
    const remove = this.db.transaction(() => {
      const statement = this.prepare(
        `DELETE FROM envelopes
           WHERE recipient_user = ? AND recipient_device = ? AND id = ?
           RETURNING body_id`,
      ).pluck();
      const release = this.prepare(
        'UPDATE envelope_bodies SET refs = refs - 1 WHERE body_id = ?',
      );
      const removeBody = this.prepare(
        'DELETE FROM envelope_bodies WHERE body_id = ? AND refs = 0',
      );
      let deleted = 0;
      for (const id of ids) {
        const rows = statement.all(address.userId, address.deviceId, id) as (
          number | null
        )[];
        deleted += rows.length;
        for (const bodyId of rows) {
          if (bodyId === null) continue;
          release.run(bodyId);
          removeBody.run(bodyId);
        }
      }
      return deleted;
    });
    return this.inGroupCommit(remove);
  }

  async pruneSentIds(before: number): Promise<number> {
    return this.prepare('DELETE FROM sent_ids WHERE server_ts < ?').run(before)
      .changes;
  }

  async listDevices(userId: string): Promise<DeviceCertificate[]> {
    return this.readCertificates(userId);
  }

  async recordBundleAccess(
    targetId: string,
    requesterId: string,
    at: number,
  ): Promise<void> {
    this.prepare(
      `INSERT INTO bundle_access_log (target_user, requester_user, fetched_at)
         VALUES (?, ?, ?)`,
    ).run(targetId, requesterId, at);
  }

  async bundleAccessLog(
    targetId: string,
    since: number,
    limit: number,
  ): Promise<AccessLogEntry[]> {
    const rows = this.prepare(
      `SELECT requester_user, fetched_at FROM bundle_access_log
         WHERE target_user = ? AND fetched_at >= ?
         ORDER BY fetched_at DESC, rowid DESC LIMIT ?`,
    ).all(targetId, since, limit) as {
      requester_user: string;
      fetched_at: number;
    }[];
    return rows.map((row) => ({
      requesterId: row.requester_user,
      fetchedAt: row.fetched_at,
    }));
  }

  async recordKeyChange(
    userId: string,
    at: number,
    fetchedSince: number,
  ): Promise<string[]> {
    const record = this.db.transaction(() => {
      this.prepare(
        'INSERT INTO key_changes (user_id, changed_at) VALUES (?, ?)',
      ).run(userId, at);
      return this.prepare(
        `SELECT DISTINCT requester_user FROM bundle_access_log
           WHERE target_user = ? AND fetched_at >= ? AND fetched_at <= ?
           ORDER BY requester_user`,
      )
        .pluck()
        .all(userId, fetchedSince, at) as string[];
    });
    return record.immediate();
  }

  async markSignedIn(
    address: Address,
    at: number,
  ): Promise<number | undefined> {
    const mark = this.db.transaction(() => {
      const previous = this.prepare(
        'SELECT signed_in_at FROM devices WHERE user_id = ? AND device_id = ?',
      )
        .pluck()
        .get(address.userId, address.deviceId) as number | null | undefined;
      this.prepare(
        'UPDATE devices SET signed_in_at = ? WHERE user_id = ? AND device_id = ?',
      ).run(at, address.userId, address.deviceId);
      return previous ?? undefined;
    });
    return mark.immediate();
  }

  async keyChangesSeenBy(
    requesterId: string,
    since: number,
    fetchWindowMs: number,
    limit: number,
  ): Promise<KeyChanged[]> {
    const rows = this.prepare(
      `SELECT change.user_id, max(change.changed_at) AS changed_at
         FROM key_changes AS change
         WHERE change.changed_at > ? AND EXISTS (
           SELECT 1 FROM bundle_access_log AS access
           WHERE access.requester_user = ?
             AND access.target_user = change.user_id
             AND access.fetched_at <= change.changed_at
             AND access.fetched_at >= change.changed_at - ?)
         GROUP BY change.user_id
         ORDER BY changed_at LIMIT ?`,
    ).all(since, requesterId, fetchWindowMs, limit) as {
      user_id: string;
      changed_at: number;
    }[];
    return rows.map((row) => ({
      userId: row.user_id,
      changedAt: row.changed_at,
    }));
  }

  async pruneKeyDirectoryLogs(before: number): Promise<number> {
    const prune = this.db.transaction(() => {
      const accesses = this.prepare(
        'DELETE FROM bundle_access_log WHERE fetched_at < ?',
      ).run(before).changes;
      const changes = this.prepare(
        'DELETE FROM key_changes WHERE changed_at < ?',
      ).run(before).changes;
      return accesses + changes;
    });
    return prune.immediate();
  }

  async close(): Promise<void> {
    if (this.db.open && this.groupCommit.length > 0) this.commitGroup();
    if (this.db.open) this.db.close();
  }

  /**
   * Records the sender device's envelope id, or returns the server time of
   * the first envelope with that id if the sender already sent it.
   */
  private recordSentId(envelope: {
    readonly id: string;
    readonly from: Address;
    readonly serverTs: number;
  }): number | undefined {
    const inserted = this.prepare(
      `INSERT INTO sent_ids (sender_user, sender_device, id, server_ts)
         VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`,
    ).run(
      envelope.from.userId,
      envelope.from.deviceId,
      envelope.id,
      envelope.serverTs,
    );
    if (inserted.changes > 0) return undefined;
    return this.prepare(
      `SELECT server_ts FROM sent_ids
         WHERE sender_user = ? AND sender_device = ? AND id = ?`,
    )
      .pluck()
      .get(envelope.from.userId, envelope.from.deviceId, envelope.id) as number;
  }

  private readCertificate(address: Address): DeviceCertificate | undefined {
    const row = this.prepare(
      'SELECT certificate FROM devices WHERE user_id = ? AND device_id = ?',
    )
      .pluck()
      .get(address.userId, address.deviceId) as string | undefined;
    return row === undefined
      ? undefined
      : (JSON.parse(row) as DeviceCertificate);
  }

  /** Reads the certificates of all of a user's devices, by device id. */
  private readCertificates(userId: string): DeviceCertificate[] {
    const rows = this.prepare(
      'SELECT certificate FROM devices WHERE user_id = ? ORDER BY device_id',
    )
      .pluck()
      .all(userId) as string[];
    return rows.map((row) => JSON.parse(row) as DeviceCertificate);
  }

  /** Reads one device's bundle, deleting the one-time keys it hands out. */
  private takeBundle(certificate: DeviceCertificate): PrekeyBundle | undefined {
    const owner = [certificate.userId, certificate.deviceId] as const;
    const signed = this.prepare(
      `SELECT key_id, public_key, signature FROM signed_prekeys
         WHERE user_id = ? AND device_id = ?`,
    ).get(...owner) as PqPrekeyRow | undefined;
    const oneTimePq = this.prepare(
      `DELETE FROM pq_prekeys WHERE rowid = (
           SELECT rowid FROM pq_prekeys
           WHERE user_id = ? AND device_id = ? AND last_resort = 0
           ORDER BY rowid LIMIT 1)
         RETURNING key_id, public_key, signature`,
    ).get(...owner) as PqPrekeyRow | undefined;
    const pq =
      oneTimePq ??
      (this.prepare(
        `SELECT key_id, public_key, signature FROM pq_prekeys
           WHERE user_id = ? AND device_id = ? AND last_resort = 1`,
      ).get(...owner) as PqPrekeyRow | undefined);
    if (!signed || !pq) return undefined;
    const oneTime = this.prepare(
      `DELETE FROM one_time_prekeys WHERE rowid = (
           SELECT rowid FROM one_time_prekeys
           WHERE user_id = ? AND device_id = ? ORDER BY rowid LIMIT 1)
         RETURNING key_id, public_key`,
    ).get(...owner) as Omit<PqPrekeyRow, 'signature'> | undefined;
    const bundle: PrekeyBundle = {
      certificate,
      signedPrekey: toSignedKey(signed),
      pqPrekey: toSignedKey(pq),
      pqPrekeyLastResort: oneTimePq === undefined,
    };
    if (oneTime) {
      bundle.oneTimePrekey = {
        keyId: oneTime.key_id,
        publicKey: oneTime.public_key,
      };
    }
    return bundle;
  }

  private writePrekeys(
    address: Address,
    keys: {
      signedPrekey?: SignedPrekey | undefined;
      lastResortPqPrekey?: PqPrekey | undefined;
      oneTimePrekeys: readonly OneTimePrekey[];
      oneTimePqPrekeys: readonly PqPrekey[];
    },
  ): void {
    const owner = [address.userId, address.deviceId] as const;
    if (keys.signedPrekey) {
      const { keyId, publicKey, signature } = keys.signedPrekey;
      this.prepare(
        `INSERT INTO signed_prekeys (user_id, device_id, key_id, public_key, signature)
           VALUES (?, ?, ?, ?, ?)
           ON CONFLICT (user_id, device_id) DO UPDATE SET
             key_id = excluded.key_id,
             public_key = excluded.public_key,
             signature = excluded.signature`,
      ).run(...owner, keyId, publicKey, signature);
    }
    const insertPq = this.prepare(
      `INSERT INTO pq_prekeys (user_id, device_id, last_resort, key_id, public_key, signature)
       VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (user_id, device_id, last_resort, key_id) DO UPDATE SET
         public_key = excluded.public_key,
         signature = excluded.signature`,
    );
    if (keys.lastResortPqPrekey) {
      const { keyId, publicKey, signature } = keys.lastResortPqPrekey;
      this.prepare(
        'DELETE FROM pq_prekeys WHERE user_id = ? AND device_id = ? AND last_resort = 1',
      ).run(...owner);
      insertPq.run(...owner, 1, keyId, publicKey, signature);
    }
    for (const key of keys.oneTimePqPrekeys) {
      insertPq.run(...owner, 0, key.keyId, key.publicKey, key.signature);
    }
    const insertOneTime = this.prepare(
      `INSERT INTO one_time_prekeys (user_id, device_id, key_id, public_key)
       VALUES (?, ?, ?, ?)
       ON CONFLICT (user_id, device_id, key_id) DO UPDATE SET
         public_key = excluded.public_key`,
    );
    for (const key of keys.oneTimePrekeys) {
      insertOneTime.run(...owner, key.keyId, key.publicKey);
    }
  }

  private deletePrekeys(address: Address): void {
    for (const table of ['signed_prekeys', 'pq_prekeys', 'one_time_prekeys']) {
      this.prepare(
        `DELETE FROM ${table} WHERE user_id = ? AND device_id = ?`,
      ).run(address.userId, address.deviceId);
    }
  }

  private countPrekeys(address: Address): PrekeyCounts {
    const owner = [address.userId, address.deviceId] as const;
    const oneTimePrekeys = this.prepare(
      'SELECT count(*) FROM one_time_prekeys WHERE user_id = ? AND device_id = ?',
    )
      .pluck()
      .get(...owner) as number;
    const oneTimePqPrekeys = this.prepare(
      `SELECT count(*) FROM pq_prekeys
         WHERE user_id = ? AND device_id = ? AND last_resort = 0`,
    )
      .pluck()
      .get(...owner) as number;
    return { oneTimePrekeys, oneTimePqPrekeys };
  }
}

function sameCertificate(a: DeviceCertificate, b: DeviceCertificate): boolean {
  return (
    a.identityKey === b.identityKey &&
    a.signingKey === b.signingKey &&
    a.dhKey === b.dhKey &&
    a.issuedAt === b.issuedAt &&
    a.signature === b.signature
  );
}

function toSignedKey(row: PqPrekeyRow): SignedPrekey {
  return {
    keyId: row.key_id,
    publicKey: row.public_key,
    signature: row.signature,
  };
}

function toEnvelope(row: EnvelopeRow): Envelope {
  return {
    v: 1,
    kind: row.kind as EnvelopeKind,
    id: row.id,
    from: { userId: row.sender_user, deviceId: row.sender_device },
    to: { userId: row.recipient_user, deviceId: row.recipient_device },
    serverTs: row.server_ts,
    seq: row.seq,
    body: row.body,
  };
}

export function openSqliteStore(options: SqliteStoreOptions): SqliteStore {
  return new SqliteStore(options);
}
