import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import { fromBase64Url, toBase64Url } from '../../../shared/crypto/bytes';
import {
  decodeSignedGroupChange,
  encodeSignedGroupChange,
  signGroupChange,
} from '../../../shared/crypto/group-state';
import {
  decryptGroupMessage,
  parseGroupMessageHeader,
} from '../../../shared/crypto/sender-key';
import type { LocalIdentity } from '../../../shared/crypto/keys';
import {
  MAX_GROUP_ADMINS,
  MAX_GROUP_CHANGE_USERS,
  MAX_GROUP_MEMBERS,
  MAX_GROUP_NAME_BYTES,
} from '../../../shared/crypto/limits';
import { MAX_ENVELOPE_BODY_BYTES } from '../../../shared/wire/limits';
import type { Content } from '../../../shared/wire/content';
import { groupIdOf } from '../storage/local-store';
import {
  createDevice,
  deliverQueued,
  MemoryRelay,
  NOW,
  type TestDevice,
} from '../test-support/memory-relay';
import { Engine } from './engine';
import {
  groupStateOf,
  HELD_GROUP_MESSAGE_TTL_MS,
  senderKeyRecordId,
} from './groups';

/** Delivers queued envelopes until no device has any left. */
async function settle(relay: MemoryRelay, devices: TestDevice[]) {
  for (let round = 0; round < 20; round++) {
    let count = 0;
    for (const device of devices) count += await deliverQueued(relay, device);
    if (count === 0) return;
  }
  throw new Error('envelopes still queued after 20 rounds');
}

async function texts(device: TestDevice, conversationId: string) {
  const messages = await device.store.listMessages(conversationId);
  return messages.filter((m) => m.direction !== 'notice').map((m) => m.text);
}

/** Returns the ids of the envelopes a device holds for a group. */
async function held(device: TestDevice, conversationId: string) {
  const rows = await device.store.heldGroupMessages(
    groupIdOf(conversationId) ?? '',
  );
  return rows.map((row) => row.id);
}

async function notices(device: TestDevice, conversationId: string) {
  const messages = await device.store.listMessages(conversationId);
  return messages.filter((m) => m.direction === 'notice').map((m) => m.text);
}

/** Alice creates "Trip" and adds bob and carol. */
async function trip() {
  const relay = new MemoryRelay();
  const alice = await createDevice(relay, 'alice');
  const bob = await createDevice(relay, 'bob');
  const carol = await createDevice(relay, 'carol');
  const all = [alice, bob, carol];
  const group = await alice.engine.createGroup('Trip');
  await alice.engine.addGroupMember(group, 'bob');
  await alice.engine.addGroupMember(group, 'carol');
  await settle(relay, all);
  return { relay, alice, bob, carol, all, group };
}

function sendPairwise(device: TestDevice, userId: string, content: Content) {
  return device.engine['sendPairwise'](userId, content);
}

function identityOf(device: TestDevice): LocalIdentity {
  return device.engine['identity'];
}

