import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from 'socket.io';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createAccountKeys } from '../../../shared/crypto/keys';
import { systemRandom } from '../../../shared/crypto/random';
import { ErrorCode, type Reply } from '../../../shared/wire/errors';
import {
  type ConnectionState,
  REFUSED_RETRY_MS,
  RelayConnection,
} from './relay-connection';

type Ack = (reply: Reply<unknown>) => void;

const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Starts a Socket.IO relay on 127.0.0.1 that rejects sign-in with `code`. */
async function relayRejectingSignIn(code: ErrorCode) {
  const http = createServer();
  const io = new Server(http);
  const starts = vi.fn();
  io.on('connection', (socket) => {
    socket.on('signin:start', (_payload: unknown, ack: Ack) => {
      starts();
      ack({ ok: false, error: { code, message: 'sign-in rejected' } });
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  cleanups.push(
    () => new Promise<void>((resolve) => io.close(() => resolve())),
  );
  const { port } = http.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, starts };
}

/**
 * Starts a Socket.IO relay on 127.0.0.1 whose middleware refuses the first
 * `refusals` connections as `rate-limited`, the way the relay's connection
 * limits do, and counts every connection attempt.
 */
async function relayRefusingConnections(refusals: number) {
  const http = createServer();
  const io = new Server(http);
  const attempts = vi.fn();
  io.use((_socket, next) => {
    attempts();
    if (attempts.mock.calls.length > refusals) {
      next();
      return;
    }
    const error = new Error('too many connections') as Error & {
      data?: unknown;
    };
    error.data = {
      code: ErrorCode.rateLimited,
      message: 'too many connections',
    };
    next(error);
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  cleanups.push(
    () => new Promise<void>((resolve) => io.close(() => resolve())),
  );
  const { port } = http.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, attempts };
}

/** Creates a connection for a fresh account, with `location` set to `url`. */
async function connect(url: string) {
  const keys = await createAccountKeys('alice', 1, systemRandom, Date.now());
  const states: ConnectionState[] = [];
  const handlers = {
    onState: (state: ConnectionState) => states.push(state),
    onSignedIn: vi.fn(),
    onEnvelope: vi.fn(),
    onKeysLow: vi.fn(),
    onSignInFailed: vi.fn(),
    onAccountUnknown: vi.fn(),
  };
  vi.stubGlobal('location', new URL(url));
  cleanups.push(() => {
    vi.unstubAllGlobals();
  });
  const connection = new RelayConnection(keys.identity, handlers, url);
  cleanups.push(() => connection.stop());
  connection.start();
  return { connection, handlers, states };
}

describe('RelayConnection sign-in', () => {
  it('stops on an unknown account', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    cleanups.push(() => {
      vi.useRealTimers();
    });
    const relay = await relayRejectingSignIn(ErrorCode.notFound);
    const { handlers, states } = await connect(relay.url);

    await vi.waitFor(() => expect(handlers.onAccountUnknown).toBeCalled());
    // No sign-in retry is scheduled, and none runs later.
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(60_000);
    await new Promise((resolve) => setImmediate(resolve));

    expect(relay.starts).toHaveBeenCalledTimes(1);
    expect(handlers.onSignInFailed).not.toBeCalled();
    expect(states.at(-1)).toBe('offline');
  });

  it('retries other sign-in failures', async () => {
    const relay = await relayRejectingSignIn(ErrorCode.rateLimited);
    const { handlers } = await connect(relay.url);

    await vi.waitFor(() => expect(handlers.onSignInFailed).toBeCalled());
    expect(handlers.onAccountUnknown).not.toBeCalled();
  });
});

describe('RelayConnection reconnect', () => {
  it('retries a refused connection', async () => {
    const relay = await relayRefusingConnections(1);
    const { states } = await connect(relay.url);

    await vi.waitFor(() => expect(relay.attempts).toHaveBeenCalledTimes(1));
    await vi.waitFor(() => expect(states).toContain('offline'));
    // The retry waits between 1 and 1.5 times REFUSED_RETRY_MS.
    await vi.waitFor(() => expect(relay.attempts).toHaveBeenCalledTimes(2), {
      timeout: REFUSED_RETRY_MS * 3,
    });
  });

  it('reconnects at once when online', async () => {
    const listeners = new Map<string, () => void>();
    vi.stubGlobal('addEventListener', (type: string, listener: () => void) =>
      listeners.set(type, listener),
    );
    vi.stubGlobal('removeEventListener', (type: string) =>
      listeners.delete(type),
    );
    const relay = await relayRefusingConnections(Infinity);
    const { states } = await connect(relay.url);
    await vi.waitFor(() => expect(states).toContain('offline'));
    expect(relay.attempts).toHaveBeenCalledTimes(1);

    const online = listeners.get('online');
    expect(online).toBeDefined();
    online?.();

    // Well before the refusal backoff would have connected again.
    await vi.waitFor(() => expect(relay.attempts).toHaveBeenCalledTimes(2), {
      timeout: REFUSED_RETRY_MS / 2,
    });
  });

  it('removes the online listener on stop', async () => {
    const listeners = new Map<string, () => void>();
    vi.stubGlobal('addEventListener', (type: string, listener: () => void) =>
      listeners.set(type, listener),
    );
    vi.stubGlobal('removeEventListener', (type: string) =>
      listeners.delete(type),
    );
    const relay = await relayRefusingConnections(0);
    const { connection } = await connect(relay.url);
    expect(listeners.has('online')).toBe(true);

    connection.stop();

    expect(listeners.has('online')).toBe(false);
  });
});
