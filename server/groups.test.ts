import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { createInterface } from 'node:readline';
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  MAX_ENVELOPE_BODY_BYTES,
  MAX_GROUP_RECIPIENTS,
} from '../shared/wire/limits';
import {
  type Address,
  type Envelope,
  type SendResult,
  base64UrlLength,
} from '../shared/wire/schemas';
import {
  type ClientSocket,
  type TestDevice,
  call,
  connectSignedIn,
  createTestDevice,
  errorOf,
  outgoing,
  randomId,
  register,
  settle,
  unwrap,
  waitFor,
} from './test-support/device';
import {
  type TestRelay,
  makeDataDir,
  removeDataDir,
  startTestRelay,
} from './test-support/relay';

/** Each test registers five devices and signs several in. */
const RELAXED_LIMITS = {
  signIn: {
    device: { perSecond: 100, burst: 1000 },
    address: { perSecond: 100, burst: 1000 },
  },
  register: { perSecond: 100, burst: 1000 },
};

let relay: TestRelay;
let database: Database.Database;
const sockets: ClientSocket[] = [];
let nextGroup = 0;

interface Group {
  readonly sender: TestDevice;
  /** bob/1, carol/1, dave/1 and dave/2. */
  readonly members: readonly TestDevice[];
}

/** Registers a sender and four member devices with fresh user ids. */
async function newGroup(url = relay.url): Promise<Group> {
  const prefix = `g${nextGroup++}`;
  const sender = await createTestDevice(`${prefix}-alice`);
  const bob = await createTestDevice(`${prefix}-bob`);
  const carol = await createTestDevice(`${prefix}-carol`);
  const dave = await createTestDevice(`${prefix}-dave`);
  const daveLaptop = await createTestDevice(`${prefix}-dave`, {
    deviceId: 2,
    identityKey: dave.identityKey,
  });
  for (const device of [sender, bob, carol, dave, daveLaptop]) {
    const { status } = await register(url, device);
    if (status !== 201) throw new Error(`registration failed: ${status}`);
  }
  return { sender, members: [bob, carol, dave, daveLaptop] };
}

function addresses(devices: readonly TestDevice[]): Address[] {
  return devices.map((device) => device.address);
}

function groupEnvelope(to: readonly Address[], body = 'AAEC', id = randomId()) {
  return { v: 1, kind: 'group', id, to, body } as const;
}

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

async function ack(socket: ClientSocket, ids: string[]) {
  return unwrap(
    await call<{ deleted: number }>(socket, 'envelope:ack', { ids }),
  );
}

function storedBodies(): number {
  return database
    .prepare('SELECT count(*) FROM envelope_bodies')
    .pluck()
    .get() as number;
}

function member(group: Group, index: number): TestDevice {
  const device = group.members[index];
  if (device === undefined) throw new Error(`no member ${index}`);
  return device;
}

beforeAll(async () => {
  relay = await startTestRelay({ rateLimits: RELAXED_LIMITS });
  database = new Database(path.join(relay.dataDir, 'cloak.sqlite'), {
    readonly: true,
  });
});

afterEach(() => {
  for (const socket of sockets.splice(0)) socket.disconnect();
});

afterAll(async () => {
  database.close();
  await relay.close();
  removeDataDir(relay.dataDir);
});

