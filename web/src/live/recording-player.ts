// Recorded video (HLS VOD from the recorder) through hls.js, loaded only when a recording plays.
import type HlsType from 'hls.js/light'

export interface Recording {
  /** Wall time (ms) of what is showing now, from EXT-X-PROGRAM-DATE-TIME; null before playing. */
  playingMs(): number | null
  destroy(): void
}

export async function playRecording(video: HTMLVideoElement, url: string): Promise<Recording> {
  const { default: Hls } = await import('hls.js/light')
  video.muted = true
  if (!Hls.isSupported()) {
    video.src = url
    void video.play().catch(() => undefined)
    return { playingMs: () => null, destroy: () => video.removeAttribute('src') }
  }
  const hls: HlsType = new Hls({ maxBufferLength: 10, backBufferLength: 30 })
  hls.loadSource(url)
  hls.attachMedia(video)
  hls.on(Hls.Events.MANIFEST_PARSED, () => void video.play().catch(() => undefined))
  return {
    playingMs: () => hls.playingDate?.getTime() ?? null,
    destroy: () => hls.destroy(),
  }
}
