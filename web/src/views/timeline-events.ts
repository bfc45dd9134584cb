// Previous and next event of a camera from any instant, wherever they are (not only in view).
import type { EventPage, MotionEvent } from '../api/types'

type Call = <T>(method: string, path: string) => Promise<T>

// "Next" looks ahead in growing windows: most often the next event is close.
const AHEAD_MS = [3_600_000, 86_400_000, 7 * 86_400_000, 31 * 86_400_000]
const MAX_PAGES = 5
const SAME_EVENT_MS = 500 // the event playing now is not its own previous or next

/** The newest event starting before `t`, or null. */
export async function previousEvent(call: Call, camera: string, t: number): Promise<MotionEvent | null> {
  const query = new URLSearchParams({ camera, end: String(Math.round(t - SAME_EVENT_MS)), limit: '1' })
  const page = await call<EventPage>('GET', `/events?${query}`)
  return page.events[0] ?? null
}

/** The oldest event starting after `t` (up to a month ahead), or null. */
export async function nextEvent(call: Call, camera: string, t: number): Promise<MotionEvent | null> {
  const from = Math.round(t + SAME_EVENT_MS)
  for (const ahead of AHEAD_MS) {
    let best: MotionEvent | null = null
    let cursor: string | null = null
    for (let page = 0; page < MAX_PAGES; page++) {
      const query = new URLSearchParams({ camera, start: String(from), end: String(from + ahead), limit: '200' })
      if (cursor) query.set('cursor', cursor)
      const body: EventPage = await call<EventPage>('GET', `/events?${query}`)
      for (const e of body.events) if (e.start_ms >= from && (!best || e.start_ms < best.start_ms)) best = e
      cursor = body.next_cursor
      if (!cursor) break
    }
    if (best) return best
    if (from + ahead > Date.now()) return null
  }
  return null
}
