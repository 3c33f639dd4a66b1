/**
 * Wires each Socket.IO connection: the per-socket and per-address event
 * limits, the sign-in gate, payload validation and `Reply` acknowledgements.
 * A handler error becomes `{ ok: false, error }`, and the socket and the
 * relay stay up. Rejections go to the `RejectionLog` summaries, and
 * `internal` failures are logged at error level.
 */
import type { ClientAddress } from '../client-address';
import { ErrorCode, type Reply } from '../../shared/wire/errors';
import type { ClientToServerEvents } from '../../shared/wire/events';
import type { Address } from '../../shared/wire/schemas';
import { RelayError, toWireError } from '../errors';
import type { Logger } from '../logger';
import type { RejectionLog } from '../rejection-log';
import { RateLimiter, type Rate } from '../rate-limit';
import type { ConnectionGate } from './connection-limits';
import { acknowledgeEnvelopes, sendEnvelope } from './envelopes';
import { readAccessLog } from './key-directory';
import { fetchBundles, uploadPrekeys } from './keys';
import { type RelayContext, SocketSession } from './session';
import { finishSignIn, startSignIn } from './signin';
import type { RelaySocket } from './types';

type EventName = keyof ClientToServerEvents;

type Handler = (
  context: RelayContext,
  session: SocketSession,
  payload: unknown,
) => Promise<unknown>;
type DeviceHandler = (
  context: RelayContext,
  session: SocketSession,
  device: Address,
  payload: unknown,
) => Promise<unknown>;

/** Wraps a handler that needs a signed-in device. */
function signedIn(handler: DeviceHandler): Handler {
  return async (context, session, payload) => {
    if (!session.device) {
      throw new RelayError(
        ErrorCode.unauthenticated,
        'Sign in with signin:start and signin:finish before this event.',
      );
    }
    return handler(context, session, session.device, payload);
  };
}

/**
 * The handler of each event. One table serves every connection, so that a
 * connection costs a session and two listeners rather than a closure per
 * event, which matters at thousands of idle connections.
 */
const HANDLERS: Record<EventName, Handler> = {
  'signin:start': (context, session, payload) =>
    startSignIn(context, session, payload),
  'signin:finish': (context, session, payload) =>
    finishSignIn(context, session, payload),
  'keys:bundle': signedIn((context, session, device, payload) =>
    fetchBundles(context, session, device, payload),
  ),
  'keys:upload': signedIn((context, _session, device, payload) =>
    uploadPrekeys(context, device, payload),
  ),
  'keys:access-log': signedIn((context, _session, device, payload) =>
    readAccessLog(context, device, payload),
  ),
  'envelope:send': signedIn((context, session, device, payload) =>
    sendEnvelope(context, session, device, payload),
  ),
  'envelope:ack': signedIn((context, _session, device, payload) =>
    acknowledgeEnvelopes(context, device, payload),
  ),
};

function handlerOf(event: string): Handler | undefined {
  return Object.hasOwn(HANDLERS, event)
    ? HANDLERS[event as EventName]
    : undefined;
}

/** Limits shared by every connection, and the per-socket event rate. */
export interface ConnectionLimiters {
  /** Every event on one socket. */
  readonly socketEvents: Rate;
  /** Every event from one address, across its sockets. */
  readonly addressEvents: RateLimiter;
  readonly gate: ConnectionGate;
  /** The address that per-address limits count. */
  readonly clientAddress: ClientAddress;
}

/** Socket.IO's untyped listener view, since payloads are validated here. */
interface UntypedSocket {
  /** Raw packets may name an event with a number, not only a string. */
  onAny(listener: (event: unknown, ...args: unknown[]) => void): void;
}

export function handleConnection(
  context: RelayContext,
  socket: RelaySocket,
  limiters: ConnectionLimiters,
  logger: Logger,
  rejections: RejectionLog,
): void {
  const session = new SocketSession(
    socket,
    limiters.clientAddress(socket.request),
  );
  const flood = new RateLimiter(limiters.socketEvents);
  const untyped = socket as unknown as UntypedSocket;

  const dispatch = async (
    event: string,
    handler: Handler | undefined,
    args: unknown[],
  ): Promise<void> => {
    const last = args[args.length - 1];
    const ack =
      typeof last === 'function'
        ? (last as (reply: Reply<unknown>) => void)
        : undefined;
    const payload = ack ? args.slice(0, -1)[0] : args[0];
    let reply: Reply<unknown>;
    try {
      if (!flood.take('socket')) {
        throw new RelayError(
          ErrorCode.rateLimited,
          'Too many events on this connection. Slow down and retry.',
        );
      }
      if (!limiters.addressEvents.take(session.remoteAddress)) {
        throw new RelayError(
          ErrorCode.rateLimited,
          'Too many events from this address. Slow down and retry.',
        );
      }
      if (!handler) {
        throw new RelayError(
          ErrorCode.invalidRequest,
          `Invalid request: unknown event "${event.slice(0, 64)}".`,
        );
      }
      reply = { ok: true, value: await handler(context, session, payload) };
      if (session.device) limiters.gate.signedIn(socket);
    } catch (error) {
      const wire = toWireError(error);
      context.metrics?.eventRejected(wire.code);
      if (wire.code === ErrorCode.internal) {
        logger.error(
          {
            err: error,
            eventName: event,
            code: wire.code,
            socketId: socket.id,
          },
          'event failed',
        );
      } else {
        // Unknown event names come from the client, so they are not logged.
        rejections.record(wire.code, handler ? event : '(unknown)', socket.id);
      }
      reply = { ok: false, error: wire };
    }
    // A client may leave out the acknowledgement callback, and then the reply
    // is dropped.
    ack?.(reply);
  };

  // Socket.IO passes the acknowledgement callback to `onAny` listeners as
  // the last argument, as it does to `on` listeners.
  untyped.onAny((event, ...args) => {
    const name = String(event);
    void dispatch(name, handlerOf(name), args);
  });

  socket.on('disconnect', () => {
    if (session.pump) context.delivery.remove(session.pump);
  });
}
