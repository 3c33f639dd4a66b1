/**
 * Relay child process for the chaos run: listens on 127.0.0.1:PORT with its
 * database in DATA_DIR, and prints one JSON line with its `url` on stdout
 * once ready. The chaos run kills it with SIGKILL and starts it again on
 * the same port and folder.
 *
 * Every simulated client connects from 127.0.0.1, so the per-address rate
 * and connection limits are raised far above the relay's defaults. The
 * per-device limits stay as they are.
 */
import { createRelay } from '../server/app';
import { createLogger } from '../server/logger';

const HIGH_RATE = { perSecond: 1_000_000, burst: 1_000_000 };

const dataDir = process.env.DATA_DIR;
const port = Number(process.env.PORT);
if (!dataDir) throw new Error('DATA_DIR is required');
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  throw new Error(`Invalid PORT "${process.env.PORT}": expected 1-65535.`);
}

const relay = await createRelay({
  dataDir,
  host: '127.0.0.1',
  port,
  logger: createLogger({ level: process.env.LOG_LEVEL ?? 'warn' }),
  // An empty folder name serves no client: the chaos run needs only the API.
  clientDir: '',
  rateLimits: {
    signIn: { address: HIGH_RATE },
    bundle: { address: HIGH_RATE },
    send: { address: HIGH_RATE },
    register: HIGH_RATE,
    addressEvents: HIGH_RATE,
  },
  bundleRateLimits: { requester: HIGH_RATE, target: HIGH_RATE },
  connectionLimits: { perAddress: 100_000, unsignedPerAddress: 100_000 },
});
process.stdout.write(`${JSON.stringify({ url: relay.url })}\n`);
