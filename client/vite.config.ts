import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import react from '@vitejs/plugin-react';
import { type Plugin, type Rolldown, defineConfig } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));
const relay = 'http://127.0.0.1:3000';

/** The line of `public/sw.js` that the build replaces with the file list. */
const LAZY_ASSETS_PLACEHOLDER = 'const LAZY_ASSETS = [];';

/** The admin page shows live relay figures, so it is of no use offline. */
const ADMIN_ENTRY = /\/client\/src\/admin\/main\.tsx$/;

/**
 * Returns the URL paths of the scripts and styles that the app loads on
 * demand (`import()`), with the shared chunks they import, leaving out the
 * entry chunk (the page references it) and the admin page's chunks.
 */
export function lazyAssetsOf(bundle: Rolldown.OutputBundle): string[] {
  const chunks = new Map<string, Rolldown.OutputChunk>();
  for (const output of Object.values(bundle)) {
    if (output.type === 'chunk') chunks.set(output.fileName, output);
  }
  const pending = [...chunks.values()]
    .filter((chunk) => chunk.isEntry)
    .flatMap((chunk) => chunk.dynamicImports);
  const files = new Set<string>();
  for (let name = pending.pop(); name !== undefined; name = pending.pop()) {
    const chunk = chunks.get(name);
    if (chunk === undefined || chunk.isEntry || files.has(`/${name}`)) {
      continue;
    }
    if (ADMIN_ENTRY.test(chunk.facadeModuleId ?? '')) continue;
    files.add(`/${name}`);
    for (const css of chunk.viteMetadata?.importedCss ?? []) {
      files.add(`/${css}`);
    }
    pending.push(...chunk.imports, ...chunk.dynamicImports);
  }
  return [...files].sort();
}

/**
 * Writes the app's lazily loaded files into the service worker's
 * `LAZY_ASSETS`, so that it precaches them with the page and the
 * post-quantum and safety number code also loads offline. The page itself
 * still fetches them only on first use.
 */
export function precacheLazyAssets(): Plugin {
  let outDir = '';
  let lazyAssets: string[] | undefined;
  return {
    name: 'cloak-precache-lazy-assets',
    apply: 'build',
    configResolved(config) {
      outDir = path.resolve(config.root, config.build.outDir);
    },
    generateBundle(_options, bundle) {
      lazyAssets = lazyAssetsOf(bundle);
    },
    closeBundle() {
      if (lazyAssets === undefined) return;
      const file = path.join(outDir, 'sw.js');
      const source = readFileSync(file, 'utf8');
      if (source.split(LAZY_ASSETS_PLACEHOLDER).length !== 2) {
        throw new Error(
          `${file} must contain the line "${LAZY_ASSETS_PLACEHOLDER}" once, because the build replaces it with the lazily loaded files.`,
        );
      }
      const list = `const LAZY_ASSETS = ${JSON.stringify(lazyAssets)};`;
      writeFileSync(file, source.replace(LAZY_ASSETS_PLACEHOLDER, list));
    },
  };
}

/**
 * zod's modules for JSON Schema output. zod 4.6's classic API links them into
 * every schema (`toJSONSchema()`, `~standard.jsonSchema` and getters such
 * as `minLength`). The client never calls them, and leaving them out cut
 * the entry chunk by about 16 KB minified and 4.5 KB gzip (zod 4.6.7).
 */
const ZOD_JSON_SCHEMA_MODULE =
  /[\\/]node_modules[\\/]zod[\\/]v4[\\/]core[\\/](?:json-schema-processors|to-json-schema)\.js$/;

/**
 * Exports that zod calls when a schema's `~standard` property is read, so
 * they must not throw themselves. They return a method that throws.
 */
const ZOD_JSON_SCHEMA_FACTORIES = new Set([
  'createToJSONSchemaMethod',
  'createStandardJSONSchemaMethod',
]);

/**
 * Returns the source of a module with the given export names, each a
 * function that throws, except the factories, which return such a
 * function. A caller of JSON Schema output in the client then gets an
 * error that names this build step, not a wrong schema.
 */
export function zodJsonSchemaStub(exportNames: readonly string[]): string {
  const lines = [
    'const unavailable = (name) => () => {',
    '  throw new Error(',
    '    `zod ${name}: JSON Schema output is left out of the client build (client/vite.config.ts)`,',
    '  );',
    '};',
  ];
  for (const name of exportNames) {
    if (!/^[A-Za-z_$][\w$]*$/.test(name)) {
      throw new Error(
        `Invalid export name "${name}" in a zod JSON Schema module: update zodJsonSchemaStub in client/vite.config.ts.`,
      );
    }
    const value = ZOD_JSON_SCHEMA_FACTORIES.has(name)
      ? `() => unavailable('${name}')`
      : `unavailable('${name}')`;
    lines.push(`export const ${name} = ${value};`);
  }
  return `${lines.join('\n')}\n`;
}

/**
 * Replaces zod's JSON Schema modules with `zodJsonSchemaStub` in builds.
 * The export names come from the installed zod itself, so an upgrade that
 * adds or renames one still builds. The development server and the relay
 * keep the real modules.
 */
export function omitZodJsonSchema(): Plugin {
  return {
    name: 'cloak-omit-zod-json-schema',
    apply: 'build',
    enforce: 'pre',
    async load(id) {
      if (!ZOD_JSON_SCHEMA_MODULE.test(id)) return null;
      const module = (await import(pathToFileURL(id).href)) as object;
      return zodJsonSchemaStub(Object.keys(module));
    },
  };
}

export default defineConfig({
  root,
  plugins: [react(), precacheLazyAssets(), omitZodJsonSchema()],
  build: {
    outDir: fileURLToPath(new URL('../dist/client', import.meta.url)),
    emptyOutDir: true,
    // The relay's Content Security Policy allows no inline script or data:
    // URLs, so every asset must be a file.
    assetsInlineLimit: 0,
    // The polyfill serves browsers without <link rel="modulepreload">, and
    // every browser with the WebCrypto X25519 and Ed25519 keys that Cloak
    // requires supports it.
    modulePreload: { polyfill: false },
    // `.vite/manifest.json` maps source modules to built files. The bench
    // reads it to name the chunks it measures, and the relay does not serve
    // it (express.static ignores dot folders).
    manifest: true,
  },
  server: {
    host: '127.0.0.1',
    proxy: {
      '/api': { target: relay },
      '/socket.io': { target: relay, ws: true },
    },
  },
});