describe('group conversations', () => {
  it('creates a group and adds members', async () => {
    const { alice, bob, carol, group } = await trip();
    for (const device of [alice, bob, carol]) {
      expect(await device.engine.groupInfo(group)).toMatchObject({
        name: 'Trip',
        members: ['alice', 'bob', 'carol'],
        admins: ['alice'],
        isMember: true,
      });
    }
    // Sessions made to add members list no empty one-to-one conversations.
    for (const device of [alice, carol]) {
      expect(await device.store.listConversations()).toMatchObject([
        { peerId: group, kind: 'group', name: 'Trip' },
      ]);
    }
    expect(await notices(alice, group)).toEqual([
      'alice created the group "Trip"',
      'alice added bob',
      'alice added carol',
    ]);
    // A new member starts from the change that adds it.
    expect(await notices(bob, group)).toEqual([
      'alice added bob',
      'alice added carol',
    ]);
    expect(await notices(carol, group)).toEqual(['alice added carol']);
  });

  it('delivers group messages to every member', async () => {
    const { relay, alice, bob, carol, all, group } = await trip();
    await bob.engine.sendText(group, 'hi from bob');
    await settle(relay, all);
    await carol.engine.sendText(group, 'hi from carol');
    await settle(relay, all);

    expect(await texts(alice, group)).toEqual(['hi from bob', 'hi from carol']);
    expect(await texts(carol, group)).toEqual(['hi from bob', 'hi from carol']);
    const [sent] = await bob.store
      .listMessages(group)
      .then((rows) => rows.filter((row) => row.direction === 'out'));
    expect(sent?.state).toBe('sent');
    expect(relay.queued(alice.address)).toEqual([]);
  });

  it('shows members from joining onwards', async () => {
    const relay = new MemoryRelay();
    const alice = await createDevice(relay, 'alice');
    const bob = await createDevice(relay, 'bob');
    const carol = await createDevice(relay, 'carol');
    const group = await alice.engine.createGroup('Trip');
    await alice.engine.addGroupMember(group, 'bob');
    await settle(relay, [alice, bob, carol]);
    await alice.engine.sendText(group, 'before carol');
    await alice.engine.addGroupMember(group, 'carol');
    await alice.engine.sendText(group, 'after carol');
    await settle(relay, [alice, bob, carol]);

    expect(await texts(bob, group)).toEqual(['before carol', 'after carol']);
    expect(await texts(carol, group)).toEqual(['after carol']);
  });

  it('rotates sender keys after a removal', async () => {
    const { relay, alice, bob, carol, all, group } = await trip();
    await bob.engine.sendText(group, 'before removal');
    await settle(relay, all);
    await alice.engine.removeGroupMember(group, 'carol');
    await settle(relay, all);
    expect(await carol.engine.groupInfo(group)).toMatchObject({
      isMember: false,
      members: ['alice', 'bob'],
    });
    expect(await notices(bob, group)).toContain('alice removed carol');

    await bob.engine.sendText(group, 'after removal');
    const envelope = relay
      .queued(alice.address)
      .find((queued) => queued.kind === 'group');
    if (!envelope) throw new Error('no group envelope for alice');
    await settle(relay, all);
    expect(await texts(alice, group)).toEqual([
      'before removal',
      'after removal',
    ]);
    expect(await texts(carol, group)).toEqual(['before removal']);

    // Carol's copy of bob's old chain cannot open the new message.
    const body = fromBase64Url(envelope.body);
    const header = parseGroupMessageHeader(body);
    const groupId = groupIdOf(group) ?? '';
    const record = await carol.store.senderKeyRecord(
      senderKeyRecordId(groupId, bob.address, header.distributionId),
    );
    if (!record) throw new Error('carol has no record of bob');
    await expect(
      decryptGroupMessage(record, bob.address, body),
    ).rejects.toMatchObject({ code: 'unknown-sender-key' });
  });

  it('lets a member leave', async () => {
    const { relay, alice, bob, carol, all, group } = await trip();
    await carol.engine.leaveGroup(group);
    await settle(relay, all);
    expect(await alice.engine.groupInfo(group)).toMatchObject({
      members: ['alice', 'bob'],
    });
    await alice.engine.sendText(group, 'carol is gone');
    await settle(relay, all);
    expect(await texts(bob, group)).toEqual(['carol is gone']);
    expect(await texts(carol, group)).toEqual([]);
  });

  it('rejects a non-admin change', async () => {
    const { relay, bob, carol, all, group } = await trip();
    const groupId = groupIdOf(group) ?? '';
    const row = await carol.store.group(groupId);
    if (!row) throw new Error('carol has no group');
    const forged = await signGroupChange(
      { ...groupStateOf(row), admins: ['alice', 'carol'] },
      { type: 'add', userIds: ['mallory'] },
      {
        userId: 'carol',
        identityKey: identityOf(carol).identityKey.privateKey,
      },
      NOW,
    );
    await sendPairwise(carol, 'bob', {
      v: 1,
      type: 'group-change',
      groupId,
      change: toBase64Url(encodeSignedGroupChange(forged)),
    });
    await settle(relay, all);

    expect(bob.errors.map((error) => error.code)).toContain(
      'group-change-rejected',
    );
    expect((await bob.engine.groupInfo(group))?.members).toEqual([
      'alice',
      'bob',
      'carol',
    ]);
    expect((await notices(bob, group)).at(-1)).toMatch(/rejected/);
  });

  it('rejects an unsigned or replayed change', async () => {
    const { relay, alice, bob, all, group } = await trip();
    const groupId = groupIdOf(group) ?? '';
    const row = await alice.store.group(groupId);
    const [creation, addBob] = row?.log ?? [];
    if (!row || !creation || !addBob) throw new Error('alice has no log');
    const unsigned = await signGroupChange(
      groupStateOf(row),
      { type: 'add', userIds: ['mallory'] },
      {
        userId: 'alice',
        identityKey: identityOf(alice).identityKey.privateKey,
      },
      NOW,
    );
    const zeroed = encodeSignedGroupChange({
      entry: unsigned.entry,
      signature: new Uint8Array(64),
    });
    // Bob joined at "alice added bob", so the creation is a replay to him.
    for (const change of [zeroed, creation]) {
      await sendPairwise(alice, 'bob', {
        v: 1,
        type: 'group-change',
        groupId,
        change: toBase64Url(change),
      });
    }
    await settle(relay, all);

    const rejected = bob.errors.filter(
      (error) => error.code === 'group-change-rejected',
    );
    expect(rejected).toHaveLength(2);
    expect((await bob.engine.groupInfo(group))?.members).toEqual([
      'alice',
      'bob',
      'carol',
    ]);
  });

  it('rejects a forked change', async () => {
    const { relay, alice, bob, carol, all, group } = await trip();
    const dan = await createDevice(relay, 'dan');
    const eve = await createDevice(relay, 'eve');
    await alice.engine['changeGroup'](group, {
      type: 'promote',
      userIds: ['bob'],
    });
    await settle(relay, all);

    // Both admins sign the next version before seeing the other's change.
    await alice.engine.addGroupMember(group, 'dan');
    await bob.engine.addGroupMember(group, 'eve');
    await settle(relay, [carol]);

    expect(carol.errors.map((error) => error.code)).toContain(
      'group-change-rejected',
    );
    expect((await carol.engine.groupInfo(group))?.members).toEqual([
      'alice',
      'bob',
      'carol',
      'dan',
    ]);
    await settle(relay, [...all, dan, eve]);
  });

  it('shows a replayed message once', async () => {
    const { relay, alice, bob, all, group } = await trip();
    await bob.engine.sendText(group, 'only once');
    const envelope = relay
      .queued(alice.address)
      .find((queued) => queued.kind === 'group');
    if (!envelope) throw new Error('no group envelope for alice');
    await settle(relay, all);

    await alice.engine.receive({
      ...envelope,
      id: toBase64Url(new Uint8Array(16).fill(9)),
    });
    expect(await texts(alice, group)).toEqual(['only once']);
    expect(alice.errors).toEqual([]);
  });

  it('rejects a member posing as another', async () => {
    const { relay, alice, bob, carol, all, group } = await trip();
    await bob.engine.sendText(group, 'from bob');
    const envelope = relay
      .queued(alice.address)
      .find((queued) => queued.kind === 'group');
    if (!envelope) throw new Error('no group envelope for alice');
    await settle(relay, all);

    // Alice has no sender key of carol's under bob's distribution id, so
    // the copy waits for one that never comes.
    const posing = toBase64Url(new Uint8Array(16).fill(7));
    await alice.engine.receive({
      ...envelope,
      id: posing,
      from: carol.address,
    });
    await carol.engine.sendText(group, 'from carol');
    await settle(relay, all);
    expect(await texts(alice, group)).toEqual(['from bob', 'from carol']);
    expect(await held(alice, group)).toEqual([posing]);
  });

  it('renames and changes admins', async () => {
    const { relay, alice, bob, carol, all, group } = await trip();
    await alice.engine.renameGroup(group, '  Road trip ');
    await alice.engine.setGroupAdmin(group, 'bob', true);
    await settle(relay, all);
    expect(await carol.engine.groupInfo(group)).toMatchObject({
      name: 'Road trip',
      admins: ['alice', 'bob'],
    });
    expect(await carol.store.listConversations()).toMatchObject([
      { peerId: group, name: 'Road trip' },
    ]);

    // Bob, now an admin, hands the group over to carol.
    await bob.engine.setGroupAdmin(group, 'carol', true);
    await bob.engine.setGroupAdmin(group, 'alice', false);
    await settle(relay, all);
    expect((await alice.engine.groupInfo(group))?.admins).toEqual([
      'bob',
      'carol',
    ]);
    expect(await notices(carol, group)).toEqual([
      'alice added carol',
      'alice renamed the group to "Road trip"',
      'alice made bob an admin',
      'bob made carol an admin',
      'bob removed alice as admin',
    ]);
    await expect(alice.engine.renameGroup(group, 'Mine')).rejects.toThrow(
      /Only an admin/,
    );
    await expect(alice.engine.renameGroup(group, ' ')).rejects.toThrow(
      /1 to 256 bytes/,
    );
  });

  it('blocks sending after removal', async () => {
    const { relay, alice, bob, carol, all, group } = await trip();
    await alice.engine.removeGroupMember(group, 'carol');
    await settle(relay, all);
    await expect(carol.engine.sendText(group, 'still here?')).rejects.toThrow(
      /no longer a member/,
    );
    expect(await texts(bob, group)).toEqual([]);
  });
});

