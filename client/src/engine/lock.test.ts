import { describe, expect, it, vi } from 'vitest';
import {
  acquireEngineLock,
  ENGINE_LOCK_NAME,
  type EngineLockManager,
} from './lock';

type Callback = (lock: Lock | null) => Promise<boolean>;

interface Waiter {
  readonly callback: Callback;
  readonly settle: (outcome: { value?: boolean; error?: unknown }) => void;
}

/**
 * An exclusive lock manager in the manner of `navigator.locks`: one holder
 * per name, waiters granted in request order once the holder's callback
 * settles, `ifAvailable` and `steal`.
 */
class FakeLockManager implements EngineLockManager {
  private holder: Waiter | undefined;
  private readonly waiters: Waiter[] = [];

  request(
    name: string,
    options: LockOptions,
    callback: Callback,
  ): Promise<boolean> {
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        callback,
        settle: ({ value, error }) =>
          error === undefined ? resolve(value ?? false) : reject(error),
      };
      if (options.steal && this.holder) {
        this.holder.settle({ error: new DOMException('stolen', 'AbortError') });
        this.holder = undefined;
      }
      if (!this.holder) {
        this.grant(name, waiter);
      } else if (options.ifAvailable) {
        void callback(null).then((value) => waiter.settle({ value }));
      } else {
        this.waiters.push(waiter);
      }
    });
  }

  private grant(name: string, waiter: Waiter): void {
    this.holder = waiter;
    const lock = { name, mode: 'exclusive' } as Lock;
    void waiter.callback(lock).then((value) => {
      if (this.holder !== waiter) return;
      this.holder = undefined;
      waiter.settle({ value });
      const next = this.waiters.shift();
      if (next) this.grant(name, next);
    });
  }
}

describe('acquireEngineLock', () => {
  it('gives the first tab the lock at once', async () => {
    const locks = new FakeLockManager();
    const onWaiting = vi.fn();

    const release = await acquireEngineLock({ onWaiting, locks });

    expect(onWaiting).not.toHaveBeenCalled();
    release();
  });

  it('passes the lock on when the leader releases it', async () => {
    const locks = new FakeLockManager();
    const releaseFirst = await acquireEngineLock({
      onWaiting: () => undefined,
      locks,
    });
    const onWaiting = vi.fn();
    let second: (() => void) | undefined;
    const secondAcquired = acquireEngineLock({ onWaiting, locks }).then(
      (release) => {
        second = release;
      },
    );
    const onThirdWaiting = vi.fn();
    let third: (() => void) | undefined;
    void acquireEngineLock({ onWaiting: onThirdWaiting, locks }).then(
      (release) => {
        third = release;
      },
    );

    await vi.waitFor(() => expect(onWaiting).toHaveBeenCalledTimes(1));
    await vi.waitFor(() => expect(onThirdWaiting).toHaveBeenCalledTimes(1));
    expect(second).toBeUndefined();

    releaseFirst();
    await secondAcquired;
    expect(second).toBeDefined();
    // Only one follower becomes the leader; the other keeps waiting.
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(third).toBeUndefined();

    second?.();
    await vi.waitFor(() => expect(third).toBeDefined());
  });

  it('reports a stolen lock', async () => {
    const locks = new FakeLockManager();
    const onLost = vi.fn();
    await acquireEngineLock({ onWaiting: () => undefined, onLost, locks });

    await locks.request(ENGINE_LOCK_NAME, { steal: true }, async () => true);

    await vi.waitFor(() => expect(onLost).toHaveBeenCalledTimes(1));
  });

  it('does not report a released lock as lost', async () => {
    const locks = new FakeLockManager();
    const onLost = vi.fn();
    const release = await acquireEngineLock({
      onWaiting: () => undefined,
      onLost,
      locks,
    });

    release();
    await locks.request(ENGINE_LOCK_NAME, {}, async () => true);

    expect(onLost).not.toHaveBeenCalled();
  });
});
