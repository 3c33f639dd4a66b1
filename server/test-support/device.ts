/**
 * Test devices with real keys (Ed25519 and X25519 from WebCrypto, ML-KEM-768
 * from @noble/post-quantum), registered over HTTP and signed in over a real
 * Socket.IO client.
 */
import { io, type Socket } from 'socket.io-client';
import { fromBase64Url, toBase64Url } from '../../shared/crypto/bytes';
import {
  signDeviceCertificate,
  signPqPrekey,
  signSignIn,
  signSignedPrekey,
} from '../../shared/crypto/certificate';
import {
  type KeyPair,
  generateEd25519KeyPair,
  generateX25519KeyPair,
  mlKem768Generate,
} from '../../shared/crypto/primitives';
import { systemRandom } from '../../shared/crypto/random';
import type { Reply, WireError } from '../../shared/wire/errors';
import type {
  ClientToServerEvents,
  ServerToClientEvents,
} from '../../shared/wire/events';
import type {
  Address,
  DeviceCertificate,
  Envelope,
  OneTimePrekey,
  PqPrekey,
  PrekeyCounts,
  RegisterRequest,
} from '../../shared/wire/schemas';

export type ClientSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

export interface TestDevice {
  readonly address: Address;
  readonly identityKey: KeyPair;
  readonly signingKey: KeyPair;
  readonly certificate: DeviceCertificate;
  readonly registration: RegisterRequest;
  /** Next unused key id for new one-time prekeys. */
  nextKeyId: number;
}

export interface TestDeviceOptions {
  readonly deviceId?: number;
  /** Reuses a user identity key, for a second device or a re-registration. */
  readonly identityKey?: KeyPair;
  readonly oneTimePrekeys?: number;
  readonly oneTimePqPrekeys?: number;
}

const keyOptions = { extractable: false };

export async function createTestDevice(
  userId: string,
  settings: TestDeviceOptions = {},
): Promise<TestDevice> {
  const address = { userId, deviceId: settings.deviceId ?? 1 };
  const identityKey =
    settings.identityKey ??
    (await generateEd25519KeyPair(systemRandom, keyOptions));
  const signingKey = await generateEd25519KeyPair(systemRandom, keyOptions);
  const dhKey = await generateX25519KeyPair(systemRandom, keyOptions);
  const certificate = await signDeviceCertificate(identityKey.privateKey, {
    ...address,
    identityKey: toBase64Url(identityKey.publicKey),
    signingKey: toBase64Url(signingKey.publicKey),
    dhKey: toBase64Url(dhKey.publicKey),
    issuedAt: Date.now(),
  });
  const signedPrekeyPair = await generateX25519KeyPair(
    systemRandom,
    keyOptions,
  );
  const device: TestDevice = {
    address,
    identityKey,
    signingKey,
    certificate,
    registration: {
      certificate,
      signedPrekey: await signSignedPrekey(
        signingKey.privateKey,
        address,
        1,
        signedPrekeyPair.publicKey,
      ),
      lastResortPqPrekey: await signPqPrekey(
        signingKey.privateKey,
        address,
        1,
        (await mlKem768Generate(systemRandom)).publicKey,
      ),
      oneTimePrekeys: [],
      oneTimePqPrekeys: [],
    },
    nextKeyId: 100,
  };
  device.registration.oneTimePrekeys.push(
    ...(await makeOneTimePrekeys(device, settings.oneTimePrekeys ?? 5)),
  );
  device.registration.oneTimePqPrekeys.push(
    ...(await makeOneTimePqPrekeys(device, settings.oneTimePqPrekeys ?? 5)),
  );
  return device;
}

export async function makeOneTimePrekeys(
  device: TestDevice,
  count: number,
): Promise<OneTimePrekey[]> {
  const keys: OneTimePrekey[] = [];
  for (let i = 0; i < count; i++) {
    const pair = await generateX25519KeyPair(systemRandom, keyOptions);
    keys.push({
      keyId: device.nextKeyId++,
      publicKey: toBase64Url(pair.publicKey),
    });
  }
  return keys;
}

