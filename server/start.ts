/**
 * Starts the relay from the environment: PORT (default 3000, 0 picks a free
 * port), HOST (default 127.0.0.1), DATA_DIR (default ./data),
 * SQLITE_SYNCHRONOUS (NORMAL or FULL), PUBLIC_ORIGIN, LOG_LEVEL (pino
 * level, default info), ADMIN_TOKEN (admin page and `/metrics`; generated
 * into DATA_DIR/admin-token when unset), TLS_CERT and TLS_KEY (PEM files;
 * both set serve HTTPS, neither serves HTTP), and TRUST_PROXY (reverse
 * proxies whose X-Forwarded-For is believed: addresses, CIDR ranges, or
 * loopback, linklocal, uniquelocal, separated by commas). Builds the client first when
 * `dist/client/index.html` is missing or older than a file under `client/`,
 * `shared/` or `package-lock.json`, then logs one line,
 * `Cloak is ready at <url>`, with a `url` field.
 *
 * The `--test-hooks` flag loads test-only routes that make the relay forge
 * keys (see `test-hooks.ts`). Only tests pass it, and `npm start` never does.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { createSecureContext } from 'node:tls';
import { type TlsCredentials, createRelay } from './app';
import { parseTrustedProxies } from './client-address';
import { clientBuildReason } from './client-build';
import { createLogger, moduleLogger } from './logger';
import type { SynchronousMode } from './store/sqlite';

const CLIENT_DIR = path.resolve('dist/client');
const VITE_CONFIG = 'client/vite.config.ts';

function readPort(value: string | undefined): number {
  if (value === undefined || value === '') return 3000;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`Invalid PORT "${value}": expected an integer 0-65535.`);
  }
  return port;
}

function readSynchronous(value: string | undefined): SynchronousMode {
  const mode = (value ?? 'NORMAL').toUpperCase();
  if (mode !== 'NORMAL' && mode !== 'FULL') {
    throw new Error(
      `Invalid SQLITE_SYNCHRONOUS "${value}": expected NORMAL or FULL.`,
    );
  }
  return mode;
}

function readPemFile(variable: 'TLS_CERT' | 'TLS_KEY', file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new Error(
      `Failed to read ${variable} file "${file}" (${reason}). Set ${variable} to a readable PEM file.`,
    );
  }
}

function readTls(
  certFile: string | undefined,
  keyFile: string | undefined,
): TlsCredentials | undefined {
  if (!certFile && !keyFile) return undefined;
  if (!certFile || !keyFile) {
    const missing = certFile ? 'TLS_KEY' : 'TLS_CERT';
    throw new Error(
      `${missing} is missing: set both TLS_CERT and TLS_KEY to PEM files to serve HTTPS, or neither to serve HTTP.`,
    );
  }
  const credentials = {
    cert: readPemFile('TLS_CERT', certFile),
    key: readPemFile('TLS_KEY', keyFile),
  };
  try {
    // Parses both files now, so a bad file fails with the variable names.
    createSecureContext(credentials);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(
      `Invalid TLS_CERT "${certFile}" or TLS_KEY "${keyFile}": ${reason}. Both must be PEM, and the key must match the certificate.`,
    );
  }
  return credentials;
}

async function buildClientIfStale(log: ReturnType<typeof createLogger>) {
  const reason = clientBuildReason({
    root: process.cwd(),
    builtIndex: path.join(CLIENT_DIR, 'index.html'),
  });
  if (reason === undefined) return;
  if (!existsSync(VITE_CONFIG)) {
    log.warn(
      { config: VITE_CONFIG },
      'client build skipped: no Vite config; serving the API only',
    );
    return;
  }
  log.info({ outDir: CLIENT_DIR, reason }, `building the client: ${reason}`);
  const { build } = await import('vite');
  await build({ configFile: VITE_CONFIG, logLevel: 'warn' });
}

async function main(): Promise<void> {
  const root = createLogger({ level: process.env.LOG_LEVEL ?? 'info' });
  const log = moduleLogger(root, 'relay');
  const tls = readTls(process.env.TLS_CERT, process.env.TLS_KEY);
  const relay = await (async () => {
    await buildClientIfStale(log);
    return createRelay({
      dataDir: path.resolve(process.env.DATA_DIR ?? './data'),
      host: process.env.HOST || '127.0.0.1',
      port: readPort(process.env.PORT),
      synchronous: readSynchronous(process.env.SQLITE_SYNCHRONOUS),
      publicOrigin: process.env.PUBLIC_ORIGIN || undefined,
      clientDir: CLIENT_DIR,
      logger: root,
      testHooks: process.argv.slice(2).includes('--test-hooks'),
      adminToken: process.env.ADMIN_TOKEN || undefined,
      trustedProxies: parseTrustedProxies(process.env.TRUST_PROXY),
      tls,
    });
  })();
  log.info({ url: relay.url }, `Cloak is ready at ${relay.url}`);

  const shutdown = (signal: NodeJS.Signals) => {
    log.info({ signal }, 'shutting down');
    relay.close().then(
      () => process.exit(0),
      (error: unknown) => {
        log.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}

main().catch((error: unknown) => {
  createLogger().fatal({ err: error }, 'relay failed to start');
  process.exitCode = 1;
});
