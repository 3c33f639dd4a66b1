import { describe, expect, it } from 'vitest';
import { persistenceText, requestPersistence } from './persistence';

describe('requestPersistence', () => {
  it('returns granted when persisted', async () => {
    const storage = { persist: () => Promise.resolve(true) };
    await expect(requestPersistence(storage)).resolves.toBe('granted');
  });

  it('returns denied when not granted', async () => {
    const storage = { persist: () => Promise.resolve(false) };
    await expect(requestPersistence(storage)).resolves.toBe('denied');
  });

  it('returns unavailable without the API', async () => {
    await expect(requestPersistence({})).resolves.toBe('unavailable');
    await expect(requestPersistence(undefined)).resolves.toBe('unavailable');
  });

  it('returns unavailable when persist fails', async () => {
    const storage = {
      persist: () =>
        Promise.reject(new DOMException('Permission denied', 'SecurityError')),
    };
    await expect(requestPersistence(storage)).resolves.toBe('unavailable');
  });
});

describe('persistenceText', () => {
  it('names each decision', () => {
    expect(persistenceText('granted')).toMatch(/granted/);
    expect(persistenceText('denied')).toMatch(/not granted/);
    expect(persistenceText('unavailable')).toMatch(/not available/);
  });
});
