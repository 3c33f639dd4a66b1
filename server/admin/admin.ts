/**
 * The relay's admin side, wired together: the admin token, sessions, health
 * figures, HTTP routes and the `/admin` namespace. `createAdmin` runs before
 * the Socket.IO server exists; `attach` connects the two once it does.
 */
import type { ClientAddress } from '../client-address';
import { readFileSync } from 'node:fs';
import type express from 'express';
import { ADMIN_SAMPLE_INTERVAL_MS } from '../../shared/wire/admin';
import type { Logger } from '../logger';
import type { Rate } from '../rate-limit';
import type { RelayServer } from '../socket/types';
import { RelayMetrics } from './metrics';
import { attachAdminNamespace, publishSnapshot } from './namespace';
import { adminRouter } from './routes';
import { AdminSessions } from './sessions';
import type { StoreStats } from './store-stats';

export interface AdminOptions {
  /** The admin token, as `resolveAdminToken` returns it. */
  readonly token: string;
  readonly stats: StoreStats;
  readonly logger: Logger;
  readonly tls: boolean;
  readonly signInRate?: Rate | undefined;
  /** Amber when the oldest queued envelope is older than this, in ms. */
  readonly queueAgeWarningMs?: number | undefined;
  /** The address that sign-in limits count; the TCP peer by default. */
  readonly clientAddress?: ClientAddress | undefined;
}

export interface Admin {
  readonly router: express.Router;
  readonly metrics: RelayMetrics;
  /** Starts the `/admin` namespace and the sampling timer. */
  attach(io: RelayServer): void;
  close(): void;
}

/** Room name prefix of signed-in devices; see `deviceRoom`. */
const DEVICE_ROOM_PREFIX = 'device:';

export function createAdmin(options: AdminOptions): Admin {
  const { logger } = options;
  const sessions = new AdminSessions();
  let server: RelayServer | undefined;
  const metrics = new RelayMetrics({
    stats: options.stats,
    sockets: () => server?.of('/').sockets.size ?? 0,
    devices: () => (server ? countDeviceRooms(server) : 0),
    version: readVersion(),
    queueAgeWarningMs: options.queueAgeWarningMs,
  });
  const router = adminRouter({
    token: options.token,
    sessions,
    metrics,
    stats: options.stats,
    logger,
    tls: options.tls,
    signInRate: options.signInRate,
    clientAddress: options.clientAddress,
  });
  let timer: NodeJS.Timeout | undefined;

  return {
    router,
    metrics,
    attach: (io) => {
      server = io;
      const namespace = attachAdminNamespace(io, sessions, metrics, logger);
      timer = setInterval(
        () => publishSnapshot(namespace, sessions, metrics),
        ADMIN_SAMPLE_INTERVAL_MS,
      );
      timer.unref();
    },
    close: () => {
      clearInterval(timer);
      metrics.stop();
    },
  };
}

// NOTE: this counts the devices signed in to this relay process only. With
// several relay nodes each node reports its own devices.
function countDeviceRooms(io: RelayServer): number {
  let devices = 0;
  for (const room of io.of('/').adapter.rooms.keys()) {
    if (room.startsWith(DEVICE_ROOM_PREFIX)) devices += 1;
  }
  return devices;
}

function readVersion(): string {
  try {
    const file = new URL('../../package.json', import.meta.url);
    const { version } = JSON.parse(readFileSync(file, 'utf8')) as {
      version?: unknown;
    };
    return typeof version === 'string' ? version : 'unknown';
  } catch {
    return 'unknown';
  }
}
