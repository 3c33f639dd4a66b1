/**
 * The protocol between the tabs of one installation. The tab that owns
 * the engine lock (the leader) runs the engine. Every other tab (a
 * follower) reads IndexedDB for display and sends each action to the
 * leader as a request over a `BroadcastChannel`.
 *
 * - A follower posts `hello` when it starts. The leader posts `leader` when
 *   it starts and after every `hello`, followed by its welcome notices.
 * - A follower posts `request` with a random id. The leader posts `ack` at
 *   once and `result` once the action has finished, with the value or a
 *   `{ code, message }` error. A request without an `ack` within
 *   `REQUEST_ACK_TIMEOUT_MS` fails with `no-leader-tab`.
 * - The leader posts `notice` for every change that followers show.
 *
 * Handover: when a new leader announces itself, a follower posts every
 * request without a result again. A leader keeps the outcome of the last
 * `MAX_REMEMBERED_REQUESTS` request ids, so a request posted twice runs
 * once per leader. A request that the old leader ran before it closed runs
 * again on the new one, so actions must be idempotent by their arguments
 * (a sent message carries its message id).
 *
 * The channel carries request arguments, results and change notices only,
 * never keys. The tabs share one IndexedDB, so a follower reads the data
 * itself.
 */
import { z } from 'zod';
import { CLIENT_ERROR_CODES, ClientError } from '../errors';
import { DB_NAME } from '../storage/schema';
import { createLogger, errorCode } from './logger';

const log = createLogger('tabs');

/** One installation has one account, so the channel is per account. */
export const TAB_CHANNEL_NAME = `cloak-tabs:${DB_NAME}`;
/** Raised on every incompatible change. Messages of other versions are ignored. */
export const TAB_PROTOCOL_VERSION = 1;
/** Time a follower waits for the leader's `ack` of a request, in ms. */
export const REQUEST_ACK_TIMEOUT_MS = 10_000;
/** Request ids whose outcome a leader keeps, for requests posted twice. */
export const MAX_REMEMBERED_REQUESTS = 500;

/** The part of `BroadcastChannel` that the protocol uses. */
export interface TabChannel {
  postMessage(message: unknown): void;
  addEventListener(
    type: 'message',
    listener: (event: MessageEvent<unknown>) => void,
  ): void;
  close(): void;
}

/** An error as it crosses the channel. */
export interface TabErrorBody {
  readonly code: string;
  readonly message: string;
}

export type TabAnswer =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly error: TabErrorBody };

const Id = z.string().min(1).max(64);
const Version = z.literal(TAB_PROTOCOL_VERSION);

const TabMessage = z.discriminatedUnion('kind', [
  z.object({ v: Version, kind: z.literal('hello'), tab: Id }),
  z.object({ v: Version, kind: z.literal('leader'), tab: Id }),
  z.object({
    v: Version,
    kind: z.literal('request'),
    tab: Id,
    id: Id,
    action: z.string().min(1).max(64),
    args: z.array(z.unknown()).max(8),
  }),
  z.object({ v: Version, kind: z.literal('ack'), tab: Id, to: Id, id: Id }),
  z.object({
    v: Version,
    kind: z.literal('result'),
    tab: Id,
    to: Id,
    id: Id,
    answer: z.union([
      z.object({ ok: z.literal(true), value: z.unknown() }),
      z.object({
        ok: z.literal(false),
        error: z.object({
          code: z.string().max(64),
          message: z.string().max(2_000),
        }),
      }),
    ]),
  }),
  z.object({
    v: Version,
    kind: z.literal('notice'),
    tab: Id,
    notice: z.unknown(),
  }),
]);
type TabMessage = z.infer<typeof TabMessage>;
type TabRequest = Extract<TabMessage, { kind: 'request' }>;

function parseMessage(data: unknown): TabMessage | undefined {
  const parsed = TabMessage.safeParse(data);
  return parsed.success ? parsed.data : undefined;
}

