import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { fromBase64Url, toBase64Url } from '../shared/crypto/bytes';
import { signSignIn } from '../shared/crypto/certificate';
import { LAST_RESORT_KEY_ID_BASE } from '../shared/crypto/keys';
import {
  compareScannedSafetyNumber,
  computeSafetyNumber,
} from '../shared/crypto/safety-number';
import { ONE_TIME_PREKEY_POOL_SIZE } from '../shared/wire/limits';
import type { Envelope, PrekeyBundle } from '../shared/wire/schemas';
import type { RelayOptions } from './app';
import {
  type ClientSocket,
  call,
  connect,
  connectSignedIn,
  createTestDevice,
  errorOf,
  postJson,
  randomId,
  register,
  unwrap,
  waitFor,
} from './test-support/device';
import { type NodeClient, createNodeClient } from './test-support/node-client';
import {
  type TestRelay,
  removeDataDir,
  startTestRelay,
} from './test-support/relay';

const DAY_MS = 24 * 60 * 60 * 1000;

/** Limits high enough that a test may drain a one-time prekey pool. */
const UNLIMITED_BUNDLES: Partial<RelayOptions> = {
  rateLimits: {
    bundle: {
      device: { perSecond: 1000, burst: 1000 },
      address: { perSecond: 1000, burst: 1000 },
    },
    socketEvents: { perSecond: 1000, burst: 1000 },
  },
  bundleRateLimits: {
    requester: { perSecond: 1000, burst: 1000 },
    target: { perSecond: 1000, burst: 1000 },
  },
};

const relays: TestRelay[] = [];
const clients: NodeClient[] = [];
const sockets: ClientSocket[] = [];

async function relayWith(options: Partial<RelayOptions> = {}) {
  const relay = await startTestRelay(options);
  relays.push(relay);
  return relay;
}

async function client(
  relay: TestRelay,
  username: string,
  now?: () => number,
): Promise<NodeClient> {
  const created = await createNodeClient(
    relay.url,
    username,
    now ? { now } : {},
  );
  clients.push(created);
  return created;
}

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.disconnect();
  for (const created of clients.splice(0)) {
    created.stop();
    await created.idle();
  }
  for (const relay of relays.splice(0)) {
    await relay.close();
    removeDataDir(relay.dataDir);
  }
});

/** Sends a text and waits until the recipient has stored it. */
async function deliverText(
  sender: NodeClient,
  recipient: NodeClient,
  text: string,
): Promise<Envelope> {
  const before = recipient.received.length;
  await sender.engine.sendText(recipient.userId, text);
  await waitFor(() => recipient.received.length > before);
  await recipient.idle();
  const envelope = recipient.received[before];
  if (!envelope) throw new Error('no envelope received');
  return envelope;
}

async function texts(owner: NodeClient, peerId: string): Promise<string[]> {
  const messages = await owner.store.listMessages(peerId);
  return messages
    .filter((message) => message.direction === 'in')
    .map((message) => message.text);
}

/** Signs in a plain socket as the client's device, to act as its sender. */
async function socketAs(
  relay: TestRelay,
  owner: NodeClient,
): Promise<ClientSocket> {
  const socket = await connect(relay.url);
  sockets.push(socket);
  const { identity } = owner;
  const { nonce } = unwrap(
    await call<{ nonce: string }>(socket, 'signin:start', {
      userId: identity.userId,
      deviceId: identity.deviceId,
    }),
  );
  const signature = await signSignIn(
    identity.signingKey.privateKey,
    relay.url,
    identity.userId,
    identity.deviceId,
    fromBase64Url(nonce),
  );
  unwrap(
    await call(socket, 'signin:finish', {
      nonce,
      signature: toBase64Url(signature),
    }),
  );
  return socket;
}

let drainers = 0;

