import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import type { Envelope, SendResult } from '../shared/wire/schemas';
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
  makeDataDir,
  removeDataDir,
  startTestRelay,
} from './test-support/relay';

const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function registerPair(url: string): Promise<[TestDevice, TestDevice]> {
  const alice = await createTestDevice('alice');
  const bob = await createTestDevice('bob');
  await register(url, alice);
  await register(url, bob);
  return [alice, bob];
}

/** Sends one envelope from Alice to Bob and waits for the relay's ack. */
async function sendOne(url: string, alice: TestDevice, bob: TestDevice) {
  const socket = await connectSignedIn(url, alice);
  const envelope = outgoing(bob.address, 'c3RvcmVk');
  const ack = unwrap(await call<SendResult>(socket, 'envelope:send', envelope));
  socket.disconnect();
  return { envelope, ack };
}

async function receive(url: string, bob: TestDevice): Promise<Envelope[]> {
  const inbox: Envelope[] = [];
  const socket = await connectSignedIn(url, bob, inbox);
  cleanups.push(() => void socket.disconnect());
  await waitFor(() => inbox.length > 0);
  return inbox;
}

/** Starts a relay in a child process and reads its URL from stdout. */
async function spawnRelay(
  dataDir: string,
): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(__dirname, 'test-support/relay-process.ts')],
    {
      env: { ...process.env, DATA_DIR: dataDir },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  cleanups.push(() => void child.kill('SIGKILL'));
  if (!child.stdout) throw new Error('child has no stdout');
  const lines = createInterface({ input: child.stdout });
  const [line] = (await once(lines, 'line')) as [string];
  lines.close();
  return { child, url: (JSON.parse(line) as { url: string }).url };
}

describe('durability', () => {
  it('keeps queued envelopes across a restart', async () => {
    const dataDir = makeDataDir();
    cleanups.push(() => removeDataDir(dataDir));
    const first = await startTestRelay({ dataDir });
    const [alice, bob] = await registerPair(first.url);
    const { envelope } = await sendOne(first.url, alice, bob);
    await first.close();

    const second = await startTestRelay({ dataDir });
    cleanups.push(() => second.close());
    const inbox = await receive(second.url, bob);
    expect(inbox.map((item) => item.id)).toEqual([envelope.id]);
    expect(inbox[0]?.from).toEqual(alice.address);
  });

  it('keeps an acknowledged envelope after kill -9', async () => {
    const dataDir = makeDataDir();
    cleanups.push(() => removeDataDir(dataDir));
    const { child, url } = await spawnRelay(dataDir);
    const [alice, bob] = await registerPair(url);
    const { envelope, ack } = await sendOne(url, alice, bob);
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    const [, signal] = await exited;
    expect(signal).toBe('SIGKILL');

    const restarted = await startTestRelay({ dataDir });
    cleanups.push(() => restarted.close());
    const inbox = await receive(restarted.url, bob);
    expect(inbox).toHaveLength(1);
    expect(inbox[0]).toMatchObject({
      id: envelope.id,
      serverTs: ack.serverTs,
      body: envelope.body,
    });
  });
});
