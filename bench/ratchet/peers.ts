/**
 * The peer libraries of the ratchet and set-up benches, behind one shape.
 * They live in `bench/peers` (GPL-3.0 and AGPL-3.0, kept out of the
 * product), so the root TypeScript project cannot see their types: each
 * gets a small local interface of the calls used here.
 *
 * Every peer stores its session record as bytes (or as its own string
 * form) after each operation and reads it back before the next, as a
 * messenger persisting its sessions does and as Cloak's engine does.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Pattern } from './cloak';
import { benchMessage, sidesOf } from './cloak';

export type PeerName =
  | '@signalapp/libsignal-client'
  | '@wireapp/proteus'
  | '@privacyresearch/libsignal-protocol-typescript';

export const PEER_NAMES: readonly PeerName[] = [
  '@signalapp/libsignal-client',
  '@wireapp/proteus',
  '@privacyresearch/libsignal-protocol-typescript',
];

export type RequirePeer = <T>(name: string) => T;

/** A session between two parties of one peer library. */
export interface PeerSession {
  /** Sends one message from party `from` (0 or 1) to the other. */
  send(from: 0 | 1, plaintext: Uint8Array<ArrayBuffer>): Promise<void>;
}

export interface Peer {
  /** Row label in the report. */
  readonly label: string;
  /** Creates a session in which both sides have sent a message. */
  createSession(): Promise<PeerSession>;
  /**
   * Prepares `count` set-ups (prekeys generated beforehand, as a device's
   * pool is) and returns the function that runs set-up number `index`:
   * bundle processing, the first message and its decryption.
   */
  prepareSetups(count: number): Promise<(index: number) => Promise<void>>;
}

/** Reads a peer's installed version from `bench/peers/node_modules`. */
export function peerVersion(peersDir: string, name: PeerName): string {
  const manifest = JSON.parse(
    readFileSync(join(peersDir, 'node_modules', name, 'package.json'), 'utf8'),
  ) as { version: string };
  return manifest.version;
}

/** Runs `count` messages after `warmup`; returns messages per second. */
export async function runPeer(
  peer: Peer,
  pattern: Pattern,
  count: number,
  warmup: number,
): Promise<number> {
  const session = await peer.createSession();
  const message = benchMessage();
  const step = (index: number) =>
    session.send(sidesOf<0 | 1>(pattern, index, 0, 1)[0], message);
  for (let i = 0; i < warmup; i++) await step(i);
  const start = performance.now();
  for (let i = warmup; i < warmup + count; i++) await step(i);
  return count / ((performance.now() - start) / 1000);
}

function sameLength(actual: Uint8Array, expected: Uint8Array): void {
  if (actual.length !== expected.length) {
    throw new Error(
      `peer decrypted ${actual.length} bytes, sent ${expected.length}`,
    );
  }
}

// libsignal-client (Rust, with Node bindings).

interface NativeHandle {
  serialize(): Uint8Array<ArrayBuffer>;
}
interface PublicKey extends NativeHandle {
  readonly _nativeHandle: unknown;
}
interface PrivateKey extends NativeHandle {
  getPublicKey(): PublicKey;
  sign(message: Uint8Array<ArrayBuffer>): Uint8Array<ArrayBuffer>;
}
interface KemKeyPair {
  getPublicKey(): NativeHandle;
}
interface CiphertextMessage {
  serialize(): Uint8Array<ArrayBuffer>;
  type(): number;
}
type Address = object;
type Record = NativeHandle;

