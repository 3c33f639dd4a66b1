/**
 * The `/admin` Socket.IO namespace. The handshake must carry a valid admin
 * session cookie. A new socket receives the last hour of samples, then every
 * socket receives the current figures once a second. Sockets whose session
 * expired or was signed out are disconnected at the next sample.
 */
import type { Namespace } from 'socket.io';
import type {
  AdminClientToServerEvents,
  AdminServerToClientEvents,
} from '../../shared/wire/admin';
import { ErrorCode } from '../../shared/wire/errors';
import type { Logger } from '../logger';
import type { RelayServer } from '../socket/types';
import type { RelayMetrics } from './metrics';
import { type AdminSessions, sessionIdFromCookie } from './sessions';

interface AdminSocketData {
  sessionId: string;
}

export type AdminNamespace = Namespace<
  AdminClientToServerEvents,
  AdminServerToClientEvents,
  Record<string, never>,
  AdminSocketData
>;

/** Error a refused handshake carries; socket.io-client exposes `data`. */
class AdminHandshakeError extends Error {
  readonly data = { code: ErrorCode.unauthenticated };
}

export function attachAdminNamespace(
  io: RelayServer,
  sessions: AdminSessions,
  metrics: RelayMetrics,
  logger: Logger,
): AdminNamespace {
  const namespace = io.of('/admin') as unknown as AdminNamespace;
  namespace.use((socket, next) => {
    const sessionId = sessionIdFromCookie(socket.handshake.headers.cookie);
    if (sessionId === undefined || !sessions.isValid(sessionId)) {
      logger.debug({ event: 'admin-socket-rejected' }, 'admin socket rejected');
      next(
        new AdminHandshakeError(
          'No admin session, or it expired. Sign in on /admin again.',
        ),
      );
      return;
    }
    socket.data.sessionId = sessionId;
    next();
  });
  namespace.on('connection', (socket) => {
    socket.emit('admin:history', metrics.history);
    socket.emit('admin:snapshot', metrics.current());
  });
  return namespace;
}

/** Disconnects signed-out sockets and sends the snapshot to the others. */
export function publishSnapshot(
  namespace: AdminNamespace,
  sessions: AdminSessions,
  metrics: RelayMetrics,
): void {
  const snapshot = metrics.takeSample();
  for (const socket of namespace.sockets.values()) {
    if (!sessions.isValid(socket.data.sessionId)) socket.disconnect(true);
  }
  namespace.emit('admin:snapshot', snapshot);
}
