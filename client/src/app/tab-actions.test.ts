import 'fake-indexeddb/auto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { toBase64Url } from '../../../shared/crypto/bytes';
import { systemRandom } from '../../../shared/crypto/random';
import { Engine, type EngineChange } from '../engine/engine';
import { type TabChannel, TabFollower, TabLeader } from '../engine/tabs';
import { ClientError } from '../errors';
import { LocalStore } from '../storage/local-store';
import {
  createDevice,
  MemoryRelay,
  NOW,
  type TestDevice,
} from '../test-support/memory-relay';
import {
  type EngineActions,
  localActions,
  parseTabNotice,
  remoteActions,
  serveAction,
  type TabNotice,
} from './tab-actions';

let channelCount = 0;
const opened: BroadcastChannel[] = [];

function channel(name: string): TabChannel {
  const created = new BroadcastChannel(name);
  opened.push(created);
  return created as unknown as TabChannel;
}

afterEach(() => {
  for (const created of opened.splice(0)) created.close();
});

/** Starts a leader tab on `device`'s database with a new engine. */
async function startLeader(device: TestDevice, name: string, tabId: string) {
  const account = await LocalStore.open(device.store.db, systemRandom);
  if (!account) throw new Error('no stored account');
  const changes: EngineChange[] = [];
  const engine = new Engine({
    store: account.store,
    identity: account.identity,
    transport: device.transport,
    now: () => NOW,
    onChange: (change) => changes.push(change),
  });
  const actions = localActions({
    engine,
    store: account.store,
    identity: account.identity,
    connection: { start: () => undefined },
    onChange: (change) => changes.push(change),
  });
  const host = new TabLeader<TabNotice>({
    channel: channel(name),
    tabId,
    handle: (action, args) => serveAction(actions, action, args),
  });
  return { engine, host, changes };
}

function startFollower(name: string): EngineActions {
  const follower = new TabFollower<TabNotice>({
    channel: channel(name),
    tabId: 'follower-tab',
    parseNotice: parseTabNotice,
    onNotice: () => undefined,
  });
  return remoteActions(follower);
}

async function setUp() {
  const relay = new MemoryRelay();
  const alice = await createDevice(relay, 'alice');
  const bob = await createDevice(relay, 'bob');
  await alice.engine.startChat('bob');
  const name = `cloak-tab-actions-test-${++channelCount}`;
  return { relay, alice, bob, name };
}

