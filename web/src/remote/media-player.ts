// Remote video in a <video>: hls.js (light) with the sealed loader (media-loader.ts) playing a
// media session (media.ts). Live: a camera's parts as they are uploaded, joined at a keyframe
// part near the live edge, restarted when lost. Playback: a recorded range, the lease carrying
// the playhead so that the recorder uploads ahead of it (and moves there on a seek).
import type HlsType from 'hls.js/light'
import type { Fragment } from 'hls.js'
import type { Recording } from '../live/recording-player'
import { liveStart, type MediaDeps, MediaSession } from './media'
import { mediaDeps } from './media-deps'
import { playlistUrl, sealedLoader } from './media-loader'

export type RemoteLiveState = 'connecting' | 'playing' | 'lost' | 'denied'

const RETRY_MS = [1000, 2000, 5000, 10_000]
const STALL_MS = 10_000 // no new frame this long while playing: lost, a new session
const WATCH_MS = 1000

async function loadHls(): Promise<typeof HlsType> {
  return (await import('hls.js/light')).default
}

/** Why a session could not start, for the tile, and whether trying again may help: not for a
 * camera refused (403/404); later for too many sessions (409: the recorder allows 8 per tunnel
 * session, one frees when another tile leaves); soon for anything else. */
function refusal(error: unknown): { state: RemoteLiveState; reason: string; retry: boolean } {
  const e = error as { status?: number; message?: string }
  if (e.status === 403 || e.status === 404) return { state: 'denied', reason: e.message ?? 'not allowed', retry: false }
  if (e.status === 409) return { state: 'denied', reason: e.message ?? 'too many remote views', retry: true }
  return { state: 'lost', reason: e.message ?? String(error), retry: true }
}

/** Frames shown by a <video> (requestVideoFrameCallback where there is one, else media time). */
function frameCounter(video: HTMLVideoElement, onFrame: () => void): () => void {
  let active = true
  if ('requestVideoFrameCallback' in video) {
    let handle = 0
    const tick = () => {
      if (!active) return
      onFrame()
      handle = video.requestVideoFrameCallback(tick)
    }
    handle = video.requestVideoFrameCallback(tick)
    return () => {
      active = false
      video.cancelVideoFrameCallback(handle)
    }
  }
  const element = video as HTMLVideoElement // older browsers: media time instead
  const onTime = () => onFrame()
  element.addEventListener('timeupdate', onTime)
  return () => element.removeEventListener('timeupdate', onTime)
}

/** One camera live through the relay, for as long as it is wanted (stop() ends the session). */
export class RemoteLive {
  frames = 0
  sessions = 0
  private session: MediaSession | null = null
  private hls: HlsType | null = null
  private stopFrames: (() => void) | null = null
  private watchdog: ReturnType<typeof setInterval> | null = null
  private retryTimer: ReturnType<typeof setTimeout> | null = null
  private failures = 0
  private lastFrameAt = 0
  private stopped = false
  private playing = false // a frame was shown since this session started
  private generation = 0

  constructor(
    private readonly video: HTMLVideoElement,
    private readonly cameraId: string,
    private readonly stream: 'main' | 'sub',
    private readonly onState: (state: RemoteLiveState, reason: string) => void,
    private readonly deps: MediaDeps = mediaDeps(),
  ) {}

  start(): void {
    void this.open()
  }

  private async open(): Promise<void> {
    const generation = ++this.generation
    this.playing = false
    this.onState('connecting', '')
    let session: MediaSession
    let Hls: typeof HlsType
    try {
      ;[session, Hls] = await Promise.all([
        MediaSession.start(this.deps, '/remote/live', { camera_id: this.cameraId, stream: this.stream }),
        loadHls(),
      ])
    } catch (error) {
      if (this.stopped || generation !== this.generation) return
      const { state, reason, retry } = refusal(error)
      this.onState(state, reason)
      if (retry) this.retry()
      return
    }
    if (this.stopped || generation !== this.generation) {
      void session.stop()
      return
    }
    this.session = session
    this.sessions += 1
    session.onEnded = (reason) => this.lost(reason)
    const hls = new Hls({
      loader: sealedLoader(session),
      autoStartLoad: false,
      maxBufferLength: 6,
      backBufferLength: 10,
      liveSyncDurationCount: 2,
      // A camera with a long GOP can only be joined at a keyframe part, up to a GOP behind the
      // edge: play a little faster until the target (2 parts behind) is reached instead of
      // keeping the distance joined at for the whole session (hls.js's default rate is 1).
      maxLiveSyncPlaybackRate: 1.5,
    })
    this.hls = hls
    hls.once(Hls.Events.LEVEL_LOADED, (_event, data) => {
      // Join at a part that starts with a keyframe (a part cut mid-GOP would play nothing until
      // the next keyframe): the loader read the playlist's #EXT-X-SKYCAM-INDEPENDENT marks.
      const start = liveStart(session.entries)
      const fragment = data.details.fragments.find((f: Fragment) => f.relurl === start?.name)
      hls.startLoad(fragment ? fragment.start : -1)
    })
    hls.on(Hls.Events.MANIFEST_PARSED, () => void this.video.play().catch(() => undefined))
    hls.on(Hls.Events.ERROR, (_event, data) => {
      if (data.fatal) this.lost(`${data.details}${data.error ? `: ${data.error.message}` : ''}`)
    })
    this.video.muted = true
    hls.loadSource(playlistUrl(session))
    hls.attachMedia(this.video)
    this.lastFrameAt = performance.now()
    this.stopFrames = frameCounter(this.video, () => {
      this.frames += 1
      this.lastFrameAt = performance.now()
      if (!this.playing) {
        this.playing = true
        this.failures = 0
        this.onState('playing', '')
      }
    })
    this.watchdog = setInterval(() => {
      if (performance.now() - this.lastFrameAt > STALL_MS) this.lost('no picture through the relay')
    }, WATCH_MS)
  }

