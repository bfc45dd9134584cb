import type { Page } from '@playwright/test'
import { expect, logIn, test } from './fixtures'

/** The newest run on a 10-minute timeline, once it is at least `px` wide. */
async function runOnTenMinutes(page: Page, px: number) {
  await page.getByRole('button', { name: 'Zoom in' }).click() // 1 h -> 10 min
  const run = page.locator('.bar .run').last()
  await expect.poll(async () => (await run.boundingBox())?.width ?? 0, { timeout: 90_000 }).toBeGreaterThan(px)
  return (await run.boundingBox())!
}

test('hovering and dragging over the timeline shows recorded previews, release plays', async ({ page }) => {
  test.setTimeout(150_000)
  await logIn(page, '/timeline/cam1')
  const run = await runOnTenMinutes(page, 60) // 2 px a second: half a minute recorded
  const y = run.y + run.height / 2
  // Hover: a picture of the recording, 160 px wide, for the time under the pointer.
  await page.mouse.move(run.x + run.width * 0.8, y)
  const preview = page.locator('figure.preview')
  await expect(preview.locator('img')).toBeVisible()
  await expect(preview).not.toHaveAttribute('data-shown-ms', '')
  const width = await preview.locator('img').evaluate((img) => (img as HTMLImageElement).naturalWidth)
  expect(width).toBe(160)
  const firstShown = Number(await preview.getAttribute('data-shown-ms'))
  const wanted = Number(await preview.getAttribute('data-wanted-ms'))
  expect(Math.abs(firstShown - wanted)).toBeLessThanOrEqual(1000) // the 2 s grain, rounded
  // Drag left: the preview follows the pointer; releasing plays from there.
  await page.mouse.down()
  await page.mouse.move(run.x + run.width * 0.3, y, { steps: 8 })
  await expect.poll(async () => Number(await preview.getAttribute('data-shown-ms'))).toBeLessThan(firstShown - 5000)
  const dragged = Number(await preview.getAttribute('data-wanted-ms'))
  await page.mouse.up()
  const status = page.locator('[data-started-ms]')
  await expect.poll(async () => Number(await status.getAttribute('data-started-ms'))).toBeGreaterThan(0)
  expect(Math.abs(Number(await status.getAttribute('data-started-ms')) - dragged)).toBeLessThan(1000)
  // Leaving the bar hides the preview.
  await page.mouse.move(run.x, run.y + 300)
  await expect(preview).toHaveCount(0)
})

test('frame step moves the paused recording by one frame; next and previous event jump', async ({ page }) => {
  test.setTimeout(150_000)
  await logIn(page, '/timeline/cam1')
  // cam1 shows scripted motion three times a minute.
  const markers = page.locator('.bar .event')
  await expect.poll(() => markers.count(), { timeout: 100_000 }).toBeGreaterThan(2)
  // The motion density strip counts them too (from the recorder's per-bucket motion).
  await expect(page.locator('svg.density rect').first()).toBeAttached()
  const density = page.getByRole('img', { name: /Motion density/ })
  await expect.poll(async () => Number((await density.getAttribute('aria-label'))!.match(/(\d+) events/)![1])).toBeGreaterThan(2)
  const first = (await markers.first().boundingBox())!
  const bar = page.getByRole('slider', { name: /Timeline/ })
  const barBox = (await bar.boundingBox())!
  await bar.click({ position: { x: first.x - barBox.x - 3, y: barBox.height / 2 } }) // just before it
  const started = page.locator('[data-started-ms]')
  const startedMs = async () => Number(await started.getAttribute('data-started-ms'))
  await expect.poll(startedMs).toBeGreaterThan(0)
  const clicked = await startedMs()

  await page.getByRole('button', { name: 'Next event' }).click()
  await expect.poll(startedMs).toBeGreaterThan(clicked)
  const a = await startedMs()
  await expect(started).not.toHaveAttribute('data-first-shown-ms', '', { timeout: 30_000 })

  const video = page.getByLabel('Recorded video')
  await page.getByRole('button', { name: 'Frame forward' }).click()
  const t0 = await video.evaluate((v) => (v as HTMLVideoElement).currentTime)
  expect(await video.evaluate((v) => (v as HTMLVideoElement).paused)).toBe(true)
  await page.getByRole('button', { name: 'Frame forward' }).click()
  const t1 = await video.evaluate((v) => (v as HTMLVideoElement).currentTime)
  expect(t1 - t0, 'one frame').toBeGreaterThan(0.02)
  expect(t1 - t0, 'one frame').toBeLessThan(0.2)
  await page.getByRole('button', { name: 'Frame back' }).click()
  expect(await video.evaluate((v) => (v as HTMLVideoElement).currentTime)).toBeCloseTo(t0, 3)

  await page.getByRole('button', { name: 'Next event' }).click()
  await expect.poll(startedMs).toBeGreaterThan(a + 5000) // the passes are 11 s and more apart
  await page.getByRole('button', { name: 'Previous event' }).click()
  await expect.poll(startedMs).toBe(a)
})