/** Converts a failed action into the error body a follower shows. */
export function toErrorBody(error: unknown): TabErrorBody {
  if (error instanceof ClientError) {
    return { code: error.code, message: error.message };
  }
  return {
    code: 'internal-error',
    message:
      `Something went wrong in the Cloak tab that holds the connection ` +
      `(${errorCode(error)}). Try again.`,
  };
}

/** Rebuilds the `ClientError` of an error body. Unknown codes become `internal-error`. */
export function fromErrorBody(body: TabErrorBody): ClientError {
  const code = CLIENT_ERROR_CODES.find((known) => known === body.code);
  return new ClientError(code ?? 'internal-error', body.message);
}

function noLeaderError(timeoutMs: number): ClientError {
  return new ClientError(
    'no-leader-tab',
    `No Cloak tab that holds the connection answered within ` +
      `${timeoutMs / 1000} s. Reload this tab; if that does not help, ` +
      'close the other Cloak tabs of this browser and reload them.',
  );
}

export interface TabLeaderOptions<N> {
  readonly channel: TabChannel;
  readonly tabId: string;
  /** Runs one action of a follower. A rejection becomes its error body. */
  readonly handle: (
    action: string,
    args: readonly unknown[],
  ) => Promise<unknown>;
  /** Notices posted after every announcement, such as the connection state. */
  readonly welcome?: () => readonly N[];
}

/** The leader's end of the channel: serves requests and posts notices. */
export class TabLeader<N> {
  private readonly channel: TabChannel;
  private readonly tabId: string;
  private readonly handle: TabLeaderOptions<N>['handle'];
  private readonly welcome: () => readonly N[];
  /** Outcome per request id, oldest first, for requests posted twice. */
  private readonly answers = new Map<string, Promise<TabAnswer>>();
  private closed = false;

  constructor(options: TabLeaderOptions<N>) {
    this.channel = options.channel;
    this.tabId = options.tabId;
    this.handle = options.handle;
    this.welcome = options.welcome ?? (() => []);
    this.channel.addEventListener('message', (event) => {
      const message = parseMessage(event.data);
      if (message) this.receive(message);
    });
    this.announce();
  }

  /** Posts a notice to every follower. */
  notify(notice: N): void {
    if (this.closed) return;
    this.post({ kind: 'notice', notice });
  }

  close(): void {
    this.closed = true;
    this.channel.close();
  }

  private announce(): void {
    this.post({ kind: 'leader' });
    for (const notice of this.welcome()) this.notify(notice);
  }

  private receive(message: TabMessage): void {
    if (this.closed) return;
    if (message.kind === 'hello') {
      this.announce();
    } else if (message.kind === 'request') {
      this.serve(message);
    } else if (message.kind === 'leader') {
      // Only the lock holder announces itself, so this is a bug.
      log.error('second leader tab announced', new Error('two leaders'));
    }
  }

  private serve(request: TabRequest): void {
    this.post({ kind: 'ack', to: request.tab, id: request.id });
    let answer = this.answers.get(request.id);
    if (!answer) {
      answer = this.run(request);
      this.answers.set(request.id, answer);
      if (this.answers.size > MAX_REMEMBERED_REQUESTS) {
        const oldest = this.answers.keys().next();
        if (!oldest.done) this.answers.delete(oldest.value);
      }
    }
    void answer.then((settled) => {
      if (this.closed) return;
      this.post({
        kind: 'result',
        to: request.tab,
        id: request.id,
        answer: settled,
      });
    });
  }

  private async run(request: TabRequest): Promise<TabAnswer> {
    try {
      return {
        ok: true,
        value: await this.handle(request.action, request.args),
      };
    } catch (error) {
      if (!(error instanceof ClientError)) {
        log.error('follower request failed', error);
      }
      return { ok: false, error: toErrorBody(error) };
    }
  }

  private post(message: object): void {
    this.channel.postMessage({
      v: TAB_PROTOCOL_VERSION,
      tab: this.tabId,
      ...message,
    });
  }
}

export interface TabFollowerOptions<N> {
  readonly channel: TabChannel;
  readonly tabId: string;
  /** Checks a notice, and returns undefined to drop it. */
  readonly parseNotice: (notice: unknown) => N | undefined;
  readonly onNotice: (notice: N) => void;
  /** Called when a leader announces itself. */
  readonly onLeader?: () => void;
  readonly ackTimeoutMs?: number;
  readonly createId?: () => string;
}

