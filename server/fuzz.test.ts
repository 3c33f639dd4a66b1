/**
 * Fuzzes a real relay on 127.0.0.1 with a real SQLite file: random and
 * mutated Socket.IO events, raw Socket.IO packets and HTTP requests. The
 * relay must reply to each one with a `{ code, message }` rejection, never
 * with `internal`, stay up, keep the store unchanged, and then still
 * register, sign in and deliver.
 *
 * Replay a failure with the seed it prints: `FUZZ_SEED=<seed> npx vitest
 * run server/fuzz.test.ts`.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, expect, it, onTestFailed } from 'vitest';
import { ErrorCode, type Reply } from '../shared/wire/errors';
import {
  MAX_ENVELOPE_BODY_BYTES,
  MAX_HTTP_BODY_BYTES,
} from '../shared/wire/limits';
import { base64UrlLength } from '../shared/wire/schemas';
import type { Envelope } from '../shared/wire/schemas';
import {
  type ClientSocket,
  type TestDevice,
  call,
  connect,
  connectSignedIn,
  createTestDevice,
  makeOneTimePqPrekeys,
  makeOneTimePrekeys,
  outgoing,
  randomId,
  register,
  unwrap,
  waitFor,
} from './test-support/device';
import { createLogger } from './logger';
import {
  type TestRelay,
  removeDataDir,
  startTestRelay,
} from './test-support/relay';

const SEED = Number(
  process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 32),
);
const SOCKET_EVENTS = 92_000;
const HTTP_REQUESTS = 6_000;
const RAW_PACKETS = 2_000;
/** Events in flight per batch; each batch is spread over the sockets. */
const BATCH_SIZE = 1_000;
const HTTP_CONCURRENCY = 32;
const ACK_TIMEOUT_MS = 20_000;

const UNLIMITED = { perSecond: 1e9, burst: 1e9 };
const EVENT_NAMES = [
  'signin:start',
  'signin:finish',
  'keys:bundle',
  'keys:upload',
  'keys:access-log',
  'envelope:send',
  'envelope:ack',
];
/** Names a handler table might look up by mistake. */
const HOSTILE_NAMES = [
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  'valueOf',
  '__defineGetter__',
  'envelope',
  'keys:low',
  'error',
];
const FIELD_NAMES = [
  'v',
  'kind',
  'id',
  'to',
  'from',
  'body',
  'userId',
  'deviceId',
  'nonce',
  'signature',
  'ids',
  'keyId',
  'publicKey',
  'certificate',
  'signedPrekey',
  'oneTimePrekeys',
  'oneTimePqPrekeys',
  'lastResortPqPrekey',
  'seq',
  'serverTs',
];
const ODD_STRINGS = [
  '',
  ' ',
  '\u0000',
  '\u202e\u2066rtl',
  '\u200b\u200d\ufeff',
  '\ud800',
  '\udfff\ud800',
  '😀👩‍👩‍👧',
  'Ａｌｉｃｅ',
  'İı',
  '../../etc/passwd',
  '%00%2e%2e',
  '${constructor}',
  '<script>alert(1)</script>',
  "' OR 1=1 --",
  'NaN',
  '-0',
  '1e309',
];
/** Base64url lengths at and around the envelope body cap. */
const BODY_LENGTH = base64UrlLength(MAX_ENVELOPE_BODY_BYTES);
const STRING_LENGTHS = [0, 1, 21, 22, 23, 43, 86, 87, 1579];
const BASE64URL = [
  ...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_',
];

