import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createTestDevice } from '../test-support/device';
import { makeDataDir, removeDataDir } from '../test-support/relay';
import { migrate, migrations } from './migrations';
import { SqliteStore } from './sqlite';

const dataDirs: string[] = [];

function databasePath(): string {
  const dataDir = makeDataDir();
  dataDirs.push(dataDir);
  return path.join(dataDir, 'test.sqlite');
}

afterEach(() => {
  for (const dataDir of dataDirs.splice(0)) removeDataDir(dataDir);
});

interface MigrationRow {
  version: number;
  name: string;
  applied_at: number;
}

function appliedMigrations(store: SqliteStore): MigrationRow[] {
  return store.db
    .prepare('SELECT * FROM schema_migrations ORDER BY version')
    .all() as MigrationRow[];
}

describe('SQLite store', () => {
  it('runs each migration once', async () => {
    const file = databasePath();
    const first = new SqliteStore({ path: file });
    const applied = appliedMigrations(first);
    expect(applied.map((row) => row.version)).toEqual(
      migrations.map((migration) => migration.version),
    );
    expect(migrate(first.db)).toEqual([]);
    await first.close();

    const second = new SqliteStore({ path: file });
    expect(appliedMigrations(second)).toEqual(applied);
    await second.close();
  });

  it('numbers migrations in increasing order', () => {
    const versions = migrations.map((migration) => migration.version);
    expect(versions).toEqual([...versions].sort((a, b) => a - b));
    expect(new Set(versions).size).toBe(versions.length);
  });

  it('rolls back a failing migration', async () => {
    const store = new SqliteStore({ path: databasePath() });
    const failing = {
      version: 999,
      name: 'failing',
      up: () => {
        store.db.exec('CREATE TABLE half_done (x INTEGER)');
        throw new Error('migration failed');
      },
    };
    expect(() => migrate(store.db, [...migrations, failing])).toThrow(
      'migration failed',
    );
    const tables = store.db
      .prepare("SELECT name FROM sqlite_master WHERE name = 'half_done'")
      .all();
    expect(tables).toEqual([]);
    expect(appliedMigrations(store).map((row) => row.version)).not.toContain(
      999,
    );
    await store.close();
  });

  it('uses WAL with the requested synchronous mode', async () => {
    const normal = new SqliteStore({ path: databasePath() });
    expect(normal.db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(normal.db.pragma('synchronous', { simple: true })).toBe(1);
    await normal.close();
    const full = new SqliteStore({ path: databasePath(), synchronous: 'FULL' });
    expect(full.db.pragma('synchronous', { simple: true })).toBe(2);
    await full.close();
  });

  it('commits envelopes of one turn together, failing one alone', async () => {
    const store = new SqliteStore({ path: databasePath() });
    const alice = await createTestDevice('alice');
    const bob = await createTestDevice('bob');
    await store.registerDevice(alice.registration);
    await store.registerDevice(bob.registration);
    const unknown = { userId: 'nobody', deviceId: 1 };
    const envelope = (index: number, to = bob.address) => ({
      id: `envelope-${index}`,
      kind: 'message' as const,
      from: alice.address,
      to,
      body: 'AAEC',
      serverTs: 1_000 + index,
    });

    const results = await Promise.allSettled([
      store.storeEnvelope(envelope(1)),
      store.storeEnvelope(envelope(2, unknown)),
      store.storeEnvelope(envelope(3)),
      store.storeEnvelope(envelope(1)),
    ]);

    expect(results.map((result) => result.status)).toEqual([
      'fulfilled',
      'rejected',
      'fulfilled',
      'fulfilled',
    ]);
    expect(results[3]).toMatchObject({ value: { duplicate: true } });
    const stored = await store.envelopesAfter(bob.address, 0, 10);
    expect(stored.map(({ id, seq }) => [id, seq])).toEqual([
      ['envelope-1', 1],
      ['envelope-3', 2],
    ]);
    // The failed write left no sent id behind, so its retry is stored.
    await store.registerDevice((await createTestDevice('nobody')).registration);
    const retried = await store.storeEnvelope(envelope(2, unknown));
    expect(retried).toMatchObject({ duplicate: false });
    await store.close();
  });
});
