import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  type TestRelay,
  makeDataDir,
  removeDataDir,
  startTestRelay,
} from './test-support/relay';

const INDEX_HTML = '<!doctype html>cloak-static-test';
const IMMUTABLE = 'public, max-age=31536000, immutable';

let relay: TestRelay;
let clientDir: string;

beforeAll(async () => {
  clientDir = makeDataDir();
  mkdirSync(path.join(clientDir, 'assets'));
  writeFileSync(path.join(clientDir, 'index.html'), INDEX_HTML);
  writeFileSync(path.join(clientDir, 'assets', 'index-a1b2c3.js'), '1;');
  writeFileSync(path.join(clientDir, 'favicon.svg'), '<svg/>');
  relay = await startTestRelay({ clientDir });
});

afterAll(async () => {
  await relay.close();
  removeDataDir(relay.dataDir);
  removeDataDir(clientDir);
});

it('caches hashed assets for a year', async () => {
  const response = await fetch(`${relay.url}/assets/index-a1b2c3.js`);
  expect(response.status).toBe(200);
  expect(await response.text()).toBe('1;');
  expect(response.headers.get('cache-control')).toBe(IMMUTABLE);
});

it.each(['/', '/index.html', '/chats/bob', '/admin', '/admin/health'])(
  'serves %s as the app page',
  async (url) => {
    const response = await fetch(`${relay.url}${url}`);
    expect(response.status).toBe(200);
    expect(await response.text()).toBe(INDEX_HTML);
    expect(response.headers.get('cache-control')).toBe('no-cache');
  },
);

it('serves other files with default caching', async () => {
  const response = await fetch(`${relay.url}/favicon.svg`);
  expect(response.status).toBe(200);
  expect(response.headers.get('cache-control')).toBe('public, max-age=0');
});

it.each([
  '/assets/index.js.map',
  '/assets/missing',
  '/assets',
  '/metrics.txt',
  '/favicon.ico',
  '/chats/bob.json',
])('returns not-found for %s', async (url) => {
  const response = await fetch(`${relay.url}${url}`);
  expect(response.status).toBe(404);
  expect(await response.json()).toEqual({
    code: 'not-found',
    message: 'Not found.',
  });
});

it('keeps health routes ahead of the page', async () => {
  for (const url of ['/healthz', '/readyz']) {
    const response = await fetch(`${relay.url}${url}`);
    expect(response.headers.get('content-type')).not.toContain('text/html');
  }
});

it('keeps metrics ahead of the page', async () => {
  const response = await fetch(`${relay.url}/metrics`);
  expect(response.status).toBe(401);
  expect(await response.text()).not.toContain(INDEX_HTML);
});

it('returns not-found for a POST to a page', async () => {
  const response = await fetch(`${relay.url}/chats/bob`, { method: 'POST' });
  expect(response.status).toBe(404);
});