describe('tab actions', () => {
  it('sends a follower message once', async () => {
    const { relay, alice, bob, name } = await setUp();
    const leader = await startLeader(alice, name, 'leader-a');
    const follower = startFollower(name);
    const messageId = toBase64Url(systemRandom.bytes(16));

    await follower.sendText('bob', 'from the follower', messageId);

    await vi.waitFor(() => expect(relay.queued(bob.address)).toHaveLength(1));
    const messages = await alice.store.listMessages('bob');
    expect(messages.map((message) => message.messageId)).toEqual([messageId]);
    expect(leader.changes).toContainEqual({ type: 'messages', peerId: 'bob' });
  });

  it('sends a repeated message once after handover', async () => {
    const { relay, alice, bob, name } = await setUp();
    const first = await startLeader(alice, name, 'leader-a');
    const follower = startFollower(name);
    const messageId = toBase64Url(systemRandom.bytes(16));
    await follower.sendText('bob', 'sent before the handover', messageId);
    await vi.waitFor(() => expect(relay.queued(bob.address)).toHaveLength(1));

    // The first leader's tab closes before its result arrives, so the
    // follower sends the same message to the next leader.
    first.host.close();
    await startLeader(alice, name, 'leader-b');
    await follower.sendText('bob', 'sent before the handover', messageId);

    const messages = await alice.store.listMessages('bob');
    expect(messages).toHaveLength(1);
    expect(relay.queued(bob.address)).toHaveLength(1);
  });

  it('creates a repeated group once after handover', async () => {
    const { alice, name } = await setUp();
    const first = await startLeader(alice, name, 'leader-a');
    const follower = startFollower(name);
    const groupId = toBase64Url(systemRandom.bytes(16));
    const created = await follower.createGroup('Trip', groupId);

    first.host.close();
    await startLeader(alice, name, 'leader-b');
    const repeated = await follower.createGroup('Trip', groupId);

    expect(repeated).toBe(created);
    const conversations = await alice.store.listConversations();
    const others = conversations.filter(({ peerId }) => peerId !== 'bob');
    expect(others.map(({ peerId }) => peerId)).toEqual([created]);
  });

  it('encrypts a message stored by a closed leader', async () => {
    const { alice, bob, name, relay } = await setUp();
    const messageId = toBase64Url(systemRandom.bytes(16));
    // The old leader stored the message but closed before encrypting it.
    await alice.store.addOutgoingMessage('bob', messageId, 'half sent', NOW);
    await startLeader(alice, name, 'leader-b');
    const follower = startFollower(name);

    await follower.sendText('bob', 'half sent', messageId);

    await vi.waitFor(() => expect(relay.queued(bob.address)).toHaveLength(1));
    const messages = await alice.store.listMessages('bob');
    expect(messages).toHaveLength(1);
    expect(messages[0]?.text).toBe('half sent');
  });

  it('returns public results to a follower', async () => {
    const { alice, name } = await setUp();
    await startLeader(alice, name, 'leader-a');
    const follower = startFollower(name);

    const status = await follower.contactStatus('bob');
    const shown = await follower.safetyNumber('bob');

    expect(status).toEqual({ verified: false, keyChangedAt: undefined });
    expect(shown.safetyNumber.digits).toMatch(/^\d{60}$/);
    expect(shown.identityKey).toBeInstanceOf(Uint8Array);
    await follower.markVerified('bob', shown.identityKey);
    await expect(follower.contactStatus('bob')).resolves.toEqual({
      verified: true,
      keyChangedAt: undefined,
    });
  });

  it('reports a follower read to every tab', async () => {
    const { alice, name } = await setUp();
    const leader = await startLeader(alice, name, 'leader-a');
    const follower = startFollower(name);

    await follower.markRead('bob');

    expect(leader.changes).toContainEqual({ type: 'conversations' });
  });

  it('passes a ClientError to the follower', async () => {
    const { alice, name } = await setUp();
    await startLeader(alice, name, 'leader-a');
    const follower = startFollower(name);

    const error: unknown = await follower
      .startChat('alice')
      .catch((caught: unknown) => caught);

    expect(ClientError.is(error, 'invalid-username')).toBe(true);
  });
});

describe('serveAction', () => {
  const actions = {} as EngineActions;

  it('rejects an unknown action', async () => {
    const error: unknown = await serveAction(actions, 'toString', []).catch(
      (caught: unknown) => caught,
    );
    expect(ClientError.is(error, 'internal-error')).toBe(true);
    expect((error as Error).message).toContain('toString');
  });

  it('rejects invalid arguments', async () => {
    const cases: [string, unknown[]][] = [
      ['sendText', ['bob', 'hi']],
      ['sendText', ['bob', 'hi', 'not a message id']],
      ['markVerified', ['bob', 'not bytes']],
      ['startChat', [42]],
      ['readAccessLog', ['extra']],
    ];
    for (const [action, args] of cases) {
      const error: unknown = await serveAction(actions, action, args).catch(
        (caught: unknown) => caught,
      );
      expect(ClientError.is(error, 'internal-error'), action).toBe(true);
    }
  });
});

describe('parseTabNotice', () => {
  it('accepts each notice type', () => {
    const notices: TabNotice[] = [
      { type: 'change', change: { type: 'messages', peerId: 'bob' } },
      { type: 'connection', state: 'offline' },
      {
        type: 'alert',
        source: 'account',
        error: { code: 'account-unknown', message: 'Register again.' },
        action: 'register-again',
      },
      { type: 'clear-alerts', source: 'connection' },
    ];
    for (const notice of notices) {
      expect(parseTabNotice(notice)).toEqual(notice);
    }
  });

  it('rejects malformed notices', () => {
    const malformed: unknown[] = [
      undefined,
      'change',
      { type: 'change', change: { type: 'keys' } },
      { type: 'connection', state: 'online' },
      { type: 'alert', source: 'send', error: { code: 'x', message: 'y' } },
    ];
    for (const notice of malformed) {
      expect(parseTabNotice(notice)).toBeUndefined();
    }
  });
});
