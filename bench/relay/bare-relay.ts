/**
 * Child process running the baseline relay: a bare Socket.IO 4 server that
 * forwards each `envelope:send` to the recipient's socket and acknowledges
 * it. It stores and validates nothing and has no sign-in, because a device
 * names itself in the handshake's `auth`. It replies to `envelope:ack`
 * without work, so that the load generator does the same work against both
 * relays.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server, type Socket } from 'socket.io';
import { MAX_SOCKET_MESSAGE_BYTES } from '../../shared/wire/limits';
import { serveParent } from './ipc';

interface Address {
  readonly userId: string;
  readonly deviceId: number;
}
type Reply = (reply: { ok: boolean; value?: unknown }) => void;

const key = (address: Address) => `${address.userId}/${address.deviceId}`;
const sockets = new Map<string, Socket>();
const httpServer = createServer();
const io = new Server(httpServer, {
  maxHttpBufferSize: MAX_SOCKET_MESSAGE_BYTES,
  serveClient: false,
});
let seq = 0;

io.on('connection', (socket) => {
  const self = socket.handshake.auth as Address;
  sockets.set(key(self), socket);
  socket.on('disconnect', () => sockets.delete(key(self)));
  socket.on(
    'envelope:send',
    (envelope: { id: string; to: Address }, ack?: Reply) => {
      const serverTs = Date.now();
      seq += 1;
      sockets
        .get(key(envelope.to))
        ?.emit('envelope', { ...envelope, from: self, serverTs, seq });
      ack?.({
        ok: true,
        value: { id: envelope.id, serverTs, duplicate: false },
      });
    },
  );
  socket.on('envelope:ack', (request: { ids: string[] }, ack?: Reply) => {
    ack?.({ ok: true, value: { deleted: request.ids.length } });
  });
});

httpServer.listen(0, '127.0.0.1', () => {
  const { port } = httpServer.address() as AddressInfo;
  serveParent(
    `http://127.0.0.1:${port}`,
    () => new Promise((resolve) => void io.close(() => resolve())),
  );
});
