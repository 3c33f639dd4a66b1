/**
 * An in-memory stand-in for the relay, for engine unit tests: it hands out
 * prekey bundles once per one-time prekey, stamps `from`, `serverTs` and
 * `seq` on sent envelopes, and queues them per device until acknowledged.
 * A group envelope is queued once for each device it lists.
 * Tests deliver queued envelopes explicitly, so they control the order.
 */
import {
  createAccountKeys,
  toRegisterRequest,
} from '../../../shared/crypto/keys';
import { generateAesKey } from '../../../shared/crypto/primitives';
import { systemRandom } from '../../../shared/crypto/random';
import type {
  Address,
  Envelope,
  OneTimePrekey,
  PqPrekey,
  PrekeyBundle,
  RegisterRequest,
} from '../../../shared/wire/schemas';
import { ClientError } from '../errors';
import { Engine, type EngineOptions } from '../engine/engine';
import {
  RelayError,
  type RelayEvent,
  type RelayReply,
  type RelayRequest,
  type Transport,
} from '../engine/transport';
import { openCloakDb } from '../storage/db';
import { addressKey, LocalStore } from '../storage/local-store';

export const NOW = 1_750_000_000_000;

interface Directory {
  request: RegisterRequest;
  oneTimePrekeys: OneTimePrekey[];
  oneTimePqPrekeys: PqPrekey[];
}

export class MemoryTransport implements Transport {
  connected = true;

  constructor(
    private readonly relay: MemoryRelay,
    readonly address: Address,
  ) {}

  request<E extends RelayEvent>(
    event: E,
    payload: RelayRequest<E>,
  ): Promise<RelayReply<E>> {
    if (!this.connected) {
      return Promise.reject(new RelayError('offline', 'not connected'));
    }
    return Promise.resolve(this.relay.handle(this.address, event, payload));
  }
}

export class MemoryRelay {
  private readonly directory = new Map<string, Directory>();
  private readonly queues = new Map<string, Envelope[]>();
  private readonly storedIds = new Set<string>();
  /** Every envelope id acknowledged, in order, repeats included. */
  readonly acknowledged: string[] = [];
  private seq = 0;

  /** Removes an account, as if the relay had deleted it. */
  unregister(userId: string): void {
    this.directory.delete(userId);
  }

  register(request: RegisterRequest): void {
    this.directory.set(request.certificate.userId, {
      request,
      oneTimePrekeys: [...request.oneTimePrekeys],
      oneTimePqPrekeys: [...request.oneTimePqPrekeys],
    });
  }

  /** Returns the envelopes queued for a device, oldest first. */
  queued(address: Address): Envelope[] {
    return [...(this.queues.get(addressKey(address)) ?? [])];
  }

  handle<E extends RelayEvent>(
    from: Address,
    event: E,
    payload: RelayRequest<E>,
  ): RelayReply<E> {
    return this.dispatch(from, event, payload) as RelayReply<E>;
  }

  private dispatch(from: Address, event: RelayEvent, payload: unknown) {
    switch (event) {
      case 'keys:bundle':
        return {
          bundles: [this.bundle((payload as { userId: string }).userId)],
        };
      case 'envelope:send':
        return this.store(from, payload as RelayRequest<'envelope:send'>);
      case 'envelope:ack':
        return this.acknowledge(from, (payload as { ids: string[] }).ids);
      case 'keys:upload':
        return this.upload(from, payload as RelayRequest<'keys:upload'>);
      default:
        throw new RelayError('invalid-request', `unsupported ${event}`);
    }
  }

  private bundle(userId: string): PrekeyBundle {
    const entry = this.directory.get(userId);
    if (!entry) throw new RelayError('not-found', 'unknown user');
    const oneTimePq = entry.oneTimePqPrekeys.shift();
    const oneTime = entry.oneTimePrekeys.shift();
    return {
      certificate: entry.request.certificate,
      signedPrekey: entry.request.signedPrekey,
      pqPrekey: oneTimePq ?? entry.request.lastResortPqPrekey,
      pqPrekeyLastResort: oneTimePq === undefined,
      ...(oneTime ? { oneTimePrekey: oneTime } : {}),
    };
  }

  private store(from: Address, outgoing: RelayRequest<'envelope:send'>) {
    const recipients = outgoing.kind === 'group' ? outgoing.to : [outgoing.to];
    if (recipients.some((to) => !this.directory.has(to.userId))) {
      throw new RelayError('not-found', 'unknown recipient');
    }
    const serverTs = NOW + this.seq;
    if (this.storedIds.has(outgoing.id)) {
      return { id: outgoing.id, serverTs, duplicate: true };
    }
    this.storedIds.add(outgoing.id);
    for (const to of recipients) {
      const key = addressKey(to);
      const queue = this.queues.get(key) ?? [];
      queue.push({ ...outgoing, to, from, serverTs, seq: ++this.seq });
      this.queues.set(key, queue);
    }
    return { id: outgoing.id, serverTs, duplicate: false };
  }

  private acknowledge(from: Address, ids: string[]) {
    const key = addressKey(from);
    const queue = this.queues.get(key) ?? [];
    this.queues.set(
      key,
      queue.filter((envelope) => !ids.includes(envelope.id)),
    );
    this.acknowledged.push(...ids);
    return { deleted: queue.length - (this.queues.get(key)?.length ?? 0) };
  }

  private upload(from: Address, upload: RelayRequest<'keys:upload'>) {
    const entry = this.directory.get(from.userId);
    if (!entry) throw new RelayError('not-found', 'unknown user');
    if (upload.signedPrekey) {
      entry.request = { ...entry.request, signedPrekey: upload.signedPrekey };
    }
    if (upload.lastResortPqPrekey) {
      entry.request = {
        ...entry.request,
        lastResortPqPrekey: upload.lastResortPqPrekey,
      };
    }
    entry.oneTimePrekeys.push(...upload.oneTimePrekeys);
    entry.oneTimePqPrekeys.push(...upload.oneTimePqPrekeys);
    return {
      oneTimePrekeys: entry.oneTimePrekeys.length,
      oneTimePqPrekeys: entry.oneTimePqPrekeys.length,
    };
  }
}

export interface TestDevice {
  readonly address: Address;
  readonly store: LocalStore;
  readonly engine: Engine;
  readonly transport: MemoryTransport;
  readonly errors: ClientError[];
}

let databaseCount = 0;

/** Creates an account in a fresh database and registers it with `relay`. */
export async function createDevice(
  relay: MemoryRelay,
  userId: string,
  options: Partial<EngineOptions> = {},
): Promise<TestDevice> {
  const db = await openCloakDb(`cloak-test-${++databaseCount}`);
  const keys = await createAccountKeys(userId, 1, systemRandom, NOW);
  const store = await LocalStore.create(
    db,
    keys,
    await generateAesKey(),
    systemRandom,
  );
  relay.register(toRegisterRequest(keys));
  const address = { userId, deviceId: 1 };
  const transport = new MemoryTransport(relay, address);
  const errors: ClientError[] = [];
  const engine = new Engine({
    store,
    identity: keys.identity,
    transport,
    now: () => NOW,
    onError: (error) => errors.push(error),
    ...options,
  });
  return { address, store, engine, transport, errors };
}

/** Hands every envelope queued for `device` to its engine, in order. */
export async function deliverQueued(
  relay: MemoryRelay,
  device: TestDevice,
): Promise<number> {
  const envelopes = relay.queued(device.address);
  for (const envelope of envelopes) await device.engine.receive(envelope);
  return envelopes.length;
}