interface PendingRequest {
  readonly action: string;
  readonly args: readonly unknown[];
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/** A follower's end of the channel: sends requests, receives notices. */
export class TabFollower<N> {
  private readonly options: TabFollowerOptions<N>;
  private readonly ackTimeoutMs: number;
  private readonly createId: () => string;
  private readonly pending = new Map<string, PendingRequest>();
  private leader: string | undefined;
  private closed = false;

  constructor(options: TabFollowerOptions<N>) {
    this.options = options;
    this.ackTimeoutMs = options.ackTimeoutMs ?? REQUEST_ACK_TIMEOUT_MS;
    this.createId = options.createId ?? (() => crypto.randomUUID());
    options.channel.addEventListener('message', (event) => {
      const message = parseMessage(event.data);
      if (message) this.receive(message);
    });
    this.post({ kind: 'hello' });
  }

  /** The tab id of the last leader that announced itself. */
  get leaderTab(): string | undefined {
    return this.leader;
  }

  /** Number of requests without a result. */
  get pendingCount(): number {
    return this.pending.size;
  }

  /** Sends a request to the leader and resolves with its result. */
  request(action: string, args: readonly unknown[]): Promise<unknown> {
    if (this.closed) {
      return Promise.reject(noLeaderError(this.ackTimeoutMs));
    }
    const id = this.createId();
    return new Promise((resolve, reject) => {
      const pending = { action, args, resolve, reject, timer: undefined };
      this.pending.set(id, pending);
      this.send(id, pending);
    });
  }

  /**
   * Closes the channel and runs every request without a result with
   * `run`, for the tab that has just become the leader itself.
   */
  handOver(
    run: (action: string, args: readonly unknown[]) => Promise<unknown>,
  ): void {
    const pending = [...this.pending.values()];
    this.close();
    for (const request of pending) {
      run(request.action, request.args).then(request.resolve, request.reject);
    }
  }

  /** Closes the channel. Requests without a result stay unsettled. */
  close(): void {
    this.closed = true;
    for (const request of this.pending.values()) clearTimeout(request.timer);
    this.pending.clear();
    this.options.channel.close();
  }

  private send(id: string, pending: PendingRequest): void {
    clearTimeout(pending.timer);
    pending.timer = setTimeout(() => {
      this.pending.delete(id);
      pending.reject(noLeaderError(this.ackTimeoutMs));
    }, this.ackTimeoutMs);
    this.post({
      kind: 'request',
      id,
      action: pending.action,
      args: pending.args,
    });
  }

  private receive(message: TabMessage): void {
    if (this.closed) return;
    switch (message.kind) {
      case 'leader':
        this.followLeader(message.tab);
        break;
      case 'ack': {
        if (message.to !== this.options.tabId) return;
        const pending = this.pending.get(message.id);
        clearTimeout(pending?.timer);
        break;
      }
      case 'result': {
        if (message.to !== this.options.tabId) return;
        const pending = this.pending.get(message.id);
        if (!pending) return;
        clearTimeout(pending.timer);
        this.pending.delete(message.id);
        if (message.answer.ok) pending.resolve(message.answer.value);
        else pending.reject(fromErrorBody(message.answer.error));
        break;
      }
      case 'notice': {
        const notice = this.options.parseNotice(message.notice);
        if (notice !== undefined) this.options.onNotice(notice);
        break;
      }
      default:
        break;
    }
  }

  private followLeader(tab: string): void {
    const changed = tab !== this.leader;
    this.leader = tab;
    // A request the old leader took may never get its result, so the new
    // leader gets every request again. It runs each request id once.
    if (changed) {
      for (const [id, pending] of this.pending) this.send(id, pending);
    }
    this.options.onLeader?.();
  }

  private post(message: object): void {
    this.options.channel.postMessage({
      v: TAB_PROTOCOL_VERSION,
      tab: this.options.tabId,
      ...message,
    });
  }
}
