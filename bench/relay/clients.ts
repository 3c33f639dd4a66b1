/**
 * Simulated devices for the relay benchmarks: keys and registration for the
 * Cloak relay, Socket.IO client connections to either relay, and batched
 * `envelope:ack` for every envelope a device receives.
 */
import { io } from 'socket.io-client';
import {
  type ClientSocket,
  type TestDevice,
  createTestDevice,
  emitWithoutAck,
  register,
  signIn,
  unwrap,
} from '../../server/test-support/device';
import { MAX_ACK_IDS } from '../../shared/wire/limits';
import type { Address, Envelope } from '../../shared/wire/schemas';

/** Connections opened at once; more only lengthens the sign-in queue. */
const CONNECT_CONCURRENCY = 50;
const CONNECT_TIMEOUT_MS = 20_000;

export interface LoadClient {
  readonly address: Address;
  readonly socket: ClientSocket;
}

/** Called for each envelope that reaches device `index` of a pool. */
export type EnvelopeHandler = (index: number, envelope: Envelope) => void;

/** Runs `task` on every item with at most `limit` running at once. */
export async function forEachLimit<T>(
  items: readonly T[],
  limit: number,
  task: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      await task(items[index] as T, index);
    }
  };
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, worker),
  );
}

/**
 * Creates `count` devices with user ids `<prefix>-<n>`. The one-time prekey
 * pools stay empty: the benchmarks fetch no bundles from the relay.
 */
export async function createDevices(
  prefix: string,
  count: number,
  progress?: (message: string) => void,
): Promise<TestDevice[]> {
  const devices: TestDevice[] = [];
  for (let i = 0; i < count; i++) {
    devices.push(
      await createTestDevice(`${prefix}-${i}`, {
        oneTimePrekeys: 0,
        oneTimePqPrekeys: 0,
      }),
    );
    if (progress && (i + 1) % 1000 === 0) {
      progress(`created keys of ${i + 1}/${count} devices`);
    }
  }
  return devices;
}

/** Registers every device with the Cloak relay at `url` over HTTP. */
export async function registerDevices(
  url: string,
  devices: readonly TestDevice[],
): Promise<void> {
  await forEachLimit(devices, 20, async (device) => {
    const { status, body } = await register(url, device);
    if (status !== 201 && status !== 200) {
      throw new Error(
        `Registering "${device.address.userId}" failed with HTTP ${status}: ${JSON.stringify(body)}`,
      );
    }
  });
}

function openSocket(url: string, auth?: Address): Promise<ClientSocket> {
  const socket: ClientSocket = io(url, {
    transports: ['websocket'],
    forceNew: true,
    reconnection: false,
    timeout: CONNECT_TIMEOUT_MS,
    ...(auth !== undefined && { auth: { ...auth } }),
  });
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', (error) => {
      socket.close();
      reject(new Error(`Connecting to ${url} failed: ${error.message}`));
    });
  });
}

/**
 * Acknowledges received envelopes in batches: ids received in one turn of
 * the event loop go out in one `envelope:ack`, without a reply callback.
 */
function acknowledgeInBatches(socket: ClientSocket): (id: string) => void {
  let pending: string[] = [];
  const flush = () => {
    const ids = pending;
    pending = [];
    for (let start = 0; start < ids.length; start += MAX_ACK_IDS) {
      emitWithoutAck(socket, 'envelope:ack', {
        ids: ids.slice(start, start + MAX_ACK_IDS),
      });
    }
  };
  return (id) => {
    if (pending.length === 0) setImmediate(flush);
    pending.push(id);
  };
}

function attach(
  socket: ClientSocket,
  index: number,
  onEnvelope: EnvelopeHandler,
): void {
  const acknowledge = acknowledgeInBatches(socket);
  socket.on('envelope', (envelope) => {
    onEnvelope(index, envelope);
    acknowledge(envelope.id);
  });
}

/**
 * Connects every device to the Cloak relay and signs it in with the real
 * challenge-response sign-in (`signin:start`, then an Ed25519 signature over
 * the relay origin, user id, device id and nonce in `signin:finish`).
 */
export async function connectCloakClients(
  url: string,
  devices: readonly TestDevice[],
  onEnvelope: EnvelopeHandler,
): Promise<LoadClient[]> {
  const clients: LoadClient[] = new Array(devices.length);
  await forEachLimit(devices, CONNECT_CONCURRENCY, async (device, index) => {
    const socket = await openSocket(url);
    attach(socket, index, onEnvelope);
    unwrap(await signIn(socket, device, url));
    clients[index] = { address: device.address, socket };
  });
  return clients;
}

/** Connects every address to the bare relay, which trusts the handshake. */
export async function connectBareClients(
  url: string,
  addresses: readonly Address[],
  onEnvelope: EnvelopeHandler,
): Promise<LoadClient[]> {
  const clients: LoadClient[] = new Array(addresses.length);
  await forEachLimit(addresses, CONNECT_CONCURRENCY, async (address, index) => {
    const socket = await openSocket(url, address);
    attach(socket, index, onEnvelope);
    clients[index] = { address, socket };
  });
  return clients;
}

/** Closes every socket; returns once the relay has had time to see it. */
export async function closeClients(
  clients: readonly LoadClient[],
): Promise<void> {
  for (const client of clients) client.socket.close();
  await new Promise((resolve) => setTimeout(resolve, 200));
}
