/**
 * The Cloak relay: one HTTP server with the Express app (account API, built
 * client) and Socket.IO (sign-in, key directory, envelopes), backed by the
 * SQLite store in `dataDir`.
 */
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Server } from 'socket.io';
import { ErrorCode } from '../shared/wire/errors';
import { createAdmin } from './admin/admin';
import { sqliteStoreStats } from './admin/store-stats';
import { resolveAdminToken } from './admin/token';
import {
  KEY_DIRECTORY_LOG_RETENTION_MS,
  MAX_ACK_IDS,
  MAX_SOCKET_MESSAGE_BYTES,
  SENT_ID_RETENTION_MS,
  SIGN_IN_NONCE_TTL_MS,
} from '../shared/wire/limits';
import { createHttpApp } from './http';
import { type Logger, createLogger, moduleLogger } from './logger';
import {
  type ConnectionLimits,
  DeviceAndAddressLimiter,
  type Rate,
  RateLimiter,
  type RateLimitOverrides,
  resolveConnectionLimits,
  resolveRateLimits,
} from './rate-limit';
import { RejectionLog } from './rejection-log';
import { clientAddressResolver } from './client-address';
import { handleConnection } from './socket/connection';
import { ConnectionGate } from './socket/connection-limits';
import { DeliveryHub } from './socket/delivery';
import {
  BundleLimiter,
  type BundleRateLimits,
  announceKeyChange,
} from './socket/key-directory';
import type { RelayContext } from './socket/session';
import type { RelayServer } from './socket/types';
import { type SynchronousMode, openSqliteStore } from './store/sqlite';
import { WalCheckpointer } from './store/wal-checkpoint';
import type { TestHooks } from './test-hooks';

export interface RelayOptions {
  /** Folder of the SQLite database; created when missing. */
  readonly dataDir: string;
  /** Listening address; 127.0.0.1 by default. */
  readonly host?: string;
  /** Listening port; 0 picks a free one. Default 3000. */
  readonly port?: number;
  readonly logger?: Logger;
  /** Built client to serve, `dist/client` by default; skipped when missing. */
  readonly clientDir?: string;
  /** SQLite `synchronous` pragma: NORMAL survives a crash, FULL a power loss. */
  readonly synchronous?: SynchronousMode;
  /**
   * Origin that devices sign at sign-in and that browsers must send, such as
   * `https://cloak.example`. Default: `http://` (`https://` with TLS) + the
   * request's Host header.
   */
  readonly publicOrigin?: string;
  readonly rateLimits?: RateLimitOverrides;
  /** Caps on concurrent Socket.IO connections per remote address. */
  readonly connectionLimits?: Partial<ConnectionLimits>;
  /**
   * Reverse proxies whose `X-Forwarded-For` is believed (`TRUST_PROXY`):
   * addresses, CIDR ranges, or loopback, linklocal, uniquelocal. None by
   * default, so per-address limits count the TCP peer.
   */
  readonly trustedProxies?: readonly string[];
  /** Certificate and private key in PEM; the relay then serves HTTPS only. */
  readonly tls?: TlsCredentials;
  /** Lifetime of a sign-in nonce in ms; tests shorten it. */
  readonly signInNonceTtlMs?: number;
  /** Envelopes emitted to one socket before it must acknowledge some. */
  readonly deliveryWindow?: number;
  /** Bundle fetch limits per requesting user and per target user. */
  readonly bundleRateLimits?: Partial<BundleRateLimits>;
  /**
   * TEST ONLY: loads `test-hooks.ts`, whose routes make the relay forge
   * keys. Never set in production.
   */
  readonly testHooks?: boolean;
  /**
   * Admin token (`ADMIN_TOKEN`). When undefined, a token is generated once
   * and kept in `dataDir/admin-token` with mode 0600.
   */
  readonly adminToken?: string | undefined;
  /** Admin sign-in attempts per address; tests lower it. */
  readonly adminSignInRate?: Rate | undefined;
  /** Admin status turns amber when a queued envelope is older, in ms. */
  readonly adminQueueAgeWarningMs?: number | undefined;
  /** Interval between warn lines of one rejection code, in ms. */
  readonly rejectionLogIntervalMs?: number | undefined;
  /** Interval between WAL checkpoints, in ms; 60 s by default. */
  readonly walCheckpointIntervalMs?: number | undefined;
}

