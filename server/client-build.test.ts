import {
  mkdirSync,
  mkdtempSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { clientBuildReason } from './client-build';

/** Modification times, in seconds since the epoch. */
const BUILT_AT = 1_700_000_000;
const OLDER = BUILT_AT - 3_600;
const NEWER = BUILT_AT + 60;

let root: string;
const builtIndex = () => path.join(root, 'dist', 'client', 'index.html');

/** Writes `file` under the root with modification time `seconds`. */
function touch(file: string, seconds: number): void {
  const full = path.join(root, file);
  mkdirSync(path.dirname(full), { recursive: true });
  writeFileSync(full, 'x');
  utimesSync(full, seconds, seconds);
}

beforeEach(() => {
  root = mkdtempSync(path.join(tmpdir(), 'cloak-client-build-'));
  touch('client/index.html', OLDER);
  touch('client/src/main.tsx', OLDER);
  touch('shared/crypto/bytes.ts', OLDER);
  touch('package-lock.json', OLDER);
  touch('dist/client/index.html', BUILT_AT);
});

afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

it('skips a build newer than sources', () => {
  expect(clientBuildReason({ root, builtIndex: builtIndex() })).toBeUndefined();
});

it('builds when index.html is missing', () => {
  rmSync(builtIndex());
  expect(clientBuildReason({ root, builtIndex: builtIndex() })).toBe(
    `${path.join('dist', 'client', 'index.html')} is missing`,
  );
});

it.each([
  'client/src/screens/chat.tsx',
  'shared/wire/schemas.ts',
  'package-lock.json',
])('builds when %s is newer', (file) => {
  touch(file, NEWER);
  expect(clientBuildReason({ root, builtIndex: builtIndex() })).toBe(
    `${path.normalize(file)} is newer than ${path.join('dist', 'client', 'index.html')}`,
  );
});

it('ignores files under node_modules', () => {
  touch('client/node_modules/pkg/index.js', NEWER);
  expect(clientBuildReason({ root, builtIndex: builtIndex() })).toBeUndefined();
});

it('ignores files outside the sources', () => {
  touch('server/app.ts', NEWER);
  touch('README.md', NEWER);
  expect(clientBuildReason({ root, builtIndex: builtIndex() })).toBeUndefined();
});

it('builds when the walk passes its limit', () => {
  for (let i = 0; i < 5; i++) touch(`client/src/file-${i}.ts`, OLDER);
  expect(
    clientBuildReason({ root, builtIndex: builtIndex(), maxEntries: 4 }),
  ).toMatch(/more than 4 entries/);
});

it('builds when folders nest too deep', () => {
  touch(`client/${'deep/'.repeat(40)}file.ts`, OLDER);
  expect(clientBuildReason({ root, builtIndex: builtIndex() })).toMatch(
    /32 folder levels/,
  );
});
