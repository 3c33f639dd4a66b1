import Database from 'better-sqlite3';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Envelope } from '../../shared/wire/schemas';
import { waitFor } from '../test-support/device';
import { type NodeClient, createNodeClient } from '../test-support/node-client';
import {
  type TestRelay,
  removeDataDir,
  startTestRelay,
} from '../test-support/relay';

const TOKEN = 'log-policy-admin-token-8c3e51';
const USERNAMES = ['logcheck-alice', 'logcheck-bob'];
const TEXTS = [
  'PLAINTEXT-canary-1d6f0b-from-alice',
  'PLAINTEXT-canary-93ac42-from-bob',
];
/** Shorter keys or bodies could occur in a log line by chance. */
const MIN_NEEDLE_LENGTH = 16;

let relay: TestRelay;
let clients: NodeClient[] = [];
let log = '';
let keys: string[] = [];
let bodies: string[] = [];

/** Reads every public key the relay stores from its database. */
function storedPublicKeys(dataDir: string): string[] {
  const db = new Database(path.join(dataDir, 'cloak.sqlite'), {
    readonly: true,
  });
  try {
    const column = (sql: string) =>
      (db.prepare(sql).pluck().all() as string[]).filter(
        (value) => value.length >= MIN_NEEDLE_LENGTH,
      );
    const certificates = column('SELECT certificate FROM devices').flatMap(
      (json) => {
        const parsed = JSON.parse(json) as Record<string, unknown>;
        return ['identityKey', 'signingKey', 'dhKey', 'signature']
          .map((field) => parsed[field])
          .filter((value): value is string => typeof value === 'string');
      },
    );
    return [
      ...certificates,
      ...column('SELECT public_key FROM signed_prekeys'),
      ...column('SELECT public_key FROM pq_prekeys'),
      ...column('SELECT public_key FROM one_time_prekeys'),
    ];
  } finally {
    db.close();
  }
}

async function deliver(from: NodeClient, to: NodeClient, text: string) {
  const before = to.received.length;
  await from.engine.sendText(to.userId, text);
  await waitFor(() => to.received.length > before, 10_000);
  await to.idle();
}

beforeAll(async () => {
  relay = await startTestRelay({ adminToken: TOKEN });
  const [aliceName, bobName] = USERNAMES as [string, string];
  const alice = await createNodeClient(relay.url, aliceName);
  const bob = await createNodeClient(relay.url, bobName);
  clients = [alice, bob];
  await alice.engine.startChat(bobName);
  await deliver(alice, bob, TEXTS[0] ?? '');
  await deliver(bob, alice, TEXTS[1] ?? '');
  keys = storedPublicKeys(relay.dataDir);
  bodies = [...alice.received, ...bob.received].map(
    (envelope: Envelope) => envelope.body,
  );
  const response = await fetch(`${relay.url}/metrics`, {
    headers: { authorization: `Bearer ${TOKEN}` },
  });
  expect(response.status).toBe(200);
  for (const client of clients) {
    client.stop();
    await client.idle();
  }
  await relay.close();
  log = relay.logs.join('');
}, 60_000);

afterAll(() => {
  removeDataDir(relay.dataDir);
});

describe('relay log during a chat', () => {
  it('records the chat as events', () => {
    const events = relay.logs.map((line) => JSON.parse(line).event);
    expect(events).toContain('signed-in');
    expect(events).toContain('envelope-stored');
    expect(events).toContain('admin-token');
  });

  it('contains no plaintext', () => {
    for (const text of TEXTS) expect(log).not.toContain(text);
  });

  it('contains no ciphertext', () => {
    expect(bodies.length).toBeGreaterThanOrEqual(2);
    for (const body of bodies) {
      expect(log).not.toContain(body);
      expect(log).not.toContain(body.slice(0, 64));
    }
  });

  it('contains no keys', () => {
    expect(keys.length).toBeGreaterThan(10);
    for (const key of keys) expect(log).not.toContain(key);
  });

  it('contains no usernames', () => {
    for (const name of USERNAMES) expect(log).not.toContain(name);
  });

  it('contains no admin token', () => {
    expect(log).not.toContain(TOKEN);
  });
});
