// Remote mode's Transport: every API call of the views goes through the sealed tunnel to the
// recorder (web/src/remote/tunnel.ts, loaded lazily with its cryptography). Kept tiny and free
// of the remote code so the LAN's first load does not carry it.
import { ApiError, type Door, parseAnswer, type Transport, Unreachable } from './transport'

export interface TunnelAnswer {
  status: number
  headers: [string, string][]
  body: Uint8Array
}

export interface TunnelLike {
  request(method: string, pathAndQuery: string, body: Uint8Array | null, headers: [string, string][]): Promise<TunnelAnswer>
  subscribe(handler: (notice: unknown) => void): () => void
}

// The tunnel's own refusals (docs/ref/tunnel.md): access ended, not a way to the recorder lost.
const ACCESS_ENDED = /revoked|no_grant|unknown_device|enroll_refused/

export class RemoteTransport implements Transport {
  readonly door: Door = 'remote'

  constructor(private readonly tunnel: () => Promise<TunnelLike>) {}

  async call(method: string, path: string, body: Uint8Array | null, headers: [string, string][]): Promise<TunnelAnswer> {
    try {
      return await (await this.tunnel()).request(method, path, body, headers)
    } catch (error) {
      if (error instanceof ApiError) throw error
      const e = error as { name?: string; status?: number; message?: string; reason?: string }
      if (e.name === 'CloudError' && (e.status === 401 || e.status === 403)) throw new ApiError(401, 'cloud_login', 'sign in to your cloud account again')
      if (ACCESS_ENDED.test(e.reason ?? e.message ?? '')) throw new ApiError(403, 'revoked', 'this device no longer has access to the recorder')
      throw new Unreachable(`the recorder is unreachable through the relay (${e.message ?? String(error)})`)
    }
  }

  async request<T>(method: string, path: string, _token: string | null, body?: unknown): Promise<T> {
    const json = body === undefined ? null : new TextEncoder().encode(JSON.stringify(body))
    const headers: [string, string][] = json ? [['content-type', 'application/json']] : []
    const answer = await this.call(method, path, json, headers)
    return parseAnswer<T>(answer.status, '', new TextDecoder().decode(answer.body))
  }

  socketUrl(): string {
    throw new Error('no WebSocket to the recorder through the relay: notices come through the tunnel')
  }

  mediaUrl(): string {
    return ''
  }

  async imageUrl(path: string): Promise<string> {
    const answer = await this.call('GET', path, null, [])
    if (answer.status !== 200) parseAnswer(answer.status, '', new TextDecoder().decode(answer.body))
    const type = answer.headers.find(([k]) => k.toLowerCase() === 'content-type')?.[1] ?? 'application/octet-stream'
    return URL.createObjectURL(new Blob([answer.body as BlobPart], { type }))
  }

  async subscribe(handler: (notice: unknown) => void): Promise<() => void> {
    return (await this.tunnel()).subscribe(handler)
  }
}
