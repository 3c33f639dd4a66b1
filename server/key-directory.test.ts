import { spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { verifyDeviceCertificate } from '../shared/crypto/certificate';
import { KEY_DIRECTORY_LOG_RETENTION_MS } from '../shared/wire/limits';
import type {
  AccessLog,
  KeyChanged,
  PrekeyBundle,
} from '../shared/wire/schemas';
import type { RelayOptions } from './app';
import { SqliteStore } from './store/sqlite';
import {
  type ClientSocket,
  type TestDevice,
  call,
  connect,
  createTestDevice,
  errorOf,
  postJson,
  register,
  settle,
  signIn,
  unwrap,
  waitFor,
} from './test-support/device';
import {
  type TestRelay,
  makeDataDir,
  removeDataDir,
  startTestRelay,
} from './test-support/relay';

const DAY_MS = 24 * 60 * 60 * 1000;

const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function relayWith(options: Partial<RelayOptions> = {}) {
  const relay = await startTestRelay(options);
  cleanups.push(async () => {
    await relay.close();
    removeDataDir(relay.dataDir);
  });
  return relay;
}

/** Registers and signs in a device, collecting its key-change notices. */
async function online(relay: TestRelay, device: TestDevice) {
  await register(relay.url, device);
  return signedIn(relay, device);
}

async function signedIn(relay: TestRelay, device: TestDevice) {
  const notices: KeyChanged[] = [];
  const socket = await connect(relay.url);
  cleanups.push(() => void socket.disconnect());
  socket.on('keys:changed', (notice) => notices.push(notice));
  unwrap(await signIn(socket, device, relay.url));
  return { socket, notices };
}

async function fetchBundles(
  socket: ClientSocket,
  userId: string,
): Promise<PrekeyBundle[]> {
  const reply = await call<{ bundles: PrekeyBundle[] }>(socket, 'keys:bundle', {
    userId,
  });
  return unwrap(reply).bundles;
}

/** Registers a newer certificate for the device under the same identity key. */
async function replaceCertificate(relay: TestRelay, device: TestDevice) {
  // The new certificate must carry a later issue time than the stored one.
  await settle(5);
  const replacement = await createTestDevice(device.address.userId, {
    identityKey: device.identityKey,
  });
  const reply = await register(relay.url, replacement);
  expect(reply.status).toBe(200);
  return replacement;
}

describe('bundle access log', () => {
  it('lists fetches newest first', async () => {
    const relay = await relayWith();
    const bob = await online(relay, await createTestDevice('bob'));
    const alice = await online(relay, await createTestDevice('alice'));
    const carol = await online(relay, await createTestDevice('carol'));

    await fetchBundles(alice.socket, 'bob');
    await settle(5);
    await fetchBundles(carol.socket, 'bob');

    const log = unwrap(await call<AccessLog>(bob.socket, 'keys:access-log'));
    expect(log.entries.map((entry) => entry.requesterId)).toEqual([
      'carol',
      'alice',
    ]);
    const [newest, oldest] = log.entries;
    expect(newest?.fetchedAt).toBeGreaterThanOrEqual(oldest?.fetchedAt ?? 0);
    const limited = unwrap(
      await call<AccessLog>(bob.socket, 'keys:access-log', { limit: 1 }),
    );
    expect(limited.entries.map((entry) => entry.requesterId)).toEqual([
      'carol',
    ]);
  });

  it("shows only the owner's log", async () => {
    const relay = await relayWith();
    await online(relay, await createTestDevice('bob'));
    const alice = await online(relay, await createTestDevice('alice'));
    await fetchBundles(alice.socket, 'bob');

    const own = unwrap(await call<AccessLog>(alice.socket, 'keys:access-log'));
    expect(own.entries).toEqual([]);
    const other = await call(alice.socket, 'keys:access-log', {
      userId: 'bob',
    });
    expect(errorOf(other).code).toBe('invalid-request');
  });

  it('rejects a request before sign-in', async () => {
    const relay = await relayWith();
    const socket = await connect(relay.url);
    cleanups.push(() => void socket.disconnect());

    const reply = await call(socket, 'keys:access-log', {});

    expect(errorOf(reply).code).toBe('unauthenticated');
  });

  it('rejects a limit above the maximum', async () => {
    const relay = await relayWith();
    const alice = await online(relay, await createTestDevice('alice'));

    const reply = await call(alice.socket, 'keys:access-log', {
      limit: 10_000,
    });

    expect(errorOf(reply).code).toBe('invalid-request');
  });
});

describe('key change notices', () => {
  it('reach fetchers of a replaced certificate', async () => {
    const relay = await relayWith();
    const bobDevice = await createTestDevice('bob');
    await online(relay, bobDevice);
    const alice = await online(relay, await createTestDevice('alice'));
    const carol = await online(relay, await createTestDevice('carol'));
    await fetchBundles(alice.socket, 'bob');
    const before = Date.now();

    await replaceCertificate(relay, bobDevice);

    await waitFor(() => alice.notices.length === 1);
    expect(alice.notices[0]?.userId).toBe('bob');
    expect(alice.notices[0]?.changedAt).toBeGreaterThanOrEqual(before);
    await settle();
    expect(carol.notices).toEqual([]);
  });

  it('reach an offline fetcher at sign-in', async () => {
    const relay = await relayWith();
    const bobDevice = await createTestDevice('bob');
    await online(relay, bobDevice);
    const aliceDevice = await createTestDevice('alice');
    const first = await online(relay, aliceDevice);
    await fetchBundles(first.socket, 'bob');
    first.socket.disconnect();

    await replaceCertificate(relay, bobDevice);
    const second = await signedIn(relay, aliceDevice);

    await waitFor(() => second.notices.length === 1);
    expect(second.notices[0]?.userId).toBe('bob');
    second.socket.disconnect();
    const third = await signedIn(relay, aliceDevice);
    await settle();
    expect(third.notices).toEqual([]);
  });
});

describe('bundle rate limits', () => {
  it('limit each requester across devices', async () => {
    const relay = await relayWith({
      bundleRateLimits: { requester: { perSecond: 0.001, burst: 2 } },
    });
    await online(relay, await createTestDevice('bob'));
    const laptop = await createTestDevice('alice');
    const phone = await createTestDevice('alice', {
      deviceId: 2,
      identityKey: laptop.identityKey,
    });
    const fromLaptop = await online(relay, laptop);
    const fromPhone = await online(relay, phone);

    await fetchBundles(fromLaptop.socket, 'bob');
    await fetchBundles(fromLaptop.socket, 'bob');
    const reply = await call(fromPhone.socket, 'keys:bundle', {
      userId: 'bob',
    });

    expect(errorOf(reply).code).toBe('rate-limited');
    expect(errorOf(reply).message).toContain('from this account');
  });

  it('limit each target across requesters', async () => {
    const relay = await relayWith({
      bundleRateLimits: { target: { perSecond: 0.001, burst: 2 } },
    });
    await online(relay, await createTestDevice('bob'));
    await online(relay, await createTestDevice('dave'));
    const alice = await online(relay, await createTestDevice('alice'));
    const carol = await online(relay, await createTestDevice('carol'));

    await fetchBundles(alice.socket, 'bob');
    await fetchBundles(alice.socket, 'bob');
    const reply = await call(carol.socket, 'keys:bundle', { userId: 'bob' });

    expect(errorOf(reply).code).toBe('rate-limited');
    expect(errorOf(reply).message).toContain('"bob"');
    expect(await fetchBundles(carol.socket, 'dave')).toHaveLength(1);
  });
});

describe('identity swap test hook', () => {
  it('is absent without the option', async () => {
    const relay = await relayWith();
    await register(relay.url, await createTestDevice('bob'));

    const reply = await postJson(`${relay.url}/test/swap-identity`, {
      userId: 'bob',
    });

    expect(reply.status).toBe(404);
    expect(reply.body).toEqual({ code: 'not-found', message: 'Not found.' });
  });

  it('serves forged bundles and announces them', async () => {
    const relay = await relayWith({ testHooks: true });
    const bob = await createTestDevice('bob');
    await online(relay, bob);
    const alice = await online(relay, await createTestDevice('alice'));
    await fetchBundles(alice.socket, 'bob');

    const reply = await postJson(`${relay.url}/test/swap-identity`, {
      userId: 'bob',
    });

    expect(reply.status).toBe(200);
    const forgedKey = (reply.body as { identityKey: string }).identityKey;
    expect(forgedKey).not.toBe(bob.certificate.identityKey);
    await waitFor(() => alice.notices.length === 1);
    expect(alice.notices[0]?.userId).toBe('bob');
    const [first] = await fetchBundles(alice.socket, 'bob');
    const [second] = await fetchBundles(alice.socket, 'bob');
    expect(first?.certificate.identityKey).toBe(forgedKey);
    if (!first) throw new Error('no forged bundle returned');
    expect(await verifyDeviceCertificate(first.certificate)).toBe(true);
    expect(first?.oneTimePrekey).toBeDefined();
    expect(first?.oneTimePrekey).not.toEqual(second?.oneTimePrekey);
    expect(relay.logs.join('\n')).toContain('test hooks enabled');
  });

  it('rejects an unknown user', async () => {
    const relay = await relayWith({ testHooks: true });

    const reply = await postJson(`${relay.url}/test/swap-identity`, {
      userId: 'nobody',
    });

    expect(reply.status).toBe(404);
    expect((reply.body as { message: string }).message).toContain('"nobody"');
  });

  /** Runs `npm start`'s script with `args` until it is ready; returns its URL. */
  async function startScript(args: string[]): Promise<string> {
    const dataDir = makeDataDir();
    cleanups.push(() => removeDataDir(dataDir));
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', path.join(__dirname, 'start.ts'), ...args],
      {
        cwd: path.join(__dirname, '..'),
        env: {
          ...process.env,
          PORT: '0',
          HOST: '127.0.0.1',
          DATA_DIR: dataDir,
          LOG_LEVEL: 'info',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    cleanups.push(async () => {
      if (child.exitCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
    });
    const lines: string[] = [];
    createInterface({ input: child.stdout }).on('line', (line) =>
      lines.push(line),
    );
    await waitFor(
      () =>
        child.exitCode !== null ||
        lines.some((line) => line.includes('Cloak is ready at')),
      15_000,
    );
    const ready = lines.find((line) => line.includes('Cloak is ready at'));
    const match = /Cloak is ready at (http:\/\/127\.0\.0\.1:\d+)/.exec(
      ready ?? '',
    );
    if (!match?.[1])
      throw new Error(`relay did not start:\n${lines.join('\n')}`);
    return match[1];
  }

  it('is absent from start without the flag', async () => {
    const url = await startScript([]);
    await register(url, await createTestDevice('bob'));

    const reply = await postJson(`${url}/test/swap-identity`, {
      userId: 'bob',
    });

    expect(reply.status).toBe(404);
    expect(reply.body).toEqual({ code: 'not-found', message: 'Not found.' });
  });

  it('is present in start with the flag', async () => {
    const url = await startScript(['--test-hooks']);
    await register(url, await createTestDevice('bob'));

    const reply = await postJson(`${url}/test/swap-identity`, {
      userId: 'bob',
    });

    expect(reply.status).toBe(200);
  });
});

describe('key directory store', () => {
  function openStore(): SqliteStore {
    const dataDir = makeDataDir();
    const store = new SqliteStore({ path: path.join(dataDir, 'test.sqlite') });
    cleanups.push(async () => {
      await store.close();
      removeDataDir(dataDir);
    });
    return store;
  }

  it('keeps fetches for the retention window', async () => {
    const store = openStore();
    const now = 100 * DAY_MS;
    await store.recordBundleAccess('bob', 'old', now - 31 * DAY_MS);
    await store.recordBundleAccess('bob', 'recent', now - 29 * DAY_MS);

    const since = now - KEY_DIRECTORY_LOG_RETENTION_MS;
    const log = await store.bundleAccessLog('bob', since, 10);
    expect(log.map((entry) => entry.requesterId)).toEqual(['recent']);

    expect(await store.pruneKeyDirectoryLogs(since)).toBe(1);
    expect(await store.bundleAccessLog('bob', 0, 10)).toHaveLength(1);
  });

  it('notifies only fetchers within the window', async () => {
    const store = openStore();
    const changedAt = 100 * DAY_MS;
    const window = KEY_DIRECTORY_LOG_RETENTION_MS;
    await store.recordBundleAccess('bob', 'stale', changedAt - 31 * DAY_MS);
    await store.recordBundleAccess('bob', 'alice', changedAt - DAY_MS);
    await store.recordBundleAccess('bob', 'later', changedAt + 1);

    const fetchers = await store.recordKeyChange(
      'bob',
      changedAt,
      changedAt - window,
    );

    expect(fetchers).toEqual(['alice']);
    const seen = async (requester: string, since: number) =>
      store.keyChangesSeenBy(requester, since, window, 10);
    expect(await seen('alice', changedAt - 1)).toEqual([
      { userId: 'bob', changedAt },
    ]);
    expect(await seen('alice', changedAt)).toEqual([]);
    expect(await seen('stale', 0)).toEqual([]);
    expect(await seen('later', 0)).toEqual([]);
  });

  it('returns the previous sign-in time', async () => {
    const store = openStore();
    const bob = await createTestDevice('bob');
    await store.registerDevice(bob.registration);

    expect(await store.markSignedIn(bob.address, 1000)).toBeUndefined();
    expect(await store.markSignedIn(bob.address, 2000)).toBe(1000);
  });
});