/**
 * Mulberry32: a small seeded generator, so that a seed replays a run. It
 * only picks test inputs and is no source of keys.
 */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Fuzzer {
  constructor(readonly next: () => number) {}

  int(max: number): number {
    return Math.floor(this.next() * max);
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    const item = items[this.int(items.length)];
    if (item === undefined) throw new Error('pick from an empty list');
    return item;
  }

  number(): number {
    return this.pick([
      0,
      -0,
      1,
      -1,
      2 ** 31,
      2 ** 32,
      2 ** 53,
      -(2 ** 53),
      Number.MAX_VALUE,
      0.5,
      1e-300,
      this.int(1000),
      Number.NaN,
      Number.POSITIVE_INFINITY,
    ]);
  }

  string(): string {
    switch (this.int(5)) {
      case 0:
        return this.pick(ODD_STRINGS);
      case 1: {
        const length = this.chance(0.05)
          ? BODY_LENGTH
          : this.pick(STRING_LENGTHS);
        return 'A'.repeat(Math.max(0, length + this.int(3) - 1));
      }
      case 2: {
        const length = this.int(40);
        let text = '';
        for (let i = 0; i < length; i++) {
          text += String.fromCharCode(this.int(0x10000));
        }
        return text;
      }
      case 3:
        return this.pick([...FIELD_NAMES, ...HOSTILE_NAMES]);
      default:
        return this.base64Url(1 + this.int(44));
    }
  }

  base64Url(length: number): string {
    let text = '';
    for (let i = 0; i < length; i++) text += this.pick(BASE64URL);
    return text;
  }

  bytes(): Uint8Array<ArrayBuffer> {
    const bytes = new Uint8Array(this.int(this.chance(0.05) ? 70_000 : 64));
    for (let i = 0; i < bytes.length; i++) bytes[i] = this.int(256);
    return bytes;
  }

  /**
   * Generates a random value; `depth` bounds the nesting of containers.
   * With `binary` false, no binary values are generated.
   */
  value(depth = 3, binary = true): unknown {
    switch (this.int(depth > 0 ? 9 : 6)) {
      case 0:
        return null;
      case 1:
        return this.chance(0.5);
      case 2:
        return this.number();
      case 3:
      case 4:
        return this.string();
      case 5:
        return binary ? this.bytes() : this.string();
      case 6:
        return Array.from({ length: this.int(5) }, () =>
          this.value(depth - 1, binary),
        );
      case 7:
        return this.nested();
      default:
        return this.object(depth - 1, binary);
    }
  }

  object(depth: number, binary: boolean): Record<string, unknown> {
    const object: Record<string, unknown> = {};
    const keys = this.int(6);
    for (let i = 0; i < keys; i++) {
      const key = this.chance(0.7)
        ? this.pick([...FIELD_NAMES, ...HOSTILE_NAMES])
        : this.string();
      defineOwn(object, key, this.value(depth, binary));
    }
    return object;
  }

  /** Arrays or objects nested hundreds to thousands of levels deep. */
  nested(): unknown {
    const depth = 100 + this.int(1_000);
    let value: unknown = this.chance(0.5) ? 'leaf' : null;
    const asObject = this.chance(0.5);
    for (let i = 0; i < depth; i++) {
      value = asObject ? { [this.pick(FIELD_NAMES)]: value } : [value];
    }
    return value;
  }

  /**
   * Applies 1-3 mutations to a copy of `valid`, the first of which always
   * breaks the schema: a strict object rejects an extra key, and every
   * field has one type, so a value of another type fails too.
   */
  breakValue(valid: unknown): unknown {
    const copy = structuredClone(valid);
    const container = this.container(copy);
    if (!container) return this.value();
    const keys = Object.keys(container);
    // JSON drops named properties of an array, so arrays get a bad element.
    if (!Array.isArray(container) && this.chance(0.5)) {
      const key = this.pick([...HOSTILE_NAMES, ...FIELD_NAMES, 'extra']);
      // An existing key would replace a field instead of adding one.
      if (Object.hasOwn(container, key)) defineOwn(container, `${key}_`, 1);
      // socket.io-client rebuilds a payload with binary parts by assignment,
      // which turns an own `__proto__` key into a prototype and drops it, so
      // the breaking value stays JSON.
      else defineOwn(container, key, this.value(1, false));
    } else {
      const key = this.pick(keys);
      defineOwn(container, key, this.otherType(container[key]));
    }
    for (let i = this.int(3); i > 0; i--) this.mutateString(copy);
    return copy;
  }

  /** Picks a value whose JSON type differs from that of `current`. */
  private otherType(current: unknown): unknown {
    for (;;) {
      const candidate = this.pick<unknown>([
        null,
        true,
        this.number(),
        this.string(),
        [],
        {},
        [current],
      ]);
      if (jsonType(candidate) !== jsonType(current)) return candidate;
    }
  }

  /** Picks an object or array inside `root`, `root` included. */
  container(root: unknown): Record<string, unknown> | undefined {
    const found: Record<string, unknown>[] = [];
    const walk = (value: unknown) => {
      if (typeof value !== 'object' || value === null) return;
      found.push(value as Record<string, unknown>);
      for (const child of Object.values(value)) walk(child);
    };
    walk(root);
    const usable = found.filter(
      (value) => !Array.isArray(value) || value.length > 0,
    );
    return usable.length > 0 ? this.pick(usable) : undefined;
  }

  /** Changes, inserts or deletes one character of a random string field. */
  mutateString(root: unknown): void {
    const container = this.container(root);
    if (!container) return;
    const keys = Object.keys(container).filter(
      (key) => typeof container[key] === 'string',
    );
    if (keys.length === 0) return;
    const key = this.pick(keys);
    const text = container[key] as string;
    const at = this.int(text.length + 1);
    const replacement = this.pick([
      'A',
      'B',
      '-',
      '_',
      '=',
      '+',
      '/',
      '\u00e9',
    ]);
    const edited =
      this.int(3) === 0
        ? text.slice(0, at) + text.slice(at + 1)
        : text.slice(0, at) +
          replacement +
          text.slice(at + (this.chance(0.5) ? 1 : 0));
    defineOwn(container, key, edited);
  }
}

