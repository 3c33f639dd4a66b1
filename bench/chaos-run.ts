/**
 * The chaos run. N simulated clients exchange M text messages between random
 * pairs through a relay in a child process. Each client runs the real
 * client engine and storage through `server/test-support/node-client.ts`.
 * Meanwhile clients disconnect and reconnect at random, and the relay is
 * killed with SIGKILL and restarted on the same port and database.
 * Afterwards the run reads every recipient's stored history and counts
 * lost, duplicated and reordered messages.
 *
 * Definitions, per message:
 * - sent: `sendText` stored it in the sender's outbox;
 * - confirmed: the relay acknowledged it, so the sender shows it as `sent`
 *   or `delivered`;
 * - delivered: it is in the recipient's stored history;
 * - lost: confirmed but not delivered when the run settled;
 * - duplicated: in the recipient's history more than once;
 * - out of order: stored after a later message of the same sender.
 * Latency is from the `sendText` call to the recipient's commit.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import {
  type NodeClient,
  createNodeClient,
} from '../server/test-support/node-client';

export interface ChaosOptions {
  readonly clients: number;
  readonly messages: number;
  readonly seed: number;
  /** Relay SIGKILLs, spread evenly over the sending phase. */
  readonly kills: number;
  /** Client disconnects, spread evenly over the sending phase. */
  readonly disconnects: number;
  /** Time the relay stays down after each kill, in ms. */
  readonly relayDownMs: number;
  /** Maximum `sendText` calls waiting at once. */
  readonly sendConcurrency: number;
  /** Maximum wait for deliveries after the last send, in ms. */
  readonly settleTimeoutMs: number;
  /**
   * Whether each pair exchanges a first message before the chaos starts, so
   * that both sides use one session (see `startSession`). Without it both
   * sides may start a session at once, which exercises thread order across
   * two sessions.
   */
  readonly handshake: boolean;
  /** Progress lines; silent when absent. */
  readonly log?: (line: string) => void;
}

export const DEFAULT_CHAOS_OPTIONS: ChaosOptions = {
  clients: 6,
  messages: 300,
  seed: 1,
  kills: 1,
  disconnects: 12,
  relayDownMs: 1_000,
  sendConcurrency: 32,
  settleTimeoutMs: 60_000,
  handshake: true,
};

export interface ChaosReport {
  readonly clients: number;
  readonly messages: number;
  readonly kills: number;
  readonly disconnects: number;
  readonly sent: number;
  /** `sendText` rejected the message, so it never reached the outbox. */
  readonly failed: number;
  readonly confirmed: number;
  readonly delivered: number;
  readonly lost: number;
  /** Sent but never confirmed by the relay before the run ended. */
  readonly unconfirmed: number;
  readonly duplicated: number;
  readonly outOfOrder: number;
  readonly p50LatencyMs: number;
  readonly p99LatencyMs: number;
  readonly setupMs: number;
  readonly sendMs: number;
  readonly settleMs: number;
  /**
   * True when every sent message was delivered and every outbox emptied
   * before the settle timeout.
   */
  readonly settled: boolean;
}

interface PlannedMessage {
  readonly from: number;
  readonly to: number;
  readonly text: string;
  sentAt?: number;
  deliveredAt?: number;
  failed?: boolean;
}

/** Concurrent account creations and session set-ups. */
const SETUP_CONCURRENCY = 8;
const RELAY_START_TIMEOUT_MS = 30_000;
/** Maximum wait for a responder to store the first message of a pair. */
const SETUP_TIMEOUT_MS = 30_000;
const POLL_MS = 50;
/** Messages between two progress lines. */
const PROGRESS_EVERY = 5_000;

/** mulberry32: a small seeded generator, so that a seed replays a run. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const sleep = (ms: number) =>
  new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Returns a free TCP port on 127.0.0.1, which the relay then binds. */
async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  if (typeof address !== 'object' || address === null) {
    throw new Error('no port assigned');
  }
  return address.port;
}

/** A relay child process that can be killed and started again. */
class RelayProcess {
  private child: ChildProcess | undefined;

