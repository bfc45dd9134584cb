// The relay's cloud REST API (cloud/app.py): accounts, tokens, one-time tickets, the console.
// No cryptography here: the relay authenticates accounts, the sealed channel does the rest.

export type { RelayInfo } from '../stores/remote'

export interface CloudAccount {
  id: string
  email: string
  role: string // 'relay_admin' | 'user'
}

export interface CloudTokens {
  access_token: string
  refresh_token: string
  expires_at: number
  account: CloudAccount
}

export class CloudError extends Error {
  override name = 'CloudError'

  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message)
  }
}

async function send<T>(method: string, path: string, body?: unknown, access?: string): Promise<T> {
  const headers: Record<string, string> = {}
  if (body !== undefined) headers['Content-Type'] = 'application/json'
  if (access) headers.Authorization = `Bearer ${access}`
  let response: Response
  try {
    response = await fetch(`/v1${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store' })
  } catch {
    throw new CloudError(0, 'unreachable', 'the relay is unreachable')
  }
  if (response.status === 204) return null as T
  const parsed = (await response.json().catch(() => null)) as (T & { error?: string; reason?: string }) | null
  if (!response.ok) throw new CloudError(response.status, parsed?.error ?? 'error', parsed?.reason ?? response.statusText)
  return parsed as T
}

export const signup = (email: string, password: string, invitation: string) =>
  send<{ account: CloudAccount }>('POST', '/accounts', { email, password, invitation })

export const login = (email: string, password: string) => send<CloudTokens>('POST', '/auth/login', { email, password })

/** Revoke one refresh token (a pair this page does not keep). */
export const logoutToken = (refreshToken: string) => send<null>('POST', '/auth/logout', { refresh_token: refreshToken })

/** Calls as an account, refreshing its access token once on a 401 (refresh tokens rotate:
 * `keep` stores the new pair). */
export class CloudSession {
  private refreshing: Promise<void> | null = null

  constructor(
    public tokens: CloudTokens,
    private readonly keep: (tokens: CloudTokens | null) => void,
  ) {}

  get account(): CloudAccount {
    return this.tokens.account
  }

  async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    try {
      return await send<T>(method, path, body, this.tokens.access_token)
    } catch (error) {
      if (!(error instanceof CloudError) || error.status !== 401) throw error
      await this.refresh()
      return send<T>(method, path, body, this.tokens.access_token)
    }
  }

  refresh(): Promise<void> {
    this.refreshing ??= send<CloudTokens>('POST', '/auth/refresh', { refresh_token: this.tokens.refresh_token })
      .then((tokens) => {
        this.tokens = tokens
        this.keep(tokens)
      })
      .catch((error: unknown) => {
        if (error instanceof CloudError && error.status >= 400 && error.status < 500) this.keep(null)
        throw error
      })
      .finally(() => {
        this.refreshing = null
      })
    return this.refreshing
  }

  async logout(): Promise<void> {
    await send('POST', '/auth/logout', { refresh_token: this.tokens.refresh_token }).catch(() => null)
    this.keep(null)
  }

  me = () => this.call<CloudAccount & { recorders: string[] }>('GET', '/me')
  ticket = async () => (await this.call<{ ticket: string }>('POST', '/tickets')).ticket
}
