import { expect, faulty, logIn, test } from './fixtures'

test('a tile shows the signal lost, then recovers by itself', async ({ page }) => {
  test.skip(!faulty, 'the stack has no faulty camera')
  await logIn(page, `/camera/${faulty}`)
  const tile = page.locator(`figure.tile[data-camera="${faulty}"]`)
  await expect(tile).toHaveAttribute('data-state', 'playing', { timeout: 30_000 })
  // The camera drops every client every 12 s: the tile says so...
  await expect(tile.getByText('Signal lost', { exact: true })).toBeVisible({ timeout: 30_000 })
  // ...and plays again without anyone touching it.
  await expect(tile).toHaveAttribute('data-state', 'playing', { timeout: 30_000 })
  const frames = await tile.locator('video').evaluate((v) => (v as HTMLVideoElement & { skycamLive: { frames: number } }).skycamLive.frames)
  await expect
    .poll(() => tile.locator('video').evaluate((v) => (v as HTMLVideoElement & { skycamLive: { frames: number } }).skycamLive.frames))
    .toBeGreaterThan(frames + 10)
})
