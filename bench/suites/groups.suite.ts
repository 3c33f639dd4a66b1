/**
 * Group messages over the Cloak relay: the sender encrypts once with its
 * sender key and uploads one envelope listing every member device, and the
 * relay fans it out. The suite measures the sender's cost and the fan-out
 * for groups of several sizes, with every member device connected and
 * signed in. It also measures one sender's sender key rotation after a
 * removal, which sends one distribution message per remaining member over
 * pairwise sessions.
 */
import { type Bytes, toBase64Url } from '../../shared/crypto/bytes';
import type { LocalIdentity } from '../../shared/crypto/keys';
import { systemRandom } from '../../shared/crypto/random';
import {
  type OwnSenderKey,
  createSenderKey,
  encodeSenderKeyDistribution,
  encryptGroupMessage,
  rotateSenderKey,
  senderKeyDistribution,
} from '../../shared/crypto/sender-key';
import {
  type SessionRecord,
  encryptMessage,
} from '../../shared/crypto/session';
import { encodeContent } from '../../shared/wire/content';
import type { Address, SendEnvelopeRequest } from '../../shared/wire/schemas';
import { randomId } from '../../server/test-support/device';
import { summarize } from '../lib/measure';
import type { BenchMode, Measurement, Suite } from '../lib/types';
import {
  type LoadClient,
  closeClients,
  connectCloakClients,
  createDevices,
  registerDevices,
} from '../relay/clients';
import { DeliveryTracker } from '../relay/deliveries';
import {
  type Peer,
  completeSession,
  createPeer,
  localIdentity,
  setUpSession,
} from '../relay/pairwise';
import {
  makeDataDir,
  removeDataDir,
  startRelayProcess,
} from '../relay/relay-process';

interface Settings {
  /** Group sizes in members, the sender included. The first is the baseline. */
  readonly sizes: readonly number[];
  /** Group messages per size and round. Each round keeps their median. */
  readonly messages: number;
}

const SETTINGS: Record<BenchMode, Settings> = {
  smoke: { sizes: [2, 5], messages: 2 },
  quick: { sizes: [2, 10, 100, 300], messages: 5 },
  full: { sizes: [2, 10, 100, 1_000], messages: 7 },
};

/** Text of each group message, about the 1 KiB of the relay benchmark. */
const TEXT = 'x'.repeat(1_000);
const DELIVERY_TIMEOUT_MS = 60_000;

type Samples = Map<string, number[]>;

function add(samples: Samples, name: string, value: number): void {
  const list = samples.get(name) ?? [];
  list.push(value);
  samples.set(name, list);
}

function median(values: readonly number[]): number {
  return summarize(values).median;
}

function members(size: number): string {
  return `${size.toLocaleString('en-US')} members`;
}

/** Sends one envelope, resolving at an `ok` reply and rejecting on an error. */
function send(socket: LoadClient['socket'], envelope: SendEnvelopeRequest) {
  return new Promise<number>((resolve, reject) => {
    socket
      .timeout(DELIVERY_TIMEOUT_MS)
      .emit('envelope:send', envelope, (error, reply) => {
        if (error) {
          reject(
            new Error(
              `envelope:send got no reply in ${DELIVERY_TIMEOUT_MS} ms: ${error.message}`,
            ),
          );
        } else if (!reply.ok) {
          reject(
            new Error(
              `envelope:send was rejected: ${reply.error.code}: ${reply.error.message}`,
            ),
          );
        } else {
          resolve(performance.now());
        }
      });
  });
}

class GroupSender {
  constructor(
    readonly client: LoadClient,
    private senderKey: OwnSenderKey,
    private readonly groupId: string,
    private readonly tracker: DeliveryTracker,
  ) {}

  /**
   * Encrypts one text for the group and uploads it to `recipients`, as the
   * engine's `encryptForGroup` does once the members have the sender key.
   */
  async sendText(recipients: readonly Address[]) {
    const plaintext = encodeContent({
      v: 1,
      type: 'text',
      messageId: randomId(),
      sentAt: Date.now(),
      text: TEXT,
      groupId: this.groupId,
    });

    const cpuStart = process.cpuUsage();
    const start = performance.now();
    const encrypted = await encryptGroupMessage(
      this.senderKey,
      this.client.address,
      plaintext,
      systemRandom,
    );
    const encryptedAt = performance.now();
    this.senderKey = encrypted.senderKey;

    const envelope: SendEnvelopeRequest = {
      v: 1,
      kind: 'group',
      id: randomId(),
      to: [...recipients],
      body: toBase64Url(encrypted.message),
    };
    const delivered = this.tracker.expect(
      envelope.id,
      recipients.length,
      DELIVERY_TIMEOUT_MS,
    );
    const stored = send(this.client.socket, envelope);
    const uploadedAt = performance.now();
    const cpu = process.cpuUsage(cpuStart);

    const storedAt = await stored;
    const deliveredAt = await delivered;
    return {
      encryptMs: encryptedAt - start,
      senderMs: uploadedAt - start,
      senderCpuMs: (cpu.user + cpu.system) / 1000,
      storedMs: storedAt - encryptedAt,
      fanOutMs: deliveredAt - encryptedAt,
      uploadKB: JSON.stringify(envelope).length / 1024,
    };
  }

