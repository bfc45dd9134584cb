// Remote video through the real local relay (docs/ref/remote-media.md): after enrolling by
// invitation, live tiles, the camera view, a recording, an event thumbnail and a clip, all as
// sealed objects the browser fetches by signed links and opens itself (WebCrypto, the hls.js
// loader of web/src/remote/media-loader.ts). The relay's data directory holds no plaintext.
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { expect, playbackOver, test } from './fixtures'
import { enrol, lanHeaders, recorder, relay, watchRecorderCalls } from './remote-fixtures'

test.describe.configure({ mode: 'serial' })

test('remote live plays on the wall and in the camera view', async ({ page, request }) => {
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
  expect(links.length).toBeGreaterThan(0)
  // Every visible tile of the wall plays (substreams, one media session each).
  for (const camera of ['cam2', 'cam3', 'cam4']) {
    await expect(page.locator(`figure.tile[data-camera="${camera}"]`)).toHaveAttribute('data-state', 'playing', { timeout: 60_000 })
  }
  const sub = await tile.locator('video').evaluate((v: HTMLVideoElement) => v.videoWidth)

  // The camera view: the main stream, larger than the substream.
  await tile.click()
  await expect(page).toHaveURL(/\/camera\/cam1$/)
  const main = page.locator('figure.tile[data-camera="cam1"]')
  await expect(main).toHaveAttribute('data-state', 'playing', { timeout: 60_000 })
  const mainPlayed = await playbackOver(page, 'figure.tile[data-camera="cam1"] video', 3000)
  expect(mainPlayed.frames, JSON.stringify(mainPlayed)).toBeGreaterThan(15)
  expect(await main.locator('video').evaluate((v: HTMLVideoElement) => v.videoWidth)).toBeGreaterThan(sub)
  expect(recorderCalls).toEqual([])
})