  constructor(
    private readonly dataDir: string,
    private readonly port: number,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', path.join(import.meta.dirname, 'chaos-relay.ts')],
      {
        env: { ...process.env, DATA_DIR: this.dataDir, PORT: `${this.port}` },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    this.child = child;
    // A run that crashes must not leave the relay running.
    const killOnExit = () => child.kill('SIGKILL');
    process.once('exit', killOnExit);
    child.once('exit', () => process.off('exit', killOnExit));
    if (!child.stdout) throw new Error('relay child has no stdout');
    const lines = createInterface({ input: child.stdout });
    const timeout = AbortSignal.timeout(RELAY_START_TIMEOUT_MS);
    try {
      await once(lines, 'line', { signal: timeout });
    } catch (error) {
      child.kill('SIGKILL');
      throw new Error(
        `relay did not start on port ${this.port} within ` +
          `${RELAY_START_TIMEOUT_MS} ms`,
        { cause: error },
      );
    } finally {
      lines.close();
    }
  }

  /** Kills the relay with SIGKILL and waits for it to exit. */
  async kill(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) {
      return;
    }
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
  }
}

/** Runs `task` over `items` with at most `limit` at once. */
async function forEachLimited<T>(
  items: readonly T[],
  limit: number,
  task: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await task(item);
    }
  };
  await Promise.all(Array.from({ length: limit }, worker));
}

function percentile(sorted: readonly number[], fraction: number): number {
  if (sorted.length === 0) return 0;
  const index = Math.min(
    sorted.length - 1,
    Math.ceil(fraction * sorted.length) - 1,
  );
  return sorted[Math.max(0, index)] ?? 0;
}

const TEXT_PREFIX = 'chaos ';

function messageIndex(text: string): number | undefined {
  if (!text.startsWith(TEXT_PREFIX)) return undefined;
  const index = Number(text.slice(TEXT_PREFIX.length));
  return Number.isInteger(index) ? index : undefined;
}

/** Records the time of each recipient's first commit of a planned message. */
function observeDeliveries(client: NodeClient, plan: PlannedMessage[]): void {
  const store = client.store;
  const commitReceived = store.commitReceived.bind(store);
  store.commitReceived = async (commit) => {
    const result = await commitReceived(commit);
    const index = commit.text ? messageIndex(commit.text.text) : undefined;
    const message = index === undefined ? undefined : plan[index];
    if (message && message.deliveredAt === undefined) {
      message.deliveredAt = Date.now();
    }
    return result;
  };
}

/** Creates the message plan: random distinct sender and recipient pairs. */
function planMessages(options: ChaosOptions, random: () => number) {
  const plan: PlannedMessage[] = [];
  for (let index = 0; index < options.messages; index++) {
    const from = Math.floor(random() * options.clients);
    const offset = 1 + Math.floor(random() * (options.clients - 1));
    const to = (from + offset) % options.clients;
    plan.push({ from, to, text: `${TEXT_PREFIX}${index}` });
  }
  return plan;
}

/** Returns the unordered pairs in the plan, lower index first. */
function pairsOf(plan: readonly PlannedMessage[]): [number, number][] {
  const seen = new Set<string>();
  const pairs: [number, number][] = [];
  for (const { from, to } of plan) {
    const pair: [number, number] = from < to ? [from, to] : [to, from];
    const key = pair.join('/');
    if (seen.has(key)) continue;
    seen.add(key);
    pairs.push(pair);
  }
  return pairs;
}

async function waitUntil(
  condition: () => boolean,
  timeoutMs: number,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) return false;
    await sleep(POLL_MS);
  }
  return true;
}

/**
 * Waits until no client has an envelope left in its outbox, that is until
 * the relay acknowledged every message and receipt.
 */
async function outboxesEmpty(
  clients: readonly NodeClient[],
  timeoutMs: number,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const counts = await Promise.all(
      clients.map(
        async (client) => (await client.store.pendingOutbox()).length,
      ),
    );
    if (counts.every((count) => count === 0)) return true;
    if (Date.now() > deadline) return false;
    await sleep(POLL_MS * 4);
  }
}

