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
    const older = await openDB(name, 1, {
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

  it('adds the held group message store to version 2', async () => {
    const name = freshName();
    const older = await openDB(name, 2, {
      upgrade(db) {
        db.createObjectStore('groups', { keyPath: 'groupId' });
      },
    });
    await older.put('groups', { groupId: 'g1', name: 'Trip' });
    older.close();

    const db = await openCloakDb(name);
    expect(db.version).toBe(DB_VERSION);
    expect(await db.get('groups', 'g1')).toMatchObject({ name: 'Trip' });
    await db.put('heldGroupMessages', {
      id: 'e1',
      groupId: 'g1',
      envelope: {
        v: 1,
        kind: 'group',
        id: 'e1',
        from: { userId: 'bob', deviceId: 1 },
        to: { userId: 'alice', deviceId: 1 },
        serverTs: 1,
        seq: 1,
        body: 'AAAA',
      },
      heldAt: 5,
      order: 1,
    });
    expect(
      await db.getAllKeysFromIndex('heldGroupMessages', 'by-time'),
    ).toEqual(['e1']);
    expect(
      await db.getAllKeysFromIndex('heldGroupMessages', 'by-sender'),
    ).toEqual(['e1']);
    expect(
      await db.getAllKeysFromIndex('heldGroupMessages', 'by-group-sender'),
    ).toEqual(['e1']);
    db.close();
  });
});
