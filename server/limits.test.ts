import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { get, request } from 'node:https';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { io } from 'socket.io-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { WireError } from '../shared/wire/errors';
import { MAX_SOCKET_MESSAGE_BYTES } from '../shared/wire/limits';
import type { TlsCredentials } from './app';
import { CONTENT_SECURITY_POLICY } from './http';
import {
  type ClientSocket,
  call,
  connect,
  createTestDevice,
  emitWithoutAck,
  errorOf,
  register,
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

const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startRelay(
  options: Parameters<typeof startTestRelay>[0],
): Promise<TestRelay> {
  const relay = await startTestRelay(options);
  cleanups.push(async () => {
    await relay.close();
    removeDataDir(relay.dataDir);
  });
  return relay;
}

type Outcome =
  | { readonly kind: 'connected'; readonly socket: ClientSocket }
  | {
      readonly kind: 'refused';
      readonly data: unknown;
      readonly message: string;
    };

/** Opens a connection and reports whether the relay admitted it. */
async function tryConnect(
  url: string,
  extra: { rejectUnauthorized?: boolean } = {},
): Promise<Outcome> {
  const socket: ClientSocket = io(url, {
    transports: ['websocket'],
    forceNew: true,
    reconnection: false,
    ...extra,
  });
  cleanups.push(() => void socket.disconnect());
  return new Promise((resolve) => {
    socket.once('connect', () => resolve({ kind: 'connected', socket }));
    socket.once('connect_error', (error: Error & { data?: unknown }) =>
      resolve({ kind: 'refused', data: error.data, message: error.message }),
    );
  });
}

/** Resolves with the reason once the client sees the connection close. */
function disconnected(socket: ClientSocket): Promise<string> {
  return new Promise((resolve) => socket.once('disconnect', resolve));
}

function refusalCode(outcome: Outcome): string | undefined {
  if (outcome.kind !== 'refused') return undefined;
  return (outcome.data as WireError | undefined)?.code;
}

describe('connection limits', () => {
  it('refuses connections over the address cap', async () => {
    const relay = await startRelay({
      connectionLimits: { perAddress: 3, unsignedPerAddress: 10 },
    });
    const admitted = [];
    for (let i = 0; i < 3; i++) admitted.push(await tryConnect(relay.url));
    expect(admitted.map((outcome) => outcome.kind)).toEqual([
      'connected',
      'connected',
      'connected',
    ]);

    const refused = await tryConnect(relay.url);
    expect(refused.kind).toBe('refused');
    expect(refused).toMatchObject({
      data: { code: 'rate-limited' },
      message: expect.stringContaining(
        'Too many connections from this address (maximum 3)',
      ),
    });

    const [first] = admitted;
    if (first?.kind !== 'connected') throw new Error('no first socket');
    first.socket.disconnect();
    await waitFor(() => relay.logs.some((line) => line.includes('disconnect')));
    expect((await tryConnect(relay.url)).kind).toBe('connected');
  });

  it('caps connections waiting to sign in', async () => {
    const relay = await startRelay({
      connectionLimits: { perAddress: 10, unsignedPerAddress: 2 },
    });
    const alice = await createTestDevice('alice');
    await register(relay.url, alice);
    const first = await tryConnect(relay.url);
    expect((await tryConnect(relay.url)).kind).toBe('connected');

    const refused = await tryConnect(relay.url);
    expect(refusalCode(refused)).toBe('rate-limited');
    expect(refused).toMatchObject({
      message: expect.stringContaining('waiting to sign in'),
    });

    if (first.kind !== 'connected') throw new Error('first socket refused');
    unwrap(await signIn(first.socket, alice, relay.url));
    expect((await tryConnect(relay.url)).kind).toBe('connected');
  });

  it('survives a burst of connections', async () => {
    const relay = await startRelay({
      connectionLimits: { perAddress: 5, unsignedPerAddress: 100 },
    });
    const outcomes = await Promise.all(
      Array.from({ length: 60 }, () => tryConnect(relay.url)),
    );
    const connected = outcomes.filter(
      (outcome) => outcome.kind === 'connected',
    );
    expect(connected.length).toBeLessThanOrEqual(5);
    expect(connected.length).toBeGreaterThan(0);
    for (const outcome of outcomes) {
      if (outcome.kind === 'connected') continue;
      // Over twice the cap, the transport handshake itself gets HTTP 403.
      if (outcome.data !== undefined) {
        expect(outcome.data).toMatchObject({ code: 'rate-limited' });
      }
    }
    const health = await fetch(`${relay.url}/api/health`);
    expect(await health.json()).toEqual({ status: 'ok' });
  });

  it('releases slots of closed connections', async () => {
    const relay = await startRelay({
      connectionLimits: { perAddress: 2, unsignedPerAddress: 2 },
    });
    for (let round = 0; round < 10; round++) {
      const outcome = await tryConnect(relay.url);
      expect(outcome.kind).toBe('connected');
      if (outcome.kind === 'connected') {
        const closed = disconnected(outcome.socket);
        outcome.socket.disconnect();
        await closed;
      }
      // The relay handles the close a moment after the client.
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  });
});

describe('event limits', () => {
  it('rate-limits events per address', async () => {
    const relay = await startRelay({
      rateLimits: { addressEvents: { perSecond: 0.001, burst: 4 } },
    });
    const one = await connect(relay.url);
    const two = await connect(relay.url);
    cleanups.push(() => void one.disconnect());
    cleanups.push(() => void two.disconnect());
    const codes: string[] = [];
    for (const socket of [one, two, one, two, one, two]) {
      const reply = await call(socket, 'keys:bundle', { userId: 'nobody' });
      codes.push(errorOf(reply).code);
    }
    expect(codes).toEqual([
      'unauthenticated',
      'unauthenticated',
      'unauthenticated',
      'unauthenticated',
      'rate-limited',
      'rate-limited',
    ]);
    const reply = await call(one, 'keys:bundle', {});
    expect(errorOf(reply).message).toBe(
      'Too many events from this address. Slow down and retry.',
    );
  });

  it('closes a connection over the message size', async () => {
    const relay = await startRelay({});
    const socket = await connect(relay.url);
    cleanups.push(() => void socket.disconnect());
    const closed = disconnected(socket);
    emitWithoutAck(socket, 'envelope:send', {
      body: 'A'.repeat(MAX_SOCKET_MESSAGE_BYTES + 1),
    });
    expect(await closed).toBe('transport close');

    const next = await connect(relay.url);
    cleanups.push(() => void next.disconnect());
    expect(errorOf(await call(next, 'keys:bundle', {})).code).toBe(
      'unauthenticated',
    );
  });
});

describe('TLS', () => {
  let tlsDir: string;
  let credentials: TlsCredentials;

  beforeAll(() => {
    tlsDir = makeDataDir();
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        path.join(tlsDir, 'key.pem'),
        '-out',
        path.join(tlsDir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    credentials = {
      cert: readFileSync(path.join(tlsDir, 'cert.pem')),
      key: readFileSync(path.join(tlsDir, 'key.pem')),
    };
  });

  afterAll(() => {
    removeDataDir(tlsDir);
  });

  /** Fetches a path with the self-signed certificate accepted. */
  function getInsecure(
    url: string,
  ): Promise<{ status: number; headers: Record<string, unknown> }> {
    return new Promise((resolve, reject) => {
      get(url, { rejectUnauthorized: false }, (response) => {
        response.resume();
        resolve({
          status: response.statusCode ?? 0,
          headers: response.headers,
        });
      }).on('error', reject);
    });
  }

  it('serves HTTPS with HSTS', async () => {
    const relay = await startRelay({ tls: credentials });
    expect(relay.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const response = await getInsecure(`${relay.url}/api/health`);
    expect(response.status).toBe(200);
    expect(response.headers['strict-transport-security']).toBe(
      'max-age=63072000; includeSubDomains',
    );
    expect(response.headers['content-security-policy']).toBe(
      CONTENT_SECURITY_POLICY,
    );
  });

  it('signs in to the https origin', async () => {
    const relay = await startRelay({ tls: credentials });
    const alice = await createTestDevice('alice');
    const registered = await postInsecure(
      `${relay.url}/api/accounts`,
      alice.registration,
    );
    expect(registered).toBe(201);
    const outcome = await tryConnect(relay.url, { rejectUnauthorized: false });
    if (outcome.kind !== 'connected') throw new Error(outcome.message);
    const reply = await signIn(outcome.socket, alice, relay.url);
    expect(reply.ok).toBe(true);
  });

  /** Spawns `npm start`'s script and collects its output lines. */
  function startScript(env: Record<string, string>) {
    const dataDir = makeDataDir();
    cleanups.push(() => removeDataDir(dataDir));
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', path.join(__dirname, 'start.ts')],
      {
        cwd: path.join(__dirname, '..'),
        env: {
          ...process.env,
          PORT: '0',
          HOST: '127.0.0.1',
          DATA_DIR: dataDir,
          LOG_LEVEL: 'info',
          ...env,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    cleanups.push(() => {
      if (child.exitCode === null) child.kill('SIGKILL');
    });
    const lines: string[] = [];
    createInterface({ input: child.stdout }).on('line', (line) =>
      lines.push(line),
    );
    createInterface({ input: child.stderr }).on('line', (line) =>
      lines.push(line),
    );
    return { child, lines };
  }

  it('start logs an https URL', async () => {
    const { child, lines } = startScript({
      TLS_CERT: path.join(tlsDir, 'cert.pem'),
      TLS_KEY: path.join(tlsDir, 'key.pem'),
    });
    await waitFor(
      () =>
        child.exitCode !== null ||
        lines.some((line) => line.includes('Cloak is ready at')),
      15_000,
    );
    const ready = lines.find((line) => line.includes('Cloak is ready at'));
    expect(ready, lines.join('\n')).toMatch(
      /Cloak is ready at https:\/\/127\.0\.0\.1:\d+/,
    );
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    await exited;
  });

  it.each([
    ['TLS_CERT', { TLS_KEY: 'key.pem' }],
    ['TLS_KEY', { TLS_CERT: 'cert.pem' }],
  ])('start rejects a missing %s file', async (variable, present) => {
    const missing = path.join(tlsDir, 'missing.pem');
    const env = Object.fromEntries(
      Object.entries(present).map(([name, file]) => [
        name,
        path.join(tlsDir, file),
      ]),
    );
    const { child, lines } = startScript({ ...env, [variable]: missing });
    const [code] = await once(child, 'exit');
    expect(code).toBe(1);
    const output = lines.join('\n');
    expect(output).toContain(`Failed to read ${variable} file`);
    expect(output).toContain(missing);
  });

  it('start rejects a key without a certificate', async () => {
    const { child, lines } = startScript({
      TLS_KEY: path.join(tlsDir, 'key.pem'),
    });
    const [code] = await once(child, 'exit');
    expect(code).toBe(1);
    expect(lines.join('\n')).toContain('TLS_CERT is missing');
  });

  it('start rejects a certificate as key', async () => {
    const { child, lines } = startScript({
      TLS_CERT: path.join(tlsDir, 'cert.pem'),
      TLS_KEY: path.join(tlsDir, 'cert.pem'),
    });
    const [code] = await once(child, 'exit');
    expect(code).toBe(1);
    expect(lines.join('\n')).toContain('Invalid TLS_CERT');
  });
});

/** Posts JSON over HTTPS with the self-signed certificate accepted. */
async function postInsecure(url: string, body: unknown): Promise<number> {
  return new Promise((resolve, reject) => {
    const outgoing = request(
      url,
      {
        method: 'POST',
        rejectUnauthorized: false,
        headers: { 'content-type': 'application/json' },
      },
      (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      },
    );
    outgoing.on('error', reject);
    outgoing.end(JSON.stringify(body));
  });
}