/** Sets an own enumerable property, even for `__proto__`. */
function defineOwn(object: object, key: string, value: unknown): void {
  Object.defineProperty(object, key, {
    value,
    enumerable: true,
    writable: true,
    configurable: true,
  });
}

function jsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

/** Row counts and a SHA-256 of every table's sorted rows. */
function snapshotStore(file: string): Record<string, string> {
  const db = new Database(file, { readonly: true });
  try {
    const tables = db
      .prepare(
        `SELECT name FROM sqlite_master
         WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`,
      )
      .all() as { name: string }[];
    const snapshot: Record<string, string> = {};
    for (const { name } of tables) {
      const rows = db
        .prepare(`SELECT * FROM "${name.replaceAll('"', '""')}"`)
        .all()
        .map((row) => JSON.stringify(row))
        .sort();
      const digest = createHash('sha256');
      for (const row of rows) digest.update(row).update('\n');
      snapshot[name] = `${rows.length} rows, sha256 ${digest.digest('hex')}`;
    }
    return snapshot;
  } finally {
    db.close();
  }
}

interface Tally {
  sent: number;
  replies: Map<string, number>;
  /** Replies that were not a well-formed `Reply`. */
  malformed: string[];
  internal: string[];
}

function count(tally: Tally, key: string): void {
  tally.replies.set(key, (tally.replies.get(key) ?? 0) + 1);
}

const KNOWN_CODES = new Set<string>(Object.values(ErrorCode));

function record(tally: Tally, event: string, reply: unknown): void {
  if (typeof reply !== 'object' || reply === null) {
    tally.malformed.push(`${event}: ${String(reply)}`);
    return;
  }
  const typed = reply as Reply<unknown>;
  if (typed.ok === true) {
    count(tally, 'ok');
    return;
  }
  const error = typed.error as
    { code?: unknown; message?: unknown } | undefined;
  if (
    typeof error?.code !== 'string' ||
    !KNOWN_CODES.has(error.code) ||
    typeof error.message !== 'string'
  ) {
    tally.malformed.push(`${event}: ${JSON.stringify(reply).slice(0, 200)}`);
    return;
  }
  count(tally, error.code);
  if (error.code === ErrorCode.internal) tally.internal.push(event);
}

/** Socket.IO's untyped emit, for payloads the schemas reject. */
interface UntypedClient {
  timeout(ms: number): {
    emitWithAck(event: string, ...args: unknown[]): Promise<unknown>;
  };
  emit(event: string, ...args: unknown[]): void;
  io: { engine: { write(data: string | Uint8Array): void } };
}

let relay: TestRelay;
/** Log lines at warn level and above. */
const warnings: string[] = [];

const REJECTION_EVENTS = [
  'event-rejected',
  'request-rejected',
  'connection-refused',
];

/**
 * Returns the warn and error lines other than the rejection summaries,
 * which a flood of bad input is expected to write.
 */