export interface TlsCredentials {
  /** Certificate chain in PEM, leaf first. */
  readonly cert: string | Buffer;
  /** Private key of the leaf certificate in PEM. */
  readonly key: string | Buffer;
}

export interface Relay {
  /** Base URL, such as `http://127.0.0.1:3000` or `https://…` with TLS. */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

const DATABASE_FILE = 'cloak.sqlite';
const PRUNE_INTERVAL_MS = 60 * 60 * 1000;
/** Time a new transport has to join the namespace before it is closed. */
const CONNECT_TIMEOUT_MS = 10_000;

/** Loads the test-only routes with a dynamic import; see `test-hooks.ts`. */
async function loadTestHooks(root: Logger): Promise<TestHooks> {
  const { createTestHooks } = await import('./test-hooks');
  const logger = moduleLogger(root, 'test-hooks');
  logger.warn(
    { event: 'test-hooks' },
    'test hooks enabled: POST /test/swap-identity serves forged keys',
  );
  return createTestHooks(logger);
}

export async function createRelay(options: RelayOptions): Promise<Relay> {
  const root = options.logger ?? createLogger();
  const logger = moduleLogger(root, 'relay');
  const host = options.host ?? '127.0.0.1';
  mkdirSync(options.dataDir, { recursive: true });
  const adminLogger = moduleLogger(root, 'admin');
  // Resolved before the store opens, so that a bad token leaves nothing open.
  const adminToken = resolveAdminToken(
    options.adminToken,
    options.dataDir,
    adminLogger,
  );
  const databaseFile = path.join(options.dataDir, DATABASE_FILE);
  const sqlite = openSqliteStore({
    path: databaseFile,
    synchronous: options.synchronous ?? 'NORMAL',
  });
  const clientAddress = clientAddressResolver(options.trustedProxies);
  const admin = createAdmin({
    token: adminToken,
    stats: sqliteStoreStats(sqlite.db, databaseFile),
    logger: adminLogger,
    tls: options.tls !== undefined,
    signInRate: options.adminSignInRate,
    queueAgeWarningMs: options.adminQueueAgeWarningMs,
    clientAddress,
  });
  const hooks = options.testHooks ? await loadTestHooks(root) : undefined;
  const store = hooks ? hooks.wrapStore(sqlite) : sqlite;
  const limits = resolveRateLimits(options.rateLimits);
  const scheme = options.tls ? 'https' : 'http';
  const rejections = new RejectionLog(logger, options.rejectionLogIntervalMs);
  const requestRejections = new RejectionLog(
    moduleLogger(root, 'http'),
    options.rejectionLogIntervalMs,
    'request',
  );
  const connectionRejections = new RejectionLog(
    logger,
    options.rejectionLogIntervalMs,
    'connection',
  );
  const gate = new ConnectionGate(
    resolveConnectionLimits(options.connectionLimits),
    connectionRejections,
    clientAddress,
  );

  const app = createHttpApp({
    store,
    logger: moduleLogger(root, 'http'),
    registerRate: limits.register,
    clientAddress,
    rejections: requestRejections,
    onCertificateReplaced: (userId) => {
      announceKeyChange(context, userId).catch((error: unknown) => {
        logger.error(
          { err: error, code: ErrorCode.internal },
          'key change announcement failed',
        );
      });
    },
    testRoutes: hooks?.router,
    adminRoutes: admin.router,
    clientDir: options.clientDir ?? path.resolve('dist/client'),
    tls: options.tls !== undefined,
  });
  const httpServer = options.tls
    ? createHttpsServer({ cert: options.tls.cert, key: options.tls.key }, app)
    : createServer(app);
  const io: RelayServer = new Server(httpServer, {
    maxHttpBufferSize: MAX_SOCKET_MESSAGE_BYTES,
    serveClient: false,
    connectTimeout: CONNECT_TIMEOUT_MS,
    allowRequest: (request, callback) => {
      // Browsers send Origin, and a page of another site must not connect.
      const origin = request.headers.origin;
      const expected =
        options.publicOrigin ?? `${scheme}://${request.headers.host ?? ''}`;
      if (origin !== undefined && origin !== expected) {
        connectionRejections.record(
          ErrorCode.unauthenticated,
          'foreign origin',
        );
        callback('Origin not allowed', false);
        return;
      }
      if (!gate.allowsTransport(request)) {
        connectionRejections.record(
          ErrorCode.rateLimited,
          'transports per address',
        );
        callback('Too many connections from this address', false);
        return;
      }
      callback(null, true);
    },
  });
  gate.install(io);
  admin.attach(io);
  const addressEvents = new RateLimiter(limits.addressEvents);

  const delivery = new DeliveryHub();
  const context: RelayContext = {
    io,
    store,
    delivery,
    limits: {
      signIn: new DeviceAndAddressLimiter(limits.signIn),
      bundle: new DeviceAndAddressLimiter(limits.bundle),
      send: new DeviceAndAddressLimiter(limits.send),
    },
    bundleLimits: new BundleLimiter(options.bundleRateLimits),
    loggers: {
      signIn: moduleLogger(root, 'signin'),
      keys: moduleLogger(root, 'keys'),
      envelopes: moduleLogger(root, 'envelopes'),
    },
    publicOrigin: options.publicOrigin,
    scheme,
    signInNonceTtlMs: options.signInNonceTtlMs ?? SIGN_IN_NONCE_TTL_MS,
    deliveryWindow: options.deliveryWindow ?? MAX_ACK_IDS,
    now: Date.now,
    metrics: admin.metrics,
  };
  hooks?.bind(context);
  io.on('connection', (socket) => {
    handleConnection(
      context,
      socket,
      { socketEvents: limits.socketEvents, addressEvents, gate, clientAddress },
      logger,
      rejections,
    );
    logger.debug(
      {
        event: 'connect',
        socketId: socket.id,
        sockets: io.engine.clientsCount,
      },
      'socket connected',
    );
    socket.on('disconnect', (reason) => {
      logger.debug(
        { event: 'disconnect', socketId: socket.id, reason },
        'socket disconnected',
      );
    });
  });

  const prune = async () => {
    try {
      const pruned = await store.pruneSentIds(
        Date.now() - SENT_ID_RETENTION_MS,
      );
      if (pruned > 0) logger.info({ count: pruned }, 'sent ids pruned');
      const logRows = await store.pruneKeyDirectoryLogs(
        Date.now() - KEY_DIRECTORY_LOG_RETENTION_MS,
      );
      if (logRows > 0) {
        logger.info({ count: logRows }, 'key directory log rows pruned');
      }
    } catch (error) {
      logger.error({ err: error, code: ErrorCode.internal }, 'prune failed');
    }
  };
  await prune();
  const checkpoints = new WalCheckpointer(
    sqlite.db,
    databaseFile,
    logger,
    options.walCheckpointIntervalMs,
  );
  checkpoints.start();
  const pruneTimer = setInterval(() => void prune(), PRUNE_INTERVAL_MS);
  pruneTimer.unref();

  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(options.port ?? 3000, host, () => {
      httpServer.off('error', reject);
      resolve();
    });
  });
  const port = (httpServer.address() as AddressInfo).port;
  const url = `${scheme}://${host.includes(':') ? `[${host}]` : host}:${port}`;
  logger.info({ event: 'start', host, port, scheme }, 'relay started');

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      clearInterval(pruneTimer);
      rejections.close();
      requestRejections.close();
      connectionRejections.close();
      admin.close();
      delivery.closeAll();
      await new Promise<void>((resolve) => {
        io.close(() => resolve());
      });
      checkpoints.stop();
      await store.close();
      logger.info({ event: 'stop' }, 'relay stopped');
    })();
    return closing;
  };
  return { url, port, close };
}
