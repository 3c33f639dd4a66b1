import { io } from 'socket.io-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { fromBase64Url, toBase64Url } from '../shared/crypto/bytes';
import { signSignIn } from '../shared/crypto/certificate';
import {
  type ClientSocket,
  type TestDevice,
  call,
  connect,
  createTestDevice,
  register,
  signIn,
  unwrap,
} from './test-support/device';
import {
  type TestRelay,
  removeDataDir,
  startTestRelay,
} from './test-support/relay';

// Long enough that signing a nonce never outlasts it on a loaded machine.
const NONCE_TTL_MS = 2_000;

let relay: TestRelay;
let alice: TestDevice;
const sockets: ClientSocket[] = [];

async function open(): Promise<ClientSocket> {
  const socket = await connect(relay.url);
  sockets.push(socket);
  return socket;
}

async function startNonce(socket: ClientSocket): Promise<string> {
  const reply = await call<{ nonce: string }>(
    socket,
    'signin:start',
    alice.address,
  );
  return unwrap(reply).nonce;
}

async function finish(socket: ClientSocket, nonce: string, origin: string) {
  const signature = await signSignIn(
    alice.signingKey.privateKey,
    origin,
    alice.address.userId,
    alice.address.deviceId,
    fromBase64Url(nonce),
  );
  return call(socket, 'signin:finish', {
    nonce,
    signature: toBase64Url(signature),
  });
}

beforeAll(async () => {
  relay = await startTestRelay({ signInNonceTtlMs: NONCE_TTL_MS });
  alice = await createTestDevice('alice');
  await register(relay.url, alice);
});

afterEach(() => {
  for (const socket of sockets.splice(0)) socket.disconnect();
});

afterAll(async () => {
  await relay.close();
  removeDataDir(relay.dataDir);
});

describe('sign-in', () => {
  it('accepts the device signature', async () => {
    const socket = await open();
    const reply = await signIn(socket, alice, relay.url);
    expect(reply).toEqual({
      ok: true,
      value: { prekeys: { oneTimePrekeys: 5, oneTimePqPrekeys: 5 } },
    });
  });

  it('issues 32-byte single-use nonces', async () => {
    const socket = await open();
    const first = await startNonce(socket);
    const second = await startNonce(socket);
    expect(fromBase64Url(first)).toHaveLength(32);
    expect(first).not.toBe(second);
  });

  it('rejects a wrong signature', async () => {
    const socket = await open();
    const nonce = await startNonce(socket);
    const reply = await call(socket, 'signin:finish', {
      nonce,
      signature: toBase64Url(new Uint8Array(64)),
    });
    expect(reply).toMatchObject({
      ok: false,
      error: { code: 'sign-in-failed' },
    });
  });

  it('rejects a signature by another device', async () => {
    const mallory = await createTestDevice('mallory');
    const socket = await open();
    const nonce = await startNonce(socket);
    const signature = await signSignIn(
      mallory.signingKey.privateKey,
      relay.url,
      alice.address.userId,
      alice.address.deviceId,
      fromBase64Url(nonce),
    );
    const reply = await call(socket, 'signin:finish', {
      nonce,
      signature: toBase64Url(signature),
    });
    expect(reply).toMatchObject({
      ok: false,
      error: { code: 'sign-in-failed' },
    });
  });

  it('rejects a signature for another origin', async () => {
    const socket = await open();
    const nonce = await startNonce(socket);
    const reply = await finish(socket, nonce, 'http://evil.example');
    expect(reply).toMatchObject({
      ok: false,
      error: { code: 'sign-in-failed' },
    });
  });

  it('rejects a reused nonce', async () => {
    const socket = await open();
    const nonce = await startNonce(socket);
    const wrong = await call(socket, 'signin:finish', {
      nonce,
      signature: toBase64Url(new Uint8Array(64)),
    });
    expect(wrong).toMatchObject({ ok: false });
    const retry = await finish(socket, nonce, relay.url);
    expect(retry).toMatchObject({
      ok: false,
      error: { code: 'sign-in-failed' },
    });
  });

  it('rejects a nonce reused after success', async () => {
    const first = await open();
    const nonce = await startNonce(first);
    expect(await finish(first, nonce, relay.url)).toMatchObject({ ok: true });
    const second = await open();
    const reply = await finish(second, nonce, relay.url);
    expect(reply).toMatchObject({
      ok: false,
      error: { code: 'sign-in-failed' },
    });
  });

  it('rejects a nonce from another socket', async () => {
    const issuer = await open();
    const nonce = await startNonce(issuer);
    const thief = await open();
    const reply = await finish(thief, nonce, relay.url);
    expect(reply).toMatchObject({
      ok: false,
      error: { code: 'sign-in-failed' },
    });
  });

  it('rejects an expired nonce', async () => {
    const socket = await open();
    const nonce = await startNonce(socket);
    await new Promise((resolve) => setTimeout(resolve, NONCE_TTL_MS + 50));
    const reply = await finish(socket, nonce, relay.url);
    expect(reply).toMatchObject({
      ok: false,
      error: { code: 'sign-in-failed' },
    });
  });

  it('rejects an unknown device', async () => {
    const socket = await open();
    const reply = await call(socket, 'signin:start', {
      userId: 'nobody',
      deviceId: 1,
    });
    expect(reply).toMatchObject({ ok: false, error: { code: 'not-found' } });
  });

  it('rate-limits sign-in attempts', async () => {
    const limited = await startTestRelay({
      rateLimits: {
        signIn: {
          device: { perSecond: 0.001, burst: 2 },
          address: { perSecond: 0.001, burst: 100 },
        },
      },
    });
    const socket = await connect(limited.url);
    try {
      const codes: string[] = [];
      for (let i = 0; i < 3; i++) {
        const reply = await call(socket, 'signin:start', alice.address);
        codes.push(reply.ok ? 'ok' : reply.error.code);
      }
      expect(codes).toEqual(['not-found', 'not-found', 'rate-limited']);
    } finally {
      socket.disconnect();
      await limited.close();
      removeDataDir(limited.dataDir);
    }
  });
});

describe('connection origin', () => {
  it('rejects a browser page of another origin', async () => {
    const socket = io(relay.url, {
      transports: ['websocket'],
      forceNew: true,
      reconnection: false,
      extraHeaders: { origin: 'http://evil.example' },
    });
    try {
      await expect(
        new Promise((resolve, reject) => {
          socket.once('connect', () => resolve('connected'));
          socket.once('connect_error', reject);
        }),
      ).rejects.toThrow();
    } finally {
      socket.disconnect();
    }
  });

  it('accepts a page of the relay origin', async () => {
    const socket = io(relay.url, {
      transports: ['websocket'],
      forceNew: true,
      reconnection: false,
      extraHeaders: { origin: relay.url },
    });
    sockets.push(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('connect_error', reject);
    });
    expect(socket.connected).toBe(true);
  });
});

describe('events before sign-in', () => {
  it.each([
    ['keys:bundle', { userId: 'alice' }],
    ['keys:upload', { oneTimePrekeys: [], oneTimePqPrekeys: [] }],
    ['envelope:send', {}],
    ['envelope:ack', { ids: [] }],
  ])('rejects %s as unauthenticated', async (event, payload) => {
    const socket = await open();
    const reply = await call(socket, event, payload);
    expect(reply).toMatchObject({
      ok: false,
      error: { code: 'unauthenticated' },
    });
    expect(socket.connected).toBe(true);
  });
});