  /** Seconds from the shown frame's arrival at the recorder (its part's program date) to now. */
  latencyS(): number | null {
    const shown = this.hls?.playingDate?.getTime()
    return shown ? (Date.now() - shown) / 1000 : null
  }

  /** Tear the session down and start a new one after a backoff. */
  private lost(reason: string): void {
    if (this.stopped) return
    this.teardown()
    this.playing = false
    this.onState('lost', reason)
    this.retry()
  }

  private retry(): void {
    if (this.stopped || this.retryTimer !== null) return
    const delay = RETRY_MS[Math.min(this.failures, RETRY_MS.length - 1)]
    this.failures += 1
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null
      void this.open()
    }, delay)
  }

  private teardown(): void {
    this.generation += 1
    this.stopFrames?.()
    this.stopFrames = null
    if (this.watchdog !== null) clearInterval(this.watchdog)
    this.watchdog = null
    this.hls?.destroy()
    this.hls = null
    void this.session?.stop()
    this.session = null
  }

  /** Off screen, page hidden, tile gone: the session ends now (the recorder stops uploading). */
  stop(): void {
    this.stopped = true
    if (this.retryTimer !== null) clearTimeout(this.retryTimer)
    this.retryTimer = null
    this.teardown()
    this.video.removeAttribute('src')
    this.video.load()
  }
}

export interface RemoteRecording extends Recording {
  /** Show wall time `ms` if this session's range holds it (false: start another session). */
  seekTo(ms: number): boolean
  readonly session: MediaSession
}

/** A recorded range [fromMs, toMs] through the relay; with `startAtMs`, from that wall time. */
export async function playRemoteRecording(
  video: HTMLVideoElement,
  cameraId: string,
  fromMs: number,
  toMs: number,
  startAtMs?: number,
  deps: MediaDeps = mediaDeps(),
): Promise<RemoteRecording> {
  const [session, Hls] = await Promise.all([
    MediaSession.start(deps, '/remote/playback', { camera_id: cameraId, start: String(Math.round(fromMs)), end: String(Math.round(toMs)) }),
    loadHls(),
  ])
  const hls = new Hls({ loader: sealedLoader(session), maxBufferLength: 10, backBufferLength: 30, autoStartLoad: false })
  const fragments = (): Fragment[] => hls.latestLevelDetails?.fragments ?? []
  // The playhead as the recorder counts it: seconds from the playlist's start (its EXTINFs),
  // from the fragment being shown (hls.js may shift its own times to the media's).
  const position = (t: number): number | null => {
    const fragment = fragments().find((f) => t >= f.start && t < f.end) ?? null
    const entry = fragment && session.entries.find((e) => e.name === fragment.relurl)
    return entry ? entry.start_s + (t - fragment.start) : null
  }
  const timeOf = (ms: number): number | null => {
    const fragment = fragments().find((f) => f.programDateTime !== null && ms >= f.programDateTime && ms < f.programDateTime + f.duration * 1000)
    return fragment ? fragment.start + (ms - fragment.programDateTime!) / 1000 : null
  }
  const onSeeking = () => {
    const at = position(video.currentTime)
    if (at !== null) void session.seek(at).catch(() => undefined) // the upload window moves now
  }
  const onTime = () => {
    session.position_s = position(video.currentTime) ?? session.position_s
  }
  video.addEventListener('seeking', onSeeking)
  video.addEventListener('timeupdate', onTime)
  hls.once(Hls.Events.LEVEL_LOADED, (_event, data) => {
    const first = data.details.fragments[0]?.programDateTime
    const offset = startAtMs !== undefined && first ? Math.max(0, (startAtMs - first) / 1000) : 0
    const at = startAtMs !== undefined ? timeOf(startAtMs) : null
    const start = at ?? offset
    session.position_s = position(start) ?? 0
    void session.renew().catch(() => undefined) // upload from there before the first GET
    hls.startLoad(start)
    if (start) video.currentTime = start
  })
  hls.on(Hls.Events.MANIFEST_PARSED, () => void video.play().catch(() => undefined))
  video.muted = true
  hls.loadSource(playlistUrl(session))
  hls.attachMedia(video)
  return {
    session,
    playingMs: () => hls.playingDate?.getTime() ?? null,
    seekTo: (ms) => {
      const t = timeOf(ms)
      if (t === null || session.ended) return false
      video.currentTime = t
      void video.play().catch(() => undefined)
      return true
    },
    destroy: () => {
      video.removeEventListener('seeking', onSeeking)
      video.removeEventListener('timeupdate', onTime)
      hls.destroy()
      void session.stop()
    },
  }
}
