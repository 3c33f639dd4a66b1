import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App';
import { CloakStore } from './app/cloak-store';
import { CloakContext } from './app/use-cloak';
import { setLogSink } from './engine/logger';
import './styles.css';

if (import.meta.env.DEV) {
  // Log lines carry only event names, counts and error codes.
  setLogSink((level, module, event, fields) => {
    // eslint-disable-next-line no-console -- development builds only
    console.info(`[${level}] ${module}: ${event}`, fields);
  });
}

const root = document.getElementById('root');
if (!root) throw new Error('main: missing #root element');

if (/^\/admin(\/|$)/.test(location.pathname)) {
  // The admin page loads as its own chunk and never starts the chat engine.
  void import('./admin/main').then(({ renderAdmin }) => renderAdmin(root));
} else {
  const store = new CloakStore();
  void store.start();

  createRoot(root).render(
    <StrictMode>
      <CloakContext.Provider value={store}>
        <App />
      </CloakContext.Provider>
    </StrictMode>,
  );
}
