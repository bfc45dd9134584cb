// Live video in a <video>: fMP4 fragments, one per frame, from the recorder's live WebSocket
// into Media Source Extensions (docs/design/web.md). hls.js (the recorder's live HLS) is the
// fallback where MSE cannot play the camera's codec.
//
// Staying live: the recorder drops a slow viewer's queue and resumes at the next keyframe; here
// the player keeps currentTime near the end of what is buffered (a little faster playback for a
// small lag, a jump for a large one or after a gap) and trims what was played.

export type LiveState = 'connecting' | 'playing' | 'lost' | 'denied'

export interface LiveStats {
  frames: number
  latenciesMs: number[] // capture (arrival at the recorder) to display, for recent frames
  firstFrameMs: number | null // from start() to the first frame shown
  mode: 'mse' | 'hls' | null
  /** When each step to the first picture happened (performance.now(), ms since the page's
   * navigation started), for the first connection: where page-open-to-picture time goes
   * (bench/web.py reads it). `firstAgeMs`: how old the first frame was when it arrived (from
   * the recorder's GOP buffer: up to a GOP; a fresh frame: the network); `firstFrames`: frames
   * in the first append; `edge`: the first picture at the live edge (the first one shown is
   * the GOP's keyframe, up to a GOP older). */
  phases: Partial<Record<LivePhase, number>> & { firstAgeMs?: number; firstFrames?: number }
}

export type LivePhase = 'start' | 'socket' | 'open' | 'init' | 'fragment' | 'sourceopen' | 'appended' | 'frame' | 'edge'

export interface LiveOptions {
  socketUrl: string // ws(s)://.../cameras/{id}/live.ws?stream=...
  token: () => string | null
  refresh: () => Promise<boolean>
  hlsUrl: () => string // the live HLS playlist, with its token, for the fallback
  onState: (state: LiveState, reason: string) => void
}

const HEADER_BYTES = 24
const PROTOCOL = 'skycam.live'
const TOKEN_PROTOCOL = 'skycam.token.'
const MAX_LAG_S = 1.0 // further behind the newest frame than this: jump
const TARGET_LAG_S = 0.12
const CATCH_UP_RATE = 1.15
const KEEP_BEHIND_S = 8 // buffered media kept before currentTime
const STALL_MS = 6000 // no frame this long while connected: signal lost, reconnect
const RETRY_MS = [500, 1000, 2000, 5000]
const MAX_PENDING = 45 // appends waiting (the decoder is behind): drop to the next keyframe

export class LivePlayer {
  readonly stats: LiveStats = { frames: 0, latenciesMs: [], firstFrameMs: null, mode: null, phases: {} }
  private socket: WebSocket | null = null
  private source: MediaSource | null = null
  private buffer: SourceBuffer | null = null
  private objectUrl = ''
  private pending: ArrayBuffer[] = []
  private waitingKeyframe = false
  private wallOffsetMs = 0 // recorder wall time minus media time, for latency
  private started = 0
  private retries = 0
  private stopped = true
  private timer = 0
  private lastFrameAt = 0
  private frameCallback = 0
  private hls: { destroy(): void } | null = null
  private codec = ''
  private initQueued = false // the next append starts with the init section
  private firstShown = true // false from a new media source until its first picture is shown
  private edgeTarget = 0 // media time of the live edge jumped to after the first picture

  constructor(
    private readonly video: HTMLVideoElement,
    private readonly options: LiveOptions,
  ) {
    video.muted = true
    video.playsInline = true
    ;(video as HTMLVideoElement & { skycamLive?: LiveStats }).skycamLive = this.stats
  }

  private state: LiveState | null = null

  private awaitingData = false // lost: frames still shown from the buffer do not mean recovery

  private mark(phase: LivePhase): void {
    this.stats.phases[phase] ??= performance.now()
  }

  private setState(state: LiveState, reason: string): void {
    if (state === 'lost') this.awaitingData = true
    if (state === this.state && state === 'playing') return
    this.state = state
    this.options.onState(state, reason)
  }

  start(): void {
    if (!this.stopped) return
    this.stopped = false
    this.started = performance.now()
    this.mark('start')
    this.connect()
    this.watchFrames()
    this.timer = window.setInterval(() => this.watchdog(), 1000)
  }

  stop(): void {
    this.stopped = true
    window.clearInterval(this.timer)
    this.video.cancelVideoFrameCallback?.(this.frameCallback)
    this.closeSocket()
    this.resetMedia()
    this.hls?.destroy()
    this.hls = null
  }