interface LibsignalClient {
  PrivateKey: { generate(): PrivateKey };
  KEMKeyPair: { generate(): KemKeyPair };
  ProtocolAddress: { new: (name: string, deviceId: number) => Address };
  SessionRecord: { deserialize(bytes: Uint8Array<ArrayBuffer>): Record };
  PreKeyRecord: {
    new: (id: number, publicKey: PublicKey, privateKey: PrivateKey) => Record;
  };
  SignedPreKeyRecord: {
    new: (
      id: number,
      timestamp: number,
      publicKey: PublicKey,
      privateKey: PrivateKey,
      signature: Uint8Array<ArrayBuffer>,
    ) => Record;
  };
  KyberPreKeyRecord: {
    new: (
      id: number,
      timestamp: number,
      keyPair: KemKeyPair,
      signature: Uint8Array<ArrayBuffer>,
    ) => Record;
  };
  PreKeyBundle: {
    new: (
      registrationId: number,
      deviceId: number,
      prekeyId: number | null,
      prekey: PublicKey | null,
      signedPrekeyId: number,
      signedPrekey: PublicKey,
      signedPrekeySignature: Uint8Array<ArrayBuffer>,
      identityKey: PublicKey,
      kyberPrekeyId: number,
      kyberPrekey: NativeHandle,
      kyberPrekeySignature: Uint8Array<ArrayBuffer>,
    ) => unknown;
  };
  SignalMessage: { deserialize(bytes: Uint8Array<ArrayBuffer>): unknown };
  PreKeySignalMessage: {
    deserialize(bytes: Uint8Array<ArrayBuffer>): unknown;
  };
  CiphertextMessageType: { PreKey: number; Whisper: number };
  processPreKeyBundle(
    bundle: unknown,
    address: Address,
    localAddress: Address,
    sessionStore: object,
    identityStore: object,
  ): Promise<void>;
  signalEncrypt(
    message: Uint8Array<ArrayBuffer>,
    address: Address,
    localAddress: Address,
    sessionStore: object,
    identityStore: object,
  ): Promise<CiphertextMessage>;
  signalDecrypt(
    message: unknown,
    address: Address,
    localAddress: Address,
    sessionStore: object,
    identityStore: object,
  ): Promise<Uint8Array<ArrayBuffer>>;
  signalDecryptPreKey(
    message: unknown,
    address: Address,
    localAddress: Address,
    sessionStore: object,
    identityStore: object,
    prekeyStore: object,
    signedPrekeyStore: object,
    kyberPrekeyStore: object,
  ): Promise<Uint8Array<ArrayBuffer>>;
}

const NATIVE_SIGNED_PREKEY_ID = 1;
const NATIVE_KYBER_LAST_RESORT_ID = 0xffffff;

/** One libsignal-client device with in-memory stores that hold bytes. */
class NativeParty {
  readonly identityKey: PrivateKey;
  readonly signedPrekey: PrivateKey;
  readonly registrationId = 1 + Math.floor(Math.random() * 16000);
  readonly address: Address;
  readonly sessions = new Map<string, Uint8Array<ArrayBuffer>>();
  readonly prekeys = new Map<number, Record>();
  readonly kyberPrekeys = new Map<number, Record>();
  readonly signedPrekeyRecord: Record;
  readonly signedPrekeySignature: Uint8Array<ArrayBuffer>;
  readonly identityStore: object;
  readonly sessionStore: object;
  readonly prekeyStore: object;
  readonly signedPrekeyStore: object;
  readonly kyberPrekeyStore: object;

