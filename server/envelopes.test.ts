import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MAX_ENVELOPE_BODY_BYTES } from '../shared/wire/limits';
import {
  type Envelope,
  type SendResult,
  base64UrlLength,
} from '../shared/wire/schemas';
import {
  type ClientSocket,
  type TestDevice,
  call,
  errorOf,
  connect,
  connectSignedIn,
  createTestDevice,
  emitWithoutAck,
  outgoing,
  randomId,
  register,
  settle,
  unwrap,
  waitFor,
} from './test-support/device';
import {
  type TestRelay,
  removeDataDir,
  startTestRelay,
} from './test-support/relay';

let relay: TestRelay;
let alice: TestDevice;
let bob: TestDevice;
const sockets: ClientSocket[] = [];

async function online(
  device: TestDevice,
  inbox?: Envelope[],
  url = relay.url,
): Promise<ClientSocket> {
  const socket = await connectSignedIn(url, device, inbox);
  sockets.push(socket);
  return socket;
}

async function send(socket: ClientSocket, payload: unknown) {
  return call<SendResult>(socket, 'envelope:send', payload);
}

/** Acknowledges everything in `inbox` and empties it. */
async function ackAll(socket: ClientSocket, inbox: Envelope[]) {
  const ids = inbox.splice(0).map((envelope) => envelope.id);
  return unwrap(
    await call<{ deleted: number }>(socket, 'envelope:ack', { ids }),
  );
}

beforeAll(async () => {
  relay = await startTestRelay({
    rateLimits: {
      signIn: {
        device: { perSecond: 100, burst: 1000 },
        address: { perSecond: 100, burst: 1000 },
      },
    },
  });
  alice = await createTestDevice('alice');
  bob = await createTestDevice('bob');
  await register(relay.url, alice);
  await register(relay.url, bob);
});

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.disconnect();
  // Empties Bob's queue so that each test starts from nothing.
  const inbox: Envelope[] = [];
  const socket = await connectSignedIn(relay.url, bob, inbox);
  await settle(100);
  if (inbox.length > 0) await ackAll(socket, inbox);
  socket.disconnect();
});

afterAll(async () => {
  await relay.close();
  removeDataDir(relay.dataDir);
});

