import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import {
  findStorageProblem,
  type StorageProblem,
  storageProblemText,
} from './storage-check';

describe('findStorageProblem', () => {
  it('accepts a secure context with IndexedDB', () => {
    const environment = { isSecureContext: true, indexedDB };
    expect(findStorageProblem(environment)).toBeUndefined();
  });

  it('reports an insecure context first', () => {
    const environment = { isSecureContext: false, indexedDB: undefined };
    expect(findStorageProblem(environment)).toBe('insecure-context');
  });

  it('reports missing IndexedDB', () => {
    const environment = { isSecureContext: true, indexedDB: undefined };
    expect(findStorageProblem(environment)).toBe('no-indexeddb');
  });

  it('accepts an unknown secure context flag', () => {
    const environment = { isSecureContext: undefined, indexedDB };
    expect(findStorageProblem(environment)).toBeUndefined();
  });
});

describe('storageProblemText', () => {
  const problems: StorageProblem[] = [
    'insecure-context',
    'no-indexeddb',
    'open-failed',
    'upgrade-blocked',
    'version-changed',
  ];

  it.each(problems)('gives advice for %s', (problem) => {
    const text = storageProblemText(problem);
    expect(text.title).not.toBe('');
    expect(text.advice).not.toBe('');
  });

  it('names other tabs when blocked', () => {
    expect(storageProblemText('upgrade-blocked').title).toBe(
      'Close other Cloak tabs to finish updating',
    );
  });

  it('asks for a reload after versionchange', () => {
    expect(storageProblemText('version-changed').advice).toMatch(/reload/i);
  });
});