  constructor(
    private readonly lib: LibsignalClient,
    readonly name: string,
  ) {
    this.identityKey = lib.PrivateKey.generate();
    this.signedPrekey = lib.PrivateKey.generate();
    this.address = lib.ProtocolAddress.new(name, 1);
    const signedPublic = this.signedPrekey.getPublicKey();
    this.signedPrekeySignature = this.identityKey.sign(
      signedPublic.serialize(),
    );
    this.signedPrekeyRecord = lib.SignedPreKeyRecord.new(
      NATIVE_SIGNED_PREKEY_ID,
      Date.now(),
      signedPublic,
      this.signedPrekey,
      this.signedPrekeySignature,
    );
    const key = (address: object) => String(address);
    this.identityStore = {
      getIdentityKey: async () => this.identityKey,
      getIdentityKeyPair: async () => ({
        publicKey: this.identityKey.getPublicKey(),
        privateKey: this.identityKey,
      }),
      getLocalRegistrationId: async () => this.registrationId,
      saveIdentity: async () => 0,
      isTrustedIdentity: async () => true,
      getIdentity: async () => null,
    };
    this.sessionStore = {
      saveSession: async (address: object, record: Record) => {
        this.sessions.set(key(address), record.serialize());
      },
      getSession: async (address: object) => {
        const bytes = this.sessions.get(key(address));
        return bytes === undefined
          ? null
          : lib.SessionRecord.deserialize(bytes);
      },
      getExistingSessions: async (addresses: object[]) =>
        addresses.map((address) => {
          const bytes = this.sessions.get(key(address));
          if (bytes === undefined) throw new Error('no session');
          return lib.SessionRecord.deserialize(bytes);
        }),
    };
    this.prekeyStore = {
      savePreKey: async (id: number, record: Record) => {
        this.prekeys.set(id, record);
      },
      getPreKey: async (id: number) => this.prekeys.get(id),
      removePreKey: async (id: number) => {
        this.prekeys.delete(id);
      },
    };
    this.signedPrekeyStore = {
      saveSignedPreKey: async () => undefined,
      getSignedPreKey: async () => this.signedPrekeyRecord,
    };
    this.kyberPrekeyStore = {
      saveKyberPreKey: async (id: number, record: Record) => {
        this.kyberPrekeys.set(id, record);
      },
      getKyberPreKey: async (id: number) => this.kyberPrekeys.get(id),
      markKyberPreKeyUsed: async (id: number) => {
        if (id !== NATIVE_KYBER_LAST_RESORT_ID) this.kyberPrekeys.delete(id);
      },
    };
  }

  /** Adds one-time prekeys and one-time Kyber prekeys `first` to `first + count - 1`. */
  addPrekeys(first: number, count: number): void {
    for (let id = first; id < first + count; id++) {
      const prekey = this.lib.PrivateKey.generate();
      this.prekeys.set(
        id,
        this.lib.PreKeyRecord.new(id, prekey.getPublicKey(), prekey),
      );
      const kyber = this.lib.KEMKeyPair.generate();
      const signature = this.identityKey.sign(kyber.getPublicKey().serialize());
      this.kyberPrekeys.set(
        id,
        this.lib.KyberPreKeyRecord.new(id, Date.now(), kyber, signature),
      );
    }
  }

  /** The bundle the server would hand out for one-time prekey `id`. */
  bundle(id: number): unknown {
    const prekey = this.prekeys.get(id) as unknown as {
      publicKey(): PublicKey;
    };
    const kyber = this.kyberPrekeys.get(id) as unknown as {
      publicKey(): NativeHandle;
      signature(): Uint8Array<ArrayBuffer>;
    };
    return this.lib.PreKeyBundle.new(
      this.registrationId,
      1,
      id,
      prekey.publicKey(),
      NATIVE_SIGNED_PREKEY_ID,
      this.signedPrekey.getPublicKey(),
      this.signedPrekeySignature,
      this.identityKey.getPublicKey(),
      id,
      kyber.publicKey(),
      kyber.signature(),
    );
  }
}