function unexpectedWarnings(): string[] {
  return warnings.filter((line) => {
    const parsed = JSON.parse(line) as {
      level?: number;
      event?: string;
      code?: string;
    };
    return !(
      parsed.level === 40 &&
      REJECTION_EVENTS.includes(parsed.event ?? '') &&
      parsed.code !== ErrorCode.internal
    );
  });
}
let alice: TestDevice;
let bob: TestDevice;
let mallory: TestDevice;
const databaseFile = () => path.join(relay.dataDir, 'cloak.sqlite');

beforeAll(async () => {
  relay = await startTestRelay({
    logger: createLogger(
      { level: 'warn' },
      { write: (line: string) => void warnings.push(line) },
    ),
    rateLimits: {
      signIn: { device: UNLIMITED, address: UNLIMITED },
      bundle: { device: UNLIMITED, address: UNLIMITED },
      send: { device: UNLIMITED, address: UNLIMITED },
      register: UNLIMITED,
      socketEvents: UNLIMITED,
      addressEvents: UNLIMITED,
    },
    connectionLimits: { perAddress: 10_000, unsignedPerAddress: 10_000 },
  });
  alice = await createTestDevice('fuzz-alice');
  bob = await createTestDevice('fuzz-bob');
  mallory = await createTestDevice('fuzz-mallory');
  for (const device of [alice, bob, mallory]) {
    expect((await register(relay.url, device)).status).toBe(201);
  }
  // Bob stays offline, so these stay queued for the fuzz to attack.
  const sender = await connectSignedIn(relay.url, alice);
  for (let i = 0; i < 5; i++) {
    unwrap(await call(sender, 'envelope:send', outgoing(bob.address)));
  }
  sender.disconnect();
});

afterAll(async () => {
  await relay.close();
  removeDataDir(relay.dataDir);
});

/** Valid messages of each kind, for the mutating generators. */
async function validTemplates() {
  const upload = {
    oneTimePrekeys: await makeOneTimePrekeys(mallory, 2),
    oneTimePqPrekeys: await makeOneTimePqPrekeys(mallory, 1),
  };
  const zed = await createTestDevice('fuzz-zed', {
    oneTimePrekeys: 2,
    oneTimePqPrekeys: 1,
  });
  return {
    envelope: outgoing(bob.address, 'AAEC'.repeat(100)),
    largestEnvelope: outgoing(bob.address, 'A'.repeat(BODY_LENGTH - 2) + 'AA'),
    bundle: { userId: alice.address.userId },
    upload,
    ack: { ids: [randomId(), randomId()] },
    signInStart: alice.address,
    signInFinish: { nonce: 'A'.repeat(43), signature: 'A'.repeat(86) },
    registration: zed.registration,
  };
}

type Templates = Awaited<ReturnType<typeof validTemplates>>;

/** Generates one fuzz event: a name and its arguments, without the ack. */
function makeEvent(fuzz: Fuzzer, templates: Templates): [string, unknown[]] {
  const roll = fuzz.int(20);
  if (roll < 8) {
    const [name, valid] = fuzz.pick<[string, unknown]>([
      ['envelope:send', templates.envelope],
      ['envelope:send', templates.largestEnvelope],
      ['keys:bundle', templates.bundle],
      ['keys:upload', templates.upload],
      ['envelope:ack', templates.ack],
      ['signin:start', templates.signInStart],
      ['signin:finish', templates.signInFinish],
      ['keys:access-log', templates.bundle],
    ]);
    return [name, [fuzz.breakValue(valid)]];
  }
  if (roll < 10) {
    // These may stay valid: an ack from Mallory, who has no queued
    // envelopes, deletes nothing, and sign-in needs her signing key.
    const [name, valid] = fuzz.pick<[string, unknown]>([
      ['envelope:ack', templates.ack],
      ['signin:finish', templates.signInFinish],
      ['signin:start', templates.signInStart],
      ['signin:start', { userId: 'fuzz-nobody', deviceId: 1 }],
    ]);
    const copy = structuredClone(valid);
    for (let i = 1 + fuzz.int(3); i > 0; i--) fuzz.mutateString(copy);
    return [name, [copy]];
  }
  const name =
    roll < 18
      ? fuzz.pick(EVENT_NAMES)
      : fuzz.chance(0.5)
        ? fuzz.pick(HOSTILE_NAMES)
        : fuzz.string().slice(0, 200) || 'x';
  const argCount = fuzz.chance(0.1) ? fuzz.int(4) : 1;
  return [name, Array.from({ length: argCount }, () => fuzz.value())];
}

