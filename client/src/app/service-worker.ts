import { createLogger } from '../engine/logger';

const log = createLogger('service-worker');

/**
 * Registers `public/sw.js`, which caches the app shell so that a reload
 * while the relay is down still opens the app. Production builds only,
 * because the development server serves unhashed modules that change on
 * every edit.
 */
export function registerServiceWorker(): void {
  if (!import.meta.env.PROD || !('serviceWorker' in navigator)) return;
  navigator.serviceWorker.register('/sw.js').catch((error: unknown) => {
    log.error('service worker registration failed', error);
  });
}
