/**
 * Entry of the Chromium page of the ratchet and set-up benches: exposes
 * the contenders as `globalThis.cloakBench` for `bench/lib/browser.ts`.
 */
import { recordSizeAfter, runCloak } from './cloak';
import { runFloor } from './floor';
import { createAccountMs, runCloakIndexedDb } from './indexeddb';
import { runCloakSetups } from './setup';

Object.assign(globalThis, {
  cloakBench: {
    runCloak,
    runFloor,
    runCloakIndexedDb,
    recordSizeAfter,
    runCloakSetups,
    createAccountMs,
  },
});
