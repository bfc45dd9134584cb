// Browser half of bench/web.py: drives Debian's Chromium against a running stack and prints one
// JSON object of raw measurements on stdout. Environment: SKYCAM_URL, SKYCAM_PASSWORD, RUNS,
// GRID_S (seconds the 9-tile wall is measured), SCRUB_POINTS (previews hovered).
import AxeBuilder from '@axe-core/playwright'
import { chromium } from '@playwright/test'
import { readdirSync, readFileSync } from 'node:fs'
import { chromiumArgs } from '../chromium-args.mjs'

const url = process.env.SKYCAM_URL
const password = process.env.SKYCAM_PASSWORD
const runs = Number(process.env.RUNS ?? 5)
const latencySeconds = Number(process.env.LATENCY_S ?? 10)
const gridSeconds = Number(process.env.GRID_S ?? 20)
const scrubPoints = Number(process.env.SCRUB_POINTS ?? 20)
const TICKS = 100 // USER_HZ: /proc/<pid>/stat counts CPU time in 1/100 s on Linux

/** CPU seconds used so far by every process descended from this one (Chromium's browser,
 * GPU, utility and renderer processes; not node itself). */
function browserCpuSeconds() {
  const parent = new Map()
  const cpu = new Map()
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    let stat
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'utf8')
    } catch {
      continue // exited meanwhile
    }
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    parent.set(Number(name), Number(fields[1]))
    cpu.set(Number(name), (Number(fields[11]) + Number(fields[12])) / TICKS) // utime + stime
  }
  let total = 0
  for (const [pid, seconds] of cpu) {
    for (let p = parent.get(pid); p; p = parent.get(p)) {
      if (p === process.pid) {
        total += seconds
        break
      }
    }
  }
  return total
}

