// How the app reaches a recorder. On the LAN it calls the recorder's own origin; in remote mode
// (through the relay, sealed end to end) `RemoteTransport` (remote-transport.ts) has the same shape.

export type Door = 'lan' | 'remote'

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message)
  }
}

/** The recorder did not answer at all (down, or the network is cut). */
export class Unreachable extends Error {}

export interface Transport {
  readonly door: Door
  /** One API call; `path` is under /api/v1. Resolves to the parsed JSON body (or null). */
  request<T>(method: string, path: string, token: string | null, body?: unknown): Promise<T>
  /** A WebSocket URL under /api/v1 (authentication is sent as the first message). */
  socketUrl(path: string): string
  /** A URL for media elements and downloads, which cannot send headers ('' where there is
   * none: remotely, video and clips go through remote media, web/src/remote/media*.ts). */
  mediaUrl(path: string, token: string): string
  /** A URL an <img> can show (remote: fetched through the tunnel, as an object URL). */
  imageUrl(path: string, token: string): Promise<string>
}

/** An API answer as the views get it: the JSON body, or an ApiError with the recorder's reason. */
export function parseAnswer<T>(status: number, statusText: string, text: string): T {
  if (status === 204) return null as T
  let parsed: unknown = null
  try {
    parsed = text ? JSON.parse(text) : null
  } catch {
    if (status >= 200 && status < 300) throw new ApiError(status, 'invalid', 'the recorder sent no JSON')
  }
  if (status < 200 || status >= 300) {
    const error = (parsed as { error?: { code?: string; message?: string } } | null)?.error
    throw new ApiError(status, error?.code ?? 'error', error?.message ?? statusText)
  }
  return parsed as T
}

export class LanTransport implements Transport {
  readonly door: Door = 'lan'

  constructor(private readonly origin: string = location.origin) {}

  async request<T>(method: string, path: string, token: string | null, body?: unknown): Promise<T> {
    const headers: Record<string, string> = {}
    if (token) headers.Authorization = `Bearer ${token}`
    if (body !== undefined) headers['Content-Type'] = 'application/json'
    let response: Response
    try {
      response = await fetch(`${this.origin}/api/v1${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: 'no-store',
      })
    } catch {
      throw new Unreachable('the recorder is unreachable')
    }
    if (response.status === 204) return null as T
    return parseAnswer<T>(response.status, response.statusText, await response.text())
  }

  socketUrl(path: string): string {
    return `${this.origin.replace(/^http/, 'ws')}/api/v1${path}`
  }

  mediaUrl(path: string, token: string): string {
    const sep = path.includes('?') ? '&' : '?'
    return `${this.origin}/api/v1${path}${sep}token=${encodeURIComponent(token)}`
  }

  async imageUrl(path: string, token: string): Promise<string> {
    return this.mediaUrl(path, token)
  }
}