async function fuzzSocketEvents(
  fuzz: Fuzzer,
  sockets: ClientSocket[],
  templates: Templates,
  tally: Tally,
): Promise<void> {
  for (let start = 0; start < SOCKET_EVENTS; start += BATCH_SIZE) {
    const pending: Promise<void>[] = [];
    for (let i = 0; i < BATCH_SIZE && start + i < SOCKET_EVENTS; i++) {
      const socket = fuzz.pick(sockets) as unknown as UntypedClient;
      const [name, args] = makeEvent(fuzz, templates);
      tally.sent++;
      if (fuzz.chance(0.1)) {
        socket.emit(name, ...args);
        continue;
      }
      pending.push(
        socket
          .timeout(ACK_TIMEOUT_MS)
          .emitWithAck(name, ...args)
          .then(
            (reply) => {
              record(tally, name, reply);
            },
            (error: unknown) => {
              tally.malformed.push(`${name}: ${String(error)}`);
            },
          ),
      );
    }
    await Promise.all(pending);
  }
}

/** Generates a Socket.IO packet as text, usually malformed. */
function rawPacket(fuzz: Fuzzer): string {
  const type = fuzz.pick(['0', '1', '2', '3', '4', '5', '6', '7', '9', '']);
  const namespace = fuzz.chance(0.2)
    ? fuzz.pick(['/', '/admin,', '/\u0000,'])
    : '';
  const id = fuzz.chance(0.3) ? String(fuzz.int(1e6)) : '';
  const data = fuzz.chance(0.5)
    ? JSON.stringify([fuzz.pick(EVENT_NAMES), fuzz.value()])
    : fuzz.string();
  let text = `${type}${namespace}${id}${data}`;
  if (fuzz.chance(0.5)) {
    const at = fuzz.int(text.length + 1);
    text =
      text.slice(0, at) +
      fuzz.pick(['[', '{', '"', '-', '\\']) +
      text.slice(at);
  }
  return text;
}

/**
 * Generates a binary event whose attachment placeholder sits under a
 * `__proto__` key of a valid message, so that a parser that rebuilds the
 * payload by assignment would hide the key from the schema.
 */
function binaryPacket(fuzz: Fuzzer, templates: Templates): string {
  const [name, valid] = fuzz.pick<[string, unknown]>([
    ['keys:bundle', templates.bundle],
    ['envelope:send', templates.envelope],
    ['keys:upload', templates.upload],
  ]);
  const payload = structuredClone(valid);
  const container = fuzz.container(payload);
  if (container) {
    const num = fuzz.pick<unknown>([0, 0, 0, 1, -1, '0', 1e9, '__proto__']);
    defineOwn(container, '__proto__', { _placeholder: true, num });
  }
  const id = fuzz.chance(0.5) ? String(fuzz.int(1e6)) : '';
  return `51-${id}${JSON.stringify([name, payload])}`;
}

