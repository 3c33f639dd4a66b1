/**
 * Relay memory per idle connection: the Cloak relay with signed-in devices
 * against the bare Socket.IO relay with plain connections. Each figure
 * comes from a fresh relay child process: its memory after a forced
 * garbage collection with the devices connected, minus the same before
 * they connected, divided by the number of connections.
 */
import type { TestDevice } from '../../server/test-support/device';
import type { BenchMode, Measurement, Suite } from '../lib/types';
import {
  type LoadClient,
  closeClients,
  connectBareClients,
  connectCloakClients,
  createDevices,
  registerDevices,
} from '../relay/clients';
import type { MemoryReport } from '../relay/ipc';
import {
  type RelayKind,
  makeDataDir,
  removeDataDir,
  startRelayProcess,
} from '../relay/relay-process';

const SIZES: Record<BenchMode, readonly number[]> = {
  smoke: [20],
  quick: [1_000],
  full: [1_000, 5_000],
};

/** Pause before each memory reading, for sockets and timers to settle. */
const SETTLE_MS = 500;
const KB = 1024;
const WARM_UP_CONNECTIONS = 20;

interface PerConnection {
  /** V8 heap used plus memory of Buffers and other external objects, in KB. */
  readonly heap: number;
  readonly rss: number;
}

const RELAY_NAMES: Record<RelayKind, string> = {
  bare: 'bare Socket.IO relay',
  cloak: 'Cloak relay',
};

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function heapOf(memory: MemoryReport): number {
  return memory.heapUsed + memory.external;
}

/** Starts a fresh relay, connects `count` devices and reads the growth. */
async function measureOnce(
  kind: RelayKind,
  devices: readonly TestDevice[],
  count: number,
  dataDir: string,
): Promise<PerConnection> {
  const relay = await startRelayProcess(kind, dataDir);
  const connect = (connecting: readonly TestDevice[]) =>
    kind === 'cloak'
      ? connectCloakClients(relay.url, connecting, () => undefined)
      : connectBareClients(
          relay.url,
          connecting.map((device) => device.address),
          () => undefined,
        );
  let clients: LoadClient[] = [];
  try {
    // A first round of connections compiles the code paths and fills
    // caches that every later connection shares; it is not counted.
    await closeClients(await connect(devices.slice(0, WARM_UP_CONNECTIONS)));
    await sleep(SETTLE_MS);
    const before = await relay.memory();
    clients = await connect(devices.slice(0, count));
    await sleep(SETTLE_MS);
    const after = await relay.memory();
    return {
      heap: (heapOf(after) - heapOf(before)) / count / KB,
      rss: (after.rss - before.rss) / count / KB,
    };
  } finally {
    await closeClients(clients);
    await relay.close();
  }
}

function label(kind: RelayKind, size: number, figure: 'heap' | 'RSS') {
  return `${RELAY_NAMES[kind]}, ${size.toLocaleString('en-US')} connections, ${figure}`;
}

const suite: Suite = {
  name: 'connections',
  title: 'Relay memory per idle signed-in connection',
  order: 31,
  async run(context) {
    const sizes = SIZES[context.mode];
    const largest = Math.max(...sizes);
    const dataDir = makeDataDir();
    try {
      context.progress(`creating and registering ${largest} devices`);
      const devices = await createDevices('conn', largest, context.progress);
      const setup = await startRelayProcess('cloak', dataDir);
      try {
        await registerDevices(setup.url, devices);
      } finally {
        await setup.close();
      }

      const samples = new Map<string, number[]>();
      const record = (name: string, value: number) => {
        const list = samples.get(name) ?? [];
        list.push(value);
        samples.set(name, list);
      };
      for (let round = 0; round < context.rounds; round++) {
        for (const size of sizes) {
          const kinds: RelayKind[] =
            round % 2 === 0 ? ['bare', 'cloak'] : ['cloak', 'bare'];
          for (const kind of kinds) {
            const result = await measureOnce(kind, devices, size, dataDir);
            context.progress(
              `round ${round + 1}/${context.rounds}: ${RELAY_NAMES[kind]}, ${size} connections: ` +
                `${result.heap.toFixed(1)} KB heap, ${result.rss.toFixed(1)} KB RSS each`,
            );
            record(label(kind, size, 'heap'), result.heap);
            record(label(kind, size, 'RSS'), result.rss);
          }
        }
      }

      const measurements: Measurement[] = [];
      for (const size of sizes) {
        for (const kind of ['bare', 'cloak'] as const) {
          for (const figure of ['heap', 'RSS'] as const) {
            measurements.push({
              name: label(kind, size, figure),
              unit: 'KB',
              higherIsBetter: false,
              samples: samples.get(label(kind, size, figure)) ?? [],
            });
          }
        }
      }
      return {
        measurements,
        ratios: sizes.flatMap((size) =>
          (['heap', 'RSS'] as const).map((figure) => ({
            name: `Cloak / bare, ${size.toLocaleString('en-US')} connections, ${figure}`,
            numerator: label('cloak', size, figure),
            denominator: label('bare', size, figure),
            max: 1.5,
          })),
        ),
        notes: [
          'Per connection: growth of the relay process between a reading before the devices connect and one after, each after two forced garbage collections (--expose-gc), divided by the connections. KB are 1,024 bytes.',
          'heap is V8 heap used plus external memory (Buffers); RSS also counts SQLite, native and freed-but-kept pages, so it is the noisier figure.',
          'Before the first reading, 20 devices connect and disconnect once, so that code compilation and shared caches are not counted. Cloak devices complete the challenge-response sign-in; bare relay clients name themselves in the handshake. Each reading uses a fresh relay process; all connections come from 127.0.0.1, so the relay runs with raised connection limits.',
        ],
      };
    } finally {
      removeDataDir(dataDir);
    }
  },
};

export default suite;