/** Fetches one user's bundles `count` times from a new account. */
async function drainBundles(
  relay: TestRelay,
  userId: string,
  count: number,
): Promise<PrekeyBundle[]> {
  const fetcher = await createTestDevice(`drain-${++drainers}`);
  await register(relay.url, fetcher);
  const socket = await connectSignedIn(relay.url, fetcher);
  sockets.push(socket);
  const fetched: PrekeyBundle[] = [];
  for (let i = 0; i < count; i++) {
    const reply = await call<{ bundles: PrekeyBundle[] }>(
      socket,
      'keys:bundle',
      { userId },
    );
    fetched.push(...unwrap(reply).bundles);
  }
  return fetched;
}

/** Reads the relay's stored rotating prekey ids of a device. */
function storedRotatingKeyIds(relay: TestRelay, userId: string) {
  const db = new Database(path.join(relay.dataDir, 'cloak.sqlite'), {
    readonly: true,
  });
  try {
    const signed = db
      .prepare('SELECT key_id FROM signed_prekeys WHERE user_id = ?')
      .pluck()
      .get(userId);
    const lastResort = db
      .prepare(
        'SELECT key_id FROM pq_prekeys WHERE user_id = ? AND last_resort = 1',
      )
      .pluck()
      .get(userId);
    return { signed, lastResort };
  } finally {
    db.close();
  }
}

describe('node client harness', () => {
  it('delivers a text between engines', async () => {
    const relay = await relayWith();
    const alice = await client(relay, 'alice');
    const bob = await client(relay, 'bob');

    await alice.engine.startChat('bob');
    await deliverText(alice, bob, 'hello over the relay');

    expect(await texts(bob, 'alice')).toEqual(['hello over the relay']);
    await waitFor(() => alice.received.length === 1);
    await alice.idle();
    const [sent] = await alice.store.listMessages('bob');
    expect(sent?.state).toBe('delivered');
  });
});

describe('identity key substitution', () => {
  it('fails set-up with untrusted identity', async () => {
    const relay = await relayWith({ testHooks: true });
    const alice = await client(relay, 'alice');
    const bob = await client(relay, 'bob');
    await alice.engine.startChat('bob');
    await deliverText(alice, bob, 'before the swap');
    // Bob's receipt steps Alice's session; let that commit first.
    await waitFor(() => alice.received.length === 1);
    await alice.idle();

    const swap = await postJson(`${relay.url}/test/swap-identity`, {
      userId: 'bob',
    });
    expect(swap.status).toBe(200);
    // Without its session records, Alice's next message needs a new
    // session set-up from a freshly fetched bundle.
    await alice.store.db.clear('sessions');

    await expect(
      alice.engine.sendText('bob', 'after the swap'),
    ).rejects.toMatchObject({ code: 'identity-changed' });
    // The engine compares the bundle's identity key with the pinned one
    // before any session set-up runs, and records the new key as pending.
    expect(alice.protocolErrors).toEqual([]);
    const status = await alice.engine.contactStatus('bob');
    expect(status.keyChangedAt).toBeDefined();
    expect(alice.errors.map((error) => error.code)).toContain(
      'identity-changed',
    );
    await expect(
      alice.engine.sendText('bob', 'still blocked'),
    ).rejects.toMatchObject({ code: 'identity-changed' });
    expect(await texts(bob, 'alice')).toEqual(['before the swap']);
  });

  it('gives a new contact another safety number', async () => {
    const relay = await relayWith({ testHooks: true });
    const bob = await client(relay, 'bob');
    const carol = await client(relay, 'carol');
    const swap = await postJson(`${relay.url}/test/swap-identity`, {
      userId: 'bob',
    });
    const forgedKey = (swap.body as { identityKey: string }).identityKey;

    // Carol has no pinned key yet, so she trusts the forged one on first use.
    await carol.engine.startChat('bob');
    const pinned = (await carol.store.contact('bob'))?.identityKey;
    if (!pinned) throw new Error('no identity key pinned');
    expect(toBase64Url(pinned)).toBe(forgedKey);

    const carolParty = {
      userId: 'carol',
      identityKey: carol.identity.identityKey.publicKey,
    };
    const carolView = await computeSafetyNumber(carolParty, {
      userId: 'bob',
      identityKey: pinned,
    });
    const bobView = await computeSafetyNumber(
      { userId: 'bob', identityKey: bob.identity.identityKey.publicKey },
      carolParty,
    );
    expect(carolView.digits).not.toBe(bobView.digits);
    expect(
      compareScannedSafetyNumber(carolView.scannable, bobView.scannable),
    ).toBe(false);
  });
});

