// Remote media in the browser (docs/ref/remote-media.md, section 6): a media session started
// through the sealed channel (live, playback or clip), its lease kept, signed links from the
// relay (the cloud account's Bearer token), each object fetched by its link and opened with the
// session's key and its name as associated data. Loaded lazily with hls.js: the LAN never
// carries it. The hls.js loader is media-loader.ts; the players are media-player.ts.
import { type SealError, importSealKey, mediaAad, openSealed } from './sealed'

/** A recorder API call through the tunnel (the views' session.call); throws with `status`. */
export type ApiCall = <T>(method: string, path: string, body?: unknown) => Promise<T>

/** `POST /v1/media/links` on the relay, as the cloud account. */
export type LinkSource = (keys: string[]) => Promise<{ links: Record<string, string>; expires_at: number }>

export interface MediaDeps {
  call: ApiCall
  links: LinkSource
}

/** The recorder's answer to a session start (section 4). */
export interface MediaAnswer {
  msid: string
  rid: string
  kind: 'live' | 'playback' | 'clip'
  prefix: string
  key: string
  lease_s: number
  playlist?: string
  stream?: string
  duration_s?: number
  start_ms?: number
  name?: string
  bytes?: number
}

export interface LeaseAnswer {
  lease_s: number
  uploaded: string[]
}

const LINK_MARGIN_S = 10 // a link this close to its expiry is asked again
const MAX_KEYS = 64 // per links request (the relay's limit)
const PREFETCH = 10 // live parts are named in order: links for the next ones come along
const PART = /^p(\d{8})\.m4s$/
const RETRY_MS = 250 // an object not uploaded yet is looked for again after this

export const partName = (n: number): string => `p${String(n).padStart(8, '0')}.m4s`

export class MediaEnded extends Error {
  override name = 'MediaEnded'
}

/** Signed GET links, cached until a little before they expire. */
export class RelayLinks {
  private readonly cache = new Map<string, { url: string; until: number }>()
  requests = 0

  constructor(private readonly source: LinkSource) {}

  /** Links for `keys`; when some must be asked for, those for `ahead` come along. */
  async links(keys: string[], ahead: string[] = []): Promise<string[]> {
    const now = Date.now() / 1000
    const stale = (key: string) => (this.cache.get(key)?.until ?? 0) - LINK_MARGIN_S <= now
    const missing = keys.filter(stale)
    if (missing.length) missing.push(...ahead.filter((k) => stale(k) && !missing.includes(k)))
    for (let i = 0; i < missing.length; i += MAX_KEYS) {
      const answer = await this.source(missing.slice(i, i + MAX_KEYS))
      this.requests += 1
      for (const [key, url] of Object.entries(answer.links)) this.cache.set(key, { url, until: answer.expires_at })
    }
    return keys.map((k) => {
      const link = this.cache.get(k)
      if (!link) throw new MediaEnded(`the relay gave no link for ${k}`)
      return link.url
    })
  }

  forget(key: string): void {
    this.cache.delete(key)
  }
}

/** One entry of a session's playlist, with where it starts in the playlist (seconds). */
export interface PlaylistEntry {
  name: string
  duration_s: number
  start_s: number
  date_ms: number | null
  independent: boolean // #EXT-X-SKYCAM-INDEPENDENT: the part starts with a keyframe
  sequence: number
}

export function parsePlaylist(text: string): PlaylistEntry[] {
  const entries: PlaylistEntry[] = []
  let sequence = 0
  let start = 0
  let duration = 0
  let date: number | null = null
  let independent = false
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    if (line.startsWith('#EXT-X-MEDIA-SEQUENCE:')) sequence = Number(line.slice(22))
    else if (line.startsWith('#EXT-X-PROGRAM-DATE-TIME:')) date = Date.parse(line.slice(25))
    else if (line === '#EXT-X-SKYCAM-INDEPENDENT') independent = true
    else if (line.startsWith('#EXTINF:')) duration = parseFloat(line.slice(8))
    else if (line && !line.startsWith('#')) {
      entries.push({ name: line, duration_s: duration, start_s: start, date_ms: date, independent, sequence })
      start += duration
      sequence += 1
      date = null
      independent = false
    }
  }
  return entries
}

/** Where a live player joining `entries` starts: the newest part that starts with a keyframe
 * and leaves `keepS` of media before the live edge (the newest keyframe part if none does). */
export function liveStart(entries: PlaylistEntry[], keepS = 1.5): PlaylistEntry | null {
  const independent = entries.filter((e) => e.independent)
  if (!independent.length) return entries[0] ?? null
  const edge = entries.at(-1)!
  const end = edge.start_s + edge.duration_s
  return [...independent].reverse().find((e) => end - e.start_s >= keepS) ?? independent.at(-1)!
}

type Fetched = { status: 'ok'; data: Uint8Array } | { status: 'absent' }

export class MediaSession {
  /** Playback: where the playhead is (seconds from the playlist's start), sent with each renewal. */
  position_s: number | null = null
  /** Called once if the recorder ends the session (lease refused) or it cannot be renewed. */
  onEnded: (reason: string) => void = () => {}
  entries: PlaylistEntry[] = [] // the playlist as last loaded
  private uploaded = new Set<string>() // as the last lease renewal listed them
  private keeper: ReturnType<typeof setInterval> | null = null
  private stopped = false
  private failures = 0

