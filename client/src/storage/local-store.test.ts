import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import { utf8 } from '../../../shared/crypto/bytes';
import { createAccountKeys } from '../../../shared/crypto/keys';
import { generateAesKey } from '../../../shared/crypto/primitives';
import { systemRandom } from '../../../shared/crypto/random';
import { type CloakDb, openCloakDb } from './db';
import { LocalStore, messageKey, prekeyRowId } from './local-store';

const NOW = 1_750_000_000_000;
const bob = { userId: 'bob', deviceId: 1 };
const carol = { userId: 'carol', deviceId: 1 };
let databaseCount = 0;

async function createStore() {
  const db = await openCloakDb(`local-store-test-${++databaseCount}`);
  const keys = await createAccountKeys('alice', 1, systemRandom, NOW);
  const store = await LocalStore.create(
    db,
    keys,
    await generateAesKey(),
    systemRandom,
  );
  return { db, keys, store };
}

async function reopen(db: CloakDb): Promise<LocalStore> {
  const opened = await LocalStore.open(db, systemRandom);
  if (!opened) throw new Error('no stored account');
  return opened.store;
}

function contains(haystack: Uint8Array, needle: Uint8Array): boolean {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) {
      if (haystack[i + j] !== needle[j]) continue outer;
    }
    return true;
  }
  return false;
}

