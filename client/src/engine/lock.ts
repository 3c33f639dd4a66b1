/**
 * The single-writer lock. Two tabs stepping the same ratchet would reuse
 * message keys, so only the tab that owns this Web Lock runs the engine.
 * Other tabs wait for the lock and show a message meanwhile.
 */
import { DB_NAME } from '../storage/schema';

/** One installation holds one account, so the lock is per account. */
export const ENGINE_LOCK_NAME = `cloak-engine:${DB_NAME}`;

/**
 * Acquires the engine lock and keeps it until the returned function is
 * called or the tab closes. Calls `onWaiting` first if another tab owns it.
 */
export function acquireEngineLock(onWaiting: () => void): Promise<() => void> {
  return new Promise((resolve, reject) => {
    let release = (): void => undefined;
    const held = new Promise<void>((done) => {
      release = done;
    });
    const hold = async (lock: Lock | null): Promise<boolean> => {
      if (!lock) return false;
      resolve(release);
      await held;
      return true;
    };
    const acquire = async (): Promise<void> => {
      const acquired = await navigator.locks.request(
        ENGINE_LOCK_NAME,
        { ifAvailable: true },
        hold,
      );
      if (acquired) return;
      onWaiting();
      await navigator.locks.request(ENGINE_LOCK_NAME, hold);
    };
    acquire().catch(reject);
  });
}
