/**
 * Warn-level summaries of rejected Socket.IO events, so that operators see
 * floods and misbehaving clients without one log line per rejection. Each
 * error code writes at most one line per interval: the first rejection is
 * logged at once, and the repeats within the interval are counted and
 * logged as `suppressed` when the interval ends. A line carries the code,
 * the event name and the opaque socket id of the latest rejection, never a
 * user id or a payload.
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

export class RejectionLog {
  private readonly pending = new Map<ErrorCode, Pending>();

  constructor(
    private readonly logger: Logger,
    private readonly intervalMs: number = REJECTION_LOG_INTERVAL_MS,
  ) {}

  /** Counts one rejection, and logs it when its code was quiet. */
  record(code: ErrorCode, eventName: string, socketId: string): void {
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
    this.logger.warn(
      { event: 'event-rejected', code, eventName, socketId, suppressed },
      suppressed > 0
        ? `${suppressed} more events rejected with ${code}`
        : `event rejected with ${code}`,
    );
  }
}
