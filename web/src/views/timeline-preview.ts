// Preview thumbnails while hovering or dragging over the timeline: a small recorded picture
// near the pointed time (GET /cameras/{id}/preview.jpg). One request at a time: while one
// loads, only the newest wanted time waits behind it, so a fast drag never queues a backlog and
// the picture shown is always a whole one (loaded off-screen, then swapped in).
import { ref } from 'vue'

export interface PreviewState {
  /** Time the pointer is at (ms), or null when not hovering. */
  wantedMs: number | null
  /** URL of the picture shown, and the time it was asked for. */
  src: string
  shownMs: number | null
  /** Pointer event to picture shown, for the last picture (ms): what bench/web.py reports. */
  latencyMs: number | null
  missing: boolean // nothing recorded near there
}

/** `urlFor(t)`: the picture's URL (a promise of one remotely, where it comes through the tunnel:
 * views/transport-image.ts); `recorded(t)`: whether anything is recorded near `t` (a gap
 * is not asked for: it has no picture, and a 404 would only be noise in the console). */
export function useTimelinePreview(urlFor: (t: number) => string | Promise<string>, recorded: (t: number) => boolean) {
  const state = ref<PreviewState>({ wantedMs: null, src: '', shownMs: null, latencyMs: null, missing: false })
  let loading = false
  let next: { t: number; askedAt: number } | null = null

  function load(t: number, askedAt: number): void {
    loading = true
    let url = ''
    const image = new Image()
    const done = (ok: boolean) => {
      loading = false
      // Shown only if the pointer is still over recorded time (it may have moved to a gap).
      if (state.value.wantedMs !== null && !state.value.missing) {
        if (ok) {
          state.value.src = url
          state.value.shownMs = t
          state.value.latencyMs = Math.round(performance.now() - askedAt)
          state.value.missing = false
        } else if (next === null) {
          state.value.missing = true
        }
      }
      const queued = next
      next = null
      if (queued && queued.t !== t) load(queued.t, queued.askedAt)
    }
    image.onload = () => done(true)
    image.onerror = () => done(false)
    const wanted = urlFor(t)
    if (typeof wanted === 'string') image.src = url = wanted
    else
      wanted.then(
        (made) => (image.src = url = made),
        () => done(false),
      )
  }

  /** The pointer is at `t`; `grainMs` rounds it, so nearby positions share one picture (and
   * the browser's cache). `askedAt` is the pointer event's time (performance.now clock). */
  function show(t: number, grainMs: number, askedAt: number = performance.now()): void {
    const rounded = Math.round(t / grainMs) * grainMs
    state.value.wantedMs = t
    if (!recorded(rounded)) {
      next = null
      state.value.missing = true
      return
    }
    state.value.missing = false
    if (rounded === state.value.shownMs && !loading) return
    if (loading) next = { t: rounded, askedAt }
    else load(rounded, askedAt)
  }

  function hide(): void {
    state.value.wantedMs = null
    next = null
  }

  return { preview: state, show, hide }
}