describe('prekey lifecycle', () => {
  it('starts a session on last-resort keys', async () => {
    const relay = await relayWith(UNLIMITED_BUNDLES);
    const alice = await client(relay, 'alice');
    const bob = await client(relay, 'bob');
    // Offline, Bob cannot refill his pools while they are drained.
    bob.connection.stop();
    await drainBundles(relay, 'bob', ONE_TIME_PREKEY_POOL_SIZE);
    const [last] = await drainBundles(relay, 'bob', 1);
    expect(last?.oneTimePrekey).toBeUndefined();
    expect(last?.pqPrekeyLastResort).toBe(true);

    await alice.engine.startChat('bob');
    await alice.engine.sendText('bob', 'on last-resort keys');
    bob.connection.start();
    await waitFor(() => bob.received.length === 1);
    await bob.idle();

    expect(await texts(bob, 'alice')).toEqual(['on last-resort keys']);
    expect(bob.received[0]?.kind).toBe('prekey');
    // A set-up without a one-time prekey is remembered by its set-up id.
    expect(await bob.store.db.count('setupIds')).toBe(1);
  });

  it('rejects a replayed set-up', async () => {
    const relay = await relayWith(UNLIMITED_BUNDLES);
    const alice = await client(relay, 'alice');
    const bob = await client(relay, 'bob');
    bob.connection.stop();
    await drainBundles(relay, 'bob', ONE_TIME_PREKEY_POOL_SIZE);
    await alice.engine.startChat('bob');
    await alice.engine.sendText('bob', 'only once');
    bob.connection.start();
    await waitFor(() => bob.received.length === 1);
    await bob.idle();
    const original = bob.received[0];
    if (!original) throw new Error('no set-up received');
    const replayer = await socketAs(relay, alice);
    const replay = async () => {
      const before = bob.received.length;
      unwrap(
        await call(replayer, 'envelope:send', {
          v: 1,
          kind: original.kind,
          id: randomId(),
          to: original.to,
          body: original.body,
        }),
      );
      await waitFor(() => bob.received.length > before);
      await bob.idle();
    };

    // Bob still has the session of this set-up, so the copy is a
    // duplicate message in it.
    await replay();
    expect(bob.protocolErrors.map((error) => error.code)).toEqual([
      'duplicate-message',
    ]);

    // Without the session, the set-up runs again and its id was seen.
    await bob.store.db.clear('sessions');
    await replay();
    expect(bob.protocolErrors.map((error) => error.code)).toEqual([
      'duplicate-message',
      'replayed-setup',
    ]);
    expect(await texts(bob, 'alice')).toEqual(['only once']);
  });

  it('refills the pools after keys:low', async () => {
    const relay = await relayWith(UNLIMITED_BUNDLES);
    const bob = await client(relay, 'bob');
    const drained = ONE_TIME_PREKEY_POOL_SIZE - 24;

    await drainBundles(relay, 'bob', drained);
    await waitFor(() => bob.keysLow.length > 0);
    await bob.idle();

    expect(bob.keysLow[0]).toEqual({
      oneTimePrekeys: 24,
      oneTimePqPrekeys: 24,
    });
    const counts = await bob.connection.request('keys:upload', {
      oneTimePrekeys: [],
      oneTimePqPrekeys: [],
    });
    expect(counts).toEqual({
      oneTimePrekeys: ONE_TIME_PREKEY_POOL_SIZE,
      oneTimePqPrekeys: ONE_TIME_PREKEY_POOL_SIZE,
    });
    const settings = await bob.store.settings();
    expect(settings.nextOneTimePrekeyId).toBe(
      ONE_TIME_PREKEY_POOL_SIZE + drained + 1,
    );
  });

  it('rotates prekeys on a fake clock', async () => {
    const relay = await relayWith();
    const start = Date.now();
    let now = start;
    const bob = await client(relay, 'bob', () => now);
    const lookup = bob.store.prekeyLookup();
    await bob.idle();
    expect(storedRotatingKeyIds(relay, 'bob')).toEqual({
      signed: 1,
      lastResort: LAST_RESORT_KEY_ID_BASE + 1,
    });

    now = start + 6 * DAY_MS;
    await bob.engine.rotatePrekeysIfDue();
    expect(storedRotatingKeyIds(relay, 'bob').signed).toBe(1);

    now = start + 8 * DAY_MS;
    await bob.engine.rotatePrekeysIfDue();
    expect(storedRotatingKeyIds(relay, 'bob')).toEqual({
      signed: 2,
      lastResort: LAST_RESORT_KEY_ID_BASE + 2,
    });
    expect(await lookup.signedPrekey(1)).toBeDefined();
    expect(await lookup.pqPrekey(LAST_RESORT_KEY_ID_BASE + 1)).toBeDefined();

    // A session set up now uses the new signed prekey.
    const alice = await client(relay, 'alice');
    await alice.engine.startChat('bob');
    await deliverText(alice, bob, 'after rotation');
    expect(await texts(bob, 'alice')).toEqual(['after rotation']);

    // 31 days after the replacement, the replaced private keys are gone.
    now = start + 39 * DAY_MS;
    await bob.engine.rotatePrekeysIfDue();
    expect(await lookup.signedPrekey(1)).toBeUndefined();
    expect(await lookup.pqPrekey(LAST_RESORT_KEY_ID_BASE + 1)).toBeUndefined();
    expect(await lookup.signedPrekey(2)).toBeDefined();
    expect(await lookup.pqPrekey(LAST_RESORT_KEY_ID_BASE + 2)).toBeDefined();
    expect(storedRotatingKeyIds(relay, 'bob')).toEqual({
      signed: 3,
      lastResort: LAST_RESORT_KEY_ID_BASE + 3,
    });
  });
});

