/**
 * A relay on 127.0.0.1 with a free port, a temporary SQLite file and
 * captured log lines.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type Relay, type RelayOptions, createRelay } from '../app';
import { createLogger } from '../logger';

export interface TestRelay extends Relay {
  readonly dataDir: string;
  /** Every log line written so far, as JSON text. */
  readonly logs: string[];
}

export function makeDataDir(): string {
  return mkdtempSync(path.join(tmpdir(), 'cloak-relay-'));
}

export async function startTestRelay(
  options: Partial<RelayOptions> = {},
): Promise<TestRelay> {
  const dataDir = options.dataDir ?? makeDataDir();
  const logs: string[] = [];
  const logger = createLogger(
    { level: 'trace' },
    { write: (line: string) => void logs.push(line) },
  );
  const relay = await createRelay({ logger, ...options, dataDir, port: 0 });
  return { ...relay, dataDir, logs };
}

export function removeDataDir(dataDir: string): void {
  rmSync(dataDir, { recursive: true, force: true });
}
