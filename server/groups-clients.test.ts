import { afterEach, describe, expect, it } from 'vitest';
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
});