function libsignalPeer(requirePeer: RequirePeer): Peer {
  const lib = requirePeer<LibsignalClient>('@signalapp/libsignal-client');

  async function sendNative(
    sender: NativeParty,
    recipient: NativeParty,
    plaintext: Uint8Array<ArrayBuffer>,
  ): Promise<void> {
    const ciphertext = await lib.signalEncrypt(
      plaintext,
      recipient.address,
      sender.address,
      sender.sessionStore,
      sender.identityStore,
    );
    const bytes = ciphertext.serialize();
    const decrypted =
      ciphertext.type() === lib.CiphertextMessageType.PreKey
        ? await lib.signalDecryptPreKey(
            lib.PreKeySignalMessage.deserialize(bytes),
            sender.address,
            recipient.address,
            recipient.sessionStore,
            recipient.identityStore,
            recipient.prekeyStore,
            recipient.signedPrekeyStore,
            recipient.kyberPrekeyStore,
          )
        : await lib.signalDecrypt(
            lib.SignalMessage.deserialize(bytes),
            sender.address,
            recipient.address,
            recipient.sessionStore,
            recipient.identityStore,
          );
    sameLength(decrypted, plaintext);
  }

  async function setUp(
    alice: NativeParty,
    bob: NativeParty,
    id: number,
  ): Promise<void> {
    alice.sessions.clear();
    bob.sessions.clear();
    await lib.processPreKeyBundle(
      bob.bundle(id),
      bob.address,
      alice.address,
      alice.sessionStore,
      alice.identityStore,
    );
    await sendNative(alice, bob, new Uint8Array(16));
  }

  return {
    label: 'libsignal-client (Rust, native)',
    async createSession() {
      const alice = new NativeParty(lib, 'alice');
      const bob = new NativeParty(lib, 'bob');
      bob.addPrekeys(1, 1);
      await setUp(alice, bob, 1);
      await sendNative(bob, alice, new Uint8Array(16));
      const parties = [alice, bob] as const;
      return {
        send: (from, plaintext) =>
          sendNative(
            parties[from],
            parties[1 - from] as NativeParty,
            plaintext,
          ),
      };
    },
    async prepareSetups(count) {
      const alice = new NativeParty(lib, 'alice');
      const bob = new NativeParty(lib, 'bob');
      bob.addPrekeys(1, count);
      return (index) => setUp(alice, bob, index + 1);
    },
  };
}

// Proteus (Wire's Axolotl implementation over libsodium).

interface ProteusIdentity {
  readonly public_key: unknown;
}
interface ProteusEnvelope {
  serialise(): ArrayBuffer;
}
interface ProteusSession {
  decrypt(store: object, envelope: ProteusEnvelope): Promise<Uint8Array>;
  serialise(): ArrayBuffer;
}
interface ProteusModule {
  init(): Promise<void>;
  keys: {
    IdentityKeyPair: new () => ProteusIdentity;
    PreKey: new (id: number) => unknown;
    PreKeyBundle: new (identityKey: unknown, prekey: unknown) => unknown;
  };
  message: { Envelope: { deserialise(buf: ArrayBuffer): ProteusEnvelope } };
  session: {
    Session: {
      init_from_prekey(
        identity: ProteusIdentity,
        bundle: unknown,
      ): ProteusSession;
      init_from_message(
        identity: ProteusIdentity,
        store: object,
        envelope: ProteusEnvelope,
      ): Promise<[ProteusSession, Uint8Array]>;
      encrypt(session: ProteusSession, plaintext: Uint8Array): ProteusEnvelope;
      deserialise(identity: ProteusIdentity, buf: ArrayBuffer): ProteusSession;
    };
  };
}