describe('held group messages', () => {
  /** Alice adds carol, who writes before bob has received the change. */
  async function overtaken() {
    const relay = new MemoryRelay();
    let now = NOW;
    const clock = { now: () => now };
    const alice = await createDevice(relay, 'alice');
    const bob = await createDevice(relay, 'bob', clock);
    const carol = await createDevice(relay, 'carol');
    const group = await alice.engine.createGroup('Trip');
    await alice.engine.addGroupMember(group, 'bob');
    await settle(relay, [alice, bob]);
    await alice.engine.addGroupMember(group, 'carol');
    await deliverQueued(relay, carol);
    await carol.engine.sendText(group, 'carol was here');
    const queued = relay.queued(bob.address);
    const fromAlice = queued.filter((e) => e.from.userId === 'alice');
    const fromCarol = queued.filter((e) => e.from.userId === 'carol');
    const advance = (ms: number) => {
      now += ms;
    };
    return { relay, alice, bob, carol, group, fromAlice, fromCarol, advance };
  }

  it('shows a message that overtook its sender', async () => {
    const { relay, alice, bob, carol, group, fromAlice, fromCarol } =
      await overtaken();
    expect(fromCarol.map((e) => e.kind)).toEqual(['prekey', 'group']);
    for (const envelope of fromCarol) await bob.engine.receive(envelope);
    expect(await texts(bob, group)).toEqual([]);
    expect(await held(bob, group)).toHaveLength(1);
    // Acknowledged once held, so the relay no longer keeps it.
    expect(relay.queued(bob.address)).toEqual(fromAlice);

    for (const envelope of fromAlice) await bob.engine.receive(envelope);
    expect(await texts(bob, group)).toEqual(['carol was here']);
    expect((await notices(bob, group)).at(-1)).toBe('alice added carol');
    expect(await held(bob, group)).toEqual([]);
    expect(bob.errors).toEqual([]);

    await settle(relay, [alice, bob, carol]);
    expect(await texts(bob, group)).toEqual(['carol was here']);
  });

  it('shows a message that overtook its sender key', async () => {
    const { bob, group, fromAlice, fromCarol } = await overtaken();
    for (const envelope of fromAlice) await bob.engine.receive(envelope);
    for (const envelope of [...fromCarol].reverse()) {
      await bob.engine.receive(envelope);
    }
    expect(await texts(bob, group)).toEqual(['carol was here']);
    expect(await held(bob, group)).toEqual([]);
    expect(bob.errors).toEqual([]);
  });

  it('keeps a held message across a restart', async () => {
    const { relay, bob, group, fromAlice, fromCarol } = await overtaken();
    for (const envelope of fromCarol) await bob.engine.receive(envelope);
    const restarted = new Engine({
      store: bob.store,
      identity: identityOf(bob),
      transport: bob.transport,
      now: () => NOW,
    });
    for (const envelope of fromAlice) await restarted.receive(envelope);
    expect(await texts(bob, group)).toEqual(['carol was here']);
    expect(relay.queued(bob.address)).toEqual([]);
  });

  it('deletes a held message after 14 days', async () => {
    const { bob, group, fromAlice, fromCarol, advance } = await overtaken();
    const [, message] = fromCarol;
    if (!message) throw new Error('carol sent no group message');
    await bob.engine.receive(message);
    advance(HELD_GROUP_MESSAGE_TTL_MS - 1);
    await bob.engine.expireHeldGroupMessages();
    expect(await held(bob, group)).toHaveLength(1);

    advance(2);
    await bob.engine.expireHeldGroupMessages();
    expect(await held(bob, group)).toEqual([]);
    expect((await notices(bob, group)).at(-1)).toMatch(
      /A message from carol never became readable/,
    );
    for (const envelope of fromAlice) await bob.engine.receive(envelope);
    expect(await texts(bob, group)).toEqual([]);
  });

  it('holds messages for an unknown group', async () => {
    const { relay, carol, group, fromCarol } = await overtaken();
    const dan = await createDevice(relay, 'dan');
    const [, message] = fromCarol;
    if (!message) throw new Error('carol sent no group message');
    await dan.engine.receive({ ...message, to: dan.address });
    expect(await held(dan, group)).toHaveLength(1);
    expect(await dan.store.listConversations()).toEqual([]);
    expect(carol.errors).toEqual([]);
  });
});