describe('envelope delivery', () => {
  it('pushes live envelopes with relay-stamped fields', async () => {
    const inbox: Envelope[] = [];
    const aliceSocket = await online(alice);
    await online(bob, inbox);
    const envelope = outgoing(bob.address, 'aGVsbG8');
    const before = Date.now();
    const ack = unwrap(await send(aliceSocket, envelope));
    expect(ack).toEqual({
      id: envelope.id,
      serverTs: expect.any(Number),
      duplicate: false,
    });
    expect(ack.serverTs).toBeGreaterThanOrEqual(before);
    await waitFor(() => inbox.length === 1);
    expect(inbox[0]).toEqual({
      v: 1,
      kind: 'message',
      id: envelope.id,
      from: alice.address,
      to: bob.address,
      serverTs: ack.serverTs,
      seq: expect.any(Number),
      body: 'aGVsbG8',
    });
  });

  it('rejects a from field in the payload', async () => {
    const aliceSocket = await online(alice);
    const reply = await send(aliceSocket, {
      ...outgoing(bob.address),
      from: { userId: 'carol', deviceId: 1 },
    });
    expect(reply).toMatchObject({
      ok: false,
      error: { code: 'invalid-request' },
    });
    expect(aliceSocket.connected).toBe(true);
  });

  it('delivers the offline queue in seq order', async () => {
    const aliceSocket = await online(alice);
    const sent: string[] = [];
    for (let i = 0; i < 30; i++) {
      const envelope = outgoing(bob.address);
      unwrap(await send(aliceSocket, envelope));
      sent.push(envelope.id);
    }
    const inbox: Envelope[] = [];
    await online(bob, inbox);
    await waitFor(() => inbox.length === 30);
    expect(inbox.map((envelope) => envelope.id)).toEqual(sent);
    const seqs = inbox.map((envelope) => envelope.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(seqs).size).toBe(30);
  });

  it('keeps backlog and live envelopes in order', async () => {
    const aliceSocket = await online(alice);
    const sent: string[] = [];
    for (let i = 0; i < 50; i++) {
      const envelope = outgoing(bob.address);
      unwrap(await send(aliceSocket, envelope));
      sent.push(envelope.id);
    }
    const inbox: Envelope[] = [];
    const live = (async () => {
      for (let i = 0; i < 20; i++) {
        const envelope = outgoing(bob.address);
        sent.push(envelope.id);
        unwrap(await send(aliceSocket, envelope));
      }
    })();
    await online(bob, inbox);
    await live;
    await waitFor(() => inbox.length === 70);
    expect(inbox.map((envelope) => envelope.id)).toEqual(sent);
  });

  it('redelivers unacknowledged envelopes after reconnect', async () => {
    const aliceSocket = await online(alice);
    const envelope = outgoing(bob.address);
    unwrap(await send(aliceSocket, envelope));

    const first: Envelope[] = [];
    const bobSocket = await online(bob, first);
    await waitFor(() => first.length === 1);
    bobSocket.disconnect();

    const second: Envelope[] = [];
    const again = await online(bob, second);
    await waitFor(() => second.length === 1);
    expect(second[0]?.id).toBe(envelope.id);
    expect(await ackAll(again, second)).toEqual({ deleted: 1 });
    again.disconnect();

    const third: Envelope[] = [];
    await online(bob, third);
    await settle();
    expect(third).toEqual([]);
  });

  it('deletes only the acknowledging device envelopes', async () => {
    const aliceSocket = await online(alice);
    const envelope = outgoing(bob.address);
    unwrap(await send(aliceSocket, envelope));
    const reply = await call(aliceSocket, 'envelope:ack', {
      ids: [envelope.id],
    });
    expect(reply).toEqual({ ok: true, value: { deleted: 0 } });
    const inbox: Envelope[] = [];
    await online(bob, inbox);
    await waitFor(() => inbox.length === 1);
  });

  it('acknowledges a retried id as duplicate', async () => {
    const aliceSocket = await online(alice);
    const envelope = outgoing(bob.address);
    const first = unwrap(await send(aliceSocket, envelope));
    const retry = unwrap(await send(aliceSocket, envelope));
    expect(retry).toEqual({ ...first, duplicate: true });

    const inbox: Envelope[] = [];
    const bobSocket = await online(bob, inbox);
    await waitFor(() => inbox.length === 1);
    await settle();
    expect(inbox).toHaveLength(1);
    await ackAll(bobSocket, inbox);

    const late = unwrap(await send(aliceSocket, envelope));
    expect(late).toEqual({ ...first, duplicate: true });
    await settle();
    expect(inbox).toEqual([]);
  });

  it('queues the same id from another sender', async () => {
    const carol = await createTestDevice('carol');
    await register(relay.url, carol);
    const envelope = outgoing(bob.address);
    const fromAlice = unwrap(await send(await online(alice), envelope));
    const fromCarol = unwrap(await send(await online(carol), envelope));
    expect(fromAlice.duplicate).toBe(false);
    expect(fromCarol.duplicate).toBe(false);
  });

  it('pauses delivery until acknowledgements free the window', async () => {
    const windowed = await startTestRelay({
      dataDir: relay.dataDir.replace(/$/, '-window'),
      deliveryWindow: 5,
    });
    try {
      await register(windowed.url, alice);
      await register(windowed.url, bob);
      const aliceSocket = await online(alice, undefined, windowed.url);
      for (let i = 0; i < 8; i++) {
        unwrap(await send(aliceSocket, outgoing(bob.address)));
      }
      const inbox: Envelope[] = [];
      const bobSocket = await online(bob, inbox, windowed.url);
      await waitFor(() => inbox.length === 5);
      await settle();
      expect(inbox).toHaveLength(5);
      const firstIds = inbox.map((envelope) => envelope.id);
      const acked = unwrap(
        await call(bobSocket, 'envelope:ack', { ids: firstIds }),
      );
      expect(acked).toEqual({ deleted: 5 });
      await waitFor(() => inbox.length === 8);
      expect(inbox.slice(5).map((envelope) => envelope.seq)).toEqual([6, 7, 8]);
    } finally {
      await windowed.close();
      removeDataDir(windowed.dataDir);
    }
  });

  it('pushes to every signed-in socket of a device', async () => {
    const aliceSocket = await online(alice);
    const firstTab: Envelope[] = [];
    const secondTab: Envelope[] = [];
    await online(bob, firstTab);
    await online(bob, secondTab);
    unwrap(await send(aliceSocket, outgoing(bob.address)));
    await waitFor(() => firstTab.length === 1 && secondTab.length === 1);
  });
});