function proteusPeer(requirePeer: RequirePeer): Peer {
  const proteus = requirePeer<ProteusModule>('@wireapp/proteus');
  const { Session } = proteus.session;
  let ready: Promise<void> | undefined;

  interface ProteusParty {
    identity: ProteusIdentity;
    prekeys: Map<number, unknown>;
    store: object;
    session: ArrayBuffer | undefined;
  }

  function party(): ProteusParty {
    const prekeys = new Map<number, unknown>();
    return {
      identity: new proteus.keys.IdentityKeyPair(),
      prekeys,
      store: {
        load_prekey: async (id: number) => prekeys.get(id),
        delete_prekey: async (id: number) => {
          prekeys.delete(id);
          return id;
        },
      },
      session: undefined,
    };
  }

  async function send(
    sender: ProteusParty,
    recipient: ProteusParty,
    plaintext: Uint8Array<ArrayBuffer>,
  ): Promise<void> {
    if (sender.session === undefined) throw new Error('no Proteus session');
    const session = Session.deserialise(sender.identity, sender.session);
    const wire = Session.encrypt(session, plaintext).serialise();
    sender.session = session.serialise();
    const envelope = proteus.message.Envelope.deserialise(wire);
    let decrypted: Uint8Array;
    if (recipient.session === undefined) {
      const [created, output] = await Session.init_from_message(
        recipient.identity,
        recipient.store,
        envelope,
      );
      recipient.session = created.serialise();
      decrypted = output;
    } else {
      const session = Session.deserialise(
        recipient.identity,
        recipient.session,
      );
      decrypted = await session.decrypt(recipient.store, envelope);
      recipient.session = session.serialise();
    }
    sameLength(decrypted, plaintext);
  }

  async function setUp(
    alice: ProteusParty,
    bob: ProteusParty,
    id: number,
  ): Promise<void> {
    const prekey = bob.prekeys.get(id);
    const bundle = new proteus.keys.PreKeyBundle(
      bob.identity.public_key,
      prekey,
    );
    alice.session = Session.init_from_prekey(
      alice.identity,
      bundle,
    ).serialise();
    bob.session = undefined;
    await send(alice, bob, new Uint8Array(16));
  }

  function addPrekeys(bob: ProteusParty, first: number, count: number): void {
    for (let id = first; id < first + count; id++) {
      bob.prekeys.set(id, new proteus.keys.PreKey(id));
    }
  }

  return {
    label: 'Proteus (Wire, libsodium)',
    async createSession() {
      ready ??= proteus.init();
      await ready;
      const alice = party();
      const bob = party();
      addPrekeys(bob, 1, 1);
      await setUp(alice, bob, 1);
      await send(bob, alice, new Uint8Array(16));
      const parties = [alice, bob] as const;
      return {
        send: (from, plaintext) =>
          send(parties[from], parties[1 - from] as ProteusParty, plaintext),
      };
    },
    async prepareSetups(count) {
      ready ??= proteus.init();
      await ready;
      const alice = party();
      const bob = party();
      addPrekeys(bob, 1, count);
      return (index) => setUp(alice, bob, index + 1);
    },
  };
}

// libsignal-protocol-typescript (TypeScript over WebCrypto and curve25519 in JS/WASM).

interface TsKeyPair {
  pubKey: ArrayBuffer;
  privKey: ArrayBuffer;
}
interface TsSignedPrekey {
  keyId: number;
  keyPair: TsKeyPair;
  signature: ArrayBuffer;
}
interface TsMessage {
  type: number;
  body?: string;
}
interface TsCipher {
  encrypt(buffer: ArrayBuffer): Promise<TsMessage>;
  decryptPreKeyWhisperMessage(
    body: string,
    encoding: string,
  ): Promise<ArrayBuffer>;
  decryptWhisperMessage(body: string, encoding: string): Promise<ArrayBuffer>;
}
interface TsModule {
  KeyHelper: {
    generateIdentityKeyPair(): Promise<TsKeyPair>;
    generateRegistrationId(): number;
    generateSignedPreKey(
      identity: TsKeyPair,
      id: number,
    ): Promise<TsSignedPrekey>;
    generatePreKey(id: number): Promise<{ keyId: number; keyPair: TsKeyPair }>;
  };
  SignalProtocolAddress: new (name: string, deviceId: number) => object;
  SessionBuilder: new (
    storage: object,
    address: object,
  ) => { processPreKey(device: object): Promise<unknown> };
  SessionCipher: new (storage: object, address: object) => TsCipher;
}