  /** Replaces the chain, as after a removal, and returns the distribution content. */
  async rotate(): Promise<Bytes> {
    this.senderKey = await rotateSenderKey(
      this.senderKey,
      systemRandom,
      Date.now(),
    );
    return encodeContent({
      v: 1,
      type: 'sender-key',
      groupId: this.groupId,
      distribution: toBase64Url(
        encodeSenderKeyDistribution(senderKeyDistribution(this.senderKey)),
      ),
    });
  }
}

interface RotationTimes {
  readonly encryptMs: number;
  readonly storedMs: number;
  readonly deliveredMs: number;
}

/**
 * Rotates the sender key and sends its distribution message to every peer
 * over the pairwise session in `records`: all encrypted first, then all
 * uploaded without waiting for each reply. With `setUp`, each session is
 * first set up from the peer's bundle (PQXDH); `records` receives the new
 * sessions and `bodies` their `prekey` messages.
 */
async function rotateToAll(
  sender: GroupSender,
  identity: LocalIdentity,
  peers: readonly Peer[],
  records: SessionRecord[],
  tracker: DeliveryTracker,
  setUp: boolean,
  bodies: Bytes[],
): Promise<RotationTimes> {
  const start = performance.now();
  const content = await sender.rotate();
  const envelopes: SendEnvelopeRequest[] = [];
  for (const [index, peer] of peers.entries()) {
    const record = setUp
      ? await setUpSession(identity, peer)
      : (records[index] as SessionRecord);
    const encrypted = await encryptMessage(
      record,
      identity,
      peer.address,
      content,
      systemRandom,
      Date.now(),
    );
    if (!setUp && encrypted.kind !== 'message') {
      throw new Error('An established session still sends prekey messages.');
    }
    records[index] = encrypted.record;
    bodies[index] = encrypted.body;
    envelopes.push({
      v: 1,
      kind: encrypted.kind,
      id: randomId(),
      to: peer.address,
      body: toBase64Url(encrypted.body),
    });
  }
  const encryptedAt = performance.now();
  const delivered = envelopes.map((envelope) =>
    tracker.expect(envelope.id, 1, DELIVERY_TIMEOUT_MS),
  );
  const stored = envelopes.map((envelope) =>
    send(sender.client.socket, envelope),
  );
  const storedAt = Math.max(...(await Promise.all(stored)));
  const deliveredAt = Math.max(...(await Promise.all(delivered)));
  return {
    encryptMs: encryptedAt - start,
    storedMs: storedAt - start,
    deliveredMs: deliveredAt - start,
  };
}

/**
 * Rotates and sends each distribution message only after the relay stored
 * the previous one, as the engine's loop over `sendPairwise` does.
 */
async function rotateOneAtATime(
  sender: GroupSender,
  identity: LocalIdentity,
  peers: readonly Peer[],
  records: SessionRecord[],
): Promise<number> {
  const start = performance.now();
  const content = await sender.rotate();
  for (const [index, peer] of peers.entries()) {
    const encrypted = await encryptMessage(
      records[index] as SessionRecord,
      identity,
      peer.address,
      content,
      systemRandom,
      Date.now(),
    );
    records[index] = encrypted.record;
    await send(sender.client.socket, {
      v: 1,
      kind: encrypted.kind,
      id: randomId(),
      to: peer.address,
      body: toBase64Url(encrypted.body),
    });
  }
  return performance.now() - start;
}

function measurement(
  samples: Samples,
  name: string,
  unit: string,
  higherIsBetter = false,
): Measurement {
  return { name, unit, higherIsBetter, samples: samples.get(name) ?? [] };
}

