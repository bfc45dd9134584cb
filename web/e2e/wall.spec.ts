import { cameras, expect, logIn, playbackOver, test } from './fixtures'

test('every tile of a 4-camera wall plays live', async ({ page }) => {
  await logIn(page, '/?layout=4')
  const tiles = page.locator('figure.tile')
  await expect(tiles).toHaveCount(Math.min(4, cameras.length))
  for (const camera of cameras.slice(0, 4)) {
    await expect(page.locator(`figure.tile[data-camera="${camera}"]`)).toHaveAttribute('data-state', 'playing', {
      timeout: 30_000,
    })
  }
  for (const camera of cameras.slice(0, 4)) {
    const selector = `figure.tile[data-camera="${camera}"] video`
    const played = await playbackOver(page, selector, 3000)
    expect(played.frames, `${camera}: frames shown in 3 s`).toBeGreaterThan(15)
    expect(played.advanced, `${camera}: media time advanced`).toBeGreaterThan(0.9 * played.elapsed * 0.8)
    const mode = await page.locator(selector).evaluate((v) => (v as HTMLVideoElement & { skycamLive?: { mode: string } }).skycamLive?.mode)
    expect(mode).toBe('mse')
  }
})

test('keyboard: 1 shows one camera on its main stream, f asks for fullscreen', async ({ page }) => {
  await logIn(page, '/?layout=4')
  await expect(page.locator('figure.tile')).toHaveCount(4)
  await page.locator('h1').click()
  await page.keyboard.press('1')
  await expect(page.locator('figure.tile')).toHaveCount(1)
  await expect(page.getByRole('button', { name: '1', exact: true })).toHaveAttribute('aria-pressed', 'true')
  await expect(page.locator('figure.tile')).toHaveAttribute('data-state', 'playing', { timeout: 30_000 })
  const height = await page.locator('figure.tile video').evaluate((v) => (v as HTMLVideoElement).videoHeight)
  expect(height).toBe(720) // the main stream, not the 360p substream
})

test('a kiosk URL shows only the wall', async ({ page }) => {
  await logIn(page, '/?kiosk=1&layout=4')
  await expect(page.getByRole('navigation')).toHaveCount(0)
  await expect(page.locator('figure.tile')).toHaveCount(4)
})

test('the camera view takes a snapshot, a plain recorder URL on the LAN', async ({ page }) => {
  await logIn(page, '/camera/cam1')
  await page.getByRole('button', { name: 'Snapshot' }).click()
  const snapshot = page.getByRole('img', { name: 'Snapshot of cam1' })
  // On the LAN the browser loads the picture itself (no object URL, no extra hop).
  await expect(snapshot).toHaveAttribute('src', new RegExp(`^${process.env.SKYCAM_URL}/api/v1/cameras/cam1/snapshot\\.jpg\\?`))
  await expect.poll(() => snapshot.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBeGreaterThan(100)
  await expect(page.getByRole('link', { name: 'Download the snapshot' })).toHaveAttribute('download', 'cam1.jpg')
})
