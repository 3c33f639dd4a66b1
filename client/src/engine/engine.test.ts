import 'fake-indexeddb/auto';
import { describe, expect, it, vi } from 'vitest';
import { fromBase64Url, toBase64Url } from '../../../shared/crypto/bytes';
import { LAST_RESORT_KEY_ID_BASE } from '../../../shared/crypto/keys';
import type { Envelope } from '../../../shared/wire/schemas';
import type { CloakDb } from '../storage/db';
import { RESEND_DELAY_MS } from './engine';
import { RelayError } from './transport';
import {
  createDevice,
  deliverQueued,
  MemoryRelay,
  NOW,
  type TestDevice,
} from '../test-support/memory-relay';

/** Reads every row of every store that a receive may change. */
async function snapshot(db: CloakDb) {
  return {
    sessions: await db.getAll('sessions'),
    contacts: await db.getAll('contacts'),
    prekeys: (await db.getAllKeys('prekeys')).sort(),
    setupIds: await db.getAll('setupIds'),
    conversations: await db.getAll('conversations'),
    messages: await db.getAll('messages'),
    processed: await db.getAll('processed'),
  };
}

async function pair() {
  const relay = new MemoryRelay();
  const alice = await createDevice(relay, 'alice');
  const bob = await createDevice(relay, 'bob');
  return { relay, alice, bob };
}

async function sendAndWait(
  relay: MemoryRelay,
  sender: TestDevice,
  recipient: TestDevice,
  text: string,
): Promise<Envelope> {
  const before = relay.queued(recipient.address).length;
  await sender.engine.sendText(recipient.address.userId, text);
  await vi.waitFor(() =>
    expect(relay.queued(recipient.address)).toHaveLength(before + 1),
  );
  const envelope = relay.queued(recipient.address).at(-1);
  if (!envelope) throw new Error('no envelope queued');
  return envelope;
}

