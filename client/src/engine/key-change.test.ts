import 'fake-indexeddb/auto';
import { describe, expect, it, vi } from 'vitest';
import { systemRandom } from '../../../shared/crypto/random';
import { ClientError } from '../errors';
import { LocalStore } from '../storage/local-store';
import { Engine } from './engine';
import {
  createDevice,
  deliverQueued,
  MemoryRelay,
  NOW,
  type TestDevice,
} from '../test-support/memory-relay';

const DAY_MS = 24 * 60 * 60 * 1000;

/** Alice and Bob with a session each way, and Alice's clock. */
async function chattingPair() {
  const relay = new MemoryRelay();
  const clock = { now: NOW };
  const alice = await createDevice(relay, 'alice', { now: () => clock.now });
  const bob = await createDevice(relay, 'bob');
  await alice.engine.startChat('bob');
  await sendAndWait(relay, alice, bob, 'hi bob');
  await deliverQueued(relay, bob);
  await vi.waitFor(() => expect(relay.queued(alice.address)).toHaveLength(1));
  await deliverQueued(relay, alice);
  return { relay, alice, bob, clock };
}

async function sendAndWait(
  relay: MemoryRelay,
  sender: TestDevice,
  recipient: TestDevice,
  text: string,
) {
  const before = relay.queued(recipient.address).length;
  await sender.engine.sendText(recipient.address.userId, text);
  await vi.waitFor(() =>
    expect(relay.queued(recipient.address)).toHaveLength(before + 1),
  );
  const envelope = relay.queued(recipient.address).at(-1);
  if (!envelope) throw new Error('no envelope queued');
  return envelope;
}

/** Replaces Bob on the relay with a device holding a new identity key. */
function impostorOf(relay: MemoryRelay): Promise<TestDevice> {
  return createDevice(relay, 'bob');
}

async function texts(device: TestDevice, peerId: string) {
  return (await device.store.listMessages(peerId)).map((row) => row.text);
}

