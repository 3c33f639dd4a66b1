/**
 * Reads the built client's `.vite/manifest.json` and `sw.js` to name the
 * chunks that the suite measures in the browser.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';

interface ManifestChunk {
  readonly file: string;
  readonly src?: string;
  readonly isDynamicEntry?: boolean;
  readonly css?: readonly string[];
}

export interface BuildFiles {
  /** URL path of the chunk with `@noble/post-quantum` (ML-KEM). */
  readonly mlKemChunk: string;
  /** URL path of the admin page's chunk, which bundles uPlot. */
  readonly chartChunk: string;
  /** URL paths of every chunk that the app loads with `import()`. */
  readonly lazyChunks: ReadonlySet<string>;
  /** URL paths that the service worker precaches besides the page. */
  readonly precachedLazyAssets: readonly string[];
  /** Size of a built file after gzip at the default level, by URL path. */
  gzipBytesOf(urlPath: string): number;
}

const ML_KEM_SOURCE = /node_modules\/@noble\/post-quantum\/ml-kem\.js$/;
const ADMIN_SOURCE = /^src\/admin\/main\.tsx$/;
const LAZY_ASSETS_LINE = /^const LAZY_ASSETS = (\[.*\]);$/m;

export function readBuildFiles(directory: string): BuildFiles {
  const manifestFile = path.join(directory, '.vite', 'manifest.json');
  if (!existsSync(manifestFile)) {
    throw new Error(
      `Missing ${manifestFile}: the build must set build.manifest in client/vite.config.ts.`,
    );
  }
  const manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as Record<
    string,
    ManifestChunk
  >;
  const chunks = Object.values(manifest);
  const fileOf = (source: RegExp, label: string): string => {
    const chunk = chunks.find((entry) => source.test(entry.src ?? ''));
    if (chunk === undefined) {
      throw new Error(
        `No chunk for ${label} (${source}) in ${manifestFile}: check that the client still imports it with import().`,
      );
    }
    return `/${chunk.file}`;
  };
  const lazyChunks = new Set(
    chunks
      .filter((chunk) => chunk.isDynamicEntry === true)
      .map((chunk) => `/${chunk.file}`),
  );

  const worker = readFileSync(path.join(directory, 'sw.js'), 'utf8');
  const listed = LAZY_ASSETS_LINE.exec(worker)?.[1];
  if (listed === undefined) {
    throw new Error(
      `No "const LAZY_ASSETS = [...];" line in ${directory}/sw.js: the build plugin in client/vite.config.ts did not run.`,
    );
  }

  return {
    mlKemChunk: fileOf(ML_KEM_SOURCE, '@noble/post-quantum/ml-kem.js'),
    chartChunk: fileOf(ADMIN_SOURCE, 'the admin page'),
    lazyChunks,
    precachedLazyAssets: JSON.parse(listed) as string[],
    gzipBytesOf: (urlPath) =>
      gzipSync(readFileSync(path.join(directory, urlPath))).length,
  };
}
