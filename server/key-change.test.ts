/**
 * A relay that substitutes a user's identity key, against the real client
 * engine: the engine must notice the change from the relay's own
 * `keys:changed` notice, reject sends until the user accepts the new
 * key, and send again after that.
 */
import 'fake-indexeddb/auto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { fromBase64Url } from '../shared/crypto/bytes';
import type { KeyChanged } from '../shared/wire/schemas';
import {
  createPendingAccount,
  sendRegistration,
} from '../client/src/engine/account';
import { Engine } from '../client/src/engine/engine';
import { RelayConnection } from '../client/src/engine/relay-connection';
import { openCloakDb } from '../client/src/storage/db';
import type { LocalStore } from '../client/src/storage/local-store';
import { postJson } from './test-support/device';
import {
  type TestRelay,
  removeDataDir,
  startTestRelay,
} from './test-support/relay';

interface Client {
  readonly userId: string;
  readonly store: LocalStore;
  readonly engine: Engine;
  readonly connection: RelayConnection;
  /** Every `keys:changed` notice the relay sent, in order. */
  readonly notices: KeyChanged[];
  /** Resolves once every task started by a relay event has finished. */
  idle(): Promise<void>;
}

const relays: TestRelay[] = [];
const clients: Client[] = [];
let databaseCount = 0;

afterEach(async () => {
  for (const client of clients.splice(0)) {
    client.connection.stop();
    await client.idle();
  }
  for (const relay of relays.splice(0)) {
    await relay.close();
    removeDataDir(relay.dataDir);
  }
});

/** Polls `check` every 20 ms until it returns true, for at most 5 s. */
async function eventually(check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition timed out');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * Creates and registers an account and connects its engine, wired like
 * the app's store, `keys:changed` included. `RelayConnection` reads
 * `location` once, when its socket is created, so it is set for that.
 */
async function createClient(relay: TestRelay, username: string) {
  const db = await openCloakDb(`cloak-key-change-${++databaseCount}`);
  const { store, identity } = await createPendingAccount(db, username);
  const outcome = await sendRegistration(store, {
    fetch: (input, init) => fetch(new URL(String(input), relay.url), init),
  });
  if (outcome.status !== 'registered') throw outcome.error;

  const tasks = new Set<Promise<unknown>>();
  const track = (task: Promise<unknown>) => {
    const settled = task.catch(() => undefined);
    tasks.add(settled);
    void settled.finally(() => tasks.delete(settled));
  };
  const notices: KeyChanged[] = [];
  const started: { engine?: Engine } = {};
  let markConnected = (): void => undefined;
  const connected = new Promise<void>((resolve) => {
    markConnected = resolve;
  });
  Object.defineProperty(globalThis, 'location', {
    value: new URL(relay.url),
    configurable: true,
  });
  let connection: RelayConnection;
  try {
    connection = new RelayConnection(
      identity,
      {
        onState: (state) => {
          if (state === 'connected') markConnected();
        },
        onSignedIn: () => {
          if (started.engine) track(started.engine.flushOutbox());
        },
        onEnvelope: (envelope) => {
          if (started.engine) track(started.engine.receive(envelope));
        },
        onKeysLow: () => undefined,
        onKeyChanged: (notice) => {
          notices.push(notice);
          if (started.engine) {
            track(started.engine.handleKeyChanged(notice));
          }
        },
        onSignInFailed: () => undefined,
      },
      new URL(relay.url).origin,
    );
  } finally {
    Reflect.deleteProperty(globalThis, 'location');
  }
  const engine = new Engine({ store, identity, transport: connection });
  started.engine = engine;
  connection.start();
  await connected;

  const client: Client = {
    userId: identity.userId,
    store,
    engine,
    connection,
    notices,
    idle: async () => {
      while (tasks.size > 0) await Promise.all(tasks);
    },
  };
  clients.push(client);
  return client;
}

async function received(owner: Client, peerId: string, text: string) {
  const messages = await owner.store.listMessages(peerId);
  return messages.some((message) => message.text === text);
}

describe('relay key substitution', () => {
  it('blocks sending until the user accepts', async () => {
    const relay = await startTestRelay({ testHooks: true });
    relays.push(relay);
    const alice = await createClient(relay, 'alice');
    const bob = await createClient(relay, 'bob');
    await alice.engine.startChat('bob');
    await alice.engine.sendText('bob', 'hello bob');
    await eventually(() => received(bob, 'alice', 'hello bob'));

    const swap = await postJson(`${relay.url}/test/swap-identity`, {
      userId: 'bob',
    });
    expect(swap.status).toBe(200);
    const forgedKey = fromBase64Url(
      (swap.body as { identityKey: string }).identityKey,
    );

    await eventually(
      async () =>
        (await alice.engine.contactStatus('bob')).keyChangedAt !== undefined,
    );
    expect(alice.notices.map((notice) => notice.userId)).toEqual(['bob']);
    expect(await received(alice, 'bob', "bob's safety number changed.")).toBe(
      true,
    );
    await expect(
      alice.engine.sendText('bob', 'not while blocked'),
    ).rejects.toMatchObject({ code: 'identity-changed' });
    expect(await received(alice, 'bob', 'not while blocked')).toBe(false);

    const pending = await alice.engine.safetyNumber('bob');
    expect(pending.pending).toBe(true);
    expect(pending.identityKey).toEqual(forgedKey);
    await alice.engine.acceptIdentityKey('bob', pending.identityKey);

    await alice.engine.sendText('bob', 'after accepting');
    await eventually(async () => {
      const messages = await alice.store.listMessages('bob');
      const sent = messages.find((row) => row.text === 'after accepting');
      return sent?.state === 'sent';
    });
    const contact = await alice.store.contact('bob');
    expect(contact?.identityKey).toEqual(forgedKey);
    expect(contact?.pendingIdentityKey).toBeUndefined();
  });

  it('drops the repeated notice at sign-in', async () => {
    const relay = await startTestRelay({ testHooks: true });
    relays.push(relay);
    const alice = await createClient(relay, 'alice');
    await createClient(relay, 'bob');
    await alice.engine.startChat('bob');
    await postJson(`${relay.url}/test/swap-identity`, { userId: 'bob' });
    await eventually(
      async () =>
        (await alice.engine.contactStatus('bob')).keyChangedAt !== undefined,
    );
    await alice.idle();
    const changedAt = (await alice.store.contact('bob'))?.keyChangeNoticeAt;

    const requests = vi.spyOn(alice.connection, 'request');
    alice.connection.stop();
    alice.connection.start();
    await eventually(async () => alice.notices.length === 2);
    await alice.idle();

    const fetches = requests.mock.calls.filter(
      ([event]) => event === 'keys:bundle',
    );
    expect(fetches).toEqual([]);
    expect(alice.notices[1]?.changedAt).toBe(alice.notices[0]?.changedAt);
    expect(changedAt).toBe(alice.notices[0]?.changedAt);
    const messages = await alice.store.listMessages('bob');
    const changeNotices = messages.filter(
      (row) => row.text === "bob's safety number changed.",
    );
    expect(changeNotices).toHaveLength(1);
  });
});
