/**
 * Checks on the real data folder that an acknowledged envelope body leaves
 * no copy on disk once the WAL is checkpointed: not in the database file,
 * not in its `-wal` file.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { toBase64Url } from '../shared/crypto/bytes';
import type { Envelope } from '../shared/wire/schemas';
import {
  type TestDevice,
  call,
  connectSignedIn,
  createTestDevice,
  outgoing,
  register,
  unwrap,
  waitFor,
} from './test-support/device';
import {
  type TestRelay,
  removeDataDir,
  startTestRelay,
} from './test-support/relay';

let relay: TestRelay | undefined;

afterEach(async () => {
  if (!relay) return;
  await relay.close();
  removeDataDir(relay.dataDir);
  relay = undefined;
});

/**
 * Slices of 32 characters every 512 characters of `body`. A long body is
 * split over overflow pages, so the whole string is never contiguous on disk.
 */
function markersOf(body: string): string[] {
  const markers: string[] = [];
  for (let at = 0; at + 32 <= body.length; at += 512) {
    markers.push(body.slice(at, at + 32));
  }
  return markers;
}

/** Returns the markers of `body` found in any file of `dir`. */
function markersOnDisk(dir: string, body: string): string[] {
  const files = readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => readFileSync(path.join(dir, entry.name)));
  return markersOf(body).filter((marker) =>
    files.some((file) => file.includes(marker)),
  );
}

/** A random base64url body of `bytes` bytes. */
function randomBody(bytes: number): string {
  return toBase64Url(globalThis.crypto.getRandomValues(new Uint8Array(bytes)));
}

async function registeredPair(url: string): Promise<[TestDevice, TestDevice]> {
  const alice = await createTestDevice('alice');
  const bob = await createTestDevice('bob');
  expect((await register(url, alice)).status).toBe(201);
  expect((await register(url, bob)).status).toBe(201);
  return [alice, bob];
}

/** Sends `bodies` from Alice to Bob, then Bob receives and acknowledges them. */
async function deliverAndAcknowledge(
  started: TestRelay,
  bodies: readonly string[],
): Promise<void> {
  const [alice, bob] = await registeredPair(started.url);
  const sender = await connectSignedIn(started.url, alice);
  const envelopes = bodies.map((body) => outgoing(bob.address, body));
  for (const envelope of envelopes) {
    unwrap(await call(sender, 'envelope:send', envelope));
  }
  sender.disconnect();
  for (const body of bodies) {
    expect(markersOnDisk(started.dataDir, body)).not.toEqual([]);
  }

  const inbox: Envelope[] = [];
  const receiver = await connectSignedIn(started.url, bob, inbox);
  await waitFor(() => inbox.length === bodies.length);
  const ids = envelopes.map((envelope) => envelope.id);
  expect(unwrap(await call(receiver, 'envelope:ack', { ids }))).toEqual({
    deleted: bodies.length,
  });
  receiver.disconnect();
}

it('removes acknowledged bodies after a checkpoint', async () => {
  const started = await startTestRelay({ walCheckpointIntervalMs: 100 });
  relay = started;
  // One body fits in a table page, the other spills into overflow pages.
  const bodies = [randomBody(300), randomBody(20_000)];
  await deliverAndAcknowledge(started, bodies);

  const walFile = path.join(started.dataDir, 'cloak.sqlite-wal');
  await waitFor(() => statSync(walFile).size === 0, 5_000);
  for (const body of bodies) {
    expect(markersOnDisk(started.dataDir, body)).toEqual([]);
  }
});

it('removes acknowledged bodies at close', async () => {
  const started = await startTestRelay({ walCheckpointIntervalMs: 600_000 });
  relay = started;
  const bodies = [randomBody(300), randomBody(20_000)];
  await deliverAndAcknowledge(started, bodies);
  await started.close();

  for (const body of bodies) {
    expect(markersOnDisk(started.dataDir, body)).toEqual([]);
  }
});