describe('LocalStore', () => {
  it('reopens the stored account', async () => {
    const { db, keys } = await createStore();
    const opened = await LocalStore.open(db, systemRandom);

    expect(opened?.identity.userId).toBe('alice');
    expect(opened?.identity.certificate).toEqual(keys.identity.certificate);
    expect(opened?.identity.signingKey.privateKey).toBeInstanceOf(CryptoKey);
    expect(opened?.identity.signingKey.privateKey.extractable).toBe(false);
    expect(opened?.identity.identityKey.privateKey.extractable).toBe(false);
    expect(await (await reopen(db)).settings()).toEqual({
      storageNoticeShown: false,
      nextOneTimePrekeyId: 101,
    });
  });

  it('hands out storage notice once', async () => {
    const { db, store } = await createStore();

    expect(await store.takeStorageNotice()).toBe(true);
    expect(await store.takeStorageNotice()).toBe(false);
    expect(await (await reopen(db)).takeStorageNotice()).toBe(false);
    expect((await store.settings()).nextOneTimePrekeyId).toBe(101);
  });

  it('returns nothing without an account', async () => {
    const db = await openCloakDb(`local-store-test-${++databaseCount}`);
    expect(await LocalStore.open(db, systemRandom)).toBeUndefined();
  });

  it('rejects a second account', async () => {
    const { db, keys } = await createStore();
    await expect(
      LocalStore.create(db, keys, await generateAesKey(), systemRandom),
    ).rejects.toMatchObject({ code: 'storage-failed' });
  });

  it('round-trips a sealed session', async () => {
    const { db, store } = await createStore();
    const record = utf8('session record bytes');
    await store.addInitiatedSessions(
      'bob',
      [{ address: bob, record }],
      new Uint8Array(32).fill(7),
      NOW,
    );

    const row = await db.get('sessions', 'bob.1');
    expect(row).toBeDefined();
    expect(contains(row?.sealed ?? record, record)).toBe(false);
    expect(await (await reopen(db)).loadSession(bob)).toEqual(record);
    expect(await store.sessionAddresses('bob')).toEqual([bob]);
    expect(await store.loadSession(carol)).toBeUndefined();
  });

  it('rejects a swapped session record', async () => {
    const { db, store } = await createStore();
    await store.addInitiatedSessions(
      'bob',
      [{ address: bob, record: utf8('for bob') }],
      new Uint8Array(32).fill(7),
      NOW,
    );
    const row = await db.get('sessions', 'bob.1');
    if (!row) throw new Error('no session row');
    await db.put('sessions', { ...row, address: 'carol.1', userId: 'carol' });

    await expect(store.loadSession(carol)).rejects.toMatchObject({
      code: 'decryption-failed',
    });
  });

  it('seals message text at rest', async () => {
    const { db, store } = await createStore();
    const text = 'meet at noon';
    await store.addOutgoingMessage('bob', 'message-1', text, NOW);

    const row = await db.get('messages', messageKey('bob', 'message-1'));
    expect(row).toBeDefined();
    expect(contains(row?.sealedText ?? utf8(text), utf8(text))).toBe(false);
    const [message] = await (await reopen(db)).listMessages('bob');
    expect(message).toMatchObject({ text, direction: 'out', state: 'sending' });
  });

  it('lists no conversation for a session alone', async () => {
    const { store } = await createStore();
    const identityKey = new Uint8Array(32).fill(7);
    await store.addInitiatedSessions('dave', [], identityKey, NOW);

    expect(await store.listConversations()).toEqual([]);
    expect(await store.contact('dave')).toBeDefined();
  });

  it('lists conversations newest first', async () => {
    const { store } = await createStore();
    const identityKey = new Uint8Array(32).fill(7);
    await store.addInitiatedSessions(
      'dave',
      [],
      identityKey,
      NOW - 1_000,
      true,
    );
    await store.addOutgoingMessage('bob', 'message-1', 'hi bob', NOW);
    await store.addOutgoingMessage('carol', 'message-2', 'hi carol', NOW + 1);
    await store.addOutgoingMessage('bob', 'message-3', 'again', NOW + 2);

    expect(await store.listConversations()).toEqual([
      {
        peerId: 'bob',
        kind: 'direct',
        name: 'bob',
        unread: 0,
        lastActivity: NOW + 2,
        lastMessage: { direction: 'out', text: 'again' },
      },
      {
        peerId: 'carol',
        kind: 'direct',
        name: 'carol',
        unread: 0,
        lastActivity: NOW + 1,
        lastMessage: { direction: 'out', text: 'hi carol' },
      },
      {
        peerId: 'dave',
        kind: 'direct',
        name: 'dave',
        unread: 0,
        lastActivity: NOW - 1_000,
        lastMessage: undefined,
      },
    ]);
  });

  it('remembers the open conversation', async () => {
    const { db, store } = await createStore();
    await store.addOutgoingMessage('bob', 'message-1', 'hi bob', NOW);
    await store.setOpenConversation('bob');
    expect(await (await reopen(db)).openConversation()).toBe('bob');

    await store.setOpenConversation(undefined);
    expect(await (await reopen(db)).openConversation()).toBeUndefined();
    expect(await store.settings()).not.toHaveProperty('openConversation');
  });

  it('forgets an open conversation that is gone', async () => {
    const { store } = await createStore();
    await store.setOpenConversation('carol');
    expect(await store.openConversation()).toBeUndefined();
  });

  it('orders equal activity by peer', async () => {
    const { store } = await createStore();
    await store.addOutgoingMessage('carol', 'message-1', 'to carol', NOW);
    await store.addOutgoingMessage('bob', 'message-2', 'to bob', NOW);

    const peers = (await store.listConversations()).map((view) => view.peerId);
    expect(peers).toEqual(['bob', 'carol']);
  });

  it('rejects a swapped message text', async () => {
    const { db, store } = await createStore();
    await store.addOutgoingMessage('bob', 'message-1', 'first', NOW);
    await store.addOutgoingMessage('bob', 'message-2', 'second', NOW);
    const first = await db.get('messages', messageKey('bob', 'message-1'));
    const second = await db.get('messages', messageKey('bob', 'message-2'));
    if (!first || !second) throw new Error('messages missing');
    await db.put('messages', { ...second, sealedText: first.sealedText });

    await expect(store.listMessages('bob')).rejects.toMatchObject({
      code: 'decryption-failed',
    });
  });

  it('looks up private prekeys', async () => {
    const { keys, store } = await createStore();
    const lookup = store.prekeyLookup();
    const pq = keys.oneTimePqPrekeys[0];
    const lastResort = keys.lastResortPqPrekey;
    if (!pq) throw new Error('no one-time PQ prekey');

    expect((await lookup.pqPrekey(pq.keyId))?.reveal()).toEqual(
      pq.keyPair.secretKey.reveal(),
    );
    expect((await lookup.pqPrekey(lastResort.keyId))?.reveal()).toEqual(
      lastResort.keyPair.secretKey.reveal(),
    );
    expect(await lookup.signedPrekey(1)).toBeInstanceOf(CryptoKey);
    expect(await lookup.oneTimePrekey(100)).toBeInstanceOf(CryptoKey);
    expect(await lookup.oneTimePrekey(101)).toBeUndefined();
    expect(await lookup.hasSeenSetup(new Uint8Array(32))).toBe(false);
    expect(await store.countOneTimePrekeys()).toEqual({ x25519: 100, pq: 100 });
  });

  it('commits a received message once', async () => {
    const { db, store } = await createStore();
    const setupId = new Uint8Array(32).fill(9);
    const commit = {
      envelopeId: 'envelope-1',
      session: { address: bob, record: utf8('after receive') },
      theirIdentityKey: new Uint8Array(32).fill(7),
      consumed: { oneTimePrekeyId: 1, pqPrekeyId: 1, setupId },
      text: { messageId: 'message-1', text: 'hi', sentAt: NOW },
      unread: true,
      now: NOW,
    };

    expect(await store.commitReceived(commit)).toEqual({
      status: 'committed',
      newMessage: true,
      delivered: 0,
    });
    expect(await store.commitReceived(commit)).toEqual({ status: 'duplicate' });

    const lookup = store.prekeyLookup();
    expect(await lookup.oneTimePrekey(1)).toBeUndefined();
    expect(await lookup.pqPrekey(1)).toBeUndefined();
    expect(await lookup.hasSeenSetup(setupId)).toBe(true);
    expect(await store.isProcessed('envelope-1')).toBe(true);
    expect(await store.listMessages('bob')).toHaveLength(1);
    expect((await db.get('conversations', 'bob'))?.unread).toBe(1);
  });

  it('keeps the last-resort PQ prekey', async () => {
    const { keys, store } = await createStore();
    const lastResort = keys.lastResortPqPrekey.keyId;
    await store.commitReceived({
      envelopeId: 'envelope-1',
      session: { address: bob, record: utf8('state') },
      theirIdentityKey: new Uint8Array(32).fill(7),
      // The initiator's flag claims one-time; the stored row decides.
      consumed: { pqPrekeyId: lastResort, pqPrekeyLastResort: false },
      unread: false,
      now: NOW,
    });

    expect(await store.prekeyLookup().pqPrekey(lastResort)).toBeDefined();
  });

  it('rejects a changed identity key', async () => {
    const { db, store } = await createStore();
    await store.addInitiatedSessions(
      'bob',
      [{ address: bob, record: utf8('pinned') }],
      new Uint8Array(32).fill(7),
      NOW,
    );

    await expect(
      store.commitReceived({
        envelopeId: 'envelope-1',
        session: { address: bob, record: utf8('impostor') },
        theirIdentityKey: new Uint8Array(32).fill(8),
        consumed: { oneTimePrekeyId: 1 },
        text: { messageId: 'message-1', text: 'trust me', sentAt: NOW },
        unread: true,
        now: NOW,
      }),
    ).rejects.toMatchObject({ code: 'identity-changed' });

    expect(await store.loadSession(bob)).toEqual(utf8('pinned'));
    expect(await store.isProcessed('envelope-1')).toBe(false);
    expect(await db.get('prekeys', prekeyRowId('one-time', 1))).toBeDefined();
    expect(await store.listMessages('bob')).toEqual([]);
  });

  it('marks a message sent after its last envelope', async () => {
    const { store } = await createStore();
    const row = await store.addOutgoingMessage('bob', 'message-1', 'hi', NOW);
    const envelope = (id: string) => ({
      id,
      envelope: {
        v: 1 as const,
        kind: 'message' as const,
        id,
        to: bob,
        body: 'AAAA',
      },
      peerId: 'bob',
      messageKey: row.key,
      createdAt: NOW,
    });
    await store.commitEncrypted(
      [{ address: bob, record: utf8('state') }],
      [envelope('envelope-1'), envelope('envelope-2')],
      NOW,
    );

    expect(await store.completeOutbox('envelope-1')).toBe(false);
    expect((await store.listMessages('bob'))[0]?.state).toBe('sending');
    expect(await store.completeOutbox('envelope-2')).toBe(true);
    expect((await store.listMessages('bob'))[0]?.state).toBe('sent');
    expect(await store.pendingOutbox()).toEqual([]);
  });

  it('prunes old processed ids', async () => {
    const { db, store } = await createStore();
    await db.put('processed', { id: 'old', processedAt: NOW - 10 });
    await db.put('processed', { id: 'new', processedAt: NOW });

    await store.pruneProcessed(NOW - 5);

    expect(await store.isProcessed('old')).toBe(false);
    expect(await store.isProcessed('new')).toBe(true);
  });

  it('bounds held group messages', async () => {
    const { store } = await createStore();
    const limits = { perSender: 10, perGroup: 2, total: 3 };
    const envelope = (id: number) => ({
      v: 1 as const,
      kind: 'group' as const,
      id: `held-${id}`,
      from: bob,
      to: { userId: 'alice', deviceId: 1 },
      serverTs: NOW,
      seq: id,
      body: 'AAAA',
    });
    const ids = async (groupId: string) =>
      (await store.heldGroupMessages(groupId)).map((row) => row.id);

    expect(
      await store.holdGroupMessage('g1', envelope(1), limits, NOW),
    ).toEqual([]);
    await store.holdGroupMessage('g1', envelope(2), limits, NOW);
    const dropped = await store.holdGroupMessage(
      'g1',
      envelope(3),
      limits,
      NOW,
    );
    expect(dropped.map((row) => row.id)).toEqual(['held-1']);
    expect(await ids('g1')).toEqual(['held-2', 'held-3']);

    // Holding an id again keeps the first copy and drops nothing.
    expect(
      await store.holdGroupMessage('g1', envelope(3), limits, NOW + 1),
    ).toEqual([]);

    await store.holdGroupMessage('g2', envelope(4), limits, NOW + 1);
    const overall = await store.holdGroupMessage(
      'g2',
      envelope(5),
      limits,
      NOW + 2,
    );
    expect(overall.map((row) => row.id)).toEqual(['held-2']);
    expect(await ids('g1')).toEqual(['held-3']);
    expect(await ids('g2')).toEqual(['held-4', 'held-5']);

    const expired = await store.takeExpiredGroupMessages(NOW + 2);
    expect(expired.map((row) => row.id).sort()).toEqual(['held-3', 'held-4']);
    expect(await ids('g2')).toEqual(['held-5']);
  });

  it('evicts a flooding sender before others', async () => {
    const { store } = await createStore();
    const limits = { perSender: 10, perGroup: 3, total: 4 };
    const envelope = (id: number, userId: string) => ({
      v: 1 as const,
      kind: 'group' as const,
      id: `${userId}-${id}`,
      from: { userId, deviceId: 1 },
      to: { userId: 'alice', deviceId: 1 },
      serverTs: NOW,
      seq: id,
      body: 'AAAA',
    });
    const ids = async (groupId: string) =>
      (await store.heldGroupMessages(groupId)).map((row) => row.id);

    await store.holdGroupMessage('g1', envelope(1, 'bob'), limits, NOW);
    for (let i = 1; i <= 4; i++) {
      await store.holdGroupMessage('g1', envelope(i, 'mallory'), limits, NOW);
    }
    // The group bound deletes mallory's oldest, never bob's older one.
    expect(await ids('g1')).toEqual(['bob-1', 'mallory-3', 'mallory-4']);

    // Envelopes for groups we are not in count against the total bound,
    // and they too push out only the sender with the most held.
    await store.holdGroupMessage('g2', envelope(5, 'mallory'), limits, NOW);
    const dropped = await store.holdGroupMessage(
      'g3',
      envelope(6, 'mallory'),
      limits,
      NOW,
    );
    expect(dropped.map((row) => row.id)).toEqual(['mallory-3']);
    expect(await ids('g1')).toEqual(['bob-1', 'mallory-4']);
    expect(await ids('g2')).toEqual(['mallory-5']);
    expect(await ids('g3')).toEqual(['mallory-6']);
  });

  it('bounds one sender across groups', async () => {
    const { store } = await createStore();
    const limits = { perSender: 2, perGroup: 10, total: 10 };
    const envelope = (id: number, userId: string) => ({
      v: 1 as const,
      kind: 'group' as const,
      id: `${userId}-${id}`,
      from: { userId, deviceId: 1 },
      to: { userId: 'alice', deviceId: 1 },
      serverTs: NOW,
      seq: id,
      body: 'AAAA',
    });

    await store.holdGroupMessage('g1', envelope(1, 'bob'), limits, NOW);
    await store.holdGroupMessage('g1', envelope(1, 'mallory'), limits, NOW);
    await store.holdGroupMessage('g2', envelope(2, 'mallory'), limits, NOW);
    const dropped = await store.holdGroupMessage(
      'g3',
      envelope(3, 'mallory'),
      limits,
      NOW,
    );

    expect(dropped.map((row) => row.id)).toEqual(['mallory-1']);
    const held = async (groupId: string) =>
      (await store.heldGroupMessages(groupId)).map((row) => row.id);
    expect(await held('g1')).toEqual(['bob-1']);
    expect(await held('g2')).toEqual(['mallory-2']);
    expect(await held('g3')).toEqual(['mallory-3']);
  });
});
