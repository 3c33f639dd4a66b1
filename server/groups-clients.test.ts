import { afterEach, describe, expect, it } from 'vitest';
import { RelayError } from '../client/src/engine/transport';
import { groupIdOf } from '../client/src/storage/local-store';
import { waitFor } from './test-support/device';
import { type NodeClient, createNodeClient } from './test-support/node-client';
import {
  type TestRelay,
  removeDataDir,
  startTestRelay,
} from './test-support/relay';

const relays: TestRelay[] = [];
const clients: NodeClient[] = [];

afterEach(async () => {
  for (const created of clients.splice(0)) {
    created.stop();
    await created.idle();
  }
  for (const relay of relays.splice(0)) {
    await relay.close();
    removeDataDir(relay.dataDir);
  }
});

async function client(relay: TestRelay, username: string) {
  const created = await createNodeClient(relay.url, username);
  clients.push(created);
  await created.connected();
  return created;
}

async function texts(owner: NodeClient, conversationId: string) {
  const messages = await owner.store.listMessages(conversationId);
  return messages
    .filter((message) => message.direction !== 'notice')
    .map((message) => message.text);
}

/** Waits until every client has processed what the relay pushed. */
async function settle(all: NodeClient[]): Promise<void> {
  for (let round = 0; round < 3; round++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    for (const owner of all) await owner.idle();
  }
}

async function waitForText(
  owner: NodeClient,
  conversationId: string,
  text: string,
): Promise<void> {
  let found = false;
  const deadline = Date.now() + 5000;
  while (!found && Date.now() < deadline) {
    await owner.idle();
    found = (await texts(owner, conversationId)).includes(text);
    if (!found) await new Promise((resolve) => setTimeout(resolve, 50));
  }
  expect(await texts(owner, conversationId)).toContain(text);
}

/** Waits up to 5 s for an asynchronous condition. */
async function until(predicate: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error('condition timed out');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('group conversations over the relay', () => {
  it('shuts out a removed member', async () => {
    const relay = await startTestRelay();
    relays.push(relay);
    const gina = await client(relay, 'gina');
    const gus = await client(relay, 'gus');
    const gwen = await client(relay, 'gwen');
    const all = [gina, gus, gwen];

    const group = await gina.engine.createGroup('Hikers');
    await gina.engine.addGroupMember(group, 'gus');
    await gina.engine.addGroupMember(group, 'gwen');
    await waitFor(() => gwen.received.length > 0);
    await settle(all);
    expect((await gwen.engine.groupInfo(group))?.members).toEqual([
      'gina',
      'gus',
      'gwen',
    ]);

    await gus.engine.sendText(group, 'hello from gus');
    await waitForText(gina, group, 'hello from gus');
    await waitForText(gwen, group, 'hello from gus');

    await gina.engine.removeGroupMember(group, 'gwen');
    await settle(all);
    expect((await gwen.engine.groupInfo(group))?.isMember).toBe(false);
    const gwenReceived = gwen.received.length;

    await gus.engine.sendText(group, 'after gwen left');
    await waitForText(gina, group, 'after gwen left');
    await settle(all);
    expect(gwen.received.length).toBe(gwenReceived);
    expect(await texts(gwen, group)).toEqual(['hello from gus']);
  });

  it('shows a message that overtook the change adding its sender', async () => {
    const relay = await startTestRelay();
    relays.push(relay);
    const gina = await client(relay, 'gina');
    const gus = await client(relay, 'gus');
    const gwen = await client(relay, 'gwen');
    const all = [gina, gus, gwen];
    const group = await gina.engine.createGroup('Hikers');
    await gina.engine.addGroupMember(group, 'gus');
    await settle(all);

    // Gina's pairwise envelopes to gus fail until released, as if her
    // connection dropped after she sent the change to gwen.
    let holdBack = true;
    const request = gina.connection.request.bind(gina.connection);
    gina.connection.request = ((event, payload) => {
      const to = (payload as { to?: unknown }).to;
      const toGus =
        event === 'envelope:send' &&
        !Array.isArray(to) &&
        (to as { userId?: string } | undefined)?.userId === 'gus';
      if (holdBack && toGus) {
        return Promise.reject(new RelayError('offline', 'held back'));
      }
      return request(event, payload);
    }) as typeof gina.connection.request;

    await gina.engine.addGroupMember(group, 'gwen');
    await until(async () => (await gwen.engine.groupInfo(group)) !== undefined);
    await gwen.engine.sendText(group, 'gwen is in');
    const groupId = groupIdOf(group) ?? '';
    await until(
      async () => (await gus.store.heldGroupMessages(groupId)).length === 1,
    );
    expect(await texts(gus, group)).toEqual([]);

    holdBack = false;
    await gina.engine.flushOutbox();
    await waitForText(gus, group, 'gwen is in');
    await settle(all);
    expect(await texts(gus, group)).toEqual(['gwen is in']);
    expect(gus.errors).toEqual([]);
  });
});