function typescriptPeer(requirePeer: RequirePeer): Peer {
  const lib = requirePeer<TsModule>(
    '@privacyresearch/libsignal-protocol-typescript',
  );

  interface TsParty {
    name: string;
    address: object;
    identity: TsKeyPair;
    registrationId: number;
    signedPrekey: TsSignedPrekey;
    prekeys: Map<number, TsKeyPair>;
    sessions: Map<string, string>;
    storage: object;
  }

  async function party(name: string): Promise<TsParty> {
    const identity = await lib.KeyHelper.generateIdentityKeyPair();
    const signedPrekey = await lib.KeyHelper.generateSignedPreKey(identity, 1);
    const prekeys = new Map<number, TsKeyPair>();
    const sessions = new Map<string, string>();
    const registrationId = lib.KeyHelper.generateRegistrationId();
    return {
      name,
      address: new lib.SignalProtocolAddress(name, 1),
      identity,
      registrationId,
      signedPrekey,
      prekeys,
      sessions,
      storage: {
        getIdentityKeyPair: async () => identity,
        getLocalRegistrationId: async () => registrationId,
        isTrustedIdentity: async () => true,
        saveIdentity: async () => false,
        loadPreKey: async (id: number | string) => prekeys.get(Number(id)),
        storePreKey: async (id: number | string, pair: TsKeyPair) => {
          prekeys.set(Number(id), pair);
        },
        removePreKey: async (id: number | string) => {
          prekeys.delete(Number(id));
        },
        storeSession: async (address: string, record: string) => {
          sessions.set(address, record);
        },
        loadSession: async (address: string) => sessions.get(address),
        loadSignedPreKey: async () => signedPrekey.keyPair,
        storeSignedPreKey: async () => undefined,
        removeSignedPreKey: async () => undefined,
      },
    };
  }

  async function addPrekeys(bob: TsParty, first: number, count: number) {
    for (let id = first; id < first + count; id++) {
      bob.prekeys.set(id, (await lib.KeyHelper.generatePreKey(id)).keyPair);
    }
  }

  async function send(
    sender: TsParty,
    recipient: TsParty,
    plaintext: Uint8Array<ArrayBuffer>,
  ): Promise<void> {
    const cipher = new lib.SessionCipher(sender.storage, recipient.address);
    const message = await cipher.encrypt(plaintext.buffer);
    if (message.body === undefined) throw new Error('empty message');
    const decipher = new lib.SessionCipher(recipient.storage, sender.address);
    const decrypted =
      message.type === 3
        ? await decipher.decryptPreKeyWhisperMessage(message.body, 'binary')
        : await decipher.decryptWhisperMessage(message.body, 'binary');
    sameLength(new Uint8Array(decrypted), plaintext);
  }

  async function setUp(alice: TsParty, bob: TsParty, id: number) {
    alice.sessions.clear();
    bob.sessions.clear();
    const prekey = bob.prekeys.get(id);
    if (prekey === undefined) throw new Error(`no prekey ${id}`);
    await new lib.SessionBuilder(alice.storage, bob.address).processPreKey({
      identityKey: bob.identity.pubKey,
      registrationId: bob.registrationId,
      signedPreKey: {
        keyId: bob.signedPrekey.keyId,
        publicKey: bob.signedPrekey.keyPair.pubKey,
        signature: bob.signedPrekey.signature,
      },
      preKey: { keyId: id, publicKey: prekey.pubKey },
    });
    await send(alice, bob, new Uint8Array(16));
  }

  return {
    label: 'libsignal-protocol-typescript',
    async createSession() {
      const alice = await party('alice');
      const bob = await party('bob');
      await addPrekeys(bob, 1, 1);
      await setUp(alice, bob, 1);
      await send(bob, alice, new Uint8Array(16));
      const parties = [alice, bob] as const;
      return {
        send: (from, plaintext) =>
          send(parties[from], parties[1 - from] as TsParty, plaintext),
      };
    },
    async prepareSetups(count) {
      const alice = await party('alice');
      const bob = await party('bob');
      await addPrekeys(bob, 1, count);
      return (index) => setUp(alice, bob, index + 1);
    },
  };
}

/** Loads one peer library through `requirePeer`. */
export function loadPeer(name: PeerName, requirePeer: RequirePeer): Peer {
  switch (name) {
    case '@signalapp/libsignal-client':
      return libsignalPeer(requirePeer);
    case '@wireapp/proteus':
      return proteusPeer(requirePeer);
    case '@privacyresearch/libsignal-protocol-typescript':
      return typescriptPeer(requirePeer);
  }
}

/** A `requirePeer` for scripts run outside the bench runner. */
export function peerRequire(peersDir: string): RequirePeer {
  const require = createRequire(join(peersDir, 'package.json'));
  return <T>(name: string) => require(name) as T;
}