describe('Engine', () => {
  it('delivers text and receipt', async () => {
    const { relay, alice, bob } = await pair();
    await alice.engine.startChat('Bob');
    await sendAndWait(relay, alice, bob, 'hello bob');

    const [sent] = await alice.store.listMessages('bob');
    expect(sent?.state).toBe('sent');

    await deliverQueued(relay, bob);
    const [received] = await bob.store.listMessages('alice');
    expect(received?.text).toBe('hello bob');
    expect(received?.direction).toBe('in');
    expect(await bob.store.listConversations()).toEqual([
      {
        peerId: 'alice',
        kind: 'direct',
        name: 'alice',
        unread: 1,
        lastActivity: expect.any(Number),
        lastMessage: { direction: 'in', text: 'hello bob' },
      },
    ]);

    await vi.waitFor(() => expect(relay.queued(alice.address)).toHaveLength(1));
    await deliverQueued(relay, alice);
    const [delivered] = await alice.store.listMessages('bob');
    expect(delivered?.state).toBe('delivered');
    expect(relay.queued(bob.address)).toEqual([]);
  });

  it('failed decryption changes nothing', async () => {
    const { relay, alice, bob } = await pair();
    await alice.engine.startChat('bob');
    const envelope = await sendAndWait(relay, alice, bob, 'first');
    const body = fromBase64Url(envelope.body);
    body[body.length - 1] = (body[body.length - 1] ?? 0) ^ 0x01;
    const before = await snapshot(bob.store.db);

    await bob.engine.receive({ ...envelope, body: toBase64Url(body) });

    expect(await snapshot(bob.store.db)).toEqual(before);
    expect(bob.errors.map((error) => error.code)).toEqual([
      'decryption-failed',
    ]);

    // The untouched envelope still decrypts: no prekey was consumed.
    await bob.engine.receive({
      ...envelope,
      id: toBase64Url(new Uint8Array(16)),
    });
    const messages = await bob.store.listMessages('alice');
    expect(messages.map((message) => message.text)).toEqual(['first']);
  });

  it('ignores duplicate envelope ids', async () => {
    const { relay, alice, bob } = await pair();
    await alice.engine.startChat('bob');
    const envelope = await sendAndWait(relay, alice, bob, 'once');

    await bob.engine.receive(envelope);
    // The receipt steps bob's sending chain; wait until it is stored.
    await vi.waitFor(() => expect(relay.queued(alice.address)).toHaveLength(1));
    const afterFirst = await snapshot(bob.store.db);
    await bob.engine.receive(envelope);

    expect(await snapshot(bob.store.db)).toEqual(afterFirst);
    expect(await bob.store.listMessages('alice')).toHaveLength(1);
    expect(relay.acknowledged.filter((id) => id === envelope.id)).toHaveLength(
      2,
    );
    expect(bob.errors).toEqual([]);
  });

  it('resends the stored envelope after reconnect', async () => {
    const { relay, alice, bob } = await pair();
    await alice.engine.startChat('bob');
    alice.transport.connected = false;

    await alice.engine.sendText('bob', 'while offline');
    const [pending] = await alice.store.pendingOutbox();
    expect(pending).toBeDefined();
    expect((await alice.store.listMessages('bob'))[0]?.state).toBe('sending');
    expect(relay.queued(bob.address)).toEqual([]);

    alice.transport.connected = true;
    await alice.engine.flushOutbox();

    const [queued] = relay.queued(bob.address);
    expect(queued?.id).toBe(pending?.id);
    expect(queued?.body).toBe(pending?.envelope.body);
    expect(await alice.store.pendingOutbox()).toEqual([]);
    expect((await alice.store.listMessages('bob'))[0]?.state).toBe('sent');
  });

  it('resends after a timed-out send', async () => {
    const { relay, alice, bob } = await pair();
    await alice.engine.startChat('bob');
    const request = alice.transport.request.bind(alice.transport);
    let sendAttempts = 0;
    vi.spyOn(alice.transport, 'request').mockImplementation(
      (event, payload) => {
        if (event === 'envelope:send' && ++sendAttempts === 1) {
          return Promise.reject(new RelayError('timeout', 'no reply'));
        }
        return request(event, payload);
      },
    );

    await alice.engine.sendText('bob', 'second try');
    const [pending] = await alice.store.pendingOutbox();
    expect(pending).toBeDefined();

    // No reconnect happens: the resend timer sends the same envelope.
    await vi.waitFor(() => expect(relay.queued(bob.address)).toHaveLength(1), {
      timeout: RESEND_DELAY_MS * 3,
    });
    expect(sendAttempts).toBe(2);
    expect(relay.queued(bob.address)[0]?.id).toBe(pending?.id);
    await vi.waitFor(async () =>
      expect((await alice.store.listMessages('bob'))[0]?.state).toBe('sent'),
    );
    expect(await alice.store.pendingOutbox()).toEqual([]);
  });

  it('rejects unknown recipient', async () => {
    const { alice } = await pair();
    await expect(alice.engine.startChat('nobody')).rejects.toMatchObject({
      code: 'unknown-user',
    });
    expect(await alice.store.listConversations()).toEqual([]);
  });

  it('rejects invalid recipient username', async () => {
    const { alice } = await pair();
    await expect(alice.engine.startChat('no spaces')).rejects.toMatchObject({
      code: 'invalid-username',
    });
  });

  it('refills low prekey pools', async () => {
    const { relay, alice, bob } = await pair();
    const before = await bob.store.countOneTimePrekeys();

    await bob.engine.refillPrekeys({
      oneTimePrekeys: 10,
      oneTimePqPrekeys: 12,
    });

    const after = await bob.store.countOneTimePrekeys();
    expect(after.x25519).toBe(before.x25519 + 90);
    expect(after.pq).toBe(before.pq + 90);
    expect((await bob.store.settings()).nextOneTimePrekeyId).toBe(191);
    // A bundle fetched now can still name the first original key.
    await alice.engine.startChat('bob');
    await sendAndWait(relay, alice, bob, 'after refill');
    await deliverQueued(relay, bob);
    expect(await bob.store.listMessages('alice')).toHaveLength(1);
  });

  it('rotates a week-old signed prekey', async () => {
    const day = 24 * 60 * 60 * 1000;
    let now = NOW;
    const relay = new MemoryRelay();
    const bob = await createDevice(relay, 'bob', { now: () => now });
    const lookup = bob.store.prekeyLookup();

    now = NOW + 6 * day;
    await bob.engine.rotatePrekeysIfDue();
    expect((await bob.store.currentRotatingPrekeys()).signedPrekey?.keyId).toBe(
      1,
    );

    now = NOW + 8 * day;
    await bob.engine.rotatePrekeysIfDue();
    const rotated = await bob.store.currentRotatingPrekeys();
    expect(rotated.signedPrekey).toEqual({ keyId: 2, createdAt: now });
    expect(rotated.lastResortKeyId).toBe(LAST_RESORT_KEY_ID_BASE + 2);
    expect(await lookup.signedPrekey(1)).toBeDefined();

    // A session set up after the rotation uses the new signed prekey.
    const alice = await createDevice(relay, 'alice');
    await alice.engine.startChat('bob');
    await sendAndWait(relay, alice, bob, 'after rotation');
    await deliverQueued(relay, bob);
    expect(await bob.store.listMessages('alice')).toHaveLength(1);

    // Replaced keys are deleted 30 days after their replacement.
    now = NOW + 39 * day;
    await bob.engine.rotatePrekeysIfDue();
    expect(await lookup.signedPrekey(1)).toBeUndefined();
    expect(await lookup.pqPrekey(LAST_RESORT_KEY_ID_BASE + 1)).toBeUndefined();
    expect(await lookup.signedPrekey(2)).toBeDefined();
    expect(await lookup.signedPrekey(3)).toBeDefined();
  });

  it('replaces a stale set-up before sending', async () => {
    const day = 24 * 60 * 60 * 1000;
    let now = NOW;
    const relay = new MemoryRelay();
    const alice = await createDevice(relay, 'alice', { now: () => now });
    const bob = await createDevice(relay, 'bob');
    await alice.engine.startChat('bob');
    const unanswered = await sendAndWait(relay, alice, bob, 'no reply');

    now = NOW + 30 * day;
    const request = vi.spyOn(alice.transport, 'request');
    const fresh = await sendAndWait(relay, alice, bob, 'fresh session');

    const bundleFetches = request.mock.calls.filter(
      ([event]) => event === 'keys:bundle',
    );
    expect(bundleFetches).toHaveLength(1);
    expect(fresh.kind).toBe('prekey');
    const messages = await alice.store.listMessages('bob');
    expect(messages.map((message) => message.state)).toEqual(['sent', 'sent']);
    expect(alice.errors).toEqual([]);

    // Bob decrypts the new session's message, and the late first one too.
    await bob.engine.receive(fresh);
    await bob.engine.receive(unanswered);
    const received = await bob.store.listMessages('alice');
    expect(received.map((message) => message.text).sort()).toEqual([
      'fresh session',
      'no reply',
    ]);
    expect(bob.errors).toEqual([]);
  });

  it('keeps a set-up younger than 30 days', async () => {
    const day = 24 * 60 * 60 * 1000;
    let now = NOW;
    const relay = new MemoryRelay();
    const alice = await createDevice(relay, 'alice', { now: () => now });
    const bob = await createDevice(relay, 'bob');
    await alice.engine.startChat('bob');
    await sendAndWait(relay, alice, bob, 'first');

    now = NOW + 29 * day;
    const request = vi.spyOn(alice.transport, 'request');
    await sendAndWait(relay, alice, bob, 'second');

    const events = request.mock.calls.map(([event]) => event);
    expect(events).not.toContain('keys:bundle');
  });

  it('shows a delayed message in ratchet order', async () => {
    const { relay, alice, bob } = await pair();
    await alice.engine.startChat('bob');
    const first = await sendAndWait(relay, alice, bob, 'one');
    const delayed = await sendAndWait(relay, alice, bob, 'two');
    const third = await sendAndWait(relay, alice, bob, 'three');

    await bob.engine.receive(first);
    await bob.engine.receive(third);
    await bob.engine.receive(delayed);

    const texts = (await bob.store.listMessages('alice')).map(
      (message) => message.text,
    );
    expect(texts).toEqual(['one', 'two', 'three']);
    expect(bob.errors).toEqual([]);
  });

  it('fails a message the relay rejects', async () => {
    const { relay, alice } = await pair();
    await alice.engine.startChat('bob');
    relay.unregister('bob');

    await alice.engine.sendText('bob', 'to nobody');

    await vi.waitFor(async () =>
      expect((await alice.store.listMessages('bob'))[0]?.state).toBe('failed'),
    );
    expect(await alice.store.pendingOutbox()).toEqual([]);
  });

  it('shows withheld messages as missing', async () => {
    const day = 24 * 60 * 60 * 1000;
    let now = NOW;
    const relay = new MemoryRelay();
    const alice = await createDevice(relay, 'alice');
    const bob = await createDevice(relay, 'bob', { now: () => now });
    await alice.engine.startChat('bob');
    // The relay never delivers this one.
    await sendAndWait(relay, alice, bob, 'withheld');
    const kept = await sendAndWait(relay, alice, bob, 'kept');

    await bob.engine.receive(kept);
    now = NOW + 15 * day;
    const later = await sendAndWait(relay, alice, bob, 'later');
    await bob.engine.receive(later);

    const thread = await bob.store.listMessages('alice');
    expect(thread.map((message) => message.direction)).toEqual([
      'in',
      'notice',
      'in',
    ]);
    expect(thread[1]?.text).toMatch(/^1 message from alice never arrived/);
    expect(thread.map((message) => message.text)).not.toContain('withheld');
  });
});