describe('group fan-out', () => {
  it('queues one upload for every device', async () => {
    const group = await newGroup();
    const [bob, carol, dave, daveLaptop] = group.members;
    if (!bob || !carol || !dave || !daveLaptop) throw new Error('no group');
    const bobInbox: Envelope[] = [];
    const daveInbox: Envelope[] = [];
    await online(bob, bobInbox);
    await online(dave, daveInbox);
    const envelope = groupEnvelope(addresses(group.members), 'Z3JvdXA');
    const result = unwrap(await send(await online(group.sender), envelope));
    expect(result.duplicate).toBe(false);

    await waitFor(() => bobInbox.length === 1 && daveInbox.length === 1);
    const carolInbox: Envelope[] = [];
    const laptopInbox: Envelope[] = [];
    await online(carol, carolInbox);
    await online(daveLaptop, laptopInbox);
    await waitFor(() => carolInbox.length === 1 && laptopInbox.length === 1);

    const inboxes = [bobInbox, carolInbox, daveInbox, laptopInbox];
    for (const [index, inbox] of inboxes.entries()) {
      expect(inbox[0]).toEqual({
        v: 1,
        kind: 'group',
        id: envelope.id,
        from: group.sender.address,
        to: member(group, index).address,
        serverTs: result.serverTs,
        seq: expect.any(Number),
        body: 'Z3JvdXA',
      });
    }
  });

  it('delivers offline queues in order', async () => {
    const group = await newGroup();
    const carol = member(group, 1);
    const senderSocket = await online(group.sender);
    const sent: string[] = [];
    for (let i = 0; i < 10; i++) {
      const envelope =
        i % 3 === 1
          ? outgoing(carol.address)
          : groupEnvelope(addresses(group.members));
      unwrap(await send(senderSocket, envelope));
      sent.push(envelope.id);
    }
    const inbox: Envelope[] = [];
    await online(carol, inbox);
    await waitFor(() => inbox.length === 10);
    expect(inbox.map((envelope) => envelope.id)).toEqual(sent);
    const seqs = inbox.map((envelope) => envelope.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
  });

  it('stores a retried id once', async () => {
    const group = await newGroup();
    const bob = member(group, 0);
    const senderSocket = await online(group.sender);
    const envelope = groupEnvelope(addresses(group.members));
    const first = unwrap(await send(senderSocket, envelope));
    const retry = unwrap(await send(senderSocket, envelope));
    expect(retry).toEqual({ ...first, duplicate: true });

    const inbox: Envelope[] = [];
    const bobSocket = await online(bob, inbox);
    await waitFor(() => inbox.length === 1);
    expect(await ack(bobSocket, [envelope.id])).toEqual({ deleted: 1 });
    const late = unwrap(await send(senderSocket, envelope));
    expect(late).toEqual({ ...first, duplicate: true });
    await settle();
    expect(inbox).toHaveLength(1);
  });

  it('keeps the body until the last ack', async () => {
    const group = await newGroup();
    const [bob, carol] = group.members;
    if (!bob || !carol) throw new Error('no group');
    const before = storedBodies();
    const envelope = groupEnvelope([bob.address, carol.address], 'Ym9keQ');
    unwrap(await send(await online(group.sender), envelope));
    expect(storedBodies()).toBe(before + 1);

    const bobInbox: Envelope[] = [];
    const bobSocket = await online(bob, bobInbox);
    await waitFor(() => bobInbox.length === 1);
    expect(await ack(bobSocket, [envelope.id])).toEqual({ deleted: 1 });
    expect(storedBodies()).toBe(before + 1);

    const carolInbox: Envelope[] = [];
    const carolSocket = await online(carol, carolInbox);
    await waitFor(() => carolInbox.length === 1);
    expect(carolInbox[0]?.body).toBe('Ym9keQ');
    expect(await ack(carolSocket, [envelope.id])).toEqual({ deleted: 1 });
    expect(storedBodies()).toBe(before);
  });
});

describe('group envelope checks', () => {
  it('rejects an unknown device and stores nothing', async () => {
    const group = await newGroup();
    const bob = member(group, 0);
    const senderSocket = await online(group.sender);
    const before = storedBodies();
    const envelope = groupEnvelope([
      bob.address,
      { userId: 'nobody-here', deviceId: 1 },
    ]);
    const error = errorOf(await send(senderSocket, envelope));
    expect(error.code).toBe('not-found');
    expect(error.message).toContain('"nobody-here"');
    expect(storedBodies()).toBe(before);

    const inbox: Envelope[] = [];
    await online(bob, inbox);
    await settle();
    expect(inbox).toEqual([]);
    // The id was not recorded either, so a corrected list is accepted.
    const corrected = unwrap(
      await send(senderSocket, { ...envelope, to: [bob.address] }),
    );
    expect(corrected.duplicate).toBe(false);
    await waitFor(() => inbox.length === 1);
  });

  it('rejects invalid device lists', async () => {
    const group = await newGroup();
    const bob = member(group, 0);
    const senderSocket = await online(group.sender);
    const tooMany = Array.from(
      { length: MAX_GROUP_RECIPIENTS + 1 },
      (_, i) => ({ userId: `member-${i}`, deviceId: 1 }),
    );
    const lists: Address[][] = [
      [],
      [bob.address, bob.address],
      [bob.address, group.sender.address],
      tooMany,
    ];
    for (const to of lists) {
      const error = errorOf(await send(senderSocket, groupEnvelope(to)));
      expect(error.code).toBe('invalid-request');
    }
    const single = errorOf(
      await send(senderSocket, { ...groupEnvelope([]), to: bob.address }),
    );
    expect(single.code).toBe('invalid-request');
  });

  it('rejects a body over the cap', async () => {
    const group = await newGroup();
    const senderSocket = await online(group.sender);
    const body = 'A'.repeat(base64UrlLength(MAX_ENVELOPE_BODY_BYTES) + 4);
    const error = errorOf(
      await send(senderSocket, groupEnvelope(addresses(group.members), body)),
    );
    expect(error.code).toBe('payload-too-large');
  });

  it('charges fan-out per recipient block', async () => {
    const limited = await startTestRelay({
      rateLimits: {
        ...RELAXED_LIMITS,
        send: {
          device: { perSecond: 0.001, burst: 3 },
          address: { perSecond: 100, burst: 1000 },
        },
      },
    });
    try {
      const group = await newGroup(limited.url);
      const senderSocket = await online(group.sender, undefined, limited.url);
      const to = addresses(group.members);
      // One token per envelope and one per started block of 100 devices.
      unwrap(await send(senderSocket, groupEnvelope(to)));
      const refused = errorOf(await send(senderSocket, groupEnvelope(to)));
      expect(refused.code).toBe('rate-limited');
    } finally {
      await limited.close();
      removeDataDir(limited.dataDir);
    }
  });
});

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
  if (!child.stdout) throw new Error('child has no stdout');
  const lines = createInterface({ input: child.stdout });
  const [line] = (await once(lines, 'line')) as [string];
  lines.close();
  return { child, url: (JSON.parse(line) as { url: string }).url };
}

describe('group fan-out durability', () => {
  it('keeps every delivery after kill -9', async () => {
    const dataDir = makeDataDir();
    const { child, url } = await spawnRelay(dataDir);
    let restarted: TestRelay | undefined;
    try {
      const group = await newGroup(url);
      const envelope = groupEnvelope(addresses(group.members), 'a2lsbA');
      const senderSocket = await connectSignedIn(url, group.sender);
      const result = unwrap(await send(senderSocket, envelope));
      senderSocket.disconnect();
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      const [, signal] = await exited;
      expect(signal).toBe('SIGKILL');

      restarted = await startTestRelay({ dataDir });
      for (const device of group.members) {
        const inbox: Envelope[] = [];
        await online(device, inbox, restarted.url);
        await waitFor(() => inbox.length === 1);
        expect(inbox[0]).toMatchObject({
          id: envelope.id,
          serverTs: result.serverTs,
          body: 'a2lsbA',
        });
      }
    } finally {
      child.kill('SIGKILL');
      for (const socket of sockets.splice(0)) socket.disconnect();
      await restarted?.close();
      removeDataDir(dataDir);
    }
  });
});