async function waitUntilAsync(
  condition: () => Promise<boolean>,
  timeoutMs: number,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) return false;
    await sleep(POLL_MS);
  }
  return true;
}

function clientAt(clients: readonly NodeClient[], index: number): NodeClient {
  const client = clients[index];
  if (!client) throw new Error(`no client ${index}`);
  return client;
}

/**
 * Starts a session from `initiator` to `responder`. With `handshake`, the
 * initiator also sends a first message and the call returns once the
 * responder has stored it, so both sides then share that one session.
 * Without it, the responder starts a second session of its own when it
 * sends first, as two people who open a chat at the same time do.
 */
async function startSession(
  initiator: NodeClient,
  responder: NodeClient,
  handshake: boolean,
): Promise<void> {
  await initiator.engine.startChat(responder.userId);
  if (!handshake) return;
  await initiator.engine.sendText(responder.userId, 'hello');
  const stored = await waitUntilAsync(
    () => responder.store.hasConversation(initiator.userId),
    SETUP_TIMEOUT_MS,
  );
  if (!stored) {
    throw new Error(
      `${responder.userId} did not receive the first message of ` +
        `${initiator.userId} within ${SETUP_TIMEOUT_MS} ms`,
    );
  }
}

/**
 * Disconnects a client for `downMs` and connects it again. Its engine keeps
 * running, so sends in the meantime wait in its outbox.
 */
async function bounceClient(client: NodeClient, downMs: number) {
  client.connection.stop();
  await sleep(downMs);
  client.connection.start();
}

/** Reads every recipient's history and counts the message outcomes. */
async function countOutcomes(
  clients: readonly NodeClient[],
  plan: readonly PlannedMessage[],
) {
  const storedCount = new Map<number, number>();
  let outOfOrder = 0;
  for (const [index, client] of clients.entries()) {
    for (const [peer, peerClient] of clients.entries()) {
      if (peer === index) continue;
      const history = await client.store.listMessages(peerClient.userId);
      let last = -1;
      for (const message of history) {
        if (message.direction !== 'in') continue;
        const planned = messageIndex(message.text);
        if (planned === undefined) continue;
        storedCount.set(planned, (storedCount.get(planned) ?? 0) + 1);
        if (planned < last) outOfOrder++;
        last = Math.max(last, planned);
      }
    }
  }

  const confirmedIds = new Set<number>();
  for (const [index, client] of clients.entries()) {
    for (const [peer, peerClient] of clients.entries()) {
      if (peer === index) continue;
      for (const message of await client.store.listMessages(
        peerClient.userId,
      )) {
        const planned = messageIndex(message.text);
        if (message.direction !== 'out' || planned === undefined) continue;
        if (message.state === 'sent' || message.state === 'delivered') {
          confirmedIds.add(planned);
        }
      }
    }
  }

  let sent = 0;
  let failed = 0;
  let delivered = 0;
  let lost = 0;
  let unconfirmed = 0;
  let duplicated = 0;
  const latencies: number[] = [];
  for (const [index, message] of plan.entries()) {
    if (message.failed) {
      failed++;
      continue;
    }
    if (message.sentAt === undefined) continue;
    sent++;
    const count = storedCount.get(index) ?? 0;
    const confirmed = confirmedIds.has(index);
    if (count > 0) delivered++;
    if (count > 1) duplicated += count - 1;
    if (confirmed && count === 0) lost++;
    if (!confirmed) unconfirmed++;
    if (message.deliveredAt !== undefined) {
      latencies.push(message.deliveredAt - message.sentAt);
    }
  }
  latencies.sort((a, b) => a - b);
  return {
    sent,
    failed,
    confirmed: confirmedIds.size,
    delivered,
    lost,
    unconfirmed,
    duplicated,
    outOfOrder,
    p50LatencyMs: percentile(latencies, 0.5),
    p99LatencyMs: percentile(latencies, 0.99),
  };
}