describe('skipped group versions', () => {
  /** Delivers the envelopes queued for `device` that `userId` sent. */
  async function deliverFrom(
    relay: MemoryRelay,
    device: TestDevice,
    userId: string,
  ) {
    const queued = relay.queued(device.address);
    for (const envelope of queued.filter((e) => e.from.userId === userId)) {
      await device.engine.receive(envelope);
    }
  }

  /**
   * Alice renames the group (version 5) and bob, an admin too, renames it
   * again (version 6) after he got hers. Carol has version 4 only.
   */
  async function twoRenames() {
    const trip_ = await trip();
    const { relay, alice, bob, all, group } = trip_;
    await alice.engine.setGroupAdmin(group, 'bob', true);
    await settle(relay, all);
    await alice.engine.renameGroup(group, 'Beach');
    await deliverFrom(relay, bob, 'alice');
    await bob.engine.renameGroup(group, 'Dunes');
    return trip_;
  }

  it('fetches a skipped version from its sender', async () => {
    const { relay, alice, bob, carol, all, group } = await twoRenames();
    await deliverFrom(relay, carol, 'bob');
    expect(await carol.engine.groupInfo(group)).toMatchObject({
      name: 'Trip',
    });
    const row = await carol.store.group(groupIdOf(group) ?? '');
    expect(row?.pending).toHaveLength(1);

    await deliverFrom(relay, bob, 'carol');
    await deliverFrom(relay, carol, 'bob');
    expect(await carol.engine.groupInfo(group)).toMatchObject({
      name: 'Dunes',
    });
    expect((await notices(carol, group)).slice(-2)).toEqual([
      'alice renamed the group to "Beach"',
      'bob renamed the group to "Dunes"',
    ]);
    expect((await carol.store.group(groupIdOf(group) ?? ''))?.pending).toBe(
      undefined,
    );

    // Alice's own copy of version 5 arrives last and changes nothing.
    await settle(relay, all);
    expect(await carol.engine.groupInfo(group)).toMatchObject({
      name: 'Dunes',
    });
    expect(carol.errors).toEqual([]);
    expect(alice.errors).toEqual([]);
  });

  it('limits answers to log requests', async () => {
    const { relay, bob, carol, all, group } = await trip();
    await settle(relay, all);
    const groupId = groupIdOf(group) ?? '';
    for (let i = 0; i < 7; i++) {
      await sendPairwise(carol, 'bob', {
        v: 1,
        type: 'group-log-request',
        groupId,
        fromVersion: 1,
        toVersion: 2,
      });
    }
    await deliverFrom(relay, bob, 'carol');
    const answers = relay
      .queued(carol.address)
      .filter((envelope) => envelope.from.userId === 'bob');
    expect(answers).toHaveLength(5);
  });

  it('rejects a forged entry in a log reply', async () => {
    const { relay, alice, bob, carol, group } = await twoRenames();
    const groupId = groupIdOf(group) ?? '';
    await deliverFrom(relay, carol, 'bob');
    await deliverFrom(relay, bob, 'carol');
    // Bob's reply is dropped; a forged version 5 arrives in its place.
    for (const envelope of relay.queued(carol.address)) {
      if (envelope.from.userId === 'bob')
        relay['acknowledge'](carol.address, [envelope.id]);
    }
    const bobRow = await bob.store.group(groupId);
    const real = bobRow?.log.at(-2);
    if (!real) throw new Error('bob has no version 5');
    const forged = encodeSignedGroupChange({
      ...decodeSignedGroupChange(real),
      signature: new Uint8Array(64),
    });
    await sendPairwise(bob, 'carol', {
      v: 1,
      type: 'group-log',
      groupId,
      entries: [toBase64Url(forged)],
    });
    await deliverFrom(relay, carol, 'bob');
    expect(carol.errors.map((error) => error.code)).toEqual([
      'group-change-rejected',
    ]);
    expect(await carol.engine.groupInfo(group)).toMatchObject({
      name: 'Trip',
    });
    expect((await carol.store.group(groupId))?.pending).toHaveLength(1);

    // The real version 5 from alice still completes the log.
    await deliverFrom(relay, carol, 'alice');
    expect(await carol.engine.groupInfo(group)).toMatchObject({
      name: 'Dunes',
    });
    expect(alice.errors).toEqual([]);
  });
});