describe('key directory through the engine', () => {
  it('rate-limits bundle fetches per target', async () => {
    const relay = await relayWith({
      bundleRateLimits: { target: { perSecond: 0.001, burst: 1 } },
    });
    const alice = await client(relay, 'alice');
    const carol = await client(relay, 'carol');
    await client(relay, 'bob');

    await alice.engine.startChat('bob');
    const rejected = carol.engine.startChat('bob');

    await expect(rejected).rejects.toMatchObject({ code: 'relay-error' });
    await expect(rejected).rejects.toHaveProperty('cause.code', 'rate-limited');
    // Another target still has its own budget.
    await expect(carol.engine.startChat('alice')).resolves.toBe('alice');
  });

  it('shows the access log to its owner only', async () => {
    const relay = await relayWith();
    const alice = await client(relay, 'alice');
    const bob = await client(relay, 'bob');
    const before = Date.now();

    await alice.engine.startChat('bob');

    const bobLog = await bob.connection.request('keys:access-log', {});
    expect(bobLog.entries).toHaveLength(1);
    expect(bobLog.entries[0]?.requesterId).toBe('alice');
    expect(bobLog.entries[0]?.fetchedAt).toBeGreaterThanOrEqual(before);
    const aliceLog = await alice.connection.request('keys:access-log', {});
    expect(aliceLog.entries).toEqual([]);

    const snooping = await socketAs(relay, alice);
    const reply = await call(snooping, 'keys:access-log', { userId: 'bob' });
    expect(errorOf(reply).code).toBe('invalid-request');
  });
});
