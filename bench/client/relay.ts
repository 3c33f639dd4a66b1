/**
 * Starts the real relay for the client suite the way `npm start` does
 * (`node --import tsx server/start.ts`) on a free loopback port, with a
 * fresh data folder and a snapshot of the built client.
 *
 * `server/start.ts` serves `dist/client` below its working folder, so the
 * relay runs in a temporary folder that contains a copy of the project's
 * build, or a new build when that one is missing or older than the sources.
 * The project's `dist/client` is never written, so a build or test running
 * at the same time cannot change the files under measurement.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { cpSync, createWriteStream, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { clientBuildReason } from '../../server/client-build';

const PROJECT_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const READY_TIMEOUT_MS = 60_000;

export interface BuiltClient {
  /** The built client's folder: `<folder>/dist/client`. */
  readonly directory: string;
  /** Origin of the build for the report's notes: a copy, or a build and why. */
  readonly origin: string;
}

/**
 * Puts a built client into `<folder>/dist/client`: a copy of the project's
 * `dist/client` when it is newer than every client source (the check that
 * `npm start` makes), else a new build with `client/vite.config.ts`.
 */
export async function prepareClient(folder: string): Promise<BuiltClient> {
  const directory = path.join(folder, 'dist', 'client');
  const projectBuild = path.join(PROJECT_ROOT, 'dist', 'client');
  const reason = clientBuildReason({
    root: PROJECT_ROOT,
    builtIndex: path.join(projectBuild, 'index.html'),
  });
  if (reason === undefined) {
    cpSync(projectBuild, directory, { recursive: true });
    return { directory, origin: 'copy of dist/client (up to date)' };
  }
  const { build } = await import('vite');
  await build({
    configFile: path.join(PROJECT_ROOT, 'client', 'vite.config.ts'),
    logLevel: 'warn',
    build: { outDir: directory, emptyOutDir: true },
  });
  return { directory, origin: `new build, because ${reason}` };
}

export interface RunningRelay {
  readonly url: string;
  stop(): Promise<void>;
}

/**
 * Starts `server/start.ts` with `folder` as its working folder, so that it
 * serves `<folder>/dist/client` and keeps its data in `<folder>/data`. The
 * relay's log goes to `<folder>/relay.log`.
 */
export async function startRelay(folder: string): Promise<RunningRelay> {
  const dataDir = path.join(folder, 'data');
  mkdirSync(dataDir, { recursive: true });
  const log = createWriteStream(path.join(folder, 'relay.log'));
  const relay = spawn(
    process.execPath,
    [
      '--import',
      import.meta.resolve('tsx'),
      path.join(PROJECT_ROOT, 'server', 'start.ts'),
    ],
    {
      cwd: folder,
      env: { ...process.env, PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  relay.stderr.pipe(log);
  try {
    const url = await readyUrl(relay, log);
    return { url, stop: () => stopRelay(relay, log) };
  } catch (error) {
    await stopRelay(relay, log);
    throw error;
  }
}

/** Resolves with the relay's URL from its `Cloak is ready` log line. */
function readyUrl(
  relay: ChildProcess,
  log: NodeJS.WritableStream,
): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    // The output's tail goes into the error, because the folder with the
    // log file is deleted when the suite ends.
    let tail = '';
    const keepTail = (chunk: Buffer) => {
      tail = (tail + chunk.toString('utf8')).slice(-2000);
    };
    relay.stderr?.on('data', keepTail);
    const timer = setTimeout(
      () =>
        reject(
          new Error(
            `relay not ready after ${READY_TIMEOUT_MS} ms. Its last output:\n${tail}`,
          ),
        ),
      READY_TIMEOUT_MS,
    );
    // The log is read until the ready line and then only copied to the file.
    let pending: string | undefined = '';
    relay.stdout?.on('data', (chunk: Buffer) => {
      log.write(chunk);
      keepTail(chunk);
      if (pending === undefined) return;
      pending += chunk.toString('utf8');
      const match = /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(pending);
      if (match?.[1]) {
        pending = undefined;
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    relay.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(
        new Error(
          `relay exited (code ${code}, signal ${signal}) before it was ready. Its last output:\n${tail}`,
        ),
      );
    });
  });
}

async function stopRelay(
  relay: ChildProcess,
  log: NodeJS.WritableStream,
): Promise<void> {
  if (relay.exitCode === null && relay.signalCode === null) {
    const exited = new Promise((resolve) => relay.once('exit', resolve));
    relay.kill('SIGTERM');
    await exited;
  }
  await new Promise<void>((resolve) => log.end(resolve));
}
