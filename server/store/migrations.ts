/**
 * The SQLite schema as an ordered list of migrations. Each runs once, in its
 * own transaction, and is recorded in `schema_migrations`; a released
 * migration is never edited, only followed by a new one.
 */
import type Database from 'better-sqlite3';

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly up: (db: Database.Database) => void;
}

export const migrations: readonly Migration[] = [
  {
    version: 1,
    name: 'accounts, devices and prekeys',
    up: (db) => {
      db.exec(`
        CREATE TABLE accounts (
          user_id TEXT PRIMARY KEY,
          identity_key TEXT NOT NULL,
          created_at INTEGER NOT NULL
        ) STRICT;

        CREATE TABLE devices (
          user_id TEXT NOT NULL REFERENCES accounts (user_id),
          device_id INTEGER NOT NULL,
          certificate TEXT NOT NULL,
          last_seq INTEGER NOT NULL DEFAULT 0,
          created_at INTEGER NOT NULL,
          PRIMARY KEY (user_id, device_id)
        ) STRICT;

        CREATE TABLE signed_prekeys (
          user_id TEXT NOT NULL,
          device_id INTEGER NOT NULL,
          key_id INTEGER NOT NULL,
          public_key TEXT NOT NULL,
          signature TEXT NOT NULL,
          PRIMARY KEY (user_id, device_id),
          FOREIGN KEY (user_id, device_id) REFERENCES devices (user_id, device_id)
        ) STRICT;

        CREATE TABLE pq_prekeys (
          user_id TEXT NOT NULL,
          device_id INTEGER NOT NULL,
          last_resort INTEGER NOT NULL CHECK (last_resort IN (0, 1)),
          key_id INTEGER NOT NULL,
          public_key TEXT NOT NULL,
          signature TEXT NOT NULL,
          PRIMARY KEY (user_id, device_id, last_resort, key_id),
          FOREIGN KEY (user_id, device_id) REFERENCES devices (user_id, device_id)
        ) STRICT;

        CREATE UNIQUE INDEX pq_prekeys_one_last_resort
          ON pq_prekeys (user_id, device_id) WHERE last_resort = 1;

        CREATE TABLE one_time_prekeys (
          user_id TEXT NOT NULL,
          device_id INTEGER NOT NULL,
          key_id INTEGER NOT NULL,
          public_key TEXT NOT NULL,
          PRIMARY KEY (user_id, device_id, key_id),
          FOREIGN KEY (user_id, device_id) REFERENCES devices (user_id, device_id)
        ) STRICT;
      `);
    },
  },
  {
    version: 2,
    name: 'envelope queues and sent ids',
    up: (db) => {
      db.exec(`
        CREATE TABLE envelopes (
          recipient_user TEXT NOT NULL,
          recipient_device INTEGER NOT NULL,
          seq INTEGER NOT NULL,
          id TEXT NOT NULL,
          kind TEXT NOT NULL,
          sender_user TEXT NOT NULL,
          sender_device INTEGER NOT NULL,
          server_ts INTEGER NOT NULL,
          body TEXT NOT NULL,
          PRIMARY KEY (recipient_user, recipient_device, seq),
          FOREIGN KEY (recipient_user, recipient_device)
            REFERENCES devices (user_id, device_id)
        ) STRICT;

        CREATE INDEX envelopes_by_id
          ON envelopes (recipient_user, recipient_device, id);

        -- Deduplication record of every accepted id, kept after the envelope
        -- is deleted. It names only the sender, never the recipient.
        CREATE TABLE sent_ids (
          sender_user TEXT NOT NULL,
          sender_device INTEGER NOT NULL,
          id TEXT NOT NULL,
          server_ts INTEGER NOT NULL,
          PRIMARY KEY (sender_user, sender_device, id)
        ) STRICT;

        CREATE INDEX sent_ids_by_time ON sent_ids (server_ts);
      `);
    },
  },
  {
    version: 3,
    name: 'bundle access log and key changes',
    up: (db) => {
      db.exec(`
        -- One row per prekey bundle fetch, kept for the retention window.
        -- It is social-graph metadata, so only its target may read it.
        CREATE TABLE bundle_access_log (
          target_user TEXT NOT NULL,
          requester_user TEXT NOT NULL,
          fetched_at INTEGER NOT NULL
        ) STRICT;

        CREATE INDEX bundle_access_by_target
          ON bundle_access_log (target_user, fetched_at);
        CREATE INDEX bundle_access_by_requester
          ON bundle_access_log (requester_user, target_user, fetched_at);
        CREATE INDEX bundle_access_by_time ON bundle_access_log (fetched_at);

        -- Certificate or identity key changes, kept for the retention window
        -- so that devices offline at the time are told at sign-in.
        CREATE TABLE key_changes (
          user_id TEXT NOT NULL,
          changed_at INTEGER NOT NULL
        ) STRICT;

        CREATE INDEX key_changes_by_user ON key_changes (user_id, changed_at);
        CREATE INDEX key_changes_by_time ON key_changes (changed_at);

        ALTER TABLE devices ADD COLUMN signed_in_at INTEGER;
      `);
    },
  },
  {
    version: 4,
    name: 'shared bodies of group envelopes',
    up: (db) => {
      db.exec(`
        -- A group envelope's body is stored once and referenced by one
        -- envelope row per recipient device, whose own body is then empty.
        -- refs counts those rows; the body goes with the last of them.
        CREATE TABLE envelope_bodies (
          body_id INTEGER PRIMARY KEY,
          body TEXT NOT NULL,
          refs INTEGER NOT NULL CHECK (refs >= 0)
        ) STRICT;

        ALTER TABLE envelopes ADD COLUMN body_id INTEGER
          REFERENCES envelope_bodies (body_id);
      `);
    },
  },
];

/** Applies the migrations not yet recorded; returns the versions applied. */
export function migrate(
  db: Database.Database,
  list: readonly Migration[] = migrations,
): number[] {
  db.exec(`
    CREATE TABLE IF NOT EXISTS schema_migrations (
      version INTEGER PRIMARY KEY,
      name TEXT NOT NULL,
      applied_at INTEGER NOT NULL
    ) STRICT
  `);
  const applied = new Set(
    db
      .prepare('SELECT version FROM schema_migrations')
      .pluck()
      .all() as number[],
  );
  const record = db.prepare(
    'INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)',
  );
  const ran: number[] = [];
  const ordered = [...list].sort((a, b) => a.version - b.version);
  for (const migration of ordered) {
    if (applied.has(migration.version)) continue;
    db.transaction(() => {
      migration.up(db);
      record.run(migration.version, migration.name, Date.now());
    }).immediate();
    ran.push(migration.version);
  }
  return ran;
}
