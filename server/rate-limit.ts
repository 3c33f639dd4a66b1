/**
 * Token buckets for the relay's rate limits. A bucket holds up to `burst`
 * tokens and regains `perSecond` tokens each second; each request takes one.
 */

export interface Rate {
  /** Tokens regained per second. */
  readonly perSecond: number;
  /** Bucket size: the requests allowed at once after a quiet period. */
  readonly burst: number;
}

interface Bucket {
  tokens: number;
  updatedAt: number;
}

/** Buckets are dropped once this many keys are tracked and they are full. */
const PRUNE_AT_KEYS = 10_000;

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly rate: Rate,
    private readonly now: () => number = Date.now,
  ) {}

  /** Takes one token for `key`; returns false when the bucket is empty. */
  take(key: string): boolean {
    const now = this.now();
    const bucket = this.refill(key, now);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  private refill(key: string, now: number): Bucket {
    let bucket = this.buckets.get(key);
    if (!bucket) {
      if (this.buckets.size >= PRUNE_AT_KEYS) this.prune(now);
      bucket = { tokens: this.rate.burst, updatedAt: now };
      this.buckets.set(key, bucket);
      return bucket;
    }
    const elapsedSeconds = Math.max(0, now - bucket.updatedAt) / 1000;
    bucket.tokens = Math.min(
      this.rate.burst,
      bucket.tokens + elapsedSeconds * this.rate.perSecond,
    );
    bucket.updatedAt = now;
    return bucket;
  }

  /** Drops buckets that have refilled completely, since they hold no state. */
  private prune(now: number): void {
    for (const [key, bucket] of this.buckets) {
      const elapsedSeconds = Math.max(0, now - bucket.updatedAt) / 1000;
      if (
        bucket.tokens + elapsedSeconds * this.rate.perSecond >=
        this.rate.burst
      ) {
        this.buckets.delete(key);
      }
    }
  }
}

/** A limit applied both per device and per remote address. */
export interface DeviceAndAddressRate {
  readonly device: Rate;
  readonly address: Rate;
}

export interface RateLimits {
  /** `signin:start`, keyed by the device signing in and by address. */
  readonly signIn: DeviceAndAddressRate;
  /** `keys:bundle`, keyed by the requesting device and by address. */
  readonly bundle: DeviceAndAddressRate;
  /** `envelope:send`, keyed by the sending device and by address. */
  readonly send: DeviceAndAddressRate;
  /** `POST /api/accounts`, keyed by address. */
  readonly register: Rate;
  /** Every Socket.IO event, keyed by socket. */
  readonly socketEvents: Rate;
  /** Every Socket.IO event, keyed by address across its connections. */
  readonly addressEvents: Rate;
}

/**
 * Defaults that a person using the app never reaches; a script flooding the
 * relay does. The per-address rates are higher because several people may
 * share one address.
 */
export const DEFAULT_RATE_LIMITS: RateLimits = {
  signIn: {
    device: { perSecond: 1, burst: 10 },
    address: { perSecond: 5, burst: 50 },
  },
  bundle: {
    device: { perSecond: 5, burst: 50 },
    address: { perSecond: 20, burst: 200 },
  },
  send: {
    device: { perSecond: 20, burst: 100 },
    address: { perSecond: 100, burst: 500 },
  },
  register: { perSecond: 1, burst: 20 },
  socketEvents: { perSecond: 100, burst: 300 },
  addressEvents: { perSecond: 500, burst: 1500 },
};

/** Overrides for `DEFAULT_RATE_LIMITS`, one limit at a time. */
export type RateLimitOverrides = Partial<{
  [K in keyof RateLimits]: RateLimits[K] extends DeviceAndAddressRate
    ? Partial<DeviceAndAddressRate>
    : Rate;
}>;

export function resolveRateLimits(
  overrides: RateLimitOverrides = {},
): RateLimits {
  return {
    signIn: { ...DEFAULT_RATE_LIMITS.signIn, ...overrides.signIn },
    bundle: { ...DEFAULT_RATE_LIMITS.bundle, ...overrides.bundle },
    send: { ...DEFAULT_RATE_LIMITS.send, ...overrides.send },
    register: overrides.register ?? DEFAULT_RATE_LIMITS.register,
    socketEvents: overrides.socketEvents ?? DEFAULT_RATE_LIMITS.socketEvents,
    addressEvents: overrides.addressEvents ?? DEFAULT_RATE_LIMITS.addressEvents,
  };
}

/** Two limiters that must both admit a request. */
export class DeviceAndAddressLimiter {
  private readonly device: RateLimiter;
  private readonly address: RateLimiter;

  constructor(rate: DeviceAndAddressRate) {
    this.device = new RateLimiter(rate.device);
    this.address = new RateLimiter(rate.address);
  }

  take(deviceKey: string, address: string): boolean {
    // Both buckets pay, so a flood from one address cannot hide behind
    // many device keys, nor one device behind many addresses.
    const deviceAllowed = this.device.take(deviceKey);
    const addressAllowed = this.address.take(address);
    return deviceAllowed && addressAllowed;
  }
}

/** Caps on concurrent Socket.IO connections from one remote address. */
export interface ConnectionLimits {
  /** Open connections, signed in or not. */
  readonly perAddress: number;
  /** Open connections that have not completed sign-in yet. */
  readonly unsignedPerAddress: number;
}

/**
 * Defaults with room for a household or an office behind one NAT address,
 * each person with a few tabs, while one script cannot hold thousands of
 * sockets open.
 */
export const DEFAULT_CONNECTION_LIMITS: ConnectionLimits = {
  perAddress: 100,
  unsignedPerAddress: 25,
};

export function resolveConnectionLimits(
  overrides: Partial<ConnectionLimits> = {},
): ConnectionLimits {
  return { ...DEFAULT_CONNECTION_LIMITS, ...overrides };
}

/** Open connections per key, admitted up to a maximum. */
export class ConnectionCounter {
  private readonly counts = new Map<string, number>();

  constructor(readonly max: number) {}

  /** Counts one more connection for `key`; returns false at the maximum. */
  add(key: string): boolean {
    const count = this.counts.get(key) ?? 0;
    if (count >= this.max) return false;
    this.counts.set(key, count + 1);
    return true;
  }

  remove(key: string): void {
    const count = this.counts.get(key) ?? 0;
    if (count <= 1) this.counts.delete(key);
    else this.counts.set(key, count - 1);
  }

  count(key: string): number {
    return this.counts.get(key) ?? 0;
  }
}
