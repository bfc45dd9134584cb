// Remote video through the real local relay (docs/ref/remote-media.md): after enrolling by
// invitation, live tiles, the camera view, a recording, an event thumbnail and a clip, all as
// sealed objects the browser fetches by signed links and opens itself (WebCrypto, the hls.js
// loader of web/src/remote/media-loader.ts). The relay's data directory holds no plaintext.
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { expect, playbackOver, test } from './fixtures'
import { enrol, lanHeaders, recorder, relay, watchRecorderCalls } from './remote-fixtures'

test.describe.configure({ mode: 'serial' })

test('remote live plays on the wall and in the camera view', async ({ page, request, expectConsole }) => {
  expectConsole(/status of 403/) // the links of an ended session, asked on purpose
  expectConsole(/ERR_FILE_NOT_FOUND/) // a revoked snapshot's object URL, fetched on purpose
  test.skip(!relay, 'the stack has no relay (SKYCAM_RELAY)')
  test.setTimeout(180_000)
  const recorderCalls = watchRecorderCalls(page)
  const links: string[] = []
  page.on('request', (r) => {
    if (r.url().endsWith('/v1/media/links')) links.push(r.url())
  })
  await enrol(page, request, `viewer-${Date.now()}@relay.local`)
  const tile = page.locator('figure.tile[data-camera="cam1"]')
  await expect(tile).toHaveAttribute('data-state', 'playing', { timeout: 60_000 })
  await expect(tile.locator('.state')).toHaveText('live · remote')
  const played = await playbackOver(page, 'figure.tile[data-camera="cam1"] video', 4000)
  expect(played.frames, JSON.stringify(played)).toBeGreaterThan(20)
  expect(played.advanced, JSON.stringify(played)).toBeGreaterThan(2)
  // Capture (the part's first frame at the recorder, #EXT-X-PROGRAM-DATE-TIME) to display.
  const latencyS = await tile
    .locator('video')
    .evaluate((v) => (v as HTMLVideoElement & { skycamRemote: { latencyS(): number | null } }).skycamRemote.latencyS())
  console.log(`remote live latency (capture to display): ${latencyS} s`)
  expect(latencyS).not.toBeNull()
  expect(latencyS!).toBeLessThan(6)
  expect(links.length).toBeGreaterThan(0)
  // Every visible tile of the wall plays (substreams, one media session each).
  for (const camera of ['cam2', 'cam3', 'cam4']) {
    await expect(page.locator(`figure.tile[data-camera="${camera}"]`)).toHaveAttribute('data-state', 'playing', { timeout: 60_000 })
  }
  const sub = await tile.locator('video').evaluate((v: HTMLVideoElement) => v.videoWidth)

  // The page hidden: every tile's media session ends at once (the relay refuses links to it),
  // and shown again, the tiles play on new sessions.
  type Remote = { session: { answer: { prefix: string } } | null; sessions: number }
  const prefix = await tile.locator('video').evaluate((v) => (v as HTMLVideoElement & { skycamRemote: Remote }).skycamRemote.session!.answer.prefix)
  const linkStatus = () =>
    page.evaluate(async (key) => {
      const tokens = JSON.parse(localStorage.getItem('skycam.remote')!).tokens as { access_token: string }
      const reply = await fetch('/v1/media/links', {
        method: 'POST',
        headers: { Authorization: `Bearer ${tokens.access_token}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ keys: [key] }),
      })
      return reply.status
    }, `${prefix}index.m3u8`)
  expect(await linkStatus()).toBe(200)
  const setHidden = (hidden: boolean) =>
    page.evaluate((value) => {
      Object.defineProperty(document, 'hidden', { value, configurable: true })
      document.dispatchEvent(new Event('visibilitychange'))
    }, hidden)
  await setHidden(true)
  await expect.poll(linkStatus, { timeout: 20_000 }).toBe(403)
  await expect(tile).toHaveAttribute('data-state', 'connecting')
  await setHidden(false)
  await expect(tile).toHaveAttribute('data-state', 'playing', { timeout: 60_000 })

  // The camera view: the main stream, larger than the substream.
  await tile.click()
  await expect(page).toHaveURL(/\/camera\/cam1$/)
  const main = page.locator('figure.tile[data-camera="cam1"]')
  await expect(main).toHaveAttribute('data-state', 'playing', { timeout: 60_000 })
  const mainPlayed = await playbackOver(page, 'figure.tile[data-camera="cam1"] video', 3000)
  expect(mainPlayed.frames, JSON.stringify(mainPlayed)).toBeGreaterThan(15)
  expect(await main.locator('video').evaluate((v: HTMLVideoElement) => v.videoWidth)).toBeGreaterThan(sub)

  // The snapshot: through the tunnel, shown from an object URL; a second one replaces it and
  // the first object URL is revoked (memory does not grow with each snapshot).
  await page.getByRole('button', { name: 'Snapshot' }).click()
  const snapshot = page.getByRole('img', { name: 'Snapshot of cam1' })
  await expect(snapshot).toHaveAttribute('src', /^blob:/)
  await expect.poll(() => snapshot.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBeGreaterThan(100)
  const firstUrl = (await snapshot.getAttribute('src'))!
  await page.getByRole('button', { name: 'Snapshot' }).click()
  await expect(snapshot).not.toHaveAttribute('src', firstUrl)
  await expect.poll(() => snapshot.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBeGreaterThan(100)
  const revoked = await page.evaluate((url) => fetch(url).then(() => false, () => true), firstUrl)
  expect(revoked, 'the replaced snapshot\'s object URL is revoked').toBe(true)
  expect(recorderCalls).toEqual([])
})

test('pictures through the tunnel: the timeline\'s hover preview and the motion zones\' snapshot', async ({ page, request }) => {
  test.skip(!relay, 'the stack has no relay (SKYCAM_RELAY)')
  test.setTimeout(150_000)
  const recorderCalls = watchRecorderCalls(page)
  await enrol(page, request, `pictures-${Date.now()}@relay.local`)
  await page.getByRole('link', { name: 'Timeline' }).click()
  await expect(page.locator('h1')).toHaveText('Timeline')
  const run = page.locator('.bar .run').last()
  await expect.poll(async () => (await run.boundingBox())?.width ?? 0, { timeout: 60_000 }).toBeGreaterThan(20)
  const box = (await run.boundingBox())!
  // Hovering shows a 160 px picture of the recording under the pointer, come through the tunnel.
  await page.mouse.move(box.x + box.width * 0.6, box.y + box.height / 2)
  const preview = page.locator('figure.preview')
  await expect(preview.locator('img')).toHaveAttribute('src', /^blob:/, { timeout: 20_000 })
  await expect(preview).not.toHaveAttribute('data-shown-ms', '')
  expect(await preview.locator('img').evaluate((img: HTMLImageElement) => img.naturalWidth)).toBe(160)
  console.log(`remote hover preview (pointer to picture shown): ${await preview.getAttribute('data-latency-ms')} ms`)
  expect(Math.abs(Number(await preview.getAttribute('data-shown-ms')) - Number(await preview.getAttribute('data-wanted-ms')))).toBeLessThan(60_000)
  // Moving on shows another moment.
  const shown = Number(await preview.getAttribute('data-shown-ms'))
  await page.mouse.move(box.x + box.width * 0.1, box.y + box.height / 2, { steps: 4 })
  await expect.poll(async () => Number(await preview.getAttribute('data-shown-ms')), { timeout: 20_000 }).toBeLessThan(shown)
  await page.mouse.move(box.x, box.y + 300)
  await expect(preview).toHaveCount(0)

  // The motion zones are drawn on the camera's snapshot, through the tunnel too.
  await page.getByRole('link', { name: 'Settings' }).click()
  await page.getByRole('tab', { name: 'Motion zones' }).click()
  const picture = page.getByRole('img', { name: /^Snapshot of/ })
  await expect(picture).toHaveAttribute('src', /^blob:/, { timeout: 20_000 })
  await expect.poll(() => picture.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBeGreaterThan(100)
  await expect(page.getByRole('alert')).toHaveCount(0)
  expect(recorderCalls).toEqual([])
})

test('a recording plays remotely from the clicked moment, and a click further on seeks it', async ({ page, request }) => {
  test.skip(!relay, 'the stack has no relay (SKYCAM_RELAY)')
  test.setTimeout(180_000)
  await enrol(page, request, `player-${Date.now()}@relay.local`)
  await page.getByRole('link', { name: 'Timeline' }).click()
  await expect(page.locator('h1')).toHaveText('Timeline')
  const bar = page.getByRole('slider', { name: /Timeline/ })
  await expect(page.locator('.bar .run').first()).toBeVisible({ timeout: 60_000 })
  const box = (await bar.boundingBox())!
  const start = Number(await bar.getAttribute('data-start'))
  const end = Number(await bar.getAttribute('data-end'))
  const pxPerS = box.width / ((end - start) / 1000)
  // Recorded for at least 40 s (10 s segments): wait for it, then click 30 s before its end.
  const run = page.locator('.bar .run').last()
  await expect.poll(async () => (await run.boundingBox())!.width / pxPerS, { timeout: 90_000 }).toBeGreaterThan(40)
  const runEnd = await run.evaluate((el) => el.getBoundingClientRect().right)
  const click = async (secondsBeforeEnd: number) => {
    const x = runEnd - box.x - secondsBeforeEnd * pxPerS
    await bar.click({ position: { x, y: box.height / 2 } })
    return start + (x / box.width) * (end - start)
  }
  const status = page.locator('[data-first-shown-ms]')
  const video = page.getByLabel('Recorded video')
  const clickedMs = await click(30)
  await expect(status).not.toHaveAttribute('data-first-shown-ms', '', { timeout: 45_000 })
  // The view notes the first moment hls.js reports playing (its playing date follows its own
  // tick, up to a couple of seconds after the first frame); the media time then says where
  // playback started: both must name the clicked moment.
  const [firstShown, playingAt] = await Promise.all([
    status.getAttribute('data-first-shown-ms').then(Number),
    video.evaluate((v) => (v as HTMLVideoElement).currentTime),
  ])
  expect(Math.abs(firstShown - clickedMs), 'plays the clicked moment').toBeLessThan(3500)
  // The playing date shown is sampled every 250 ms, so it may still name a moment before the
  // first one shown: wait for it to get there (it never does if playback went backwards).
  await expect
    .poll(async () => Number(await page.locator('[data-playing-ms]').getAttribute('data-playing-ms')), {
      timeout: 10_000,
      message: 'the playing date follows the media time',
    })
    .toBeGreaterThanOrEqual(firstShown)
  expect(playingAt).toBeGreaterThan(0)
  const before = await video.evaluate((v) => (v as HTMLVideoElement).currentTime)
  await expect.poll(() => video.evaluate((v) => (v as HTMLVideoElement).currentTime), { timeout: 30_000 }).toBeGreaterThan(before + 1)
  const played = await playbackOver(page, 'video.player', 2000)
  expect(played.frames, JSON.stringify(played)).toBeGreaterThan(10)

  // 20 s further on, inside the same remote playback: the playhead moves there (the lease
  // carries it, the recorder uploads from there) and plays that moment.
  const laterMs = await click(10)
  await expect(status).not.toHaveAttribute('data-first-shown-ms', '', { timeout: 45_000 })
  await expect
    .poll(async () => Math.abs(Number(await page.locator('[data-playing-ms]').getAttribute('data-playing-ms')) - laterMs), { timeout: 45_000 })
    .toBeLessThan(3000)
  const after = await playbackOver(page, 'video.player', 2000)
  expect(after.advanced, JSON.stringify(after)).toBeGreaterThan(1)
})

test('event thumbnails show and a clip downloads remotely, and the relay stores no plaintext', async ({ page, request }) => {
  test.skip(!relay, 'the stack has no relay (SKYCAM_RELAY)')
  test.setTimeout(240_000)
  // A clip cut on the LAN, to download remotely.
  const headers = await lanHeaders(request)
  const now = Date.now()
  const made = await request.post(`${recorder}/api/v1/cameras/cam1/clips`, {
    headers,
    data: { start: String(now - 25_000), end: String(now - 15_000), exact: true, name: `remote ${now % 100000}` },
  })
  expect(made.status()).toBe(202) // accepted: cut in the background
  const clip = (await made.json()) as { id: number; name: string }
  await enrol(page, request, `clips-${Date.now()}@relay.local`)

  // Event thumbnails: sealed on the relay, opened in the browser.
  await page.getByRole('link', { name: 'Events' }).click()
  await expect(page.locator('h1')).toHaveText('Events')
  const thumb = page.locator('ul.events img[src^="blob:"]').first()
  await expect(async () => {
    await page.getByRole('button', { name: 'Filter' }).click()
    await expect(thumb).toBeVisible({ timeout: 10_000 })
  }).toPass({ timeout: 90_000 })
  expect(await thumb.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBeGreaterThan(100)
  const jpeg = Buffer.from(
    await thumb.evaluate(async (img: HTMLImageElement) => Array.from(new Uint8Array(await (await fetch(img.src)).arrayBuffer()))),
  )
  expect(jpeg.subarray(0, 2).toString('hex')).toBe('ffd8')
  // The event's clip plays through the relay too (a remote playback of its recorded range).
  await page.locator('ul.events li button:has(img[src^="blob:"])').first().click()
  const eventClip = page.locator('video[aria-label="Event clip"]')
  await expect.poll(() => eventClip.evaluate((v) => (v as HTMLVideoElement).currentTime), { timeout: 45_000 }).toBeGreaterThan(1)

  // The clip: one sealed object, opened and saved by the browser, the recorder's very bytes.
  await page.getByRole('link', { name: 'Clips' }).click()
  const row = page.getByRole('row').filter({ hasText: clip.name })
  const button = row.getByRole('button', { name: 'Download' })
  await expect(button).toBeVisible({ timeout: 60_000 })
  const [download] = await Promise.all([page.waitForEvent('download', { timeout: 60_000 }), button.click()])
  const data = await readFile((await download.path())!)
  const lan = await (await request.get(`${recorder}/api/v1/clips/${clip.id}/download`, { headers })).body()
  expect(data.subarray(4, 8).toString()).toBe('ftyp')
  expect(data.equals(lan)).toBe(true)
  await expect(page.getByRole('status').filter({ hasText: `Clip ${clip.id} downloaded` })).toBeVisible()

  // Privacy: nothing the relay stores holds a slice of what the browser opened.
  const relayDir = process.env.SKYCAM_RELAY_DIR ?? ''
  if (!relayDir) return
  const files: string[] = []
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name)
      if (entry.isDirectory()) await walk(path)
      else if (entry.isFile()) files.push(path)
    }
  }
  await walk(relayDir)
  const slices = [0.1, 0.3, 0.5, 0.7, 0.9].map((f) => data.subarray(Math.floor(data.length * f), Math.floor(data.length * f) + 32))
  slices.push(jpeg.subarray(200, 232), jpeg.subarray(jpeg.length - 300, jpeg.length - 268))
  let sealed = 0
  for (const file of files) {
    const stored = await readFile(file)
    if (stored.subarray(0, 4).toString() === 'SKM1') sealed += 1
    for (const slice of slices) expect(stored.includes(slice), `${file} holds plaintext`).toBe(false)
  }
  expect(sealed, 'the relay stores sealed objects').toBeGreaterThan(0)
})
