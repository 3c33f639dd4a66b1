/**
 * Per-socket state and the relay's shared dependencies as the event handlers
 * see them.
 */
import type { Address } from '../../shared/wire/schemas';
import type { RelayEventRecorder } from '../admin/metrics';
import type { Logger } from '../logger';
import type { DeviceAndAddressLimiter } from '../rate-limit';
import type { Store } from '../store/store';
import type { DeliveryHub, DeliveryPump } from './delivery';
import type { BundleLimiter } from './key-directory';
import type { RelayServer, RelaySocket } from './types';

export interface RelayContext {
  readonly io: RelayServer;
  readonly store: Store;
  readonly delivery: DeliveryHub;
  readonly limits: {
    readonly signIn: DeviceAndAddressLimiter;
    readonly bundle: DeviceAndAddressLimiter;
    readonly send: DeviceAndAddressLimiter;
  };
  /** Bundle fetch limits per requesting user and per target user. */
  readonly bundleLimits: BundleLimiter;
  readonly loggers: {
    readonly signIn: Logger;
    readonly keys: Logger;
    readonly envelopes: Logger;
  };
  /** Origin signed at sign-in; `scheme://` + the Host header when undefined. */
  readonly publicOrigin: string | undefined;
  /** Scheme of the relay's own origin: `https` when it serves TLS. */
  readonly scheme: 'http' | 'https';
  readonly signInNonceTtlMs: number;
  /** Envelopes emitted to one socket and not yet acknowledged, at most. */
  readonly deliveryWindow: number;
  readonly now: () => number;
  /** Counts sends, acknowledgements and rejections for the admin figures. */
  readonly metrics?: RelayEventRecorder | undefined;
}

export interface PendingNonce {
  readonly address: Address;
  readonly expiresAt: number;
}

/** Outstanding sign-in nonces per socket; the oldest is dropped beyond this. */
const MAX_PENDING_NONCES = 4;

export class SocketSession {
  /** The signed-in device, undefined before sign-in. */
  device: Address | undefined;
  pump: DeliveryPump | undefined;
  private readonly nonces = new Map<string, PendingNonce>();

  constructor(
    readonly socket: RelaySocket,
    readonly remoteAddress: string,
  ) {}

  addNonce(nonce: string, pending: PendingNonce): void {
    if (this.nonces.size >= MAX_PENDING_NONCES) {
      const oldest = this.nonces.keys().next();
      if (!oldest.done) this.nonces.delete(oldest.value);
    }
    this.nonces.set(nonce, pending);
  }

  /** Removes and returns a nonce issued to this socket, used or not. */
  takeNonce(nonce: string): PendingNonce | undefined {
    const pending = this.nonces.get(nonce);
    this.nonces.delete(nonce);
    return pending;
  }
}
