import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

const root = fileURLToPath(new URL('.', import.meta.url));
// `vite --config web/vite.config.ts` proxies to a `kefu serve` on this address, so the console can be developed with hot reload
const backend = process.env.KEFU_DEV_BACKEND ?? 'http://127.0.0.1:3000';

export default defineConfig({
  root,
  base: '/',
  plugins: [react()],
  build: {
    outDir: '../dist/web',
    emptyOutDir: true,
    // antd alone is larger than the default warning threshold; the console is an internal tool loaded once per shift
    chunkSizeWarningLimit: 2000,
  },
  server: {
    proxy: {
      '/api': backend,
      '/socket.io': { target: backend, ws: true },
    },
  },
});
