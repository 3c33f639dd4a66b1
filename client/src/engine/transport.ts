/**
 * The engine's view of the relay: acknowledged requests with typed replies.
 * `RelayConnection` implements it over Socket.IO; unit tests use a stub.
 */
import type { ErrorCode, Reply } from '../../../shared/wire/errors';
import type { ClientToServerEvents } from '../../../shared/wire/events';

export type RelayEvent = keyof ClientToServerEvents;

export type RelayRequest<E extends RelayEvent> = Parameters<
  ClientToServerEvents[E]
>[0];

export type RelayReply<E extends RelayEvent> =
  Parameters<Parameters<ClientToServerEvents[E]>[1]>[0] extends Reply<infer T>
    ? T
    : never;

export interface Transport {
  /** True while signed in, so that requests can be sent. */
  readonly connected: boolean;
  request<E extends RelayEvent>(
    event: E,
    payload: RelayRequest<E>,
  ): Promise<RelayReply<E>>;
}

/** A relay request that failed: the relay's error code, or a local one. */
export class RelayError extends Error {
  override readonly name = 'RelayError';

  constructor(
    readonly code: ErrorCode | 'timeout' | 'offline' | 'invalid-reply',
    message: string,
  ) {
    super(message);
  }

  static is(error: unknown, code?: RelayError['code']): error is RelayError {
    return (
      error instanceof RelayError && (code === undefined || error.code === code)
    );
  }
}
