/**
 * The Socket.IO connection to the relay on this page's origin. After every
 * (re)connect it signs in with the device signing key over the relay's
 * nonce, and only then reports `connected` and passes requests through.
 * Everything the relay sends is checked against the wire schemas first.
 */
import { io, type Socket } from 'socket.io-client';
import { fromBase64Url, toBase64Url } from '../../../shared/crypto/bytes';
import { signSignIn } from '../../../shared/crypto/certificate';
import type { LocalIdentity } from '../../../shared/crypto/keys';
import type { Reply } from '../../../shared/wire/errors';
import type {
  ClientToServerEvents,
  ServerToClientEvents,
} from '../../../shared/wire/events';
import {
  Envelope,
  KeyChanged,
  PrekeyCounts,
  SignInChallenge,
} from '../../../shared/wire/schemas';
import { createLogger, errorCode } from './logger';
import {
  type RelayEvent,
  RelayError,
  type RelayReply,
  type RelayRequest,
  type Transport,
} from './transport';

const log = createLogger('relay');

/** How long a request waits for the relay's acknowledgement. */
export const REQUEST_TIMEOUT_MS = 15_000;
/** Delay before signing in again after a failed sign-in. */
const SIGN_IN_RETRY_MS = 10_000;
/**
 * First delay before connecting again after the relay refused the
 * connection (`connect_error` from its middleware, such as `rate-limited`).
 * Socket.IO does not reconnect by itself after such a refusal. The delay
 * doubles after each refusal up to `MAX_REFUSED_RETRY_MS`.
 */
export const REFUSED_RETRY_MS = 1_000;
export const MAX_REFUSED_RETRY_MS = 30_000;

export type ConnectionState = 'connecting' | 'connected' | 'offline';

export interface RelayHandlers {
  onState(state: ConnectionState): void;
  onSignedIn(counts: PrekeyCounts): void;
  onEnvelope(envelope: Envelope): void;
  onKeysLow(counts: PrekeyCounts): void;
  /** A contact's keys changed on the relay; the notice may repeat. */
  onKeyChanged?(notice: KeyChanged): void;
  onSignInFailed(error: unknown): void;
  /**
   * Called when the relay does not know this device, such as after its
   * data was wiped. Sign-in then stops until `start` runs again. Without
   * this handler, sign-in keeps retrying as after any other failure.
   */
  onAccountUnknown?(): void;
}

type AckEmitter = {
  emit(
    event: string,
    payload: unknown,
    ack: (error: Error | null, reply: Reply<unknown>) => void,
  ): void;
};

export class RelayConnection implements Transport {
  private readonly socket: Socket<ServerToClientEvents, ClientToServerEvents>;
  private signedIn = false;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private refusedRetryMs = REFUSED_RETRY_MS;
  private readonly onOnline = () => this.reconnectNow();

  constructor(
    private readonly identity: LocalIdentity,
    private readonly handlers: RelayHandlers,
    private readonly origin: string = location.origin,
  ) {
    this.socket = io({
      transports: ['websocket'],
      autoConnect: false,
      reconnectionDelayMax: 5_000,
    });
    this.socket.on('connect', () => void this.signIn());
    this.socket.on('disconnect', () => {
      this.signedIn = false;
      this.handlers.onState('offline');
    });
    this.socket.io.on('reconnect_attempt', () => {
      if (!this.signedIn) this.handlers.onState('offline');
    });
    this.socket.on('connect_error', (error) => {
      // An active socket reconnects by itself with Socket.IO's backoff.
      // An inactive one was refused by the relay and must be reconnected.
      if (!this.socket.active) this.retryRefused(error);
    });
    this.socket.on('envelope', (payload) => {
      const parsed = Envelope.safeParse(payload);
      if (!parsed.success) {
        log.warn('invalid envelope from relay dropped');
        return;
      }
      this.handlers.onEnvelope(parsed.data);
    });
    this.socket.on('keys:low', (payload) => {
      const parsed = PrekeyCounts.safeParse(payload);
      if (!parsed.success) {
        log.warn('invalid keys:low from relay dropped');
        return;
      }
      log.info('keys:low received', {
        oneTimePrekeys: parsed.data.oneTimePrekeys,
        oneTimePqPrekeys: parsed.data.oneTimePqPrekeys,
      });
      this.handlers.onKeysLow(parsed.data);
    });
    this.socket.on('keys:changed', (payload) => {
      const parsed = KeyChanged.safeParse(payload);
      if (!parsed.success) {
        log.warn('invalid keys:changed from relay dropped');
        return;
      }
      this.handlers.onKeyChanged?.(parsed.data);
    });
  }

