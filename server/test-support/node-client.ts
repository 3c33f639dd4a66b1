/**
 * The real client engine in Node, for integration tests against a real
 * relay on 127.0.0.1: account creation and registration
 * (`client/src/engine/account.ts`), storage (`client/src/storage`, on
 * fake-indexeddb), `RelayConnection` over socket.io-client, and `Engine`,
 * wired to the connection the way the app's `CloakStore` wires them.
 *
 * Two browser globals are stood in for: IndexedDB (fake-indexeddb) and
 * `location`, which `RelayConnection` reads once, when its socket is
 * created, to find the relay. The harness sets `location` to the relay URL
 * only for that moment. Registration gets a `fetch` that resolves the
 * client's relative `/api/accounts` against the relay URL.
 */
import 'fake-indexeddb/auto';
import { CryptoError } from '../../shared/crypto/errors';
import type { LocalIdentity } from '../../shared/crypto/keys';
import { type RandomSource, systemRandom } from '../../shared/crypto/random';
import type { Envelope, PrekeyCounts } from '../../shared/wire/schemas';
import {
  createPendingAccount,
  sendRegistration,
} from '../../client/src/engine/account';
import { Engine } from '../../client/src/engine/engine';
import { type Protocol, cloakProtocol } from '../../client/src/engine/protocol';
import {
  type ConnectionState,
  RelayConnection,
} from '../../client/src/engine/relay-connection';
import type { ClientError } from '../../client/src/errors';
import { openCloakDb } from '../../client/src/storage/db';
import type { LocalStore } from '../../client/src/storage/local-store';

export interface NodeClientOptions {
  /** The engine's clock; tests move it to age prekeys. */
  readonly now?: () => number;
  readonly random?: RandomSource;
}

export interface NodeClient {
  readonly userId: string;
  readonly identity: LocalIdentity;
  readonly store: LocalStore;
  readonly engine: Engine;
  readonly connection: RelayConnection;
  /** Errors the engine reported to the user interface, in order. */
  readonly errors: ClientError[];
  /** Protocol errors thrown by session set-up and decryption, in order. */
  readonly protocolErrors: CryptoError[];
  /** Every envelope the relay pushed, in order of arrival. */
  readonly received: Envelope[];
  /** Every `keys:low` warning the relay sent. */
  readonly keysLow: PrekeyCounts[];
  /** Resolves once the connection is signed in. */
  connected(): Promise<void>;
  /** Resolves once every task started by a relay event has finished. */
  idle(): Promise<void>;
  stop(): void;
}

let databaseCount = 0;

/**
 * Runs `create` with `globalThis.location` set to `url`, because
 * socket.io-client's `io()` without a URL reads the page location.
 */
function withLocation<T>(url: string, create: () => T): T {
  const previous = Object.getOwnPropertyDescriptor(globalThis, 'location');
  Object.defineProperty(globalThis, 'location', {
    value: new URL(url),
    configurable: true,
  });
  try {
    return create();
  } finally {
    if (previous) Object.defineProperty(globalThis, 'location', previous);
    else Reflect.deleteProperty(globalThis, 'location');
  }
}

/** Wraps the protocol so that the errors it throws are recorded. */
function observedProtocol(errors: CryptoError[]): Protocol {
  const record = (error: unknown): never => {
    if (error instanceof CryptoError) errors.push(error);
    throw error;
  };
  return {
    ...cloakProtocol,
    initiateSession: (...args) =>
      cloakProtocol.initiateSession(...args).catch(record),
    decryptMessage: (...args) =>
      cloakProtocol.decryptMessage(...args).catch(record),
  };
}

/**
 * Creates an account named `username` in a fresh database, registers it
 * with the relay at `relayUrl`, and connects and signs in its engine.
 */
export async function createNodeClient(
  relayUrl: string,
  username: string,
  options: NodeClientOptions = {},
): Promise<NodeClient> {
  const now = options.now ?? Date.now;
  const random = options.random ?? systemRandom;
  const db = await openCloakDb(`cloak-node-${++databaseCount}`);
  const { store, identity } = await createPendingAccount(db, username, {
    random,
    now: now(),
  });
  const outcome = await sendRegistration(store, {
    fetch: (input, init) => fetch(new URL(String(input), relayUrl), init),
  });
  if (outcome.status !== 'registered') throw outcome.error;

  const errors: ClientError[] = [];
  const protocolErrors: CryptoError[] = [];
  const received: Envelope[] = [];
  const keysLow: PrekeyCounts[] = [];
  const tasks = new Set<Promise<unknown>>();
  const track = (task: Promise<unknown>) => {
    const settled = task.catch(() => undefined);
    tasks.add(settled);
    void settled.finally(() => tasks.delete(settled));
  };

  let markConnected = (): void => undefined;
  const signedIn = new Promise<void>((resolve) => {
    markConnected = resolve;
  });
  // The handlers run only after `start()`, once the engine exists.
  const started: { engine?: Engine } = {};
  const connection = withLocation(
    relayUrl,
    () =>
      new RelayConnection(
        identity,
        {
          onState: (state: ConnectionState) => {
            if (state === 'connected') markConnected();
          },
          onSignedIn: (counts) => {
            const { engine } = started;
            if (!engine) return;
            track(engine.flushOutbox());
            track(engine.refillPrekeys(counts));
            track(engine.rotatePrekeysIfDue());
          },
          onEnvelope: (envelope) => {
            received.push(envelope);
            if (started.engine) track(started.engine.receive(envelope));
          },
          onKeysLow: (counts) => {
            keysLow.push(counts);
            if (started.engine) track(started.engine.refillPrekeys(counts));
          },
          onSignInFailed: () => undefined,
        },
        new URL(relayUrl).origin,
      ),
  );
  const engine = new Engine({
    store,
    identity,
    transport: connection,
    protocol: observedProtocol(protocolErrors),
    random,
    now,
    onError: (error) => errors.push(error),
  });
  started.engine = engine;
  connection.start();

  const client: NodeClient = {
    userId: identity.userId,
    identity,
    store,
    engine,
    connection,
    errors,
    protocolErrors,
    received,
    keysLow,
    connected: () => signedIn,
    idle: async () => {
      while (tasks.size > 0) await Promise.all(tasks);
    },
    stop: () => connection.stop(),
  };
  await client.connected();
  return client;
}
