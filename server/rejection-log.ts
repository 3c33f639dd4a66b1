/**
 * Warn-level summaries of rejected input, so that operators see floods and
 * misbehaving clients without one log line per rejection. Each error code
 * of each kind writes at most one line per interval: the first rejection is
 * logged at once, and the repeats within the interval are counted and
 * logged as `suppressed` when the interval ends. Three kinds exist:
 * - `event-rejected`: a Socket.IO event, with the event name and the opaque
 *   socket id of the latest rejection;
 * - `request-rejected`: an HTTP request rejected with a 4xx status, with the
 *   method and the route pattern (never the path itself, which may hold a
 *   username);
 * - `connection-refused`: a connection or transport over a cap, or from a
 *   foreign origin, with the reason.
 * No line carries a user id, an address or a payload.
 */
import type { ErrorCode } from '../shared/wire/errors';
import type { Logger } from './logger';

/** Default interval between two lines of the same error code. */
export const REJECTION_LOG_INTERVAL_MS = 10_000;

/** Maximum length of an event name copied into a log line. */
const MAX_EVENT_NAME_LENGTH = 64;

interface Pending {
  /** Rejections counted since the last line of this code. */
  suppressed: number;
  eventName: string;
  socketId: string;
  timer: NodeJS.Timeout;
}

export type RejectionKind = 'event' | 'request' | 'connection';

const LINE_EVENTS: Record<RejectionKind, string> = {
  event: 'event-rejected',
  request: 'request-rejected',
  connection: 'connection-refused',
};

const NOUNS: Record<RejectionKind, [string, string]> = {
  event: ['event rejected', 'events rejected'],
  request: ['request rejected', 'requests rejected'],
  connection: ['connection refused', 'connections refused'],
};

export class RejectionLog {
  private readonly pending = new Map<ErrorCode, Pending>();

  constructor(
    private readonly logger: Logger,
    private readonly intervalMs: number = REJECTION_LOG_INTERVAL_MS,
    private readonly kind: RejectionKind = 'event',
  ) {}

  /**
   * Counts one rejection, and logs it when its code was quiet. `eventName`
   * is the event, the route or the reason; `socketId` is used by events.
   */
  record(code: ErrorCode, eventName: string, socketId = ''): void {
    const name = eventName.slice(0, MAX_EVENT_NAME_LENGTH);
    const entry = this.pending.get(code);
    if (entry) {
      entry.suppressed += 1;
      entry.eventName = name;
      entry.socketId = socketId;
      return;
    }
    this.write(code, name, socketId, 0);
    this.startInterval(code, name, socketId);
  }

  /** Logs the counts still pending and stops the timers. */
  close(): void {
    for (const [code, entry] of this.pending) {
      clearTimeout(entry.timer);
      if (entry.suppressed > 0) {
        this.write(code, entry.eventName, entry.socketId, entry.suppressed);
      }
    }
    this.pending.clear();
  }

  private startInterval(
    code: ErrorCode,
    eventName: string,
    socketId: string,
  ): void {
    const timer = setTimeout(() => this.endInterval(code), this.intervalMs);
    timer.unref();
    this.pending.set(code, { suppressed: 0, eventName, socketId, timer });
  }

  /**
   * Logs the repeats of the interval that ended and opens another one, or
   * lets the code go quiet when there were none.
   */
  private endInterval(code: ErrorCode): void {
    const entry = this.pending.get(code);
    if (!entry) return;
    this.pending.delete(code);
    if (entry.suppressed === 0) return;
    this.write(code, entry.eventName, entry.socketId, entry.suppressed);
    this.startInterval(code, entry.eventName, entry.socketId);
  }

  private write(
    code: ErrorCode,
    eventName: string,
    socketId: string,
    suppressed: number,
  ): void {
    const [one, many] = NOUNS[this.kind];
    const subject =
      this.kind === 'event'
        ? { eventName, socketId }
        : this.kind === 'request'
          ? { route: eventName }
          : { reason: eventName };
    this.logger.warn(
      { event: LINE_EVENTS[this.kind], code, ...subject, suppressed },
      suppressed > 0
        ? `${suppressed} more ${many} with ${code}`
        : `${one} with ${code}`,
    );
  }
}