describe('group change size', () => {
  /** Returns `count` distinct user ids of the maximum length, 32. */
  function longIds(prefix: string, count: number): string[] {
    return Array.from(
      { length: count },
      (_, i) => `${prefix}${String(i).padStart(31 - prefix.length, '0')}x`,
    );
  }

  it('fits the largest change in a set-up envelope', async () => {
    const relay = new MemoryRelay();
    const alice = await createDevice(relay, 'alice');
    await createDevice(relay, 'bob');
    const author = 'a'.repeat(32);
    const added = longIds('n', MAX_GROUP_CHANGE_USERS);
    const admins = [author, ...longIds('b', MAX_GROUP_ADMINS - 1)];
    const others = longIds(
      'm',
      MAX_GROUP_MEMBERS - added.length - admins.length,
    );
    const signed = await signGroupChange(
      {
        groupId: new Uint8Array(16),
        version: 7,
        hash: new Uint8Array(32),
        name: 'n'.repeat(MAX_GROUP_NAME_BYTES),
        members: [...admins, ...others].sort(),
        admins: admins.sort(),
      },
      { type: 'add', userIds: added },
      { userId: author, identityKey: identityOf(alice).identityKey.privateKey },
      NOW,
    );
    // Bob has no session yet, so the envelope also carries the set-up.
    const [item] = await alice.engine['encryptForContact'](
      'bob',
      {
        v: 1,
        type: 'group-change',
        groupId: toBase64Url(new Uint8Array(16)),
        change: toBase64Url(encodeSignedGroupChange(signed)),
      },
      undefined,
    );
    if (!item) throw new Error('no envelope for bob');
    expect(item.envelope.kind).toBe('prekey');
    const bodyBytes = fromBase64Url(item.envelope.body).length;
    expect(bodyBytes).toBeLessThan(MAX_ENVELOPE_BODY_BYTES - 4 * 1024);
  });
});
