/**
 * Starts the real relay the way a user does (`tsx server/start.ts`) on a free
 * loopback port with a fresh data folder, and records its log output in a file
 * so that the tests can search both for plaintext.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const READY_TIMEOUT_MS = 120_000;

export default async function globalSetup(): Promise<() => Promise<void>> {
  const root = mkdtempSync(join(tmpdir(), 'cloak-e2e-'));
  const dataDir = join(root, 'data');
  const logFile = join(root, 'relay.log');
  const log = createWriteStream(logFile);
  const adminToken = randomBytes(32).toString('base64url');

  const relay = spawn(
    process.execPath,
    // `--test-hooks` adds `POST /test/swap-identity`, with which the key
    // change scenario makes the relay serve a forged identity key.
    ['--import', 'tsx', 'server/start.ts', '--test-hooks'],
    {
      env: {
        ...process.env,
        PORT: '0',
        HOST: '127.0.0.1',
        DATA_DIR: dataDir,
        ADMIN_TOKEN: adminToken,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );

  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`relay not ready after ${READY_TIMEOUT_MS} ms`)),
      READY_TIMEOUT_MS,
    );
    let pending = '';
    relay.stdout.on('data', (chunk: Buffer) => {
      log.write(chunk);
      pending += chunk.toString('utf8');
      const match = /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(pending);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    relay.stderr.on('data', (chunk: Buffer) => log.write(chunk));
    relay.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`relay exited with code ${code} before it was ready`));
    });
  });

  process.env.CLOAK_URL = url;
  process.env.CLOAK_DATA_DIR = dataDir;
  process.env.CLOAK_LOG_FILE = logFile;
  process.env.CLOAK_ADMIN_TOKEN = adminToken;

  return async () => {
    if (relay.exitCode === null && relay.signalCode === null) {
      const exited = new Promise((resolve) => relay.once('exit', resolve));
      relay.kill('SIGTERM');
      await exited;
    }
    log.end();
  };
}
