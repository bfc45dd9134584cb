// Browser half of bench/remote.py: Debian's Chromium opens the PWA served by the local relay,
// enrols by invitation (as web/e2e/remote-fixtures.ts does) and measures remote live and
// playback as a user gets them. Prints one JSON line per mark (`{"mark": ...}`: the Python side
// reads the recorder's upload counters at the watch window's edges) and, last, one JSON object
// of raw measurements. Environment: SKYCAM_RELAY, INVITATION (link), EMAIL, CLOUD_PASSWORD,
// CAMERA, SLOW_CAMERA (4 s GOP), GROUP / SLOW_GROUP (wall groups of one camera each), RUNS,
// WATCH_S, SESSIONS, SESSION_S, SETTLE_S, PLAYBACK_BEFORE_END_S.
import { chromium } from '@playwright/test'
import { chromiumArgs } from '../chromium-args.mjs'

const env = process.env
const relay = env.SKYCAM_RELAY
const camera = env.CAMERA
const slowCamera = env.SLOW_CAMERA
const runs = Number(env.RUNS ?? 5)
const watchS = Number(env.WATCH_S ?? 30)
// A live session's latency is set where the player joined (a keyframe part some way behind
// the live edge) and stays there: latency is sampled over several sessions, each SESSION_S.
const sessions = Number(env.SESSIONS ?? 3)
const sessionS = Number(env.SESSION_S ?? 10)
const settleS = Number(env.SETTLE_S ?? 4)
const beforeEndS = Number(env.PLAYBACK_BEFORE_END_S ?? 20)
const relayWs = new URL(env.SKYCAM_RELAY_WS ?? relay).host

const mark = (name, extra = {}) => process.stdout.write(`${JSON.stringify({ mark: name, at: Date.now(), ...extra })}\n`)

const out = {
  live_start_ms: [],
  latency_ms: [],
  latency_4s_gop_ms: [],
  latency_sessions_ms: [], // each session's median
  latency_window_ms: [], // the viewer window's session
  latency_4s_gop_sessions_ms: [],
  playback_start_ms: [],
  window: null,
  console_errors: [],
  failures: [],
}

const browser = await chromium.launch({ executablePath: env.CHROMIUM ?? '/usr/bin/chromium', args: chromiumArgs, headless: true })
const context = await browser.newContext({ viewport: { width: 1280, height: 800 } })
const page = await context.newPage()
page.on('console', (m) => m.type() === 'error' && out.console_errors.push(m.text()))
page.on('pageerror', (e) => out.console_errors.push(`uncaught: ${e.message}`))

// What the browser asks of the relay, counted from Playwright's events for the whole context
// (page and service worker): HTTP requests to the relay's origin by kind with the bytes of their
// answers (headers and body as received), and the tunnel WebSocket's messages each way.
let counting = false
const fresh = () => ({
  objects: 0,
  object_bytes: 0,
  links: 0,
  rest: 0,
  static: 0,
  other_bytes: 0,
  ws_sent: 0,
  ws_received: 0,
  ws_sent_bytes: 0,
  ws_received_bytes: 0,
  ws_sent_units: 0, // API Gateway bills WebSocket messages in 32 KB units
  ws_received_units: 0,
  failed: 0,
})
let counts = fresh()
const kindOf = (url) => {
  const path = new URL(url).pathname
  if (path.startsWith('/objects/')) return 'objects'
  if (path === '/v1/media/links') return 'links'
  if (path.startsWith('/v1/')) return 'rest'
  return 'static'
}
context.on('requestfinished', async (request) => {
  if (!counting || !request.url().startsWith(relay)) return
  const tally = counts
  const kind = kindOf(request.url())
  tally[kind] += 1
  const sizes = await request.sizes().catch(() => null)
  const bytes = sizes ? sizes.responseBodySize + sizes.responseHeadersSize : 0
  if (kind === 'objects') tally.object_bytes += bytes
  else tally.other_bytes += bytes
})
context.on('requestfailed', (request) => {
  if (counting && request.url().startsWith(relay)) counts.failed += 1
})
page.on('websocket', (ws) => {
  if (new URL(ws.url()).host !== relayWs) return
  const size = (payload) => (typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length)
  ws.on('framesent', ({ payload }) => {
    if (!counting) return
    counts.ws_sent += 1
    counts.ws_sent_bytes += size(payload)
    counts.ws_sent_units += Math.max(1, Math.ceil(size(payload) / 32768))
  })
  ws.on('framereceived', ({ payload }) => {
    if (!counting) return
    counts.ws_received += 1
    counts.ws_received_bytes += size(payload)
    counts.ws_received_units += Math.max(1, Math.ceil(size(payload) / 32768))
  })
})

/** An in-app navigation (the router's push, as a click on a link does); resolves at once. */
const go = (path) => page.evaluate((p) => void document.querySelector('#app').__vue_app__.config.globalProperties.$router.push(p), path)
const heading = (text) => page.locator('h1').filter({ hasText: new RegExp(`^${text}$`) }).waitFor({ timeout: 45_000 })

async function away() {
  await go('/settings')
  await heading('Settings')
}

/** Per shown frame of the tile's <video>, capture (the frame's arrival at the recorder: its
 * part's #EXT-X-PROGRAM-DATE-TIME) to display, for `seconds`. */
