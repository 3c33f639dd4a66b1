/**
 * Child process running the Cloak relay (`createRelay`) for the relay,
 * connection and group benchmarks: 127.0.0.1, a free port, its SQLite
 * database in DATA_DIR. Every simulated device connects from 127.0.0.1, so
 * the options raise the rate and connection limits far above the defaults.
 * The relay also serves no client build and logs at warn level. Everything
 * else runs as in production.
 */
import { createRelay } from '../../server/app';
import { createLogger } from '../../server/logger';
import { serveParent } from './ipc';

const UNLIMITED = { perSecond: 1_000_000_000, burst: 1_000_000_000 };
const UNLIMITED_PAIR = { device: UNLIMITED, address: UNLIMITED };

const dataDir = process.env.DATA_DIR;
if (!dataDir)
  throw new Error('DATA_DIR is required: the relay database folder.');

const relay = await createRelay({
  dataDir,
  host: '127.0.0.1',
  port: 0,
  logger: createLogger({ level: process.env.LOG_LEVEL ?? 'warn' }),
  // An empty folder name serves no client: the bench needs only the API.
  clientDir: '',
  rateLimits: {
    signIn: UNLIMITED_PAIR,
    bundle: UNLIMITED_PAIR,
    send: UNLIMITED_PAIR,
    register: UNLIMITED,
    socketEvents: UNLIMITED,
    addressEvents: UNLIMITED,
  },
  bundleRateLimits: { requester: UNLIMITED, target: UNLIMITED },
  connectionLimits: { perAddress: 1_000_000, unsignedPerAddress: 1_000_000 },
});
serveParent(relay.url, () => relay.close());
