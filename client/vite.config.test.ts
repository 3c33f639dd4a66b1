import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build, type Rolldown } from 'vite';
import { afterAll, describe, expect, it } from 'vitest';
import {
  lazyAssetsOf,
  omitZodJsonSchema,
  zodJsonSchemaStub,
} from './vite.config';

const folder = mkdtempSync(path.join(tmpdir(), 'cloak-vite-config-'));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

async function importSource(name: string, source: string) {
  const file = path.join(folder, name);
  writeFileSync(file, source);
  return (await import(pathToFileURL(file).href)) as Record<string, unknown>;
}

function chunk(
  fileName: string,
  fields: Partial<Rolldown.OutputChunk> & { css?: string[] },
): Rolldown.OutputChunk {
  return {
    type: 'chunk',
    fileName,
    isEntry: false,
    imports: [],
    dynamicImports: [],
    facadeModuleId: null,
    viteMetadata: {
      importedCss: new Set(fields.css ?? []),
      importedAssets: new Set(),
    },
    ...fields,
  } as unknown as Rolldown.OutputChunk;
}

describe('lazyAssetsOf', () => {
  it('lists lazy chunks except admin', () => {
    const bundle = Object.fromEntries(
      [
        chunk('assets/index.js', {
          isEntry: true,
          dynamicImports: ['assets/panel.js', 'assets/admin.js'],
        }),
        chunk('assets/panel.js', {
          imports: ['assets/index.js', 'assets/shared.js'],
          css: ['assets/panel.css'],
        }),
        chunk('assets/shared.js', {}),
        chunk('assets/admin.js', {
          facadeModuleId: '/repo/client/src/admin/main.tsx',
          imports: ['assets/chart.js'],
        }),
        chunk('assets/chart.js', {}),
      ].map((entry) => [entry.fileName, entry]),
    ) as Rolldown.OutputBundle;

    expect(lazyAssetsOf(bundle)).toEqual([
      '/assets/panel.css',
      '/assets/panel.js',
      '/assets/shared.js',
    ]);
  });
});

describe('zodJsonSchemaStub', () => {
  it('throws from every export', async () => {
    const stub = await importSource(
      'stub.mjs',
      zodJsonSchemaStub(['aggregateChecks', 'createToJSONSchemaMethod']),
    );
    expect(Object.keys(stub).sort()).toEqual([
      'aggregateChecks',
      'createToJSONSchemaMethod',
    ]);
    expect(() => (stub.aggregateChecks as () => unknown)()).toThrow(
      'zod aggregateChecks: JSON Schema output is left out',
    );
    const method = (stub.createToJSONSchemaMethod as () => () => unknown)();
    expect(() => method()).toThrow('zod createToJSONSchemaMethod');
  });

  it('rejects an export name that is not an identifier', () => {
    expect(() => zodJsonSchemaStub(['a-b'])).toThrow('Invalid export name');
  });
});

describe('omitZodJsonSchema', () => {
  it('builds zod that parses without JSON Schema', async () => {
    const entry = path.join(folder, 'entry.ts');
    writeFileSync(
      entry,
      [
        // The entry lies outside the project, so it names zod by path.
        `import { z } from ${JSON.stringify(fileURLToPath(import.meta.resolve('zod')))};`,
        'export const schema = z.object({ name: z.string().min(3) });',
        '',
      ].join('\n'),
    );
    const outDir = path.join(folder, 'out');
    await build({
      configFile: false,
      logLevel: 'silent',
      root: path.resolve('.'),
      plugins: [omitZodJsonSchema()],
      build: {
        outDir,
        minify: false,
        lib: { entry, formats: ['es'], fileName: 'entry' },
      },
    });
    const output = readFileSync(path.join(outDir, 'entry.js'), 'utf8');
    expect(output).not.toContain('cannot be represented in JSON Schema');

    const { schema } = (await import(
      pathToFileURL(path.join(outDir, 'entry.js')).href
    )) as {
      schema: {
        parse(value: unknown): unknown;
        safeParse(value: unknown): { success: boolean };
        toJSONSchema(): unknown;
      };
    };
    expect(schema.parse({ name: 'alice' })).toEqual({ name: 'alice' });
    expect(schema.safeParse({ name: 'al' }).success).toBe(false);
    expect(() => schema.toJSONSchema()).toThrow('left out of the client build');
  });
});
