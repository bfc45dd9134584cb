// Build of the PWA (docs/design/web.md). The service worker is ours (src/sw.ts, injectManifest):
// it precaches the app shell and never touches the API or video.
import vue from '@vitejs/plugin-vue'
import { defineConfig } from 'vitest/config'
import { VitePWA } from 'vite-plugin-pwa'

export default defineConfig({
  plugins: [
    vue(),
    VitePWA({
      strategies: 'injectManifest',
      srcDir: 'src',
      filename: 'sw.ts',
      injectRegister: null, // registered in main.ts, without workbox-window (smaller first load)
      manifest: {
        name: 'SkyCam',
        short_name: 'SkyCam',
        description: 'Your cameras, live and recorded',
        start_url: '/',
        scope: '/',
        display: 'standalone',
        background_color: '#0f172a',
        theme_color: '#0f172a',
        icons: [
          { src: '/icons/icon-192.png', sizes: '192x192', type: 'image/png' },
          { src: '/icons/icon-512.png', sizes: '512x512', type: 'image/png' },
          { src: '/icons/maskable-512.png', sizes: '512x512', type: 'image/png', purpose: 'maskable' },
        ],
      },
      injectManifest: {
        globPatterns: ['**/*.{js,css,html,png,webmanifest}'],
        maximumFileSizeToCacheInBytes: 1_000_000,
      },
    }),
  ],
  // The sealed channel's libraries (noise-handshake) reach libsodium through sodium-universal,
  // whose browser build is sodium-javascript (pure JS): said here so that the app and the unit
  // tests (vitest, in Node) run the same code.
  resolve: { alias: { 'sodium-universal': 'sodium-javascript' } },
  build: { target: 'es2022', sourcemap: false, reportCompressedSize: false },
  test: {
    include: ['src/**/*.test.ts'],
    environment: 'node',
    server: { deps: { inline: ['noise-handshake'] } },
  },
  server: { proxy: { '/api': { target: 'http://127.0.0.1:8080', ws: true } } },
})
