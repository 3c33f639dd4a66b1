/**
 * Decides whether `npm start` must build the client: when the built
 * `index.html` is missing, or when a file under the client's sources is
 * newer than it, such as after `git pull`. The walk skips `node_modules`,
 * does not follow symbolic links and stops after a bounded number of
 * entries.
 */
import { type Dirent, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

/** Files and folders, relative to the project root, the client is built from. */
export const CLIENT_SOURCES: readonly string[] = [
  'client',
  'shared',
  'package-lock.json',
];

/** Entries visited before the walk stops and reports that a build is needed. */
export const MAX_WALK_ENTRIES = 50_000;

/** Folder depth below a source at which the walk gives up the same way. */
const MAX_WALK_DEPTH = 32;

export interface ClientBuildCheck {
  /** Project root that `sources` are relative to. */
  readonly root: string;
  /** The built `index.html`. */
  readonly builtIndex: string;
  readonly sources?: readonly string[];
  readonly maxEntries?: number;
}

/**
 * Returns why the client must be built, or undefined when the build is
 * newer than every source file. A missing source is skipped.
 */
export function clientBuildReason(check: ClientBuildCheck): string | undefined {
  const builtAt = mtimeOf(check.builtIndex);
  const builtName = path.relative(check.root, check.builtIndex);
  if (builtAt === undefined) return `${builtName} is missing`;
  const walk = new SourceWalk(
    check.root,
    builtAt,
    check.maxEntries ?? MAX_WALK_ENTRIES,
  );
  for (const source of check.sources ?? CLIENT_SOURCES) {
    const newer = walk.findNewer(path.join(check.root, source));
    if (newer === 'limit') {
      return `the client sources hold more than ${walk.maxEntries} entries or ${MAX_WALK_DEPTH} folder levels`;
    }
    if (newer !== undefined) return `${newer} is newer than ${builtName}`;
  }
  return undefined;
}

function mtimeOf(file: string): number | undefined {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return undefined;
  }
}

class SourceWalk {
  private visited = 0;

  constructor(
    private readonly root: string,
    private readonly builtAt: number,
    readonly maxEntries: number,
  ) {}

  /**
   * Returns the path, relative to the root, of the first file under `entry`
   * modified after the build, or 'limit' once the walk is too large.
   */
  findNewer(entry: string, depth = 0): string | 'limit' | undefined {
    if (depth > MAX_WALK_DEPTH) return 'limit';
    let entries: Dirent[];
    try {
      const stats = statSync(entry);
      if (!stats.isDirectory()) return this.checkFile(entry, stats.mtimeMs);
      entries = readdirSync(entry, { withFileTypes: true });
    } catch {
      return undefined;
    }
    for (const child of entries) {
      this.visited += 1;
      if (this.visited > this.maxEntries) return 'limit';
      if (child.name === 'node_modules') continue;
      const childPath = path.join(entry, child.name);
      if (child.isDirectory()) {
        const found = this.findNewer(childPath, depth + 1);
        if (found !== undefined) return found;
      } else if (child.isFile()) {
        const found = this.checkFile(childPath, mtimeOf(childPath));
        if (found !== undefined) return found;
      }
    }
    return undefined;
  }

  private checkFile(file: string, mtimeMs: number | undefined) {
    if (mtimeMs === undefined || mtimeMs <= this.builtAt) return undefined;
    return path.relative(this.root, file);
  }
}
