/**
 * Caps on concurrent connections per remote address. A Socket.IO connection
 * over a cap is refused by namespace middleware, so the client gets a
 * `connect_error` whose `data` is `{ code: 'rate-limited', message }`. The
 * Engine.IO transports under those connections get a looser cap at the
 * handshake, against clients that open transports and never join the
 * namespace; such a handshake gets HTTP 403.
 */
import type { IncomingMessage } from 'node:http';
import { ErrorCode, type WireError } from '../../shared/wire/errors';
import type { ClientAddress } from '../client-address';
import type { RejectionLog } from '../rejection-log';
import { type ConnectionLimits, ConnectionCounter } from '../rate-limit';
import type { RelayServer, RelaySocket } from './types';

/** Engine.IO transports allowed per address, as a multiple of `perAddress`. */
const TRANSPORTS_PER_CONNECTION = 2;

interface Admitted {
  readonly address: string;
  signedIn: boolean;
}

/** An error that Socket.IO sends to the client with its `data`. */
export class ConnectionRefused extends Error {
  readonly data: WireError;

  constructor(
    message: string,
    /** The cap that refused it, for the log; never the address. */
    readonly reason: string,
  ) {
    super(message);
    this.name = 'ConnectionRefused';
    this.data = { code: ErrorCode.rateLimited, message };
  }
}

export class ConnectionGate {
  private readonly open: ConnectionCounter;
  private readonly unsigned: ConnectionCounter;
  private readonly transports: ConnectionCounter;
  /** Admitted sockets by socket id, until they disconnect. */
  private readonly admitted = new Map<string, Admitted>();

  constructor(
    limits: ConnectionLimits,
    private readonly connectionRejections: RejectionLog,
    private readonly clientAddress: ClientAddress = (request) =>
      request.socket.remoteAddress ?? 'unknown',
  ) {
    this.open = new ConnectionCounter(limits.perAddress);
    this.unsigned = new ConnectionCounter(limits.unsignedPerAddress);
    this.transports = new ConnectionCounter(
      limits.perAddress * TRANSPORTS_PER_CONNECTION,
    );
  }

  /** Adds the namespace middleware and the transport counting to `io`. */
  install(io: RelayServer): void {
    io.engine.on('connection', (transport: EngineSocket) => {
      const address = this.clientAddress(transport.request);
      this.transports.add(address);
      transport.once('close', () => {
        this.transports.remove(address);
      });
    });
    io.use((socket, next) => {
      const refusal = this.admit(socket);
      if (refusal)
        this.connectionRejections.record(refusal.data.code, refusal.reason);
      next(refusal);
    });
  }

  /**
   * Checks an Engine.IO handshake. Transports are counted once open, so a
   * burst of simultaneous handshakes may pass this check together.
   */
  allowsTransport(request: IncomingMessage): boolean {
    const address = this.clientAddress(request);
    return this.transports.count(address) < this.transports.max;
  }

  /** Releases the unsigned slot of a socket that completed sign-in. */
  signedIn(socket: RelaySocket): void {
    const entry = this.admitted.get(socket.id);
    if (!entry || entry.signedIn) return;
    entry.signedIn = true;
    this.unsigned.remove(entry.address);
  }

  private admit(socket: RelaySocket): ConnectionRefused | undefined {
    // NOTE: addresses are counted as given, so an IPv6 client that rotates
    // through its /64 prefix counts as many addresses.
    const address = this.clientAddress(socket.request);
    if (!this.open.add(address)) {
      return new ConnectionRefused(
        `Too many connections from this address (maximum ${this.open.max}). Close other tabs or wait and reconnect.`,
        'connections per address',
      );
    }
    if (!this.unsigned.add(address)) {
      this.open.remove(address);
      return new ConnectionRefused(
        `Too many connections from this address waiting to sign in (maximum ${this.unsigned.max}). Wait a few seconds and reconnect.`,
        'unsigned connections per address',
      );
    }
    const entry: Admitted = { address, signedIn: false };
    this.admitted.set(socket.id, entry);
    // A socket whose transport closes before the connection completes never
    // emits `disconnect`. So the transport's close releases the slots too,
    // and whichever event comes first releases them.
    const release = () => {
      if (this.admitted.get(socket.id) !== entry) return;
      this.admitted.delete(socket.id);
      this.open.remove(address);
      if (!entry.signedIn) this.unsigned.remove(address);
    };
    socket.on('disconnect', release);
    socket.conn.once('close', release);
    return undefined;
  }
}

/** The part of an Engine.IO socket used here. */
interface EngineSocket {
  readonly request: IncomingMessage;
  once(event: 'close', listener: () => void): void;
}
