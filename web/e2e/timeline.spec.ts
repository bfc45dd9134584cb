import { expect, logIn, test } from './fixtures'

test('clicking the timeline plays the recording from that moment', async ({ page }) => {
  await logIn(page, '/timeline/cam1')
  const bar = page.getByRole('slider', { name: /Timeline/ })
  // The camera has recorded for a while once a segment closes (10 s segments).
  await expect(page.locator('.bar .run').first()).toBeVisible({ timeout: 60_000 })
  const box = (await bar.boundingBox())!
  const start = Number(await bar.getAttribute('data-start'))
  const end = Number(await bar.getAttribute('data-end'))
  const runEnd = await page.locator('.bar .run').last().evaluate((el) => el.getBoundingClientRect().right)
  const x = runEnd - box.x - 8 * (box.width / ((end - start) / 1000)) // 8 s before the end of recording
  const clickedMs = start + (x / box.width) * (end - start)
  await bar.click({ position: { x, y: box.height / 2 } })
  const status = page.locator('[data-first-shown-ms]')
  await expect(status).not.toHaveAttribute('data-first-shown-ms', '', { timeout: 30_000 })
  const playing = Number(await status.getAttribute('data-first-shown-ms'))
  expect(Math.abs(playing - clickedMs), 'plays the clicked moment').toBeLessThan(2500)
  const video = page.getByLabel('Recorded video')
  const before = await video.evaluate((v) => (v as HTMLVideoElement).currentTime)
  await expect.poll(() => video.evaluate((v) => (v as HTMLVideoElement).currentTime)).toBeGreaterThan(before + 1)
})