  get connected(): boolean {
    return this.signedIn && this.socket.connected;
  }

  start(): void {
    this.handlers.onState('connecting');
    globalThis.addEventListener?.('online', this.onOnline);
    this.socket.connect();
  }

  stop(): void {
    globalThis.removeEventListener?.('online', this.onOnline);
    clearTimeout(this.retryTimer);
    this.socket.disconnect();
  }

  /**
   * Connects at once, skipping any backoff delay, unless already connected.
   * Runs when the browser reports that it is back online.
   */
  reconnectNow(): void {
    if (this.socket.connected) return;
    clearTimeout(this.retryTimer);
    this.refusedRetryMs = REFUSED_RETRY_MS;
    // `disconnect` also cancels Socket.IO's pending reconnection timer, so
    // `connect` opens a new connection now.
    this.socket.disconnect();
    this.handlers.onState('connecting');
    this.socket.connect();
  }

  request<E extends RelayEvent>(
    event: E,
    payload: RelayRequest<E>,
  ): Promise<RelayReply<E>> {
    if (!this.connected) {
      return Promise.reject(
        new RelayError('offline', `${event}: not connected to the relay`),
      );
    }
    return this.emit(event, payload);
  }

  private emit<E extends RelayEvent>(
    event: E,
    payload: RelayRequest<E>,
  ): Promise<RelayReply<E>> {
    // Socket.IO's typed `timeout().emit` cannot be called with a generic
    // event name; the reply is checked by the caller's schema instead.
    const emitter = this.socket.timeout(
      REQUEST_TIMEOUT_MS,
    ) as unknown as AckEmitter;
    return new Promise((resolve, reject) => {
      emitter.emit(event, payload, (error, reply) => {
        if (error) {
          reject(new RelayError('timeout', `${event}: no reply in time`));
        } else if (typeof reply !== 'object' || reply === null) {
          reject(new RelayError('invalid-reply', `${event}: invalid reply`));
        } else if (reply.ok) {
          resolve(reply.value as RelayReply<E>);
        } else {
          reject(new RelayError(reply.error.code, reply.error.message));
        }
      });
    });
  }

  private async signIn(): Promise<void> {
    this.handlers.onState('connecting');
    let challenge: SignInChallenge;
    try {
      challenge = SignInChallenge.parse(
        await this.emit('signin:start', {
          userId: this.identity.userId,
          deviceId: this.identity.deviceId,
        }),
      );
    } catch (error) {
      if (RelayError.is(error, 'not-found') && this.handlers.onAccountUnknown) {
        // Retrying cannot help: the relay has no such device until the
        // account registers again.
        log.error('sign-in failed: account unknown to the relay', error);
        this.socket.disconnect();
        this.handlers.onState('offline');
        this.handlers.onAccountUnknown();
        return;
      }
      this.retrySignIn(error);
      return;
    }
    try {
      const signature = await signSignIn(
        this.identity.signingKey.privateKey,
        this.origin,
        this.identity.userId,
        this.identity.deviceId,
        fromBase64Url(challenge.nonce),
      );
      const reply = await this.emit('signin:finish', {
        nonce: challenge.nonce,
        signature: toBase64Url(signature),
      });
      const counts = PrekeyCounts.parse(reply.prekeys);
      this.signedIn = true;
      this.refusedRetryMs = REFUSED_RETRY_MS;
      this.handlers.onState('connected');
      this.handlers.onSignedIn(counts);
    } catch (error) {
      this.retrySignIn(error);
    }
  }

  /**
   * Connects again after a refused connection, with a delay that doubles
   * after each refusal, plus up to 50% random jitter so that many devices
   * refused together do not return together.
   */
  private retryRefused(error: Error): void {
    const delay = this.refusedRetryMs * (1 + Math.random() / 2);
    this.refusedRetryMs = Math.min(
      this.refusedRetryMs * 2,
      MAX_REFUSED_RETRY_MS,
    );
    log.warn(`connection refused (${refusalCode(error)})`, {
      retryInMs: Math.round(delay),
    });
    this.handlers.onState('offline');
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      this.handlers.onState('connecting');
      this.socket.connect();
    }, delay);
  }

  /** Reports a failed sign-in and connects again after a delay. */
  private retrySignIn(error: unknown): void {
    log.error('sign-in failed', error);
    this.handlers.onState('offline');
    this.handlers.onSignInFailed(error);
    this.socket.disconnect();
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      this.handlers.onState('connecting');
      this.socket.connect();
    }, SIGN_IN_RETRY_MS);
  }
}

/** Returns the wire error code that the relay sent with a refusal. */
function refusalCode(error: Error): string {
  return errorCode((error as Error & { data?: unknown }).data);
}
