/**
 * Aggregate figures read from the relay's SQLite database: the envelope
 * queue, the size of the database files, and how many devices have a
 * one-time prekey pool below the refill mark. No query returns a user id.
 */
import { statSync } from 'node:fs';
import type Database from 'better-sqlite3';
import { ONE_TIME_PREKEY_REFILL_THRESHOLD } from '../../shared/wire/limits';

export interface QueueStats {
  readonly envelopes: number;
  /** Stored size of the queued bodies, in base64url characters. */
  readonly bytes: number;
  /** Server time of the oldest queued envelope, or null when empty. */
  readonly oldestServerTs: number | null;
}

export interface StoreStats {
  /** Runs `SELECT 1`; returns false when the query fails. */
  answers(): boolean;
  queue(): QueueStats;
  storageBytes(): number;
  devicesLowOnPrekeys(): number;
}

// NOTE: COUNT and SUM scan the whole envelopes table once a second. That is
// cheap for a queue of thousands; a relay holding millions of queued
// envelopes would need running totals kept on insert and delete instead.
// A group body is stored once in envelope_bodies and shared by the rows of
// its recipients, so it is counted once.
const QUEUE_QUERY = `
  SELECT COUNT(*) AS envelopes,
         COALESCE(SUM(LENGTH(body)), 0)
           + (SELECT COALESCE(SUM(LENGTH(body)), 0) FROM envelope_bodies)
           AS bytes,
         MIN(server_ts) AS oldest
    FROM envelopes`;

const LOW_PREKEYS_QUERY = `
  SELECT COUNT(*) AS devices FROM devices AS d
   WHERE (SELECT COUNT(*) FROM one_time_prekeys AS o
           WHERE o.user_id = d.user_id AND o.device_id = d.device_id) < @mark
      OR (SELECT COUNT(*) FROM pq_prekeys AS p
           WHERE p.user_id = d.user_id AND p.device_id = d.device_id
             AND p.last_resort = 0) < @mark`;

export function sqliteStoreStats(
  db: Database.Database,
  databaseFile: string,
): StoreStats {
  return {
    answers: () => {
      try {
        return db.prepare('SELECT 1 AS one').get() !== undefined;
      } catch {
        return false;
      }
    },
    queue: () => {
      const row = db.prepare(QUEUE_QUERY).get() as {
        envelopes: number;
        bytes: number;
        oldest: number | null;
      };
      return {
        envelopes: row.envelopes,
        bytes: row.bytes,
        oldestServerTs: row.oldest,
      };
    },
    storageBytes: () =>
      ['', '-wal', '-shm']
        .map((suffix) => fileSize(databaseFile + suffix))
        .reduce((sum, size) => sum + size, 0),
    devicesLowOnPrekeys: () => {
      const row = db
        .prepare(LOW_PREKEYS_QUERY)
        .get({ mark: ONE_TIME_PREKEY_REFILL_THRESHOLD }) as { devices: number };
      return row.devices;
    },
  };
}

function fileSize(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}
