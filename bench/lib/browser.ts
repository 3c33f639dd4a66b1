/**
 * Runs bench code in Chromium: bundles an entry module with esbuild, serves
 * it from a Node HTTP server on 127.0.0.1 (a secure context, which
 * WebCrypto's X25519 and Ed25519 need) and drives the page with Playwright.
 * The entry assigns its functions to `globalThis.cloakBench`; `call` runs
 * one of them in the page and returns its result.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser, type Page } from '@playwright/test';
import { build } from 'esbuild';

export interface BrowserBench {
  /** Chromium's version string, for the report. */
  readonly version: string;
  /** Calls `globalThis.cloakBench[name](...args)` in the page. */
  call<T>(name: string, ...args: unknown[]): Promise<T>;
  close(): Promise<void>;
}

const PAGE = `<!doctype html><meta charset="utf-8"><title>Cloak bench</title>
<script type="module" src="/bench.js"></script>`;

async function bundle(entry: string): Promise<string> {
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    logLevel: 'silent',
  });
  const output = result.outputFiles[0];
  if (output === undefined)
    throw new Error(`esbuild wrote no output for ${entry}`);
  return output.text;
}

function serve(script: string): Promise<Server> {
  const server = createServer((request, response) => {
    if (request.url === '/bench.js') {
      response.writeHead(200, { 'content-type': 'text/javascript' });
      response.end(script);
    } else if (request.url === '/') {
      response.writeHead(200, { 'content-type': 'text/html' });
      response.end(PAGE);
    } else {
      response.writeHead(404).end();
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

/** Bundles `entry`, opens it in Chromium at `executablePath` and waits for it. */
export async function openBrowserBench(
  entry: string,
  executablePath: string,
): Promise<BrowserBench> {
  const server = await serve(await bundle(entry));
  let browser: Browser | undefined;
  try {
    browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] });
    const page: Page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    const { port } = server.address() as AddressInfo;
    await page.goto(`http://127.0.0.1:${port}/`);
    await page
      .waitForFunction(() => 'cloakBench' in globalThis, undefined, {
        timeout: 30_000,
      })
      .catch((cause: unknown) => {
        throw new Error(
          `bench page did not load: ${errors.join('; ') || String(cause)}`,
        );
      });
    const opened = browser;
    return {
      version: opened.version(),
      call: <T>(name: string, ...args: unknown[]) =>
        page.evaluate(
          ([fn, values]) => {
            const bench = (
              globalThis as unknown as {
                cloakBench: Record<
                  string,
                  (...a: unknown[]) => Promise<unknown>
                >;
              }
            ).cloakBench;
            const target = bench[fn];
            if (target === undefined)
              throw new Error(`no bench function ${fn}`);
            return target(...values);
          },
          [name, args] as const,
        ) as Promise<T>,
      close: async () => {
        await opened.close();
        server.close();
      },
    };
  } catch (error) {
    await browser?.close();
    server.close();
    throw error;
  }
}