const suite: Suite = {
  name: 'groups',
  title: 'Group messages: sender cost, relay fan-out and key rotation',
  order: 32,
  async run(context) {
    const { sizes, messages } = SETTINGS[context.mode];
    const largest = Math.max(...sizes);
    const baseline = sizes[0] as number;
    const progress = context.progress;
    const dataDir = makeDataDir();
    const relay = await startRelayProcess('cloak', dataDir);
    let clients: LoadClient[] = [];
    try {
      progress(`creating, registering and signing in ${largest} devices`);
      const devices = await createDevices('group', largest, progress);
      await registerDevices(relay.url, devices);
      const tracker = new DeliveryTracker();
      clients = await connectCloakClients(
        relay.url,
        devices,
        tracker.onEnvelope,
      );
      const groupId = randomId();
      const senderClient = clients[0] as LoadClient;
      const sender = new GroupSender(
        senderClient,
        await createSenderKey(
          new Uint8Array(Buffer.from(groupId, 'base64url')),
          systemRandom,
          Date.now(),
        ),
        groupId,
        tracker,
      );
      const addresses = clients.map((client) => client.address);
      // Warm-up: JIT compilation and SQLite's first pages.
      await sender.sendText(addresses.slice(1, largest));

      progress(`creating the pairwise keys of ${largest - 1} members`);
      const identity = await localIdentity(senderClient.address);
      const peers: Peer[] = [];
      for (const address of addresses.slice(1)) {
        peers.push(await createPeer(address));
      }

      const samples: Samples = new Map();
      for (let round = 0; round < context.rounds; round++) {
        const order = round % 2 === 0 ? sizes : [...sizes].reverse();
        for (const size of order) {
          const recipients = addresses.slice(1, size);
          const runs = [];
          await relay.waitForIdle();
          const cpuBefore = await relay.cpuMicros();
          for (let i = 0; i < messages; i++) {
            // The relay deletes the previous fan-out's deliveries as their
            // acknowledgements arrive; the sender is timed only after that.
            await relay.waitForIdle();
            runs.push(await sender.sendText(recipients));
          }
          await relay.waitForIdle();
          const cpuPerDelivery =
            ((await relay.cpuMicros()) - cpuBefore) /
            (messages * recipients.length);
          const label = members(size);
          const fanOutMs = median(runs.map((run) => run.fanOutMs));
          add(
            samples,
            `sender encryption, ${label}`,
            median(runs.map((run) => run.encryptMs)),
          );
          add(
            samples,
            `sender cost (encrypt + upload), ${label}`,
            median(runs.map((run) => run.senderMs)),
          );
          add(
            samples,
            `sender CPU time (encrypt + upload), ${label}`,
            median(runs.map((run) => run.senderCpuMs)),
          );
          add(
            samples,
            `upload size, ${label}`,
            median(runs.map((run) => run.uploadKB)),
          );
          add(
            samples,
            `relay stored (sender's reply), ${label}`,
            median(runs.map((run) => run.storedMs)),
          );
          add(
            samples,
            `fan-out until the last device has it, ${label}`,
            fanOutMs,
          );
          add(
            samples,
            `fan-out rate, ${label}`,
            (size - 1) / (fanOutMs / 1000),
          );
          add(samples, `relay CPU per delivery, ${label}`, cpuPerDelivery);
          progress(
            `round ${round + 1}/${context.rounds}: ${label}: fan-out ${fanOutMs.toFixed(1)} ms`,
          );
        }

        const records: SessionRecord[] = [];
        const bodies: Bytes[] = [];
        const withSetUp = await rotateToAll(
          sender,
          identity,
          peers,
          records,
          tracker,
          true,
          bodies,
        );
        for (const [index, peer] of peers.entries()) {
          records[index] = await completeSession(
            identity,
            peer,
            records[index] as SessionRecord,
            bodies[index] as Bytes,
          );
        }
        const established = await rotateToAll(
          sender,
          identity,
          peers,
          records,
          tracker,
          false,
          bodies,
        );
        const oneAtATime = await rotateOneAtATime(
          sender,
          identity,
          peers,
          records,
        );
        const label = `rotation to ${members(peers.length)}`;
        add(samples, `${label}: pairwise messages`, peers.length);
        add(
          samples,
          `${label} with session set-up: encryption`,
          withSetUp.encryptMs,
        );
        add(
          samples,
          `${label} with session set-up: relay stored all`,
          withSetUp.storedMs,
        );
        add(
          samples,
          `${label} with session set-up: all delivered`,
          withSetUp.deliveredMs,
        );
        add(
          samples,
          `${label}, sessions established: encryption`,
          established.encryptMs,
        );
        add(
          samples,
          `${label}, sessions established: relay stored all`,
          established.storedMs,
        );
        add(
          samples,
          `${label}, sessions established: all delivered`,
          established.deliveredMs,
        );
        add(
          samples,
          `${label}, sessions established, one send at a time: relay stored all`,
          oneAtATime,
        );
        progress(
          `round ${round + 1}/${context.rounds}: ${label}: ${withSetUp.deliveredMs.toFixed(0)} ms with set-up, ` +
            `${established.deliveredMs.toFixed(0)} ms established, ${oneAtATime.toFixed(0)} ms one at a time`,
        );
      }

      const measurements: Measurement[] = [];
      const perSize = [
        ['sender encryption', 'ms'],
        ['sender cost (encrypt + upload)', 'ms'],
        ['sender CPU time (encrypt + upload)', 'ms'],
        ['upload size', 'KB'],
        ["relay stored (sender's reply)", 'ms'],
        ['fan-out until the last device has it', 'ms'],
      ] as const;
      for (const [figure, unit] of perSize) {
        for (const size of sizes) {
          measurements.push(
            measurement(samples, `${figure}, ${members(size)}`, unit),
          );
        }
      }
      for (const size of sizes.slice(1)) {
        measurements.push(
          measurement(
            samples,
            `fan-out rate, ${members(size)}`,
            'deliveries/s',
            true,
          ),
        );
      }
      for (const size of sizes) {
        measurements.push(
          measurement(
            samples,
            `relay CPU per delivery, ${members(size)}`,
            'µs',
          ),
        );
      }
      const rotation = `rotation to ${members(largest - 1)}`;
      measurements.push(
        measurement(samples, `${rotation}: pairwise messages`, 'messages'),
      );
      for (const figure of [
        ' with session set-up: encryption',
        ' with session set-up: relay stored all',
        ' with session set-up: all delivered',
        ', sessions established: encryption',
        ', sessions established: relay stored all',
        ', sessions established: all delivered',
        ', sessions established, one send at a time: relay stored all',
      ]) {
        measurements.push(measurement(samples, `${rotation}${figure}`, 'ms'));
      }
      return {
        measurements,
        ratios: [
          {
            name: `sender cost, ${members(largest)} / ${members(baseline)}`,
            numerator: `sender cost (encrypt + upload), ${members(largest)}`,
            denominator: `sender cost (encrypt + upload), ${members(baseline)}`,
            max: 1.5,
          },
          {
            name: `sender CPU time, ${members(largest)} / ${members(baseline)}`,
            numerator: `sender CPU time (encrypt + upload), ${members(largest)}`,
            denominator: `sender CPU time (encrypt + upload), ${members(baseline)}`,
            max: 1.5,
          },
        ],
        notes: [
          `${largest} devices (one per member) registered, connected and signed in to one Cloak relay child process on 127.0.0.1; every delivered envelope is acknowledged as a device does. A group of n members has n - 1 recipient devices.`,
          `Group message: a text of ${TEXT.length} characters encrypted once with the sender key (encryptGroupMessage) and uploaded once as one envelope:send listing every recipient device; ${messages} messages per size and round, median kept.`,
          "Sender cost runs from the start of the encryption until the envelope is written to the socket. Sender CPU time is this process's CPU time (user + system, WebCrypto threads included) over the same span, which other processes on the machine do not inflate. Relay stored and fan-out run from the end of the encryption until the relay's reply and until the last member device received the envelope.",
          'Each group message is sent only once the relay process has gone idle (below a tenth of a core) after the previous one.',
          "Relay CPU per delivery is the relay process's CPU time over the messages of one size and round (storing, delivering, deleting on acknowledgement) divided by the deliveries.",
          'Upload size grows with the recipient list (about 35 bytes per device), not with the ciphertext.',
          `Rotation: one sender replaces its chain and sends the distribution message to each of the ${largest - 1} other members over its pairwise session, all encrypted first and then uploaded without waiting. "With session set-up" runs PQXDH from each member's bundle first (bundles are made locally, so no bundle fetch is counted). "Sessions established" uses sessions in which the member has replied. "One send at a time" waits for each relay reply before the next, as the engine's send loop does.`,
          "The load generator, the sender and every member device share this process and the machine's cores with the relay.",
        ],
      };
    } finally {
      await closeClients(clients);
      await relay.close();
      removeDataDir(dataDir);
    }
  },
};

export default suite;
