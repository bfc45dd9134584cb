// The playback wall's sync rules: a tile's correction toward the playhead, and the playhead.
import { describe, expect, it } from 'vitest'
import { correction, MAX_NUDGE, mediaTimeOf, Playhead, pullBackTo, SEEK_AFTER_MS } from './playback-sync'

describe('playback wall sync', () => {
  it('leaves a tile within tolerance alone, nudges a small error, seeks a large one', () => {
    expect(correction(10_020, 10_000, 1)).toEqual({ kind: 'none', rate: 1 })
    const behind = correction(9_800, 10_000, 2)
    expect(behind.kind).toBe('rate')
    expect(behind.rate).toBeGreaterThan(2)
    expect(behind.rate).toBeLessThanOrEqual(2 * (1 + MAX_NUDGE))
    const ahead = correction(10_100, 10_000, 1)
    expect(ahead.kind === 'rate' && ahead.rate < 1).toBe(true)
    expect(correction(10_300, 10_000, 1).kind).toBe('hold') // waits for the playhead
    expect(correction(10_200, 10_000, 2).kind).toBe('rate') // within 120 ms x 2
    expect(correction(10_000 + SEEK_AFTER_MS + 500, 10_000, 1)).toEqual({ kind: 'seek', byS: -(SEEK_AFTER_MS + 500) / 1000, rate: 1 })
    expect(correction(4_000, 10_000, 1)).toEqual({ kind: 'seek', byS: 6, rate: 1 })
  })

  it('advances the playhead at its rate only while running, and keeps its place on changes', () => {
    let perf = 0
    const head = new Playhead(1_000_000, () => perf)
    perf = 5_000
    expect(head.now()).toBe(1_000_000)
    head.run(true)
    perf = 7_000
    expect(head.now()).toBe(1_002_000)
    head.setRate(4)
    perf = 8_000
    expect(head.now()).toBe(1_006_000)
    head.run(false)
    perf = 20_000
    expect(head.now()).toBe(1_006_000)
    head.seek(2_000_000)
    expect(head.now()).toBe(2_000_000)
  })

  it('pulls the playhead back to a tile that cannot keep up, not to one about to seek', () => {
    expect(pullBackTo(10_000, [9_990, 9_950], 1)).toBeNull()
    expect(pullBackTo(10_000, [9_990, 9_700], 1)).toBe(9_700)
    expect(pullBackTo(10_000, [9_990, 9_850], 2)).toBeNull() // within 100 ms x 2
    expect(pullBackTo(10_000, [9_990, 9_000], 1)).toBeNull() // 1 s off: that tile seeks instead
    expect(pullBackTo(10_000, [], 1)).toBeNull()
  })

  it('maps wall time to media time through the playlist fragments', () => {
    const fragments = [
      { start: 0, duration: 10, programDateTime: 1_000_000 },
      { start: 10, duration: 10, programDateTime: 1_030_000 }, // a 20 s gap before it
    ]
    expect(mediaTimeOf(fragments, 1_004_500)).toBe(4.5)
    expect(mediaTimeOf(fragments, 1_031_000)).toBe(11)
    expect(mediaTimeOf(fragments, 1_015_000)).toBeNull()
  })
})
