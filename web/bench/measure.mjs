// Browser half of bench/web.py: drives Debian's Chromium against a running stack and prints one
// JSON object of raw measurements on stdout. Environment: SKYCAM_URL, SKYCAM_PASSWORD, RUNS.
import AxeBuilder from '@axe-core/playwright'
import { chromium } from '@playwright/test'
import { chromiumArgs } from '../chromium-args.mjs'

const url = process.env.SKYCAM_URL
const password = process.env.SKYCAM_PASSWORD
const runs = Number(process.env.RUNS ?? 5)
const latencySeconds = Number(process.env.LATENCY_S ?? 10)

const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: chromiumArgs, headless: true })
const consoleErrors = []
const out = { scripts: [], first_frame_ms: [], latency_ms: [], axe: {}, console_errors: consoleErrors }

function watch(page) {
  page.on('console', (m) => m.type() === 'error' && consoleErrors.push(m.text()))
  page.on('pageerror', (e) => consoleErrors.push(`uncaught: ${e.message}`))
}

async function serious(page) {
  const result = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze()
  return result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => v.id)
}

// 1. First load: every script the login and the live wall load, from a cold cache.
{
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } })
  const page = await context.newPage()
  watch(page)
  page.on('response', async (response) => {
    if (response.request().resourceType() === 'script') {
      out.scripts.push({ url: response.url(), body: (await response.body()).toString('base64') })
    }
  })
  await page.goto(`${url}/login`)
  await page.getByRole('heading', { name: /Log in/ }).waitFor()
  out.axe.login = await serious(page)
  await page.getByLabel('User name').fill('admin')
  await page.getByLabel('Password').fill(password)
  await page.getByRole('button', { name: 'Log in' }).click()
  await page.locator('figure.tile[data-state="playing"]').first().waitFor({ timeout: 30_000 })
  out.axe.wall = await serious(page)
  const storage = await context.storageState()
  await context.close()

  // 2. Page open to first live frame, and live latency, on a logged-in browser.
  for (let i = 0; i < runs; i++) {
    const ctx = await browser.newContext({ storageState: storage, viewport: { width: 1280, height: 800 } })
    const p = await ctx.newPage()
    watch(p)
    await p.addInitScript(() => {
      // The first frame any <video> shows, in ms since navigation started.
      window.__firstFrame = null
      new MutationObserver(() => {
        for (const v of document.querySelectorAll('video')) {
          if (v.__watched) continue
          v.__watched = true
          v.requestVideoFrameCallback((now) => {
            window.__firstFrame ??= now
          })
        }
      }).observe(document, { childList: true, subtree: true })
    })
    await p.goto(`${url}/?layout=4`)
    await p.waitForFunction(() => window.__firstFrame !== null, null, { timeout: 30_000 })
    out.first_frame_ms.push(await p.evaluate(() => window.__firstFrame))
    if (i === runs - 1) {
      await p.waitForTimeout(2000) // settle: the first GOP arrives at once, then catch-up
      await p.evaluate(() => document.querySelectorAll('video').forEach((v) => (v.skycamLive.latenciesMs.length = 0)))
      await p.waitForTimeout(latencySeconds * 1000)
      out.latency_ms = await p.evaluate(() => [...document.querySelectorAll('video')].flatMap((v) => v.skycamLive.latenciesMs))
    }
    await ctx.close()
  }
}
await browser.close()
process.stdout.write(JSON.stringify(out))