/** Writes raw packets; a malformed one makes the relay close the socket. */
async function fuzzRawPackets(
  fuzz: Fuzzer,
  templates: Templates,
  tally: Tally,
): Promise<void> {
  const PER_CONNECTION = 20;
  for (let sent = 0; sent < RAW_PACKETS; sent += PER_CONNECTION) {
    const socket = (await connect(relay.url)) as unknown as UntypedClient &
      ClientSocket;
    for (let i = 0; i < PER_CONNECTION; i++) {
      const roll = fuzz.int(10);
      if (roll < 2) {
        socket.io.engine.write(binaryPacket(fuzz, templates));
        socket.io.engine.write(fuzz.bytes());
      } else {
        socket.io.engine.write(roll < 3 ? fuzz.bytes() : rawPacket(fuzz));
      }
      tally.sent++;
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
    socket.disconnect();
  }
}

/** Percent-encodes every byte, so invalid UTF-8 reaches the router. */
function percentEncoded(bytes: Uint8Array): string {
  return Array.from(
    bytes,
    (byte) => `%${byte.toString(16).padStart(2, '0')}`,
  ).join('');
}

/** Generates an HTTP request: method, path, content type and body. */
function makeRequest(
  fuzz: Fuzzer,
  registration: unknown,
): {
  method: string;
  path: string;
  type: string;
  body?: string | Uint8Array<ArrayBuffer>;
} {
  const method = fuzz.chance(0.85)
    ? 'POST'
    : fuzz.pick(['GET', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']);
  const apiPath = fuzz.chance(0.9)
    ? '/api/accounts'
    : fuzz.pick([
        '/api/health',
        '/api/accounts/..',
        '/api/%2e%2e/%2e%2e/etc/passwd',
        '/api/__proto__',
        '/assets/..%2f..%2fpackage.json',
        '/%00',
        `/api/${percentEncoded(fuzz.bytes().subarray(0, 40))}`,
        '/api/%zz%',
      ]);
  const type = fuzz.chance(0.85)
    ? 'application/json'
    : fuzz.pick([
        'text/plain',
        'application/x-www-form-urlencoded',
        'application/json; charset=utf-16',
        '',
      ]);
  if (method === 'GET' || method === 'OPTIONS')
    return { method, path: apiPath, type };
  switch (fuzz.int(6)) {
    case 0:
    case 1:
      return {
        method,
        path: apiPath,
        type,
        body: JSON.stringify(fuzz.breakValue(registration)),
      };
    case 2:
      return {
        method,
        path: apiPath,
        type,
        body: JSON.stringify(fuzz.value()) ?? 'null',
      };
    case 3: {
      const text = JSON.stringify(registration);
      const at = fuzz.int(text.length);
      return { method, path: apiPath, type, body: text.slice(0, at) };
    }
    case 4: {
      if (fuzz.chance(0.02)) {
        // Just under and just over the body limit.
        const size = MAX_HTTP_BODY_BYTES + fuzz.int(20) - 10 - 12;
        return {
          method,
          path: apiPath,
          type,
          body: `{"pad":"${'x'.repeat(size)}"}`,
        };
      }
      const depth = 500 + fuzz.int(10_000);
      return {
        method,
        path: apiPath,
        type,
        body: '['.repeat(depth) + ']'.repeat(depth),
      };
    }
    default:
      return { method, path: apiPath, type, body: fuzz.bytes() };
  }
}

/**
 * Sends one fuzzed request. The relay replies to an over-limit body with 413
 * and closes the connection while the client may still be uploading, so a
 * reset there is expected and returns undefined. Any other network error is
 * retried once, because the pool may hand out a connection the relay closed.
 */
async function sendRequest(
  request: ReturnType<typeof makeRequest>,
  headers: Record<string, string>,
): Promise<Response | undefined> {
  const send = () =>
    fetch(`${relay.url}${request.path}`, {
      method: request.method,
      headers,
      ...(request.body === undefined ? {} : { body: request.body }),
    });
  try {
    return await send();
  } catch (error) {
    const size =
      typeof request.body === 'string'
        ? Buffer.byteLength(request.body)
        : (request.body?.byteLength ?? 0);
    if (size > MAX_HTTP_BODY_BYTES) return undefined;
    return await send().catch((retryError: unknown) => {
      throw new Error(`${request.method} ${request.path} failed twice`, {
        cause: [error, retryError],
      });
    });
  }
}

async function fuzzHttp(
  fuzz: Fuzzer,
  registration: unknown,
  tally: Tally,
): Promise<void> {
  let issued = 0;
  const worker = async () => {
    while (issued < HTTP_REQUESTS) {
      issued++;
      tally.sent++;
      const request = makeRequest(fuzz, registration);
      const headers: Record<string, string> = {};
      if (request.type) headers['content-type'] = request.type;
      const response = await sendRequest(request, headers);
      if (!response) {
        count(tally, 'http reset after an over-limit body');
        continue;
      }
      const text = await response.text();
      count(tally, `http ${response.status}`);
      if (response.status >= 500) {
        tally.internal.push(`${request.method} ${request.path}: ${text}`);
      }
      if (text.includes('devDependencies')) {
        tally.malformed.push(`${request.path} served a project file`);
      }
      const isJson = response.headers.get('content-type')?.includes('json');
      if (request.path.startsWith('/api') && response.status >= 400) {
        const body = isJson
          ? (JSON.parse(text) as Record<string, unknown>)
          : {};
        if (typeof body.code !== 'string' || typeof body.message !== 'string') {
          tally.malformed.push(
            `${request.method} ${request.path}: ${text.slice(0, 200)}`,
          );
        }
      }
    }
  };
  await Promise.all(Array.from({ length: HTTP_CONCURRENCY }, worker));
}

it('survives hostile events and requests', { timeout: 120_000 }, async () => {
  onTestFailed(() => {
    console.error(`fuzz seed ${SEED}: replay with FUZZ_SEED=${SEED}`);
  });
  // One stream per generator, so that concurrency cannot reorder a replay.
  const eventFuzz = new Fuzzer(mulberry32(SEED));
  const httpFuzz = new Fuzzer(mulberry32(SEED ^ 0x5bd1e995));
  const rawFuzz = new Fuzzer(mulberry32(SEED ^ 0x27d4eb2f));
  const templates = await validTemplates();
  const signedIn = await Promise.all(
    Array.from({ length: 3 }, () => connectSignedIn(relay.url, mallory)),
  );
  const unsigned = await Promise.all(
    Array.from({ length: 2 }, () => connect(relay.url)),
  );
  const sockets = [...signedIn, ...unsigned];
  // Sign-in records its time; let that settle before the snapshot.
  await new Promise((resolve) => setTimeout(resolve, 100));
  const before = snapshotStore(databaseFile());

  const tally: Tally = {
    sent: 0,
    replies: new Map(),
    malformed: [],
    internal: [],
  };
  const started = Date.now();
  await Promise.all([
    fuzzSocketEvents(eventFuzz, sockets, templates, tally),
    fuzzHttp(httpFuzz, templates.registration, tally),
  ]);
  await fuzzRawPackets(rawFuzz, templates, tally);
  const elapsed = Date.now() - started;
  console.info(
    `fuzz seed ${SEED}: ${tally.sent} inputs in ${elapsed} ms`,
    Object.fromEntries(tally.replies),
  );
  for (const socket of sockets) socket.disconnect();

  expect(tally.sent, `seed ${SEED}`).toBeGreaterThanOrEqual(100_000);
  expect(tally.internal, `seed ${SEED}`).toEqual([]);
  expect(tally.malformed, `seed ${SEED}`).toEqual([]);
  expect(unexpectedWarnings(), `seed ${SEED}`).toEqual([]);
  expect(snapshotStore(databaseFile()), `seed ${SEED}`).toEqual(before);

  // The relay still serves a well-formed registration, sign-in and send.
  const health = await fetch(`${relay.url}/api/health`);
  expect(await health.json()).toEqual({ status: 'ok' });
  const carol = await createTestDevice('fuzz-carol');
  const dave = await createTestDevice('fuzz-dave');
  expect((await register(relay.url, carol)).status).toBe(201);
  expect((await register(relay.url, dave)).status).toBe(201);
  const inbox: Envelope[] = [];
  const carolSocket = await connectSignedIn(relay.url, carol);
  const daveSocket = await connectSignedIn(relay.url, dave, inbox);
  const envelope = outgoing(dave.address, 'c3RpbGwgdXA');
  unwrap(await call(carolSocket, 'envelope:send', envelope));
  await waitFor(() => inbox.length === 1);
  expect(inbox[0]).toMatchObject({ id: envelope.id, body: envelope.body });
  const acked = await call(daveSocket, 'envelope:ack', { ids: [envelope.id] });
  expect(unwrap(acked)).toEqual({ deleted: 1 });
  carolSocket.disconnect();
  daveSocket.disconnect();
});

it('rejects a numeric event name', async () => {
  const socket = await connect(relay.url);
  try {
    // Socket.IO packets may name an event with a number, not only a string.
    const untyped = socket as unknown as UntypedClient;
    const reply = await untyped
      .timeout(5000)
      .emitWithAck(42 as unknown as string, {});
    expect(reply).toEqual({
      ok: false,
      error: {
        code: 'invalid-request',
        message: 'Invalid request: unknown event "42".',
      },
    });
    expect(unexpectedWarnings()).toEqual([]);
  } finally {
    socket.disconnect();
  }
});
