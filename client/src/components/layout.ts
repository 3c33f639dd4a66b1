import { useSyncExternalStore } from 'react';

/**
 * Media query of the phone layout, which shows one pane at a time (the
 * conversation list, or the open thread with a back button). `styles.css`
 * uses the same query.
 */
export const PHONE_LAYOUT_QUERY = '(width < 40rem)';

/** Returns true when the window is narrow enough for the one-pane layout. */
export function isPhoneLayout(): boolean {
  return window.matchMedia(PHONE_LAYOUT_QUERY).matches;
}

function subscribeToLayout(onChange: () => void): () => void {
  const query = window.matchMedia(PHONE_LAYOUT_QUERY);
  query.addEventListener('change', onChange);
  return () => query.removeEventListener('change', onChange);
}

/** Returns true while the one-pane layout applies, updating on resize. */
export function usePhoneLayout(): boolean {
  return useSyncExternalStore(subscribeToLayout, isPhoneLayout, () => false);
}