const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: chromiumArgs, headless: true })
const consoleErrors = []
const out = {
  scripts: [],
  first_frame_ms: [],
  latency_ms: [],
  axe: {},
  console_errors: consoleErrors,
  grid9: null,
  first_frame_phases: [], // per page load: where the time to the first picture went
  scrub_ms: [],
  scrub_fetch_ms: [],
  scrub_hovers: [], // per hover: the request's Resource Timing and the recorder's Server-Timing
  preview_endpoint: { cold: [], warm: [] }, // the endpoint alone, from node (no browser)
  failures: [],
}

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
    // The tiles' jump to the live edge follows their first picture.
    await p
      .waitForFunction(() => [...document.querySelectorAll('video')].every((v) => v.skycamLive?.phases.frame === undefined || v.skycamLive.phases.edge !== undefined), null, { timeout: 5000 })
      .catch(() => undefined)
    // The steps of the tile that showed the first picture, beside the page's own (all in ms
    // since navigation started): document, the app's script, then the player's phases.
    out.first_frame_phases.push(
      await p.evaluate(() => {
        const nav = performance.getEntriesByType('navigation')[0]
        const scripts = performance.getEntriesByType('resource').filter((e) => e.initiatorType === 'script' || e.name.endsWith('.js'))
        const videos = [...document.querySelectorAll('video')].filter((v) => v.skycamLive?.phases.frame !== undefined)
        const first = videos.sort((a, b) => a.skycamLive.phases.frame - b.skycamLive.phases.frame)[0]
        return {
          document: nav.responseEnd,
          script: Math.max(0, ...scripts.map((e) => e.responseEnd)),
          dom_ready: nav.domContentLoadedEventEnd,
          ...(first?.skycamLive.phases ?? {}),
        }
      }),
    )
    if (i === runs - 1) {
      await p.waitForTimeout(2000) // settle: the first GOP arrives at once, then catch-up
      await p.evaluate(() => document.querySelectorAll('video').forEach((v) => (v.skycamLive.latenciesMs.length = 0)))
      await p.waitForTimeout(latencySeconds * 1000)
      out.latency_ms = await p.evaluate(() => [...document.querySelectorAll('video')].flatMap((v) => v.skycamLive.latenciesMs))
    }
    await ctx.close()
  }

  // 3. A 9-tile wall (substreams): the browser's CPU over GRID_S, and frames shown per tile.
  try {
    const ctx = await browser.newContext({ storageState: storage, viewport: { width: 1280, height: 800 } })
    const p = await ctx.newPage()
    watch(p)
    await p.goto(`${url}/?layout=9`)
    await p.waitForFunction(() => document.querySelectorAll('figure.tile[data-state="playing"]').length >= 9, null, { timeout: 60_000 })
    await p.waitForTimeout(3000) // settle: the first GOP arrives at once
    await p.evaluate(() => {
      window.__frames = [...document.querySelectorAll('video')].map(() => 0)
      document.querySelectorAll('video').forEach((v, i) => {
        const count = () => {
          window.__frames[i] += 1
          v.requestVideoFrameCallback(count)
        }
        v.requestVideoFrameCallback(count)
      })
    })
    const cpuBefore = browserCpuSeconds()
    const started = performance.now()
    await p.waitForTimeout(gridSeconds * 1000)
    const cpuAfter = browserCpuSeconds()
    const elapsed = (performance.now() - started) / 1000
    const frames = await p.evaluate(() => window.__frames)
    out.grid9 = { cpu_s: cpuAfter - cpuBefore, elapsed_s: elapsed, fps: frames.map((n) => n / elapsed) }
    await ctx.close()
  } catch (e) {
    out.failures.push(`grid9: ${e.message.split('\n')[0]}`)
  }

  // 4. Scrubbing: hover to preview shown on the timeline, SCRUB_POINTS distinct places.
  try {
    const ctx = await browser.newContext({ storageState: storage, viewport: { width: 1280, height: 800 } })
    const p = await ctx.newPage()
    watch(p)
    await p.goto(`${url}/timeline/cam1`)
    await p.locator('.bar .run').first().waitFor({ timeout: 60_000 })
    const spanOf = () => p.getByRole('slider', { name: /Timeline/ }).evaluate((b) => Number(b.getAttribute('data-end')) - Number(b.getAttribute('data-start')))
    await p.getByRole('button', { name: 'Zoom in' }).click() // 10 minutes: a 2 s preview grain
    while ((await spanOf()) > 600_000) await p.waitForTimeout(100)
    // The zoomed view's runs: drawn once its answer is in (a run's left edge moves).
    await p.waitForFunction(() => [...document.querySelectorAll('.bar .run')].some((r) => r.getBoundingClientRect().width > 40), null, { timeout: 60_000 })
    const runs = await p.locator('.bar .run').evaluateAll((els) => els.map((e) => e.getBoundingClientRect()).map((r) => ({ x: r.x, y: r.y, w: r.width, h: r.height })))
    const run = runs.reduce((a, b) => (b.w > a.w ? b : a))
    for (let i = 0; i < scrubPoints; i++) {
      const x = run.x + 4 + ((run.w - 8) * (i + 0.5)) / scrubPoints
      const before = await p.locator('figure.preview').getAttribute('data-shown-ms').catch(() => null)
      await p.mouse.move(x, run.y + run.h / 2)
      const shown = await p
        .waitForFunction((prior) => {
          const f = document.querySelector('figure.preview')
          const now = f?.getAttribute('data-shown-ms')
          return now && now !== prior ? f.getAttribute('data-latency-ms') : null
        }, before, { timeout: 5000 })
        .then((h) => h.jsonValue())
        .catch(() => null)
      if (shown !== null) out.scrub_ms.push(Number(shown))
      // The request behind the picture shown: the page's part is the rest of the latency.
      if (shown !== null) {
        out.scrub_hovers.push(
          await p.evaluate((latency) => {
            const src = document.querySelector('figure.preview img')?.getAttribute('src') ?? ''
            const entry = performance.getEntriesByName(new URL(src, location.href).href).at(-1)
            if (!entry) return { latency_ms: latency }
            const server = Object.fromEntries(entry.serverTiming.map((t) => [t.name, t.duration]))
            return { latency_ms: latency, fetch_ms: entry.responseEnd - entry.startTime, ttfb_ms: entry.responseStart - entry.startTime, server }
          }, Number(shown)),
        )
      }
    }
    // The request alone (network and recorder), to tell it from the page's part.
    const previews = await p.evaluate(() => performance.getEntriesByType('resource').filter((e) => e.name.includes('/preview.jpg')))
    out.scrub_fetch_ms = previews.map((e) => e.responseEnd - e.startTime)
    // The endpoint alone, from node at the same instants: w=161 is another cache entry, so
    // each first request decodes again (cold); the second is answered from the cache (warm:
    // authentication, routing and the network, no decode).
    const token = await p.evaluate(() => JSON.parse(localStorage.getItem('skycam.session')).access)
    const urls = previews.map((e) => e.name.replace(/([?&])w=\d+/, '$1w=161'))
    for (const phase of ['cold', 'warm']) {
      for (const u of urls) {
        const began = performance.now()
        const response = await fetch(u, { headers: { authorization: `Bearer ${token}` } })
        await response.arrayBuffer()
        const total = performance.now() - began
        const server = Object.fromEntries(
          (response.headers.get('server-timing') ?? '')
            .split(',')
            .map((part) => part.trim().match(/^(\w+);dur=([\d.]+)/))
            .filter(Boolean)
            .map((m) => [m[1], Number(m[2])]),
        )
        out.preview_endpoint[phase].push({ total_ms: total, status: response.status, server })
      }
    }
    await ctx.close()
  } catch (e) {
    out.failures.push(`scrub: ${e.message.split('\n')[0]}`)
  }
}
await browser.close()
process.stdout.write(JSON.stringify(out))