describe('envelope errors', () => {
  it('rejects an unknown recipient device', async () => {
    const aliceSocket = await online(alice);
    const reply = await send(
      aliceSocket,
      outgoing({ userId: 'bob', deviceId: 7 }),
    );
    expect(reply).toMatchObject({ ok: false, error: { code: 'not-found' } });
    expect(errorOf(reply).message).toContain('"bob"');
  });

  it('rejects an oversized body as payload-too-large', async () => {
    const aliceSocket = await online(alice);
    const body = 'A'.repeat(base64UrlLength(MAX_ENVELOPE_BODY_BYTES) + 4);
    const reply = await send(aliceSocket, outgoing(bob.address, body));
    expect(reply).toMatchObject({
      ok: false,
      error: { code: 'payload-too-large' },
    });
    expect(aliceSocket.connected).toBe(true);
  });

  it('accepts a body at the size limit', async () => {
    const aliceSocket = await online(alice);
    const body = 'A'.repeat(base64UrlLength(MAX_ENVELOPE_BODY_BYTES));
    const reply = await send(aliceSocket, outgoing(bob.address, body));
    expect(reply).toMatchObject({ ok: true });
  });

  it.each([
    ['a string', 'hello'],
    ['a number', 42],
    ['null', null],
    ['no payload', undefined],
    ['a short id', { ...outgoing({ userId: 'bob', deviceId: 1 }), id: 'AA' }],
    [
      'a non-canonical id',
      outgoing({ userId: 'bob', deviceId: 1 }, 'AAEC', `${'A'.repeat(21)}B`),
    ],
    ['a bad kind', { ...outgoing({ userId: 'bob', deviceId: 1 }), kind: 'x' }],
    ['a bad version', { ...outgoing({ userId: 'bob', deviceId: 1 }), v: 2 }],
    ['a non-base64url body', outgoing({ userId: 'bob', deviceId: 1 }, '+/=')],
  ])('rejects a send with %s', async (_case, payload) => {
    const aliceSocket = await online(alice);
    const reply = await send(aliceSocket, payload);
    expect(reply).toMatchObject({
      ok: false,
      error: { code: 'invalid-request' },
    });
    expect(aliceSocket.connected).toBe(true);
  });

  it('rejects malformed acks and unknown events', async () => {
    const aliceSocket = await online(alice);
    const empty = await call(aliceSocket, 'envelope:ack', { ids: [] });
    expect(empty).toMatchObject({
      ok: false,
      error: { code: 'invalid-request' },
    });
    const unknown = await call(aliceSocket, 'admin:drop-table', {});
    expect(unknown).toMatchObject({
      ok: false,
      error: { code: 'invalid-request' },
    });
    expect(aliceSocket.connected).toBe(true);
  });

  it('ignores a missing ack callback', async () => {
    const aliceSocket = await online(alice);
    const envelope = outgoing(bob.address);
    emitWithoutAck(aliceSocket, 'envelope:send', envelope);
    emitWithoutAck(aliceSocket, 'envelope:send', 'garbage');
    const inbox: Envelope[] = [];
    await online(bob, inbox);
    await waitFor(() => inbox.length === 1);
    expect(inbox[0]?.id).toBe(envelope.id);
    expect(aliceSocket.connected).toBe(true);
  });

  it('rate-limits sends per device', async () => {
    const limited = await startTestRelay({
      dataDir: relay.dataDir.replace(/$/, '-limited'),
      rateLimits: {
        send: {
          device: { perSecond: 0.001, burst: 3 },
          address: { perSecond: 1000, burst: 1000 },
        },
      },
    });
    try {
      await register(limited.url, alice);
      await register(limited.url, bob);
      const aliceSocket = await online(alice, undefined, limited.url);
      const codes: string[] = [];
      for (let i = 0; i < 4; i++) {
        const reply = await send(aliceSocket, outgoing(bob.address));
        codes.push(reply.ok ? 'ok' : reply.error.code);
      }
      expect(codes).toEqual(['ok', 'ok', 'ok', 'rate-limited']);
      expect(aliceSocket.connected).toBe(true);
    } finally {
      await limited.close();
      removeDataDir(limited.dataDir);
    }
  });

  it('rate-limits an event flood per socket', async () => {
    const limited = await startTestRelay({
      dataDir: relay.dataDir.replace(/$/, '-flood'),
      rateLimits: { socketEvents: { perSecond: 0.001, burst: 10 } },
    });
    const socket = await connect(limited.url);
    try {
      const replies = await Promise.all(
        Array.from({ length: 15 }, () =>
          call(socket, 'envelope:ack', { ids: [randomId()] }),
        ),
      );
      const codes = replies.map((reply) => !reply.ok && reply.error.code);
      expect(codes.filter((code) => code === 'unauthenticated')).toHaveLength(
        10,
      );
      expect(codes.filter((code) => code === 'rate-limited')).toHaveLength(5);
      expect(socket.connected).toBe(true);
    } finally {
      socket.disconnect();
      await limited.close();
      removeDataDir(limited.dataDir);
    }
  });
});