export async function runChaos(
  overrides: Partial<ChaosOptions> = {},
): Promise<ChaosReport> {
  const options = { ...DEFAULT_CHAOS_OPTIONS, ...overrides };
  if (options.clients < 2) throw new Error('at least 2 clients are needed');
  const log = options.log ?? (() => undefined);
  const random = seededRandom(options.seed);
  const dataDir = mkdtempSync(path.join(tmpdir(), 'cloak-chaos-'));
  const relay = new RelayProcess(dataDir, await freePort());
  const clients: NodeClient[] = [];
  try {
    await relay.start();
    const setupStart = Date.now();
    const plan = planMessages(options, random);
    const indices = Array.from({ length: options.clients }, (_, i) => i);
    await forEachLimited(indices, SETUP_CONCURRENCY, async (index) => {
      clients[index] = await createNodeClient(relay.url, `chaos${index}`);
    });
    for (const client of clients) observeDeliveries(client, plan);
    const pairs = pairsOf(plan);
    await forEachLimited(pairs, SETUP_CONCURRENCY, async ([first, second]) => {
      await startSession(
        clientAt(clients, first),
        clientAt(clients, second),
        options.handshake,
      );
    });
    const setupMs = Date.now() - setupStart;
    log(
      `set up ${options.clients} clients and ${pairs.length} sessions ` +
        `in ${setupMs} ms`,
    );

    const sendStart = Date.now();
    const background: Promise<void>[] = [];
    const killAt = new Set(
      Array.from({ length: options.kills }, (_, k) =>
        Math.floor(((k + 1) * options.messages) / (options.kills + 1)),
      ),
    );
    const bounceEvery = options.disconnects
      ? Math.max(1, Math.floor(options.messages / options.disconnects))
      : Infinity;
    let bounces = 0;
    const pending = new Set<Promise<void>>();
    for (const [index, message] of plan.entries()) {
      if (index > 0 && index % PROGRESS_EVERY === 0) {
        const delivered = plan.filter((m) => m.deliveredAt !== undefined);
        log(
          `${index} sent, ${delivered.length} delivered after ` +
            `${Date.now() - sendStart} ms`,
        );
      }
      if (killAt.has(index)) {
        log(`kill -9 relay at message ${index}`);
        await relay.kill();
        background.push(sleep(options.relayDownMs).then(() => relay.start()));
      }
      if (index % bounceEvery === 0 && bounces < options.disconnects) {
        bounces++;
        const client = clientAt(clients, Math.floor(random() * clients.length));
        background.push(bounceClient(client, 200 + random() * 1_800));
      }
      while (pending.size >= options.sendConcurrency) {
        await Promise.race(pending);
      }
      const sender = clientAt(clients, message.from);
      message.sentAt = Date.now();
      const sending = sender.engine
        .sendText(clientAt(clients, message.to).userId, message.text)
        .catch(() => {
          message.failed = true;
        })
        .finally(() => pending.delete(sending));
      pending.add(sending);
    }
    await Promise.all(pending);
    await Promise.all(background);
    const sendMs = Date.now() - sendStart;
    log(`sent ${options.messages} messages in ${sendMs} ms`);

    const settleStart = Date.now();
    const delivered = await waitUntil(
      () =>
        plan.every(
          (message) => message.failed || message.deliveredAt !== undefined,
        ),
      options.settleTimeoutMs,
    );
    const remainingMs = options.settleTimeoutMs - (Date.now() - settleStart);
    const confirmed = await outboxesEmpty(clients, remainingMs);
    const settled = delivered && confirmed;
    for (const client of clients) await client.idle();
    const settleMs = Date.now() - settleStart;
    log(`settled in ${settleMs} ms${settled ? '' : ' (timed out)'}`);

    const outcomes = await countOutcomes(clients, plan);
    return {
      clients: options.clients,
      messages: options.messages,
      kills: options.kills,
      disconnects: bounces,
      ...outcomes,
      setupMs,
      sendMs,
      settleMs,
      settled,
    };
  } finally {
    for (const client of clients) client?.stop();
    await relay.kill();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
