/**
 * Starts a relay child process (`real-relay.ts` or `bare-relay.ts`) with
 * `--expose-gc` and an IPC channel, and talks to it: its URL, its memory
 * after a forced garbage collection, and closing it.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ChildMessage, MemoryReport, ParentMessage } from './ipc';

export type RelayKind = 'cloak' | 'bare';

export interface RelayProcess {
  readonly kind: RelayKind;
  readonly url: string;
  /** Memory of the child after `global.gc()`. */
  memory(): Promise<MemoryReport>;
  /** CPU time (user + system) the child has used since it started, in µs. */
  cpuMicros(): Promise<number>;
  /**
   * Waits until the child uses less than a tenth of a core over 25 ms, at
   * most `timeoutMs`, so that work left from earlier load is done.
   */
  waitForIdle(timeoutMs?: number): Promise<void>;
  /** Asks the child to close, and kills it if it has not exited in 5 s. */
  close(): Promise<void>;
}

const START_TIMEOUT_MS = 30_000;
const REPLY_TIMEOUT_MS = 30_000;
const CLOSE_TIMEOUT_MS = 5_000;
const IDLE_POLL_MS = 25;
/** CPU use below this share of the wall time counts as idle. */
const IDLE_CPU_SHARE = 0.1;

const ENTRIES: Record<RelayKind, string> = {
  cloak: path.join(import.meta.dirname, 'real-relay.ts'),
  bare: path.join(import.meta.dirname, 'bare-relay.ts'),
};

/** Creates a temporary folder for a relay database. `removeDataDir` deletes it. */
export function makeDataDir(): string {
  return mkdtempSync(path.join(tmpdir(), 'cloak-bench-'));
}

export function removeDataDir(dataDir: string): void {
  rmSync(dataDir, { recursive: true, force: true });
}

function nextMessage<T extends ChildMessage['type']>(
  child: ChildProcess,
  type: T,
  timeoutMs: number,
): Promise<Extract<ChildMessage, { type: T }>> {
  return new Promise((resolve, reject) => {
    const cleanup = () => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    const onMessage = (message: ChildMessage) => {
      if (message.type !== type) return;
      cleanup();
      resolve(message as Extract<ChildMessage, { type: T }>);
    };
    const onExit = (code: number | null, signal: string | null) => {
      cleanup();
      reject(
        new Error(
          `The relay child exited (code ${code}, signal ${signal}) before its "${type}" message; see its stderr above.`,
        ),
      );
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(
        new Error(
          `The relay child sent no "${type}" message in ${timeoutMs} ms.`,
        ),
      );
    }, timeoutMs);
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

/**
 * Forks a relay child on 127.0.0.1 with a free port. `dataDir` is required
 * for the Cloak relay and ignored by the bare one. `nodeOptions` go to the
 * child's `node`, for example `--cpu-prof` to profile it.
 */
export async function startRelayProcess(
  kind: RelayKind,
  dataDir?: string,
  nodeOptions: readonly string[] = [],
): Promise<RelayProcess> {
  if (kind === 'cloak' && dataDir === undefined) {
    throw new Error('The Cloak relay child needs a dataDir for its database.');
  }
  const child = fork(ENTRIES[kind], [], {
    execArgv: ['--expose-gc', '--import', 'tsx', ...nodeOptions],
    env: {
      ...process.env,
      ...(dataDir !== undefined && { DATA_DIR: dataDir }),
    },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
  });
  let ready: { url: string };
  try {
    ready = await nextMessage(child, 'ready', START_TIMEOUT_MS);
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  const request = (message: ParentMessage) => child.send(message);
  const cpuMicros = async () => {
    const reply = nextMessage(child, 'cpu', REPLY_TIMEOUT_MS);
    request({ type: 'cpu' });
    return (await reply).micros;
  };
  return {
    kind,
    url: ready.url,
    memory: async () => {
      const reply = nextMessage(child, 'memory', REPLY_TIMEOUT_MS);
      request({ type: 'memory' });
      return (await reply).memory;
    },
    cpuMicros,
    waitForIdle: async (timeoutMs = 10_000) => {
      const end = performance.now() + timeoutMs;
      let before = await cpuMicros();
      while (performance.now() < end) {
        await new Promise((resolve) => setTimeout(resolve, IDLE_POLL_MS));
        const now = await cpuMicros();
        if (now - before < IDLE_POLL_MS * 1000 * IDLE_CPU_SHARE) return;
        before = now;
      }
    },
    close: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      request({ type: 'close' });
      const timer = setTimeout(() => child.kill('SIGKILL'), CLOSE_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
    },
  };
}
