import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';
import { omitZodJsonSchema, precacheLazyAssets } from './vite-plugins';

const root = fileURLToPath(new URL('.', import.meta.url));
const relay = 'http://127.0.0.1:3000';

export default defineConfig({
  root,
  plugins: [react(), precacheLazyAssets(), omitZodJsonSchema()],
  build: {
    outDir: fileURLToPath(new URL('../dist/client', import.meta.url)),
    emptyOutDir: true,
    // The relay's Content Security Policy allows no inline script or data:
    // URLs, so every asset must be a file.
    assetsInlineLimit: 0,
    // The polyfill serves browsers without <link rel="modulepreload">, and
    // every browser with the WebCrypto X25519 and Ed25519 keys that Cloak
    // requires supports it.
    modulePreload: { polyfill: false },
    // `.vite/manifest.json` maps source modules to built files. The bench
    // reads it to name the chunks it measures, and the relay does not serve
    // it (express.static ignores dot folders).
    manifest: true,
  },
  server: {
    host: '127.0.0.1',
    proxy: {
      '/api': { target: relay },
      '/socket.io': { target: relay, ws: true },
    },
  },
});
