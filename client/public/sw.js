/**
 * Service worker for the Cloak app shell, so that a reload while the relay
 * is down still opens the app, which then shows local history and the
 * "Offline" status. Navigations are network-first, so a reachable relay
 * always serves the current page. Files under /assets/ are cache-first,
 * because the build puts a content hash in their names. Requests to /api/
 * and /socket.io/, other methods and other origins never touch the cache.
 * No messages or keys pass through here: they live in IndexedDB.
 */
const CACHE_NAME = 'cloak-shell-v1';
const SHELL_URL = '/';
const STATIC_FILES = ['/favicon.svg'];
// Scripts and styles that the page loads on demand, such as the ML-KEM and
// safety number chunks. The build writes their paths into the next line.
const LAZY_ASSETS = [];
const NETWORK_ONLY_PATH = /^\/(?:api|socket\.io)(?:\/|$)/;
const ASSET_PATH = /^\/assets\//;
const ASSET_REFERENCE = /(?:src|href)="(\/assets\/[^"]+)"/g;

self.addEventListener('install', (event) => {
  event.waitUntil(precacheShell().then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil(deleteOtherCaches().then(() => self.clients.claim()));
});

self.addEventListener('fetch', (event) => {
  const route = routeOf(event.request);
  if (route === 'shell') event.respondWith(networkFirst(event.request));
  if (route === 'asset') event.respondWith(cacheFirst(event.request));
});

/** Returns 'shell', 'asset' or 'network' (left to the browser). */
function routeOf(request) {
  if (request.method !== 'GET') return 'network';
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return 'network';
  if (NETWORK_ONLY_PATH.test(url.pathname)) return 'network';
  if (request.mode === 'navigate') return 'shell';
  if (ASSET_PATH.test(url.pathname)) return 'asset';
  if (STATIC_FILES.includes(url.pathname)) return 'asset';
  return 'network';
}

/** Returns the asset paths that the page's HTML references. */
function assetsOf(html) {
  return [...html.matchAll(ASSET_REFERENCE)].map((match) => match[1]);
}

/**
 * Caches the page, the scripts and styles it loads, and those it loads on
 * demand, so that they all work offline.
 */
async function precacheShell() {
  const cache = await caches.open(CACHE_NAME);
  const response = await fetch(SHELL_URL, { cache: 'no-store' });
  if (!response.ok) {
    throw new Error(`app shell request failed with HTTP ${response.status}`);
  }
  const html = await response.clone().text();
  await cache.put(SHELL_URL, response);
  await cache.addAll([
    ...new Set([...assetsOf(html), ...STATIC_FILES, ...LAZY_ASSETS]),
  ]);
}

async function deleteOtherCaches() {
  const names = await caches.keys();
  await Promise.all(
    names
      .filter((name) => name !== CACHE_NAME)
      .map((name) => caches.delete(name)),
  );
}

/**
 * Fetches the page and keeps a copy. Every route serves the same page, so
 * one copy under "/" serves them all. The copy is returned when the
 * network fails or the server returns a 5xx status.
 */
async function networkFirst(request) {
  const cache = await caches.open(CACHE_NAME);
  let response;
  try {
    response = await fetch(request);
  } catch (error) {
    const cached = await cache.match(SHELL_URL);
    if (cached) return cached;
    throw error;
  }
  if (response.ok) {
    const html = await response.clone().text();
    await cache.put(SHELL_URL, response.clone());
    await deleteUnusedAssets(cache, assetsOf(html));
  } else if (response.status >= 500) {
    const cached = await cache.match(SHELL_URL);
    if (cached) return cached;
  }
  return response;
}

/**
 * Deletes cached assets of earlier builds, which are in neither the current
 * page nor this worker's `LAZY_ASSETS`. When a build changes the lazy
 * files, this file changes too, so the browser installs the new worker,
 * which precaches them.
 */
async function deleteUnusedAssets(cache, current) {
  const keep = new Set([...current, ...LAZY_ASSETS]);
  for (const request of await cache.keys()) {
    const path = new URL(request.url).pathname;
    if (ASSET_PATH.test(path) && !keep.has(path)) await cache.delete(request);
  }
}

async function cacheFirst(request) {
  const cache = await caches.open(CACHE_NAME);
  const cached = await cache.match(request);
  if (cached) return cached;
  const response = await fetch(request);
  if (response.ok) await cache.put(request, response.clone());
  return response;
}
