import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// The bundle is served by the Python app from src/lifechain/web_dist (index.html fallback for client routes).
export default defineConfig({
  plugins: [react()],
  base: '/',
  build: {
    outDir: '../src/lifechain/web_dist',
    emptyOutDir: true,
    chunkSizeWarningLimit: 2000,
  },
  server: { proxy: { '/api': 'http://127.0.0.1:8000' } },
});
