// Synced playback of several cameras' recordings: one playhead in wall time (ms since the
// epoch) that every tile follows. Each tile reports the wall time it shows (hls.js playingDate,
// from the recording's EXT-X-PROGRAM-DATE-TIME); `correction` says how to bring it back to the
// playhead: nothing, a small change of playback rate (no visible jump), or a seek when it is too
// far off for the rate to catch up soon (after a stall, or a seek that landed on a keyframe).

export const SEEK_AFTER_MS = 700 // further off than this: seek
export const TOLERANCE_MS = 40 // closer than this: play at the playhead's rate
export const MAX_NUDGE = 0.25 // rate changes at most by this fraction (1.25x, 0.75x)
export const CATCH_UP_S = 0.5 // a rate nudge aims to absorb the error in about this long
export const PULL_BACK_MS = 100 // a tile this far behind (x the rate) pulls the playhead back
export const HOLD_AHEAD_MS = 120 // a tile this far ahead (x the rate) waits, paused, for the playhead

export type Correction =
  | { kind: 'none'; rate: number }
  | { kind: 'rate'; rate: number }
  | { kind: 'hold'; rate: number }
  | { kind: 'seek'; byS: number; rate: number }

/** How a tile showing `shownMs` should play to follow a playhead at `targetMs` moving at `rate`.
 * A tile well ahead (the playhead was pulled back to a stalled tile) pauses until the playhead
 * reaches it: a rate nudge would take seconds to undo the gap. */
export function correction(shownMs: number, targetMs: number, rate: number): Correction {
  const error = shownMs - targetMs // positive: the tile is ahead
  if (Math.abs(error) > SEEK_AFTER_MS) return { kind: 'seek', byS: -error / 1000, rate }
  if (Math.abs(error) <= TOLERANCE_MS) return { kind: 'none', rate }
  if (error > HOLD_AHEAD_MS * rate) return { kind: 'hold', rate }
  const nudge = Math.max(-MAX_NUDGE, Math.min(MAX_NUDGE, -error / 1000 / CATCH_UP_S / rate))
  return { kind: 'rate', rate: rate * (1 + nudge) }
}

/** Where the playhead should go back to when a playing tile lags it by more than PULL_BACK_MS
 * (times the rate): the slowest tile's time, so that the wall plays no faster than its slowest
 * decoder (at 2x or 4x on a busy machine one tile may not keep up, and a rate nudge cannot
 * help it) and the others slow down to it instead of it drifting until a seek. Tiles further
 * off than SEEK_AFTER_MS are left to seek. Null: stay. */
export function pullBackTo(targetMs: number, shownMs: ReadonlyArray<number>, rate: number): number | null {
  const near = shownMs.filter((t) => targetMs - t < SEEK_AFTER_MS)
  if (!near.length) return null
  const slowest = Math.min(...near)
  return targetMs - slowest > PULL_BACK_MS * rate ? slowest : null
}

/** The shared playhead: wall time that advances at `rate` while playing and holds while paused
 * or while a tile waits for data (so that nobody runs ahead of a stalled tile). */
export class Playhead {
  private anchorMs: number
  private anchorPerf: number
  private running = false
  private rateValue = 1

  constructor(
    startMs: number,
    private readonly perfNow: () => number = () => performance.now(),
  ) {
    this.anchorMs = startMs
    this.anchorPerf = perfNow()
  }

  now(): number {
    return this.running ? this.anchorMs + (this.perfNow() - this.anchorPerf) * this.rateValue : this.anchorMs
  }

  get playing(): boolean {
    return this.running
  }

  get rate(): number {
    return this.rateValue
  }

  /** Start or stop advancing (from where it is). */
  run(on: boolean): void {
    this.reanchor()
    this.running = on
  }

  setRate(rate: number): void {
    this.reanchor()
    this.rateValue = rate
  }

  seek(ms: number): void {
    this.anchorMs = ms
    this.anchorPerf = this.perfNow()
  }

  private reanchor(): void {
    this.anchorMs = this.now()
    this.anchorPerf = this.perfNow()
  }
}

/** The media time (s) of wall time `ms` in a playlist's fragments, or null outside them. */
export function mediaTimeOf(fragments: ReadonlyArray<{ start: number; duration: number; programDateTime: number | null }>, ms: number): number | null {
  for (const f of fragments) {
    if (f.programDateTime === null) continue
    const into = (ms - f.programDateTime) / 1000
    if (into >= 0 && into < f.duration) return f.start + into
  }
  return null
}