export async function makeOneTimePqPrekeys(
  device: TestDevice,
  count: number,
): Promise<PqPrekey[]> {
  const keys: PqPrekey[] = [];
  for (let i = 0; i < count; i++) {
    keys.push(
      await signPqPrekey(
        device.signingKey.privateKey,
        device.address,
        device.nextKeyId++,
        (await mlKem768Generate(systemRandom)).publicKey,
      ),
    );
  }
  return keys;
}

export async function postJson(
  url: string,
  body: unknown,
): Promise<{ status: number; body: unknown; headers: Headers }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return {
    status: response.status,
    body: await response.json(),
    headers: response.headers,
  };
}

export async function register(
  relayUrl: string,
  device: TestDevice,
): Promise<{ status: number; body: unknown }> {
  return postJson(`${relayUrl}/api/accounts`, device.registration);
}

/** Opens a WebSocket-only connection; resolves once connected. */
export async function connect(relayUrl: string): Promise<ClientSocket> {
  const socket: ClientSocket = io(relayUrl, {
    transports: ['websocket'],
    forceNew: true,
    reconnection: false,
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
  return socket;
}

/** Socket.IO's untyped emit, for payloads the schemas reject. */
interface UntypedClient {
  timeout(ms: number): {
    emitWithAck(event: string, ...args: unknown[]): Promise<unknown>;
  };
  emit(event: string, ...args: unknown[]): void;
}

/** Emits any event with any payload and returns the relay's reply. */
export async function call<T = unknown>(
  socket: ClientSocket,
  event: string,
  payload?: unknown,
): Promise<Reply<T>> {
  const untyped = socket as unknown as UntypedClient;
  const args = payload === undefined ? [] : [payload];
  return (await untyped.timeout(5000).emitWithAck(event, ...args)) as Reply<T>;
}

/** Emits an event without an acknowledgement callback. */
export function emitWithoutAck(
  socket: ClientSocket,
  event: string,
  payload: unknown,
): void {
  (socket as unknown as UntypedClient).emit(event, payload);
}

export function unwrap<T>(reply: Reply<T>): T {
  if (!reply.ok) {
    throw new Error(`${reply.error.code}: ${reply.error.message}`);
  }
  return reply.value;
}

/** Returns the error of a failed reply; throws if the reply succeeded. */
export function errorOf(reply: Reply<unknown>): WireError {
  if (reply.ok) throw new Error('expected an error reply, got success');
  return reply.error;
}

/** Runs signin:start and signin:finish with the device signing key. */
export async function signIn(
  socket: ClientSocket,
  device: TestDevice,
  origin: string,
): Promise<Reply<{ prekeys: PrekeyCounts }>> {
  const { nonce } = unwrap(
    await call<{ nonce: string }>(socket, 'signin:start', device.address),
  );
  const signature = await signSignIn(
    device.signingKey.privateKey,
    origin,
    device.address.userId,
    device.address.deviceId,
    fromBase64Url(nonce),
  );
  return call(socket, 'signin:finish', {
    nonce,
    signature: toBase64Url(signature),
  });
}

export async function connectSignedIn(
  relayUrl: string,
  device: TestDevice,
  inbox?: Envelope[],
): Promise<ClientSocket> {
  const socket = await connect(relayUrl);
  if (inbox) socket.on('envelope', (envelope) => inbox.push(envelope));
  unwrap(await signIn(socket, device, relayUrl));
  return socket;
}

export function randomId(): string {
  return toBase64Url(globalThis.crypto.getRandomValues(new Uint8Array(16)));
}

export function outgoing(to: Address, body = 'AAEC', id = randomId()) {
  return { v: 1, kind: 'message', id, to, body } as const;
}

/** Resolves once `predicate` holds, polling every 10 ms; rejects on timeout. */
export async function waitFor(
  predicate: () => boolean,
  timeoutMs = 3000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('condition timed out');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Waits `ms` so that nothing more arrives; used to check for absence. */
export function settle(ms = 150): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
