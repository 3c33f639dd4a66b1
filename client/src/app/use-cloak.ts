import { createContext, useContext, useSyncExternalStore } from 'react';
import type { CloakSnapshot, CloakStore } from './cloak-store';

export const CloakContext = createContext<CloakStore | undefined>(undefined);

/** Returns the current snapshot and the store's actions. */
export function useCloak(): readonly [CloakSnapshot, CloakStore] {
  const store = useContext(CloakContext);
  if (!store) throw new Error('useCloak: no CloakContext provider');
  const snapshot = useSyncExternalStore(store.subscribe, store.getSnapshot);
  return [snapshot, store] as const;
}
