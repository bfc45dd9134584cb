import { expect, cameras, logIn, test } from './fixtures'

// cam4 shows the same scripted `motion` scene as cam1 (tests/web/stack.py): three crossings per
// period of Unix time, the first a band across the middle (its box spans y 0.35-0.55), the second
// lower (y 0.54-0.78). An exclude zone over the top 58 % of the frame must silence the first and
// leave the second: the second is the proof that the detector still runs, so the test can fail.
const truth = JSON.parse(process.env.SKYCAM_MOTION_TRUTH ?? '{}') as { period_s?: number; passes?: Array<[number, number]> }
const CAMERA = 'cam4'

/** The next occurrence (wall ms) of pass `index`, starting at least `leadMs` from now. */
function nextPass(index: number, leadMs: number): { start: number; end: number } {
  const period = truth.period_s! * 1000
  const [s, e] = truth.passes![index]
  const from = Date.now() + leadMs
  let start = Math.floor(from / period) * period + s * 1000
  if (start < from) start += period
  return { start, end: start + (e - s) * 1000 }
}

test('motion inside an exclude zone drawn in the UI makes no event; motion outside it does', async ({ page }) => {
  test.skip(!truth.passes?.length || !cameras.includes(CAMERA), 'the stack gave no ground truth or no cam4')
  test.setTimeout(240_000)
  await logIn(page, '/settings')
  const token = await page.evaluate(() => JSON.parse(localStorage.getItem('skycam.session')!).access as string)
  const headers = { Authorization: `Bearer ${token}` }
  const eventStarts = async (): Promise<number[]> => {
    const page1 = await (await page.request.get(`/api/v1/cameras/${CAMERA}/events?limit=100`, { headers })).json()
    return (page1.events as Array<{ start_ms: number }>).map((e) => e.start_ms)
  }
  try {
    await page.getByRole('tab', { name: 'Motion zones' }).click()
    await page.getByLabel('Camera').selectOption(CAMERA)
    await expect(page.getByRole('img', { name: /Snapshot of/ })).toBeVisible()
    await page.getByRole('button', { name: 'New zone' }).click()
    const surface = page.getByTestId('zone-surface')
    const box = (await surface.boundingBox())!
    // The surface's edges are the frame's (clicks clamp to 0..1).
    for (const [x, y] of [[0, 0], [1, 0], [1, 0.58], [0, 0.58]]) {
      await surface.click({ position: { x: Math.min(x * box.width, box.width - 0.5), y: Math.min(y * box.height, box.height - 0.5) } })
    }
    await page.getByLabel('Name', { exact: true }).fill('Street')
    await page.getByLabel('Kind').selectOption('exclude')
    await page.getByRole('button', { name: 'Save zones' }).click()
    await expect(page.getByRole('status').filter({ hasText: `Motion zones of ${CAMERA} saved.` })).toBeVisible()
    const saved = await (await page.request.get(`/api/v1/cameras/${CAMERA}`, { headers })).json()
    expect(saved.motion.zones).toEqual([expect.objectContaining({ name: 'Street', kind: 'exclude' })])

    // Judge the next crossing of each kind that starts after the detector has the zone.
    const inside = nextPass(0, 4000)
    const outside = nextPass(1, 4000)
    const last = Math.max(inside.end, outside.end)
    // Outside the zone: an event starts as the object enters (within 4 s: latency is not judged here).
    await expect
      .poll(async () => (await eventStarts()).filter((s) => s >= outside.start - 1000 && s <= outside.start + 4000).length, {
        timeout: outside.start - Date.now() + 15_000,
        intervals: [500],
      })
      .toBeGreaterThan(0)
    // Inside the zone: once that crossing is over (and the 5 s of calm that would end an event),
    // no event started during it.
    await expect.poll(() => Date.now(), { timeout: last - Date.now() + 20_000, intervals: [500] }).toBeGreaterThan(inside.end + 6000)
    const during = (await eventStarts()).filter((s) => s >= inside.start - 1000 && s <= inside.end + 1000)
    expect(during, 'events that started while the object crossed the exclude zone').toEqual([])
  } finally {
    // cam4 watches its whole frame again, whatever happened above.
    const camera = await (await page.request.get(`/api/v1/cameras/${CAMERA}`, { headers })).json()
    await page.request.patch(`/api/v1/cameras/${CAMERA}`, { headers, data: { motion: { ...camera.motion, zones: [] }, test: false } })
  }
})
