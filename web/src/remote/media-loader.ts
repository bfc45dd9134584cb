// The custom hls.js loader of remote media (hls.js `loader` config): hls.js asks for URLs under
// a placeholder origin that is never contacted (MEDIA_ORIGIN/MSID/NAME); the loader fetches the
// object NAME of that session by its signed link, opens it (AES-GCM, AAD bound to the session
// and the name: a failure is an error, unauthenticated bytes never reach the decoder) and hands
// the plaintext to hls.js: the playlist as text, init sections and parts as bytes.
import type { HlsConfig, Loader, LoaderCallbacks, LoaderConfiguration, LoaderContext, LoaderStats } from 'hls.js'
import { type MediaSession, parsePlaylist } from './media'

/** `.invalid` never resolves (RFC 6761): a URL that escaped the loader could not leak anywhere. */
export const MEDIA_ORIGIN = 'https://media.skycam.invalid'
const NAME = /^[A-Za-z0-9._-]{1,64}$/
const DEFAULT_WAIT_MS = 20_000

export const playlistUrl = (session: MediaSession): string => `${MEDIA_ORIGIN}/${session.msid}/${session.answer.playlist ?? 'index.m3u8'}`

function newStats(): LoaderStats {
  return {
    aborted: false,
    loaded: 0,
    retry: 0,
    total: 0,
    chunkCount: 0,
    bwEstimate: 0,
    loading: { start: 0, first: 0, end: 0 },
    parsing: { start: 0, end: 0 },
    buffering: { start: 0, first: 0, end: 0 },
  }
}

/** The object's name in `session`, from a URL hls.js resolved against the playlist's. */
export function nameOf(session: MediaSession, url: string): string {
  const prefix = `${MEDIA_ORIGIN}/${session.msid}/`
  const path = url.split(/[?#]/, 1)[0]
  const name = path.startsWith(prefix) ? path.slice(prefix.length) : ''
  if (!NAME.test(name)) throw new Error(`not an object of this media session: ${url}`)
  return name
}

/** A loader class (hls.js constructs it with its config) bound to one media session. */
export function sealedLoader(session: MediaSession): new (config: HlsConfig) => Loader<LoaderContext> {
  return class SealedLoader implements Loader<LoaderContext> {
    context: LoaderContext | null = null
    stats: LoaderStats = newStats()
    private controller: AbortController | null = null
    private callbacks: LoaderCallbacks<LoaderContext> | null = null

    constructor(_config: HlsConfig) {}

    load(context: LoaderContext, config: LoaderConfiguration, callbacks: LoaderCallbacks<LoaderContext>): void {
      this.context = context
      this.callbacks = callbacks
      this.stats = newStats()
      this.stats.loading.start = performance.now()
      this.controller = new AbortController()
      const waitMs = config.loadPolicy?.maxLoadTimeMs || DEFAULT_WAIT_MS
      void this.run(context, waitMs, this.controller.signal)
    }

    private async run(context: LoaderContext, waitMs: number, signal: AbortSignal): Promise<void> {
      const text = context.responseType !== 'arraybuffer'
      let data: Uint8Array
      try {
        data = await session.fetchWhenReady(nameOf(session, context.url), waitMs, signal)
      } catch (error) {
        if (signal.aborted || this.callbacks === null) return
        const name = (error as Error).name
        if (name === 'MediaTimeout') this.callbacks.onTimeout(this.stats, context, null)
        else this.callbacks.onError({ code: 0, text: (error as Error).message }, context, null, this.stats)
        return
      }
      if (signal.aborted || this.callbacks === null) return
      const now = performance.now()
      this.stats.loading.first = this.stats.loading.end = now
      this.stats.loaded = this.stats.total = data.byteLength
      let payload: string | ArrayBuffer
      if (text) {
        payload = new TextDecoder().decode(data)
        session.entries = parsePlaylist(payload)
      } else {
        payload = data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer
      }
      const callbacks = this.callbacks
      this.callbacks = null
      callbacks.onSuccess({ url: context.url, data: payload }, this.stats, context, null)
    }

    abort(): void {
      this.stats.aborted = true
      this.controller?.abort()
      const callbacks = this.callbacks
      this.callbacks = null
      if (callbacks?.onAbort && this.context) callbacks.onAbort(this.stats, this.context, null)
    }

    destroy(): void {
      this.callbacks = null
      this.controller?.abort()
      this.context = null
    }
  }
}
