/**
 * Persistent storage: a request that the browser exempt this site's data,
 * and so the account, from eviction when disk space runs low.
 */
import { createLogger } from '../engine/logger';

const log = createLogger('persistence');

export type Persistence = 'granted' | 'denied' | 'unavailable';

/** Part of `StorageManager` that `requestPersistence` uses. */
export interface PersistApi {
  readonly persist?: () => Promise<boolean>;
}

/**
 * Requests persistent storage and returns the browser's decision, or
 * `unavailable` without the API or when the request failed.
 */
export async function requestPersistence(
  storage: PersistApi | undefined = globalThis.navigator?.storage,
): Promise<Persistence> {
  if (typeof storage?.persist !== 'function') return 'unavailable';
  try {
    return (await storage.persist()) ? 'granted' : 'denied';
  } catch (error) {
    log.error('persist request failed', error);
    return 'unavailable';
  }
}

const persistenceTexts: Record<Persistence, string> = {
  granted:
    'Persistent storage granted: the browser keeps the account even when ' +
    'disk space runs low.',
  denied:
    'Persistent storage not granted: the browser may delete the account ' +
    'when disk space runs low.',
  unavailable:
    'Persistent storage is not available in this browser, so it may ' +
    'delete the account when disk space runs low.',
};

/** Returns the notice line for a persistence decision. */
export function persistenceText(persistence: Persistence): string {
  return persistenceTexts[persistence];
}
