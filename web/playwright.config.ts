// Browser tests of the PWA: Debian's Chromium, headless, against the real recorder started by
// tests/web/test_pwa_browser.py (SKYCAM_URL, SKYCAM_PASSWORD). Never `playwright install`.
import { defineConfig } from '@playwright/test'
import { chromiumArgs } from './chromium-args.mjs'


export default defineConfig({
  testDir: 'e2e',
  workers: 1,
  timeout: 90_000,
  expect: { timeout: 20_000 },
  retries: 0,
  reporter: [['line']],
  use: {
    baseURL: process.env.SKYCAM_URL,
    headless: true,
    viewport: { width: 1280, height: 800 },
    launchOptions: { executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', args: chromiumArgs },
  },
})
