/**
 * Reasons why the browser cannot keep the account, and the full-page
 * message for each. Cloak keeps its keys only in IndexedDB, so without it
 * the page stops instead of starting a new account.
 */

export type StorageProblem =
  | 'insecure-context'
  | 'no-indexeddb'
  | 'open-failed'
  | 'upgrade-blocked'
  | 'version-changed';

/** Browser features that `findStorageProblem` checks. */
export interface StorageEnvironment {
  readonly isSecureContext: boolean | undefined;
  readonly indexedDB: IDBFactory | undefined;
}

/** Message shown for a storage problem: a heading and what to do. */
export interface StorageProblemText {
  readonly title: string;
  readonly advice: string;
}

/** Reads the checked features from the global scope. */
export function currentStorageEnvironment(): StorageEnvironment {
  return {
    isSecureContext: globalThis.isSecureContext,
    indexedDB: globalThis.indexedDB,
  };
}

/**
 * Returns the problem found before opening the database, or undefined when
 * the page is a secure context with IndexedDB.
 */
export function findStorageProblem(
  environment: StorageEnvironment,
): StorageProblem | undefined {
  if (environment.isSecureContext === false) return 'insecure-context';
  if (environment.indexedDB === undefined) return 'no-indexeddb';
  return undefined;
}

const problemTexts: Record<StorageProblem, StorageProblemText> = {
  'insecure-context': {
    title: 'Cloak needs a secure connection',
    advice:
      'This page was not loaded over HTTPS, so the browser withholds the ' +
      'storage and cryptography Cloak needs. Open Cloak through its ' +
      'https:// address.',
  },
  'no-indexeddb': {
    title: 'This browser offers no storage for Cloak',
    advice:
      'Cloak keeps your account and keys in IndexedDB, which this browser ' +
      'or its private mode does not provide. Open Cloak in a normal window ' +
      'of a current Chrome, Edge, Firefox or Safari.',
  },
  'open-failed': {
    title: 'The local database could not be opened',
    advice:
      'The browser rejected access to the database that contains your ' +
      'account, as private windows and strict site data settings do. No ' +
      'new account was created. Use a normal window or allow site data ' +
      'for this site, then reload the page.',
  },
  'upgrade-blocked': {
    title: 'Close other Cloak tabs to finish updating',
    advice:
      'Another tab still runs an older version of Cloak and keeps its ' +
      'database open. This page continues once that tab is closed.',
  },
  'version-changed': {
    title: 'Reload this page',
    advice:
      'Cloak was updated in another tab, so this tab closed its database. ' +
      'Reload the page to continue.',
  },
};

/** Returns the full-page message for `problem`. */
export function storageProblemText(
  problem: StorageProblem,
): StorageProblemText {
  return problemTexts[problem];
}
