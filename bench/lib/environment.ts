/**
 * The machine and versions recorded with every report, because a figure
 * means little without them.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';

export interface Environment {
  readonly cpus: number;
  readonly cpuModel: string;
  readonly memoryGiB: number;
  readonly platform: string;
  readonly versions: Record<string, string>;
}

const PRODUCT_LIBRARIES = [
  '@noble/post-quantum',
  'better-sqlite3',
  'socket.io',
  'react',
  'vite',
];

function installedVersion(name: string): string | undefined {
  try {
    const manifest = JSON.parse(
      readFileSync(join('node_modules', name, 'package.json'), 'utf8'),
    ) as { version?: string };
    return manifest.version;
  } catch {
    return undefined;
  }
}

function chromiumVersion(path: string | undefined): string | undefined {
  if (path === undefined) return undefined;
  try {
    const output = execFileSync(path, ['--version'], {
      encoding: 'utf8',
      timeout: 10_000,
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    return /\d+(\.\d+)+/.exec(output)?.[0];
  } catch {
    return undefined;
  }
}

export function describeEnvironment(
  chromiumPath: string | undefined,
): Environment {
  const processors = cpus();
  const versions: Record<string, string> = { node: process.versions.node };
  const chromium = chromiumVersion(chromiumPath);
  if (chromium !== undefined) versions.chromium = chromium;
  for (const name of PRODUCT_LIBRARIES) {
    const version = installedVersion(name);
    if (version !== undefined) versions[name] = version;
  }
  return {
    cpus: processors.length,
    cpuModel: processors[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    platform: `${process.platform} ${process.arch}`,
    versions,
  };
}