  private constructor(
    private readonly deps: MediaDeps,
    private readonly relay: RelayLinks,
    readonly answer: MediaAnswer,
    private readonly key: CryptoKey,
  ) {}

  /** Start a session: `path` under /api/v1 (/remote/live, /remote/playback, /remote/clips/ID). */
  static async start(deps: MediaDeps, path: string, body: unknown = {}): Promise<MediaSession> {
    const answer = await deps.call<MediaAnswer>('POST', path, body)
    let key: CryptoKey
    try {
      key = await importSealKey(answer.key)
    } catch (error) {
      void deps.call('DELETE', `/remote/media/${encodeURIComponent(answer.msid)}`).catch(() => null)
      throw error
    }
    const session = new MediaSession(deps, new RelayLinks(deps.links), answer, key)
    session.keeper = setInterval(() => void session.keep(), (answer.lease_s * 1000) / 3)
    return session
  }

  get msid(): string {
    return this.answer.msid
  }

  get linkRequests(): number {
    return this.relay.requests
  }

  keyOf(name: string): string {
    return this.answer.prefix + name
  }

  /** The object `name` opened, or absent (not uploaded yet, or already expired). */
  async fetch(name: string, signal?: AbortSignal): Promise<Fetched> {
    const part = PART.exec(name)
    const ahead = part ? Array.from({ length: PREFETCH - 1 }, (_, i) => this.keyOf(partName(Number(part[1]) + i + 1))) : []
    const key = this.keyOf(name)
    const [url] = await this.relay.links([key], ahead)
    const response = await fetch(url, { cache: 'no-store', signal })
    if (response.status === 404) return { status: 'absent' }
    if (response.status === 403) this.relay.forget(key) // an expired link: a new one next time
    if (!response.ok) throw new Error(`${name}: the store answered ${response.status}`)
    const sealed = new Uint8Array(await response.arrayBuffer())
    return { status: 'ok', data: await openSealed(this.key, mediaAad(this.msid, name), sealed) }
  }

  /** The object once it exists (a playback segment is uploaded ahead of the playhead; the live
   * playlist once the first part is up); rejects after `timeoutMs` or when aborted. Whether an
   * object is there is read from the lease's `uploaded` list, not by probing: a GET of an absent
   * object is a 404 the browser logs as an error. */
  async fetchWhenReady(name: string, timeoutMs: number, signal?: AbortSignal): Promise<Uint8Array> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      if (this.stopped) throw new MediaEnded('the media session ended')
      if (this.present(name)) {
        const got = await this.fetch(name, signal)
        if (got.status === 'ok') return got.data
        this.uploaded.delete(name) // gone (expired): wait for it again
      }
      if (Date.now() > deadline) throw new MediaTimeout(`${name} did not appear in ${timeoutMs} ms`)
      await sleep(RETRY_MS, signal)
      if (!this.present(name)) await this.renew().catch(() => null)
    }
  }

  /** Whether `name` is known to be uploaded: in the lease's list; a live part or init section
   * named by a playlist (the recorder lists them once uploaded); a clip (uploaded before the
   * answer); a playback playlist (written before the answer). */
  private present(name: string): boolean {
    if (this.uploaded.has(name)) return true
    const playlist = name === (this.answer.playlist ?? 'index.m3u8')
    if (this.answer.kind === 'live') return !playlist
    return this.answer.kind === 'clip' || playlist
  }

  async renew(): Promise<LeaseAnswer> {
    const body = this.position_s === null ? {} : { position_s: Math.max(0, this.position_s) }
    const answer = await this.deps.call<LeaseAnswer>('POST', `/remote/media/${encodeURIComponent(this.msid)}/lease`, body)
    this.uploaded = new Set(answer.uploaded)
    return answer
  }

  /** Playback: move the playhead; the recorder moves its upload window there at once. */
  async seek(position_s: number): Promise<LeaseAnswer> {
    this.position_s = position_s
    return this.renew()
  }

  private async keep(): Promise<void> {
    if (this.stopped) return
    try {
      await this.renew()
      this.failures = 0
    } catch (error) {
      const status = (error as { status?: number }).status
      this.failures += 1
      // 404: the recorder ended it; 403: the right was withdrawn; three misses: the lease lapsed.
      if (status === 404 || status === 403 || this.failures >= 3) this.end(`the media session ended (${(error as Error).message})`)
    }
  }

  private end(reason: string): void {
    if (this.stopped) return
    this.halt()
    this.onEnded(reason)
  }

  private halt(): void {
    this.stopped = true
    if (this.keeper !== null) clearInterval(this.keeper)
    this.keeper = null
  }

  get ended(): boolean {
    return this.stopped
  }

  /** Stop renewing and tell the recorder (it stops uploading; links are refused from now on). */
  async stop(): Promise<void> {
    const tell = !this.stopped
    this.halt()
    if (tell) await this.deps.call('DELETE', `/remote/media/${encodeURIComponent(this.msid)}`).catch(() => null)
  }
}

export class MediaTimeout extends Error {
  override name = 'MediaTimeout'
}

export function isSealError(error: unknown): error is SealError {
  return (error as { name?: string } | null)?.name === 'SealError'
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new DOMException('aborted', 'AbortError'))
      return
    }
    const timer = setTimeout(resolve, ms)
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer)
        reject(new DOMException('aborted', 'AbortError'))
      },
      { once: true },
    )
  })
}
