// Recorded video (HLS VOD from the recorder) through hls.js, loaded only when a recording plays.
import type HlsType from 'hls.js/light'

export interface Recording {
  /** Wall time (ms) of what is showing now, from EXT-X-PROGRAM-DATE-TIME; null before playing. */
  playingMs(): number | null
  destroy(): void
}

/** Play `url`; with `startAtMs`, from that wall time (the playlist starts at the segment that
 * holds it, up to a segment earlier). */
export async function playRecording(video: HTMLVideoElement, url: string, startAtMs?: number): Promise<Recording> {
  const { default: Hls } = await import('hls.js/light')
  video.muted = true
  if (!Hls.isSupported()) {
    video.src = url
    void video.play().catch(() => undefined)
    return { playingMs: () => null, destroy: () => video.removeAttribute('src') }
  }
  const hls: HlsType = new Hls({ maxBufferLength: 10, backBufferLength: 30, autoStartLoad: false })
  hls.loadSource(url)
  hls.attachMedia(video)
  hls.once(Hls.Events.LEVEL_LOADED, (_event, data) => {
    const first = data.details.fragments[0]?.programDateTime
    const offset = startAtMs !== undefined && first ? Math.max(0, (startAtMs - first) / 1000) : 0
    hls.startLoad(offset)
    if (offset) video.currentTime = offset
  })
  hls.on(Hls.Events.MANIFEST_PARSED, () => void video.play().catch(() => undefined))
  return {
    playingMs: () => hls.playingDate?.getTime() ?? null,
    destroy: () => hls.destroy(),
  }
}
