import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { io, type Socket } from 'socket.io-client';
import { afterEach, describe, expect, it } from 'vitest';
import type {
  AdminClientToServerEvents,
  AdminSample,
  AdminServerToClientEvents,
  AdminSnapshot,
} from '../../shared/wire/admin';
import type { Envelope } from '../../shared/wire/schemas';
import type { RelayOptions } from '../app';
import {
  type ClientSocket,
  call,
  connectSignedIn,
  createTestDevice,
  outgoing,
  postJson,
  register,
  unwrap,
  waitFor,
} from '../test-support/device';
import {
  type TestRelay,
  removeDataDir,
  startTestRelay,
} from '../test-support/relay';
import { ADMIN_TOKEN_FILE } from './token';

type AdminSocket = Socket<AdminServerToClientEvents, AdminClientToServerEvents>;

const TOKEN = 'test-admin-token-4b1d9e7c2a';
/** Strict Prometheus text format: comments, or a sample with labels. */
const PROMETHEUS_LINE =
  /^(# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .+|[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="[^"]*",?)*\})? (-?[0-9.e+-]+|NaN|\+Inf|-Inf))$/;

const relays: TestRelay[] = [];
const sockets: { disconnect(): unknown }[] = [];

async function relayWith(options: Partial<RelayOptions> = {}) {
  const relay = await startTestRelay({ adminToken: TOKEN, ...options });
  relays.push(relay);
  return relay;
}

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.disconnect();
  for (const relay of relays.splice(0)) {
    await relay.close();
    removeDataDir(relay.dataDir);
  }
});

/** Signs in on the admin API; returns the session cookie. */
async function signIn(relay: TestRelay, token = TOKEN): Promise<string> {
  const response = await postJson(`${relay.url}/api/admin/session`, {
    token,
  });
  expect(response.status).toBe(200);
  const cookie = response.headers.get('set-cookie');
  if (!cookie) throw new Error('no session cookie');
  return cookie.split(';')[0] ?? '';
}

function adminSocket(relay: TestRelay, cookie?: string): AdminSocket {
  const socket: AdminSocket = io(`${relay.url}/admin`, {
    transports: ['websocket'],
    forceNew: true,
    reconnection: false,
    extraHeaders: cookie ? { cookie } : {},
  });
  sockets.push(socket);
  return socket;
}

/** Connects to `/admin`; resolves with the handshake error, if any. */
function handshake(socket: AdminSocket): Promise<Error | undefined> {
  return new Promise((resolve) => {
    socket.once('connect', () => resolve(undefined));
    socket.once('connect_error', (error) => resolve(error));
  });
}

/** Records every history and snapshot event an admin socket receives. */
async function watch(relay: TestRelay) {
  const socket = adminSocket(relay, await signIn(relay));
  const seen = {
    history: [] as AdminSample[],
    snapshots: [] as AdminSnapshot[],
  };
  socket.on('admin:history', (samples) => seen.history.push(...samples));
  socket.on('admin:snapshot', (snapshot) => seen.snapshots.push(snapshot));
  expect(await handshake(socket)).toBeUndefined();
  const latest = () => seen.snapshots[seen.snapshots.length - 1];
  const until = (predicate: (snapshot: AdminSnapshot) => boolean) =>
    waitFor(() => {
      const snapshot = latest();
      return snapshot !== undefined && predicate(snapshot);
    }, 5000);
  return { seen, latest, until };
}

function metricsRequest(relay: TestRelay, headers: Record<string, string>) {
  return fetch(`${relay.url}/metrics`, { headers });
}

describe('admin sign-in', () => {
  it('rejects a wrong token', async () => {
    const relay = await relayWith();
    const response = await postJson(`${relay.url}/api/admin/session`, {
      token: 'wrong-token-wrong-token',
    });
    expect(response.status).toBe(401);
    expect(response.body).toMatchObject({ code: 'unauthenticated' });
    expect(response.headers.get('set-cookie')).toBeNull();
  });

  it('rejects a missing token', async () => {
    const relay = await relayWith();
    const response = await postJson(`${relay.url}/api/admin/session`, {});
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ code: 'invalid-request' });
  });

  it('sets a strict session cookie', async () => {
    const relay = await relayWith();
    const response = await postJson(`${relay.url}/api/admin/session`, {
      token: TOKEN,
    });
    const cookie = response.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(/^cloak_admin=[A-Za-z0-9_-]{43};/);
    expect(cookie).toContain('HttpOnly');
    expect(cookie).toContain('SameSite=Strict');
    expect(cookie).toContain('Path=/');
    expect(cookie).not.toContain(TOKEN);
  });

  it('rate-limits sign-in attempts', async () => {
    const relay = await relayWith({
      adminSignInRate: { perSecond: 0, burst: 2 },
    });
    const url = `${relay.url}/api/admin/session`;
    await postJson(url, { token: 'wrong-token-wrong-token' });
    await postJson(url, { token: 'wrong-token-wrong-token' });
    const third = await postJson(url, { token: TOKEN });
    expect(third.status).toBe(429);
    expect(third.body).toMatchObject({ code: 'rate-limited' });
  });

  it('ends the session on sign-out', async () => {
    const relay = await relayWith();
    const cookie = await signIn(relay);
    const check = () =>
      fetch(`${relay.url}/api/admin/session`, { headers: { cookie } });
    expect((await check()).status).toBe(200);
    await fetch(`${relay.url}/api/admin/session`, {
      method: 'DELETE',
      headers: { cookie },
    });
    expect((await check()).status).toBe(401);
  });
});