  private connect(): void {
    this.setState('connecting', '')
    // The token goes with the handshake (a subprotocol the recorder reads and does not select):
    // the first frames come as soon as the socket opens, not a round trip after `onopen`. A
    // recorder that does not select `skycam.live` gets the auth message instead.
    const token = this.options.token()
    const socket = new WebSocket(this.options.socketUrl, token ? [PROTOCOL, `${TOKEN_PROTOCOL}${token}`] : [])
    socket.binaryType = 'arraybuffer'
    this.socket = socket
    this.mark('socket')
    socket.onopen = () => {
      this.mark('open')
      if (socket.protocol !== PROTOCOL) socket.send(JSON.stringify({ type: 'auth', token }))
    }
    socket.onmessage = (message) => {
      if (typeof message.data === 'string') this.onText(message.data)
      else this.onBinary(message.data as ArrayBuffer)
    }
    socket.onclose = (event) => {
      if (this.socket !== socket || this.stopped) return
      this.socket = null
      void this.onClosed(event.code, event.reason)
    }
  }

  private closeSocket(): void {
    const socket = this.socket
    this.socket = null
    if (socket) {
      socket.onclose = null
      socket.close()
    }
  }

  private async onClosed(code: number, reason: string): Promise<void> {
    if (code === 4403 || code === 4404) {
      this.setState('denied', reason || 'not allowed to watch this camera')
      return
    }
    if (code === 4401 && !(await this.options.refresh())) {
      this.setState('denied', 'logged out')
      return
    }
    this.setState('lost', reason || 'connection lost')
    const wait = RETRY_MS[Math.min(this.retries++, RETRY_MS.length - 1)]
    window.setTimeout(() => {
      if (!this.stopped && !this.socket) this.connect()
    }, wait)
  }

  private onText(text: string): void {
    const body = JSON.parse(text) as { type: string; state?: string; reason?: string; codec?: string }
    if (body.type === 'status' && body.state === 'lost') {
      this.setState('lost', body.reason ?? 'signal lost')
    } else if (body.type === 'init' && body.codec) {
      this.codec = body.codec
    }
  }

  private onBinary(data: ArrayBuffer): void {
    const view = new DataView(data)
    const kind = view.getUint8(0)
    const keyframe = (view.getUint8(1) & 1) === 1
    if (kind === 0) {
      this.mark('init')
      this.openMedia(data.slice(HEADER_BYTES))
      return
    }
    const wallMs = view.getFloat64(8)
    const mediaS = view.getFloat64(16)
    if (this.stats.phases.fragment === undefined) {
      this.mark('fragment')
      this.stats.phases.firstAgeMs = Date.now() - wallMs
    }
    this.wallOffsetMs = wallMs - mediaS * 1000
    this.awaitingData = false
    if (this.pending.length > MAX_PENDING) {
      this.pending = []
      this.waitingKeyframe = true
    }
    if (this.waitingKeyframe && !keyframe) return
    this.waitingKeyframe = false
    this.pending.push(data.slice(HEADER_BYTES))
    this.pump()
  }

  private openMedia(init: ArrayBuffer): void {
    const type = `video/mp4; codecs="${this.codec}"`
    if (!('MediaSource' in window) || !MediaSource.isTypeSupported(type)) {
      this.closeSocket()
      void this.fallBackToHls()
      return
    }
    this.resetMedia()
    this.stats.mode = 'mse'
    const source = new MediaSource()
    this.source = source
    this.pending = [init]
    this.initQueued = true
    this.firstShown = false
    this.waitingKeyframe = false
    source.addEventListener(
      'sourceopen',
      () => {
        if (this.source !== source) return
        this.mark('sourceopen')
        const buffer = source.addSourceBuffer(type)
        buffer.addEventListener('updateend', () => this.afterAppend())
        this.buffer = buffer
        this.pump()
      },
      { once: true },
    )
    this.objectUrl = URL.createObjectURL(source)
    this.video.src = this.objectUrl
  }

  private resetMedia(): void {
    this.buffer = null
    this.source = null
    this.pending = []
    if (this.objectUrl) {
      this.video.removeAttribute('src')
      this.video.load()
      URL.revokeObjectURL(this.objectUrl)
      this.objectUrl = ''
    }
  }

