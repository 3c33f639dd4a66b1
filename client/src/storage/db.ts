import { type IDBPDatabase, openDB } from 'idb';
import { type CloakSchema, DB_NAME, DB_VERSION } from './schema';

export type CloakDb = IDBPDatabase<CloakSchema>;

/** Callbacks for another tab that has a different schema version open. */
export interface OpenEvents {
  /** Called while an older connection in another tab blocks the upgrade. */
  readonly onBlocked?: () => void;
  /**
   * Called after another tab requested a newer version. This connection is
   * already closed, so the page must be reloaded.
   */
  readonly onVersionChange?: () => void;
}

/**
 * Opens the installation's database, creating or migrating its stores. Each
 * schema version adds one `if (oldVersion < n)` step, so a browser several
 * versions behind runs every step in order.
 */
export function openCloakDb(
  name: string = DB_NAME,
  events: OpenEvents = {},
): Promise<CloakDb> {
  return openDB<CloakSchema>(name, DB_VERSION, {
    blocked() {
      events.onBlocked?.();
    },
    blocking(_currentVersion, _blockedVersion, event) {
      // Closing at once lets the other tab's upgrade go ahead.
      (event.target as IDBDatabase).close();
      events.onVersionChange?.();
    },
    upgrade(db, oldVersion, _newVersion, transaction) {
      if (oldVersion < 1) {
        db.createObjectStore('identity');
        db.createObjectStore('storageKey');
        db.createObjectStore('settings');
        db.createObjectStore('prekeys', { keyPath: 'id' }).createIndex(
          'by-type',
          'type',
        );
        db.createObjectStore('sessions', { keyPath: 'address' }).createIndex(
          'by-user',
          'userId',
        );
        db.createObjectStore('contacts', { keyPath: 'userId' });
        db.createObjectStore('setupIds', { keyPath: 'id' });
        db.createObjectStore('conversations', { keyPath: 'peerId' });
        db.createObjectStore('messages', { keyPath: 'key' }).createIndex(
          'by-conversation',
          ['peerId', 'order'],
        );
        db.createObjectStore('processed', { keyPath: 'id' }).createIndex(
          'by-time',
          'processedAt',
        );
        const outbox = db.createObjectStore('outbox', { keyPath: 'id' });
        outbox.createIndex('by-message', 'messageKey');
        outbox.createIndex('by-time', 'createdAt');
      }
      if (oldVersion < 2) {
        db.createObjectStore('groups', { keyPath: 'groupId' });
        db.createObjectStore('ownSenderKeys', { keyPath: 'groupId' });
        db.createObjectStore('senderKeys', { keyPath: 'id' });
      }
      if (oldVersion < 3) {
        const held = db.createObjectStore('heldGroupMessages', {
          keyPath: 'id',
        });
        held.createIndex('by-group', ['groupId', 'order']);
        held.createIndex('by-time', 'heldAt');
      }
      if (oldVersion < 4) {
        // Overflow deletes the envelopes of the sender with the most held,
        // so that one sender cannot push out the messages of others.
        const held = transaction.objectStore('heldGroupMessages');
        held.createIndex('by-group-sender', [
          'groupId',
          'envelope.from.userId',
          'order',
        ]);
        held.createIndex('by-sender', ['envelope.from.userId', 'order']);
      }
    },
  });
}
