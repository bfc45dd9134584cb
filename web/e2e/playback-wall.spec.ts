import { expect, logIn, test, type Page } from './fixtures'

// Two cameras' recordings of one moment, side by side. What each tile shows is judged from the
// recording itself: its media time through the playlist's EXT-X-PROGRAM-DATE-TIME and EXTINF
// (fetched here, apart from the view's own bookkeeping).
type Fragment = { start: number; duration: number; pdt: number }
const CAMS = ['cam1', 'cam2']
const BEFORE_MS = 5 * 60_000 // the view loads this much before the chosen moment

function parsePlaylist(text: string): Fragment[] {
  const out: Fragment[] = []
  let pdt: number | null = null
  let duration = 0
  let start = 0
  for (const line of text.split('\n').map((l) => l.trim())) {
    if (line.startsWith('#EXT-X-PROGRAM-DATE-TIME:')) pdt = Date.parse(line.slice(25))
    else if (line.startsWith('#EXTINF:')) duration = parseFloat(line.slice(8))
    else if (line && !line.startsWith('#')) {
      const prev = out[out.length - 1]
      out.push({ start, duration, pdt: pdt ?? prev.pdt + prev.duration * 1000 })
      start += duration
      pdt = null
    }
  }
  return out
}

function wallOf(fragments: Fragment[], t: number): number {
  const f = fragments.find((x) => t >= x.start && t < x.start + x.duration + 0.05)
  if (!f) throw new Error(`media time ${t} is outside the playlist`)
  return f.pdt + (t - f.start) * 1000
}

/** The wall time each tile shows, read at one instant, and the view's playhead. */
async function sample(page: Page, playlists: Record<string, Fragment[]>) {
  const read = await page.evaluate((cams) => {
    const times = cams.map((id) => document.querySelector<HTMLVideoElement>(`figure[data-camera="${id}"] video`)!.currentTime)
    const head = Number(document.querySelector<HTMLElement>('[data-playhead-ms]')!.dataset.playheadMs)
    return { times, head }
  }, CAMS)
  const walls = read.times.map((t, i) => wallOf(playlists[CAMS[i]], t))
  return { walls, spread: Math.max(...walls) - Math.min(...walls), head: read.head }
}

test('two cameras play the same moment in sync, and stay in sync through a seek and a speed change', async ({ page }) => {
  test.setTimeout(180_000)
  await logIn(page, '/')
  const token = await page.evaluate(() => JSON.parse(localStorage.getItem('skycam.session')!).access as string)
  const headers = { Authorization: `Bearer ${token}` }
  // A moment both cameras recorded, with closed segments around it (10 s segments).
  const t = Date.now() - 45_000
  for (const id of CAMS) {
    await expect
      .poll(
        async () => {
          const tl = await (await page.request.get(`/api/v1/cameras/${id}/timeline?start=${t - 60_000}&end=${Date.now()}`, { headers })).json()
          // Runs may come a segment each: add up how much of t ± 15 s they cover.
          const runs = tl.runs as Array<{ start_ms: number; end_ms: number }>
          return runs.reduce((sum, r) => sum + Math.max(0, Math.min(r.end_ms, t + 15_000) - Math.max(r.start_ms, t - 15_000)), 0)
        },
        { timeout: 90_000, intervals: [2000] },
      )
      .toBeGreaterThan(29_000)
  }
  await page.goto(`/playback?cameras=${CAMS.join(',')}&t=${t}`)
  const playlists: Record<string, Fragment[]> = {}
  for (const id of CAMS) {
    const url = `/api/v1/cameras/${id}/playback.m3u8?start=${t - BEFORE_MS}&end=${Date.now()}`
    playlists[id] = parsePlaylist(await (await page.request.get(url, { headers })).text())
    expect(playlists[id].length).toBeGreaterThan(1)
  }
  const videos = page.locator('figure[data-camera] video')
  await expect(videos).toHaveCount(2)

  const inSync = async (label: string, near: number) => {
    // Settles within a few seconds of loading or seeking...
    await expect
      .poll(
        async () => {
          const s = await sample(page, playlists)
          return Math.abs(s.walls[0] - near) < 8000 ? s.spread : Infinity
        },
        { timeout: 30_000, message: `${label}: tiles converge near the moment` },
      )
      .toBeLessThan(120)
    // ...and stays: five readings over two seconds of playback, while the media advances.
    const first = await sample(page, playlists)
    expect(Math.abs(first.walls[0] - near), `${label}: plays the chosen moment`).toBeLessThan(8000)
    for (let i = 0; i < 5; i++) {
      await expect.poll(async () => (await sample(page, playlists)).head, { timeout: 10_000 }).toBeGreaterThan(first.head + (i + 1) * 400)
      const s = await sample(page, playlists)
      expect(s.spread, `${label}: drift between the tiles (ms)`).toBeLessThan(150)
      expect(Math.abs(s.walls[0] - s.head), `${label}: tile vs playhead (ms)`).toBeLessThan(250)
    }
  }
  await inSync('start', t)
  const before = (await sample(page, playlists)).head
  await page.getByRole('button', { name: 'Back 10 s' }).click()
  await inSync('after seeking back', before - 10_000)
  await page.getByLabel('Speed').selectOption('2')
  const head = (await sample(page, playlists)).walls[0]
  await inSync('at 2x', head)
  await page.getByRole('button', { name: 'Pause' }).click()
  await expect.poll(() => videos.evaluateAll((vs) => vs.every((v) => (v as HTMLVideoElement).paused))).toBe(true)
  const paused = await sample(page, playlists)
  expect(paused.spread, 'paused: drift between the tiles (ms)').toBeLessThan(150)
  const later = Date.now() + 1500
  await expect.poll(() => Date.now()).toBeGreaterThan(later)
  const still = await sample(page, playlists)
  expect(Math.abs(still.walls[0] - paused.walls[0]), 'paused tiles hold their picture').toBeLessThan(50)
})
