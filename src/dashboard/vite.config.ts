import { defineConfig } from 'vite'

// The dashboard is a static bundle served by the API at / (src/api/dashboard.ts).
export default defineConfig({
  root: import.meta.dirname,
  base: '/',
  build: { outDir: 'dist', emptyOutDir: true },
  logLevel: 'warn',
})