  private pump(): void {
    const buffer = this.buffer
    if (!buffer || buffer.updating || !this.pending.length) return
    // Everything waiting goes in one append: under load, an append per frame (each a task
    // and an updateend) is what falls behind, and a joining viewer gets a GOP at once.
    const parts = this.pending
    this.pending = []
    let data: ArrayBuffer = parts[0]
    if (parts.length > 1) {
      const joined = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0))
      let at = 0
      for (const part of parts) {
        joined.set(new Uint8Array(part), at)
        at += part.byteLength
      }
      data = joined.buffer
    }
    const frames = parts.length - (this.initQueued ? 1 : 0)
    this.initQueued = false
    if (frames > 0) this.stats.phases.firstFrames ??= frames
    try {
      buffer.appendBuffer(data)
    } catch {
      // QuotaExceeded or a closed source: start over from the next keyframe.
      this.pending = []
      this.waitingKeyframe = true
    }
  }

  private afterAppend(): void {
    const buffer = this.buffer
    const video = this.video
    if (!buffer) return
    const ranges = buffer.buffered
    if (ranges.length) {
      this.mark('appended')
      const end = ranges.end(ranges.length - 1)
      const lastStart = ranges.start(ranges.length - 1)
      const lag = end - video.currentTime
      if (!this.firstShown) {
        // A new media source's first picture is the keyframe it starts with: it decodes alone,
        // where the live edge needs every frame of the GOP before it decoded first (100-250 ms
        // for a second of frames on the loaded VM, bench/web.py's first_frame_phases). The
        // jump to the edge follows as soon as it is shown (watchFrames).
        if (video.currentTime < lastStart) video.currentTime = lastStart
      } else if (video.currentTime < lastStart || lag > MAX_LAG_S) {
        video.currentTime = Math.max(lastStart, end - TARGET_LAG_S)
      }
      video.playbackRate = lag > 0.4 ? CATCH_UP_RATE : 1
      const keepFrom = video.currentTime - KEEP_BEHIND_S
      if (!buffer.updating && ranges.start(0) < keepFrom - 2 && !this.pending.length) {
        buffer.remove(0, keepFrom)
        return
      }
      if (video.paused && !document.hidden) void video.play().catch(() => undefined)
    }
    this.pump()
  }

  /** Jumps to the live edge if the picture shown is behind it; returns the media time aimed at. */
  private jumpToEdge(): number {
    const ranges = this.buffer?.buffered
    const video = this.video
    if (!ranges?.length) return video.currentTime
    const end = ranges.end(ranges.length - 1)
    if (end - video.currentTime <= 2 * TARGET_LAG_S) return video.currentTime
    video.currentTime = end - TARGET_LAG_S
    return video.currentTime
  }

  private watchFrames(): void {
    const video = this.video
    if (!video.requestVideoFrameCallback) return
    const onFrame = (now: number, meta: VideoFrameCallbackMetadata) => {
      if (this.stopped) return
      this.stats.frames += 1
      this.lastFrameAt = now
      if (this.stats.firstFrameMs === null) {
        this.stats.firstFrameMs = now - this.started
        this.mark('frame')
      }
      if (!this.firstShown) {
        this.firstShown = true
        this.edgeTarget = this.jumpToEdge()
      } else if (this.stats.phases.edge === undefined && meta.mediaTime >= this.edgeTarget - 0.01) {
        this.mark('edge')
      }
      if (this.stats.mode === 'mse') {
        const shown = performance.timeOrigin + (meta.expectedDisplayTime ?? now)
        const latency = shown - (this.wallOffsetMs + meta.mediaTime * 1000)
        this.stats.latenciesMs.push(latency)
        if (this.stats.latenciesMs.length > 300) this.stats.latenciesMs.shift()
      }
      if (!this.awaitingData) {
        this.setState('playing', '')
        this.retries = 0
      }
      this.frameCallback = video.requestVideoFrameCallback(onFrame)
    }
    this.frameCallback = video.requestVideoFrameCallback(onFrame)
  }

  private watchdog(): void {
    if (this.stopped || this.stats.mode === 'hls' || !this.socket) return
    const since = performance.now() - (this.lastFrameAt || this.started)
    if (since > STALL_MS && this.socket.readyState === WebSocket.OPEN) {
      this.setState('lost', 'no picture')
      this.closeSocket()
      this.resetMedia()
      this.lastFrameAt = performance.now()
      this.connect()
    }
  }

  private async fallBackToHls(): Promise<void> {
    this.stats.mode = 'hls'
    const { default: Hls } = await import('hls.js/light')
    if (this.stopped) return
    if (!Hls.isSupported()) {
      this.video.src = this.options.hlsUrl() // Safari plays HLS itself
    } else {
      const hls = new Hls({
        liveSyncDuration: 1.5,
        liveMaxLatencyDuration: 4,
        maxLiveSyncPlaybackRate: 1.5,
        maxBufferLength: 4,
        backBufferLength: 10,
      })
      hls.loadSource(this.options.hlsUrl())
      hls.attachMedia(this.video)
      this.hls = hls
    }
    void this.video.play().catch(() => undefined)
  }
}
