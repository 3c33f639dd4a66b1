/**
 * The single-writer lock. Two tabs stepping the same ratchet would reuse
 * message keys, so only the tab that owns this Web Lock runs the engine.
 * Other tabs keep a pending request for the lock and follow the owner
 * (see `tabs.ts`). When the owner's tab closes, the browser grants the
 * lock to one of them.
 */
import { DB_NAME } from '../storage/schema';

/** One installation holds one account, so the lock is per account. */
export const ENGINE_LOCK_NAME = `cloak-engine:${DB_NAME}`;

/** The part of `LockManager` that the engine lock uses. */
export interface EngineLockManager {
  request(
    name: string,
    options: LockOptions,
    callback: (lock: Lock | null) => Promise<boolean>,
  ): Promise<boolean>;
}

export interface EngineLockOptions {
  /** Called first when another tab owns the lock. */
  readonly onWaiting: () => void;
  /**
   * Called when the lock ends before the release function ran, which
   * happens only when another context requests it with `steal`. The
   * engine must stop at once.
   */
  readonly onLost?: () => void;
  readonly locks?: EngineLockManager;
}

/**
 * Acquires the engine lock and keeps it until the returned function is
 * called or the tab closes.
 */
export function acquireEngineLock(
  options: EngineLockOptions,
): Promise<() => void> {
  const locks = options.locks ?? navigator.locks;
  return new Promise((resolve, reject) => {
    let released = false;
    let release = (): void => undefined;
    const held = new Promise<void>((done) => {
      release = () => {
        released = true;
        done();
      };
    });
    let holding = false;
    const hold = async (lock: Lock | null): Promise<boolean> => {
      if (!lock) return false;
      holding = true;
      resolve(release);
      await held;
      return true;
    };
    const acquire = async (): Promise<void> => {
      const acquired = await locks.request(
        ENGINE_LOCK_NAME,
        { ifAvailable: true },
        hold,
      );
      if (acquired) return;
      options.onWaiting();
      await locks.request(ENGINE_LOCK_NAME, {}, hold);
    };
    acquire().then(
      () => {
        if (holding && !released) options.onLost?.();
      },
      (error: unknown) => {
        if (holding && !released) options.onLost?.();
        else reject(error);
      },
    );
  });
}