describe('admin namespace', () => {
  it('rejects a handshake without cookie', async () => {
    const relay = await relayWith();
    const error = await handshake(adminSocket(relay));
    expect(error).toBeInstanceOf(Error);
    expect((error as Error & { data?: unknown }).data).toEqual({
      code: 'unauthenticated',
    });
  });

  it('rejects a forged session cookie', async () => {
    const relay = await relayWith();
    const error = await handshake(
      adminSocket(relay, 'cloak_admin=forged-session-id'),
    );
    expect(error).toBeInstanceOf(Error);
  });

  it('rejects the token as a cookie', async () => {
    const relay = await relayWith();
    const error = await handshake(adminSocket(relay, `cloak_admin=${TOKEN}`));
    expect(error).toBeInstanceOf(Error);
  });

  it('disconnects after sign-out', async () => {
    const relay = await relayWith();
    const cookie = await signIn(relay);
    const socket = adminSocket(relay, cookie);
    expect(await handshake(socket)).toBeUndefined();
    const closed = new Promise<string>((resolve) => {
      socket.once('disconnect', (reason) => resolve(reason));
    });
    await fetch(`${relay.url}/api/admin/session`, {
      method: 'DELETE',
      headers: { cookie },
    });
    expect(await closed).toBe('io server disconnect');
    expect(await handshake(adminSocket(relay, cookie))).toBeInstanceOf(Error);
  });

  it('sends history and snapshots', async () => {
    const relay = await relayWith();
    const { seen, until } = await watch(relay);
    await until((snapshot) => snapshot.uptimeSeconds >= 1);
    expect(seen.history.length).toBeGreaterThanOrEqual(0);
    expect(seen.snapshots[0]?.status.level).toBe('green');
    expect(seen.snapshots[0]?.version).toMatch(/^\d+\.\d+\.\d+/);
  });
});

describe('admin token file', () => {
  it('creates the file with mode 0600', async () => {
    const relay = await relayWith({ adminToken: undefined });
    const file = path.join(relay.dataDir, ADMIN_TOKEN_FILE);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const token = readFileSync(file, 'utf8').trim();
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    await signIn(relay, token);
    expect(relay.logs.join('')).toContain(file);
    expect(relay.logs.join('')).not.toContain(token);
  });

  it('reuses the file on restart', async () => {
    const first = await startTestRelay();
    const file = path.join(first.dataDir, ADMIN_TOKEN_FILE);
    const token = readFileSync(file, 'utf8').trim();
    await first.close();
    const second = await relayWith({
      dataDir: first.dataDir,
      adminToken: undefined,
    });
    expect(readFileSync(file, 'utf8').trim()).toBe(token);
    await signIn(second, token);
  });

  it('rejects a short configured token', async () => {
    await expect(relayWith({ adminToken: 'short' })).rejects.toThrow(
      /at least 16/,
    );
  });
});