async function latencies(selector, seconds) {
  return page.evaluate(
    ({ selector, ms }) =>
      new Promise((resolve) => {
        const video = document.querySelector(selector)
        const got = []
        let done = false
        const tick = () => {
          if (done) return
          const s = video.skycamRemote?.latencyS()
          if (s !== null && s !== undefined) got.push(s * 1000)
          video.requestVideoFrameCallback(tick)
        }
        video.requestVideoFrameCallback(tick)
        setTimeout(() => {
          done = true
          resolve(got)
        }, ms)
      }),
    { selector, ms: seconds * 1000 },
  )
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted.length ? sorted[Math.floor((sorted.length - 1) / 2)] : null
}

/** One more live session of `id` on its one-camera wall group: settled, then its latencies. */
async function session(id, group, seconds) {
  await away()
  await go(`/?layout=4&group=${encodeURIComponent(group)}`)
  await playing(id)
  await page.waitForTimeout(settleS * 1000)
  return latencies(tileVideo(id), seconds)
}

const tileVideo = (id) => `figure.tile[data-camera="${id}"] video`
const playing = (id) => page.locator(`figure.tile[data-camera="${id}"][data-state="playing"]`).waitFor({ timeout: 60_000 })

// 1. Enrolment by invitation, through the relay only.
await page.goto(env.INVITATION)
await page.locator('h1').filter({ hasText: 'Join a SkyCam recorder' }).waitFor({ timeout: 45_000 })
await page.getByLabel('Email').fill(env.EMAIL)
await page.getByLabel('Password').fill(env.CLOUD_PASSWORD)
await page.getByRole('button', { name: 'Join' }).click()
await heading('Live')
mark('enrolled')

// 2. Live start: from the in-app ask for the camera's view (main stream) to its first frame
// shown (requestVideoFrameCallback's presentation time), leaving the view between runs (its
// media session ends).
for (let i = 0; i < runs; i++) {
  await away()
  const ms = await page.evaluate(
    ({ id, selector }) =>
      new Promise((resolve, reject) => {
        const router = document.querySelector('#app').__vue_app__.config.globalProperties.$router
        const timer = setTimeout(() => reject(new Error('no live frame in 60 s')), 60_000)
        const asked = performance.now()
        void router.push(`/camera/${encodeURIComponent(id)}`)
        const hook = () => {
          const video = document.querySelector(selector)
          if (!video) return void setTimeout(hook, 5)
          video.requestVideoFrameCallback((now) => {
            clearTimeout(timer)
            resolve(now - asked)
          })
        }
        hook()
      }),
    { id: camera, selector: tileVideo(camera) },
  )
  out.live_start_ms.push(ms)
}
await away()

// 3. The viewer window: one substream tile on the wall (a group of one camera, as the reference
// client watches), settled, then everything the browser asked of the relay for WATCH_S seconds
// (and that session's latency); then SESSIONS new sessions of SESSION_S each for latency.
await go(`/?layout=4&group=${encodeURIComponent(env.GROUP)}`)
await playing(camera)
await page.waitForTimeout(settleS * 1000)
counts = fresh()
counting = true
mark('window-start')
const started = Date.now()
out.latency_window_ms = await latencies(tileVideo(camera), watchS)
counting = false
const seconds = (Date.now() - started) / 1000
mark('window-end')
await page.waitForTimeout(500) // answers still in flight when the window closed are counted
out.window = { seconds, ...counts, tiles: await page.locator('figure.tile').count() }
for (let i = 0; i < sessions; i++) {
  const got = await session(camera, env.GROUP, sessionS)
  out.latency_ms.push(...got)
  out.latency_sessions_ms.push(median(got))
}

// 4. The 4 s GOP camera's latency, the same way (SESSIONS sessions of SESSION_S).
for (let i = 0; i < sessions; i++) {
  const got = await session(slowCamera, env.SLOW_GROUP, sessionS)
  out.latency_4s_gop_ms.push(...got)
  out.latency_4s_gop_sessions_ms.push(median(got))
}

// 5. Playback start: a click on the timeline, BEFORE_END_S (and a little more each run) before
// the end of the recording, to the first recorded frame shown; a fresh view (and remote
// playback session) each run.
for (let i = 0; i < runs; i++) {
  try {
    await away()
    await go(`/timeline/${encodeURIComponent(camera)}`)
    await heading('Timeline')
    const bar = page.getByRole('slider', { name: /Timeline/ })
    const run = page.locator('.bar .run').last()
    await run.waitFor({ timeout: 60_000 })
    const box = await bar.boundingBox()
    const span = Number(await bar.getAttribute('data-end')) - Number(await bar.getAttribute('data-start'))
    const pxPerS = box.width / (span / 1000)
    const runEnd = await run.evaluate((el) => el.getBoundingClientRect().right)
    await page.evaluate(() => {
      window.__asked = null
      window.__shown = null
      document.addEventListener('pointerdown', () => (window.__asked ??= performance.now()), { capture: true })
      const video = document.querySelector('video.player')
      video.requestVideoFrameCallback((now) => (window.__shown = now))
    })
    const x = runEnd - box.x - (beforeEndS + 2 * i) * pxPerS
    await bar.click({ position: { x, y: box.height / 2 } })
    await page.waitForFunction(() => window.__shown !== null && window.__asked !== null, null, { timeout: 45_000 })
    out.playback_start_ms.push(await page.evaluate(() => window.__shown - window.__asked))
  } catch (e) {
    out.failures.push(`playback ${i}: ${e.message.split('\n')[0]}`)
  }
}
await away()
await browser.close()
process.stdout.write(`${JSON.stringify({ result: out })}\n`)
