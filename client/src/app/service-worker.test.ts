import { readFileSync } from 'node:fs';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';

const ORIGIN = 'http://127.0.0.1:3000';
const SOURCE = readFileSync(
  new URL('../../public/sw.js', import.meta.url),
  'utf8',
);
const PAGE =
  '<script type="module" src="/assets/index-abc.js"></script>' +
  '<link rel="stylesheet" href="/assets/index-def.css">';
/** The line that `client/vite.config.ts` fills with the lazy chunks. */
const LAZY_ASSETS_PLACEHOLDER = 'const LAZY_ASSETS = [];';
const LAZY_CHUNK = '/assets/ml-kem-ghi.js';

type Handler = (event: FakeEvent) => void;

interface FakeEvent {
  readonly request?: Request;
  waitUntil(promise: Promise<unknown>): void;
  respondWith(promise: Promise<Response>): void;
}

/**
 * Loads the service worker into a fresh context with an in-memory cache and
 * a server whose files and availability the test controls. `lazyAssets`
 * replaces the list that the build writes into the worker.
 */
function loadWorker(lazyAssets: readonly string[] = []) {
  const handlers = new Map<string, Handler>();
  const cached = new Map<string, Response>();
  const server = {
    up: true,
    /** Status of every response when set, such as 503 for a failing relay. */
    status: undefined as number | undefined,
    requests: [] as string[],
    files: new Map<string, string>([
      ['/', PAGE],
      ['/assets/index-abc.js', 'script'],
      ['/assets/index-def.css', 'style'],
      ['/favicon.svg', 'icon'],
      [LAZY_CHUNK, 'lazy script'],
    ]),
  };
  const path = (input: Request | string) =>
    new URL(typeof input === 'string' ? input : input.url, ORIGIN).pathname;

  const fetch = async (input: Request | string): Promise<Response> => {
    server.requests.push(path(input));
    if (!server.up) throw new TypeError('network error');
    if (server.status !== undefined) {
      return new Response('failed', { status: server.status });
    }
    // Like the relay, every other path gets the page (single-page routes).
    const body = server.files.get(path(input)) ?? server.files.get('/');
    return new Response(body, { status: 200 });
  };
  const cache = {
    match: async (input: Request | string) => cached.get(path(input))?.clone(),
    put: async (input: Request | string, response: Response) => {
      cached.set(path(input), response);
    },
    addAll: async (urls: string[]) => {
      for (const url of urls) cached.set(path(url), await fetch(url));
    },
    keys: async () =>
      [...cached.keys()].map((key) => new Request(new URL(key, ORIGIN))),
    delete: async (input: Request | string) => cached.delete(path(input)),
  };
  const context = {
    self: {
      location: new URL(ORIGIN),
      addEventListener: (type: string, handler: Handler) =>
        handlers.set(type, handler),
      skipWaiting: async () => undefined,
      clients: { claim: async () => undefined },
    },
    caches: {
      open: async () => cache,
      keys: async () => ['cloak-shell-v1', 'cloak-shell-v0'],
      delete: async () => true,
    },
    fetch,
    URL,
    Request,
    Response,
  };
  const list = `const LAZY_ASSETS = ${JSON.stringify(lazyAssets)};`;
  runInNewContext(SOURCE.replace(LAZY_ASSETS_PLACEHOLDER, list), context);

  async function dispatch(type: string, request?: Request) {
    const waits: Promise<unknown>[] = [];
    let response: Promise<Response> | undefined;
    handlers.get(type)?.({
      ...(request ? { request } : {}),
      waitUntil: (promise) => waits.push(promise),
      respondWith: (promise) => {
        response = promise;
      },
    });
    await Promise.all(waits);
    return response;
  }

  return { dispatch, cached, server };
}

function navigation(path: string): Request {
  // `mode: 'navigate'` cannot be set through the constructor.
  const request = new Request(new URL(path, ORIGIN));
  Object.defineProperty(request, 'mode', { value: 'navigate' });
  return request;
}

describe('service worker', () => {
  it('precaches the page and its assets', async () => {
    const worker = loadWorker();
    await worker.dispatch('install');
    expect([...worker.cached.keys()].sort()).toEqual([
      '/',
      '/assets/index-abc.js',
      '/assets/index-def.css',
      '/favicon.svg',
    ]);
  });

  it('contains the lazy asset list once', () => {
    expect(SOURCE.split(LAZY_ASSETS_PLACEHOLDER)).toHaveLength(2);
  });

  it('precaches the lazy chunks', async () => {
    const worker = loadWorker([LAZY_CHUNK]);
    await worker.dispatch('install');
    expect(worker.cached.has(LAZY_CHUNK)).toBe(true);
    expect(worker.server.requests).toContain(LAZY_CHUNK);
  });

  it('serves a lazy chunk offline after navigation', async () => {
    const worker = loadWorker([LAZY_CHUNK]);
    await worker.dispatch('install');
    await worker.dispatch('fetch', navigation('/'));
    expect(worker.cached.has(LAZY_CHUNK)).toBe(true);
    worker.server.up = false;

    const chunk = new Request(new URL(LAZY_CHUNK, ORIGIN));
    expect(await (await worker.dispatch('fetch', chunk))?.text()).toBe(
      'lazy script',
    );
  });

  it('serves the cached page offline', async () => {
    const worker = loadWorker();
    await worker.dispatch('install');
    worker.server.up = false;

    const response = await worker.dispatch('fetch', navigation('/'));
    expect(await response?.text()).toBe(PAGE);
    const asset = new Request(new URL('/assets/index-abc.js', ORIGIN));
    expect(await (await worker.dispatch('fetch', asset))?.text()).toBe(
      'script',
    );
  });

  it('fetches the page first when online', async () => {
    const worker = loadWorker();
    await worker.dispatch('install');
    const newer = '<script type="module" src="/assets/index-new.js"></script>';
    worker.server.files.set('/', newer);

    const response = await worker.dispatch('fetch', navigation('/chat'));
    expect(await response?.text()).toBe(newer);
    expect(await worker.cached.get('/')?.clone().text()).toBe(newer);
    expect(worker.cached.has('/assets/index-abc.js')).toBe(false);
  });

  it('serves the cached page on a server error', async () => {
    const worker = loadWorker();
    await worker.dispatch('install');
    worker.server.status = 503;

    const response = await worker.dispatch('fetch', navigation('/'));
    expect(response?.status).toBe(200);
    expect(await response?.text()).toBe(PAGE);
  });

  it('fails install without the page', async () => {
    const worker = loadWorker();
    worker.server.status = 502;
    await expect(worker.dispatch('install')).rejects.toThrow('HTTP 502');
  });

  it('never handles relay traffic', async () => {
    const worker = loadWorker();
    await worker.dispatch('install');
    const requests = [
      new Request(new URL('/api/health', ORIGIN)),
      new Request(new URL('/socket.io/?EIO=4&transport=polling', ORIGIN)),
      navigation('/api/accounts'),
      new Request(new URL('/assets/index-abc.js', ORIGIN), { method: 'POST' }),
      new Request('https://example.com/assets/x.js'),
    ];
    for (const request of requests) {
      expect(await worker.dispatch('fetch', request)).toBeUndefined();
    }
    expect(
      [...worker.cached.keys()].some((key) => key.startsWith('/api')),
    ).toBe(false);
  });
});
