/**
 * Periodic `wal_checkpoint(TRUNCATE)` for the SQLite store. With
 * `secure_delete` on, SQLite overwrites a deleted envelope body with zeros,
 * but in WAL mode only in a new copy of its page. Older copies stay in the
 * `-wal` file, and the old page stays in the database file, until a
 * checkpoint. A TRUNCATE checkpoint copies the zeroed pages into the
 * database file and empties the `-wal` file. It runs on an interval while
 * the `-wal` file is not empty, and once more at close.
 */
import { statSync } from 'node:fs';
import type Database from 'better-sqlite3';
import { ErrorCode } from '../../shared/wire/errors';
import type { Logger } from '../logger';

/** Default time between two checkpoints, in ms. */
export const WAL_CHECKPOINT_INTERVAL_MS = 60_000;

/** The part of a `PRAGMA wal_checkpoint` row used here. */
interface CheckpointRow {
  /** 1 when a reader or writer blocked the checkpoint. */
  busy: number;
}

export class WalCheckpointer {
  private readonly walFile: string;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly db: Database.Database,
    databaseFile: string,
    private readonly logger: Logger,
    private readonly intervalMs: number = WAL_CHECKPOINT_INTERVAL_MS,
  ) {
    this.walFile = `${databaseFile}-wal`;
  }

  start(): void {
    this.timer ??= setInterval(
      () => this.checkpointIfNeeded(),
      this.intervalMs,
    );
    this.timer.unref();
  }

  /** Stops the interval and checkpoints once more if the WAL has frames. */
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.checkpointIfNeeded();
  }

  /**
   * Runs a TRUNCATE checkpoint when the `-wal` file is not empty; returns
   * whether the checkpoint completed.
   */
  checkpointIfNeeded(): boolean {
    if (!this.db.open || walSize(this.walFile) === 0) return false;
    try {
      const rows = this.db.pragma(
        'wal_checkpoint(TRUNCATE)',
      ) as CheckpointRow[];
      if (rows[0]?.busy) {
        this.logger.info(
          { event: 'wal-checkpoint', busy: true },
          'WAL checkpoint blocked; retrying at the next interval',
        );
        return false;
      }
      return true;
    } catch (error) {
      this.logger.error(
        { err: error, code: ErrorCode.internal, event: 'wal-checkpoint' },
        'WAL checkpoint failed',
      );
      return false;
    }
  }
}

/** Returns the size of the `-wal` file in bytes, 0 when it is missing. */
function walSize(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}
