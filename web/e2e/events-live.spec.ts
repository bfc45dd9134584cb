import { expect, logIn, test } from './fixtures'

// When cam1's substream shows motion (the simulator's ground truth: passes at fixed seconds of
// each period of Unix time, tests/web/stack.py).
const truth = JSON.parse(process.env.SKYCAM_MOTION_TRUTH ?? '{}') as { period_s?: number; passes?: Array<[number, number]> }

/** The wall time (ms) of the next pass to start at least `leadMs` from now. */
function nextPassMs(leadMs: number): number {
  const period = truth.period_s! * 1000
  const from = Date.now() + leadMs
  const base = Math.floor(from / period) * period
  const starts = [base, base + period].flatMap((b) => truth.passes!.map(([s]) => b + s * 1000))
  return Math.min(...starts.filter((t) => t >= from))
}

test('a motion event appears in the list within 2 s of the scripted motion', async ({ page }) => {
  test.skip(!truth.passes?.length, 'the stack gave no ground truth')
  await logIn(page, '/events')
  await page.getByLabel('Camera').selectOption('cam1')
  await page.getByRole('button', { name: 'Filter' }).click()
  // When each event first shows in the list, on the page's clock (the same machine's).
  await page.evaluate(() => {
    const seen: Record<string, number> = {}
    ;(window as unknown as { __eventSeen: Record<string, number> }).__eventSeen = seen
    const note = () => {
      for (const li of document.querySelectorAll<HTMLElement>('li[data-event-id]')) seen[li.dataset.eventId!] ??= Date.now()
    }
    note()
    new MutationObserver(note).observe(document.body, { childList: true, subtree: true })
  })
  const known = await page.locator('li[data-event-id]').evaluateAll((items) => items.map((li) => (li as HTMLElement).dataset.eventId))
  // Leave the page time to settle (socket open) before the pass we judge.
  const motionMs = nextPassMs(3000)
  const fresh = page.locator('li[data-camera="cam1"]')
  await expect
    .poll(
      async () =>
        (await fresh.evaluateAll((items) => items.map((li) => [(li as HTMLElement).dataset.eventId, Number((li as HTMLElement).dataset.startMs)] as const)))
          .filter(([id, start]) => !known.includes(id) && Math.abs(start - motionMs) < 2000).length,
      { timeout: motionMs - Date.now() + 10_000, intervals: [250] },
    )
    .toBeGreaterThan(0)
  const appeared = await page.evaluate(
    ([motion, knownIds]) => {
      const seen = (window as unknown as { __eventSeen: Record<string, number> }).__eventSeen
      const items = [...document.querySelectorAll<HTMLElement>('li[data-camera="cam1"]')]
      const match = items.find((li) => !knownIds.includes(li.dataset.eventId) && Math.abs(Number(li.dataset.startMs) - motion) < 2000)!
      return seen[match.dataset.eventId!]
    },
    [motionMs, known] as const,
  )
  expect(appeared - motionMs, 'ms from the motion to the event in the list').toBeLessThanOrEqual(2000)
})