describe('figures under load', () => {
  const ENVELOPES = 5;

  it('follow a queue that grows and drains', async () => {
    const relay = await relayWith();
    const admin = await watch(relay);
    const alice = await createTestDevice('load-alice');
    const bob = await createTestDevice('load-bob');
    await register(relay.url, alice);
    await register(relay.url, bob);
    const aliceSocket = await connectSignedIn(relay.url, alice);
    sockets.push(aliceSocket);
    const bobSocket = await connectSignedIn(relay.url, bob);
    await admin.until((snapshot) => snapshot.devices === 2);
    bobSocket.disconnect();
    await admin.until((snapshot) => snapshot.devices === 1);

    for (let i = 0; i < ENVELOPES; i++) {
      unwrap(await call(aliceSocket, 'envelope:send', outgoing(bob.address)));
    }
    await admin.until((snapshot) => snapshot.queuedEnvelopes === ENVELOPES);
    const queued = admin.latest();
    expect(queued?.messagesRelayed).toBe(ENVELOPES);
    expect(queued?.queuedBytes).toBe(ENVELOPES * 'AAEC'.length);
    expect(queued?.oldestQueuedAgeMs).toBeGreaterThanOrEqual(0);
    expect(queued?.latencyP50Ms).toBeNull();
    expect(
      admin.seen.snapshots.some((snapshot) => snapshot.relayedPerSecond > 0),
    ).toBe(true);

    const inbox: Envelope[] = [];
    const bobAgain: ClientSocket = await connectSignedIn(relay.url, bob, inbox);
    sockets.push(bobAgain);
    await waitFor(() => inbox.length === ENVELOPES);
    unwrap(
      await call(bobAgain, 'envelope:ack', {
        ids: inbox.map((envelope) => envelope.id),
      }),
    );
    await admin.until((snapshot) => snapshot.queuedEnvelopes === 0);
    const drained = admin.latest();
    expect(drained?.oldestQueuedAgeMs).toBeNull();
    expect(drained?.devices).toBe(2);
    expect(drained?.latencyP50Ms).toBeGreaterThan(0);
    expect(drained?.latencyP99Ms).toBeGreaterThanOrEqual(
      drained?.latencyP50Ms ?? 0,
    );
  });

  it('counts rejected events by code', async () => {
    const relay = await relayWith();
    const admin = await watch(relay);
    const alice = await createTestDevice('reject-alice');
    await register(relay.url, alice);
    const socket = await connectSignedIn(relay.url, alice);
    sockets.push(socket);
    await call(socket, 'envelope:send', { nonsense: true });
    await call(socket, 'no-such-event', {});
    await admin.until(
      (snapshot) => snapshot.rejectedByCode['invalid-request'] === 2,
    );
  });

  it('names no user in the admin payload', async () => {
    const relay = await relayWith();
    const admin = await watch(relay);
    const alice = await createTestDevice('payload-alice');
    const bob = await createTestDevice('payload-bob');
    await register(relay.url, alice);
    await register(relay.url, bob);
    const socket = await connectSignedIn(relay.url, alice);
    sockets.push(socket);
    unwrap(await call(socket, 'envelope:send', outgoing(bob.address)));
    await admin.until((snapshot) => snapshot.messagesRelayed === 1);
    const payload = JSON.stringify(admin.seen);
    expect(payload).not.toContain('payload-alice');
    expect(payload).not.toContain('payload-bob');
    expect(payload).not.toContain(alice.certificate.identityKey);
  });
});

describe('metrics endpoint', () => {
  it('rejects missing and wrong tokens', async () => {
    const relay = await relayWith();
    const missing = await metricsRequest(relay, {});
    expect(missing.status).toBe(401);
    expect(missing.headers.get('www-authenticate')).toMatch(/^Bearer/);
    const wrong = await metricsRequest(relay, {
      authorization: 'Bearer wrong-token-wrong-token',
    });
    expect(wrong.status).toBe(401);
    const cookie = await metricsRequest(relay, {
      cookie: 'cloak_admin=forged-session-id',
    });
    expect(cookie.status).toBe(401);
  });

  it('accepts a session cookie', async () => {
    const relay = await relayWith();
    const cookie = await signIn(relay);
    expect((await metricsRequest(relay, { cookie })).status).toBe(200);
  });

  it('parses and names no user', async () => {
    const relay = await relayWith();
    const alice = await createTestDevice('metrics-alice');
    const bob = await createTestDevice('metrics-bob');
    await register(relay.url, alice);
    await register(relay.url, bob);
    const socket = await connectSignedIn(relay.url, alice);
    sockets.push(socket);
    unwrap(await call(socket, 'envelope:send', outgoing(bob.address)));
    const response = await metricsRequest(relay, {
      authorization: `Bearer ${TOKEN}`,
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await response.text();
    const lines = text.split('\n').filter((line) => line !== '');
    for (const line of lines) expect(line).toMatch(PROMETHEUS_LINE);
    expect(text).toMatch(/^cloak_envelopes_relayed_total 1$/m);
    expect(text).toMatch(/^cloak_envelopes_queued \d+$/m);
    expect(text).toContain('cloak_delivery_latency_seconds_bucket');
    expect(text).not.toContain('metrics-alice');
    expect(text).not.toContain('metrics-bob');
  });
});

describe('health checks', () => {
  it('answers without authentication', async () => {
    const relay = await relayWith();
    const healthz = await fetch(`${relay.url}/healthz`);
    expect(healthz.status).toBe(200);
    expect(await healthz.text()).toBe('ok\n');
    const readyz = await fetch(`${relay.url}/readyz`);
    expect(readyz.status).toBe(200);
    expect(await readyz.text()).toBe('ready\n');
    const legacy = await fetch(`${relay.url}/api/health`);
    expect(await legacy.json()).toEqual({ status: 'ok' });
  });
});
