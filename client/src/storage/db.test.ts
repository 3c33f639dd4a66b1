import 'fake-indexeddb/auto';
import { openDB } from 'idb';
import { describe, expect, it, vi } from 'vitest';
import { openCloakDb } from './db';
import { DB_VERSION } from './schema';

let databaseCount = 0;
const freshName = () => `db-test-${++databaseCount}`;

describe('openCloakDb', () => {
  it('reports an upgrade blocked by another tab', async () => {
    const name = freshName();
    const older = await openDB(name, DB_VERSION - 1, {
      upgrade(db) {
        db.createObjectStore('identity');
      },
    });
    const onBlocked = vi.fn();
    const opening = openCloakDb(name, {
      onBlocked: () => {
        onBlocked();
        older.close();
      },
    });
    const db = await opening;
    expect(onBlocked).toHaveBeenCalledOnce();
    expect(db.version).toBe(DB_VERSION);
    db.close();
  });

  it('closes itself for a newer version', async () => {
    const name = freshName();
    const onVersionChange = vi.fn();
    await openCloakDb(name, { onVersionChange });
    const blocked = vi.fn();
    const newer = await openDB(name, DB_VERSION + 1, { blocked });
    expect(onVersionChange).toHaveBeenCalledOnce();
    expect(blocked).not.toHaveBeenCalled();
    expect(newer.version).toBe(DB_VERSION + 1);
    newer.close();
  });
});
