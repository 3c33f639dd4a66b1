/**
 * Browser-only contenders that go through the product's storage: the
 * ratchet with each side's sealed session record committed to IndexedDB in
 * one transaction per message, as the engine does, and the creation of a
 * new account's keys and stores.
 */
import { toBase64Url } from '../../shared/crypto/bytes';
import {
  createAccountKeys,
  type LocalIdentity,
  toWirePqPrekey,
  toWireSignedPrekey,
} from '../../shared/crypto/keys';
import { generateAesKey } from '../../shared/crypto/primitives';
import { systemRandom } from '../../shared/crypto/random';
import {
  decryptMessage,
  deserializeSessionRecord,
  encryptMessage,
  initiateSession,
  serializeSessionRecord,
} from '../../shared/crypto/session';
import type { Address, PrekeyBundle } from '../../shared/wire/schemas';
import { createPendingAccount } from '../../client/src/engine/account';
import { openCloakDb } from '../../client/src/storage/db';
import { LocalStore } from '../../client/src/storage/local-store';
import { MESSAGE_BYTES, type Pattern, sidesOf } from './cloak';

interface StoredSide {
  readonly identity: LocalIdentity;
  readonly address: Address;
  readonly store: LocalStore;
  readonly db: IDBDatabase;
  readonly name: string;
}

let databases = 0;

function uniqueName(label: string): string {
  databases += 1;
  return `cloak-bench-${label}-${Date.now()}-${databases}`;
}

async function createSide(userId: string): Promise<{
  side: StoredSide;
  bundle: PrekeyBundle;
}> {
  const keys = await createAccountKeys(userId, 1, systemRandom, Date.now(), 1);
  const name = uniqueName(userId);
  const db = await openCloakDb(name);
  const store = await LocalStore.create(
    db,
    keys,
    await generateAesKey(),
    systemRandom,
  );
  const oneTime = keys.oneTimePrekeys[0];
  const oneTimePq = keys.oneTimePqPrekeys[0];
  if (oneTime === undefined || oneTimePq === undefined) {
    throw new Error('account keys without one-time prekeys');
  }
  const bundle: PrekeyBundle = {
    certificate: keys.identity.certificate,
    signedPrekey: toWireSignedPrekey(keys.signedPrekey),
    pqPrekey: toWirePqPrekey(oneTimePq),
    pqPrekeyLastResort: false,
    oneTimePrekey: {
      keyId: oneTime.keyId,
      publicKey: toBase64Url(oneTime.keyPair.publicKey),
    },
  };
  return {
    side: {
      identity: keys.identity,
      address: { userId, deviceId: 1 },
      store,
      db: db as unknown as IDBDatabase,
      name,
    },
    bundle,
  };
}

let envelopes = 0;

/**
 * Sends one message through the product's storage path: the sender loads
 * and opens its session record, encrypts, and commits the sealed record
 * with the outbox envelope; the recipient loads its record, decrypts, and
 * commits the sealed record with the message in one transaction.
 */
async function sendThroughStore(
  sender: StoredSide,
  recipient: StoredSide,
  text: string,
): Promise<void> {
  const now = Date.now();
  const stored = await sender.store.loadSession(recipient.address);
  if (stored === undefined) throw new Error('sender has no session');
  const encrypted = await encryptMessage(
    await deserializeSessionRecord(stored),
    sender.identity,
    recipient.address,
    new TextEncoder().encode(text),
    systemRandom,
    now,
  );
  envelopes += 1;
  const id = `bench-${envelopes}`;
  await sender.store.commitEncrypted(
    [
      {
        address: recipient.address,
        record: serializeSessionRecord(encrypted.record),
      },
    ],
    [
      {
        id,
        envelope: {
          v: 1,
          kind: encrypted.kind,
          id,
          to: recipient.address,
          body: toBase64Url(encrypted.body),
        },
        peerId: recipient.address.userId,
        messageKey: undefined,
        createdAt: now,
      },
    ],
    now,
  );

  const contact = await recipient.store.contact(sender.address.userId);
  const storedRecord = await recipient.store.loadSession(sender.address);
  const decrypted = await decryptMessage({
    record:
      storedRecord === undefined
        ? undefined
        : await deserializeSessionRecord(storedRecord),
    local: recipient.identity,
    from: sender.address,
    kind: encrypted.kind,
    body: encrypted.body,
    prekeys: recipient.store.prekeyLookup(),
    pinnedIdentityKey: contact?.identityKey,
    random: systemRandom,
    now,
  });
  await recipient.store.commitReceived({
    envelopeId: id,
    session: {
      address: sender.address,
      record: serializeSessionRecord(decrypted.record),
    },
    theirIdentityKey: decrypted.theirIdentityKey,
    consumed: decrypted.consumed,
    text: {
      messageId: id,
      text: new TextDecoder().decode(decrypted.plaintext),
      sentAt: now,
      position: { deviceId: sender.address.deviceId, ...decrypted.position },
    },
    unread: false,
    now,
  });
}

async function deleteDatabase(side: StoredSide): Promise<void> {
  side.db.close();
  await new Promise<void>((resolve) => {
    const request = indexedDB.deleteDatabase(side.name);
    request.onsuccess = () => resolve();
    request.onerror = () => resolve();
    request.onblocked = () => resolve();
  });
}

/**
 * Runs `count` messages with every record committed to IndexedDB; returns
 * messages per second. Both databases are deleted afterwards.
 */
export async function runCloakIndexedDb(
  pattern: Pattern,
  count: number,
  warmup: number,
): Promise<number> {
  const alice = await createSide('alice');
  const bob = await createSide('bob');
  try {
    const { record, theirIdentityKey } = await initiateSession(
      alice.side.identity,
      bob.bundle,
      undefined,
      systemRandom,
      Date.now(),
    );
    await alice.side.store.addInitiatedSessions(
      'bob',
      [{ address: bob.side.address, record: serializeSessionRecord(record) }],
      theirIdentityKey,
      Date.now(),
    );
    const text = 'x'.repeat(MESSAGE_BYTES);
    await sendThroughStore(alice.side, bob.side, text);
    await sendThroughStore(bob.side, alice.side, text);
    const step = (index: number) => {
      const [sender, recipient] = sidesOf(pattern, index, alice, bob);
      return sendThroughStore(sender.side, recipient.side, text);
    };
    for (let i = 0; i < warmup; i++) await step(i);
    const start = performance.now();
    for (let i = warmup; i < warmup + count; i++) await step(i);
    return count / ((performance.now() - start) / 1000);
  } finally {
    await deleteDatabase(alice.side);
    await deleteDatabase(bob.side);
  }
}

/**
 * Times `createPendingAccount`, which creates the keys of a new account
 * (100 one-time prekeys of each kind included) and stores them; returns
 * milliseconds.
 */
export async function createAccountMs(): Promise<number> {
  const name = uniqueName('account');
  const db = await openCloakDb(name);
  try {
    const start = performance.now();
    await createPendingAccount(db, `bench-${databases}`);
    return performance.now() - start;
  } finally {
    db.close();
    indexedDB.deleteDatabase(name);
  }
}