describe('identity key changes', () => {
  it('pins the key on first use', async () => {
    const { alice, bob } = await chattingPair();
    const contact = await alice.store.contact('bob');
    const shown = await bob.engine.safetyNumber('alice');
    const ours = await alice.engine.safetyNumber('bob');

    expect(contact?.pendingIdentityKey).toBeUndefined();
    expect(await alice.engine.contactStatus('bob')).toEqual({
      verified: false,
      keyChangedAt: undefined,
    });
    expect(ours.identityKey).toEqual(contact?.identityKey);
    expect(ours.safetyNumber.digits).toBe(shown.safetyNumber.digits);
    expect(ours.safetyNumber.digits).toMatch(/^\d{60}$/);
  });

  it('detects a change on keys:changed', async () => {
    const { relay, alice } = await chattingPair();
    await impostorOf(relay);

    await alice.engine.handleKeyChanged({ userId: 'bob', changedAt: 5 });

    const status = await alice.engine.contactStatus('bob');
    expect(status.keyChangedAt).toBe(NOW);
    expect(await texts(alice, 'bob')).toContain("bob's safety number changed.");
    await expect(alice.engine.sendText('bob', 'blocked')).rejects.toThrow(
      ClientError,
    );
    await expect(alice.engine.sendText('bob', 'blocked')).rejects.toMatchObject(
      { code: 'identity-changed' },
    );
  });

  it('drops a repeated keys:changed notice', async () => {
    const { alice } = await chattingPair();
    const request = vi.spyOn(alice.transport, 'request');

    await alice.engine.handleKeyChanged({ userId: 'bob', changedAt: 5 });
    await alice.engine.handleKeyChanged({ userId: 'bob', changedAt: 5 });
    await alice.engine.handleKeyChanged({ userId: 'bob', changedAt: 4 });

    const fetches = request.mock.calls.filter(
      ([event]) => event === 'keys:bundle',
    );
    expect(fetches).toHaveLength(1);
    expect((await alice.engine.contactStatus('bob')).keyChangedAt).toBe(
      undefined,
    );
  });

  it('detects a change on bundle fetch', async () => {
    const relay = new MemoryRelay();
    const clock = { now: NOW };
    const alice = await createDevice(relay, 'alice', { now: () => clock.now });
    await createDevice(relay, 'bob');
    await alice.engine.startChat('bob');
    const bob = { address: { userId: 'bob', deviceId: 1 } };
    await alice.engine.sendText('bob', 'no reply');
    await vi.waitFor(() => expect(relay.queued(bob.address)).toHaveLength(1));
    await impostorOf(relay);

    // The unanswered set-up is stale, so the next send fetches a bundle.
    clock.now += 31 * DAY_MS;
    await expect(alice.engine.sendText('bob', 'later')).rejects.toMatchObject({
      code: 'identity-changed',
    });

    expect((await alice.engine.contactStatus('bob')).keyChangedAt).toBe(
      clock.now,
    );
  });

  it('holds a set-up from a new key', async () => {
    const { relay, alice } = await chattingPair();
    const impostor = await impostorOf(relay);
    await impostor.engine.startChat('alice');
    const envelope = await sendAndWait(relay, impostor, alice, 'it is me');

    await alice.engine.receive(envelope);

    expect(relay.acknowledged).not.toContain(envelope.id);
    expect(await texts(alice, 'bob')).not.toContain('it is me');
    expect(await texts(alice, 'bob')).toContain("bob's safety number changed.");
    expect((await alice.engine.contactStatus('bob')).keyChangedAt).toBe(NOW);
    await expect(alice.engine.sendText('bob', 'blocked')).rejects.toMatchObject(
      { code: 'identity-changed' },
    );
  });

  it('accepts the new key and resumes', async () => {
    const { relay, alice } = await chattingPair();
    const impostor = await impostorOf(relay);
    await impostor.engine.startChat('alice');
    const envelope = await sendAndWait(relay, impostor, alice, 'it is me');
    await alice.engine.receive(envelope);
    const pending = await alice.engine.safetyNumber('bob');
    expect(pending.pending).toBe(true);

    await alice.engine.acceptIdentityKey('bob', pending.identityKey);

    expect(relay.acknowledged).toContain(envelope.id);
    expect(await texts(alice, 'bob')).toContain('it is me');
    const contact = await alice.store.contact('bob');
    expect(contact?.identityKey).toEqual(pending.identityKey);
    expect(contact?.pendingIdentityKey).toBeUndefined();
    expect(await alice.engine.contactStatus('bob')).toEqual({
      verified: false,
      keyChangedAt: undefined,
    });

    // Alice's receipt for "it is me" travels in the new key's session.
    await vi.waitFor(() =>
      expect(relay.queued(impostor.address)).toHaveLength(1),
    );
    await deliverQueued(relay, impostor);
    await sendAndWait(relay, alice, impostor, 'welcome back');
    await deliverQueued(relay, impostor);
    expect(await texts(impostor, 'alice')).toContain('welcome back');
  });

  it('rejects accepting a key never seen', async () => {
    const { alice } = await chattingPair();
    const current = await alice.engine.safetyNumber('bob');

    await expect(
      alice.engine.acceptIdentityKey('bob', current.identityKey),
    ).rejects.toMatchObject({ code: 'identity-changed' });
  });

  it('clears the verified mark', async () => {
    const { relay, alice } = await chattingPair();
    const verified = await alice.engine.safetyNumber('bob');
    await alice.engine.markVerified('bob', verified.identityKey);
    expect((await alice.engine.contactStatus('bob')).verified).toBe(true);
    await impostorOf(relay);

    await alice.engine.handleKeyChanged({ userId: 'bob', changedAt: 9 });

    expect(await alice.engine.contactStatus('bob')).toEqual({
      verified: false,
      keyChangedAt: NOW,
    });
    await expect(
      alice.store.markVerified('bob', verified.identityKey),
    ).rejects.toMatchObject({ code: 'identity-changed' });
  });

  it('verifying the new key accepts it', async () => {
    const { relay, alice } = await chattingPair();
    await impostorOf(relay);
    await alice.engine.handleKeyChanged({ userId: 'bob', changedAt: 9 });
    const pending = await alice.engine.safetyNumber('bob');

    await alice.engine.markVerified('bob', pending.identityKey);

    expect(await alice.engine.contactStatus('bob')).toEqual({
      verified: true,
      keyChangedAt: undefined,
    });
    expect(await alice.store.sessionAddresses('bob')).toEqual([]);
  });

  it('keeps the block after reopening', async () => {
    const { relay, alice } = await chattingPair();
    await impostorOf(relay);
    await alice.engine.handleKeyChanged({ userId: 'bob', changedAt: 9 });

    const reopened = await LocalStore.open(alice.store.db, systemRandom);
    if (!reopened) throw new Error('account missing after reopening');
    const engine = new Engine({
      store: reopened.store,
      identity: reopened.identity,
      transport: alice.transport,
      now: () => NOW,
    });

    expect((await engine.contactStatus('bob')).keyChangedAt).toBe(NOW);
    await expect(engine.sendText('bob', 'still blocked')).rejects.toMatchObject(
      { code: 'identity-changed' },
    );
  });
});
