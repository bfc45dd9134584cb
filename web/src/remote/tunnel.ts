// Remote mode's transport to one recorder: a relay connection (one-time ticket from the cloud
// account), one sealed session on it, every API call of the views as a "req" through it.
//
// - A session the recorder or the relay ends is reopened at the next call; a call cut by a
//   lost session is retried once if it is idempotent (GET, HEAD); a 401 means the recorder
//   ended the tunnel's login session (and the session with it): reopened and retried once.
// - Rollover (make-before-break): before the relay's connection cap, a second connection and
//   session are opened and new calls go there; the old session is closed once its calls are
//   answered, then the old connection. The views never see it.
// - Realtime notices: every subscriber is fed from whichever session is current ("sub" is
//   sent on each new one); with subscribers, a lost connection is redialled with backoff.
import { type CloudSession, type RelayInfo } from './cloud'
import { deviceKey } from './device-key'
import { RelayLink, RelayUnavailable } from './relay'
import { type Answer, type Invitation, SessionEnded, TunnelSession } from './session'

const IDEMPOTENT = new Set(['GET', 'HEAD'])
const DRAIN_MS = 30_000
const BACKOFF_MS = [500, 1000, 2000, 5000]

/** What a test or the header can read: connections opened, rollovers done, calls retried and
 * calls not answered yet. */
export interface TunnelStats {
  connections: number
  rollovers: number
  sessions: number
  retried: number
  pending: number
}

export class Tunnel {
  private link: RelayLink | null = null
  private linking: Promise<RelayLink> | null = null
  private session: Promise<TunnelSession> | null = null
  private rolloverTimer: ReturnType<typeof setTimeout> | null = null
  private redialTimer: ReturnType<typeof setTimeout> | null = null
  private redials = 0
  private closed = false
  private readonly subscribers = new Set<(notice: unknown) => void>()
  readonly stats: TunnelStats = { connections: 0, rollovers: 0, sessions: 0, retried: 0, pending: 0 }

  constructor(
    private readonly relay: RelayInfo,
    private readonly cloud: CloudSession,
    readonly rid: string,
    private readonly rpk: Uint8Array,
  ) {}

  /** One API call (path under /api/v1, with its query). */
  async request(method: string, pathAndQuery: string, body: Uint8Array | null, headers: [string, string][]): Promise<Answer> {
    const [path, query = ''] = pathAndQuery.split(/\?(.*)/s, 2)
    const call = async () => {
      this.stats.pending += 1
      try {
        return await (await this.current()).call(method, `/api/v1${path}`, query, body, headers)
      } finally {
        this.stats.pending -= 1
      }
    }
    let answer: Answer
    try {
      answer = await call()
    } catch (error) {
      if (!(error instanceof SessionEnded) || !IDEMPOTENT.has(method)) throw error
      this.stats.retried += 1
      answer = await call()
    }
    if (answer.status === 401) {
      this.stats.retried += 1
      answer = await call() // the recorder ended that session: a new one has a new login
    }
    return answer
  }

  subscribe(handler: (notice: unknown) => void): () => void {
    this.subscribers.add(handler)
    if (this.subscribers.size === 1) {
      this.current()
        .then((s) => s.subscribe())
        .catch(() => this.redialSoon())
    }
    return () => this.subscribers.delete(handler)
  }

  private async connection(): Promise<RelayLink> {
    if (this.link && !this.link.closed) return this.link
    this.linking ??= this.dial()
      .then((link) => {
        this.link = link
        return link
      })
      .finally(() => (this.linking = null))
    return this.linking
  }

  private async dial(): Promise<RelayLink> {
    if (this.closed) throw new RelayUnavailable('closed')
    const ticket = await this.cloud.ticket()
    const link = await RelayLink.open(`${this.relay.websocket}?role=device&ticket=${encodeURIComponent(ticket)}`)
    this.stats.connections += 1
    link.onClose = (gone) => {
      if (this.link !== gone) return
      this.link = null
      this.session = null
      if (this.subscribers.size) this.redialSoon()
    }
    this.scheduleRollover(link)
    return link
  }

  private scheduleRollover(link: RelayLink): void {
    const capMs = this.relay.max_connection_s * 1000
    const at = link.openedAt + capMs - Math.min(300_000, capMs * 0.25)
    if (this.rolloverTimer !== null) clearTimeout(this.rolloverTimer)
    this.rolloverTimer = setTimeout(() => void this.rollover(link), Math.max(0, at - Date.now()))
  }

  private current(): Promise<TunnelSession> {
    this.session ??= this.openSession().catch((error: unknown) => {
      this.session = null
      throw error
    })
    return this.session
  }

  private async openSession(link?: RelayLink): Promise<TunnelSession> {
    const [relayLink, key] = await Promise.all([link ?? this.connection(), deviceKey()])
    const session = new TunnelSession(relayLink, this.rid, this.cloud.account.id)
    session.onNotice = (notice) => this.subscribers.forEach((handler) => handler(notice))
    session.onEnd = () => {
      void this.session?.then(
        (s) => {
          if (s === session) this.session = null
        },
        () => null, // that open failed: current() forgot it already
      )
    }
    await session.open(key, this.rpk)
    this.stats.sessions += 1
    if (this.subscribers.size) session.subscribe()
    return session
  }

  /** Make-before-break: the new connection and session first, then the old ones go. */
  private async rollover(old: RelayLink): Promise<void> {
    if (this.closed || this.link !== old) return
    let fresh: RelayLink
    let session: TunnelSession
    try {
      fresh = await this.dial()
      session = await this.openSession(fresh)
    } catch {
      this.rolloverTimer = setTimeout(() => void this.rollover(old), 5000) // try again; the old one still works
      return
    }
    const previous = this.session
    this.link = fresh
    this.session = Promise.resolve(session)
    this.stats.rollovers += 1
    const oldSession = await previous?.catch(() => null)
    const deadline = Date.now() + DRAIN_MS
    while (oldSession && oldSession.inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100))
    oldSession?.close()
    old.close()
  }

  private redialSoon(): void {
    if (this.closed || this.redialTimer !== null) return
    const delay = BACKOFF_MS[Math.min(this.redials, BACKOFF_MS.length - 1)]
    this.redials += 1
    this.redialTimer = setTimeout(() => {
      this.redialTimer = null
      this.current().then(
        () => (this.redials = 0),
        () => this.redialSoon(),
      )
    }, delay)
  }

  close(): void {
    this.closed = true
    for (const timer of [this.rolloverTimer, this.redialTimer]) if (timer !== null) clearTimeout(timer)
    void this.session?.then((s) => s.close(), () => null)
    this.link?.close()
    this.link = null
    this.session = null
  }
}

/** Enrol this browser with an invitation: a session opened with "inv", the proof, "enrolled".
 * Returns the session's recorder user; the device key is now bound to it on the recorder. */
export async function enroll(relay: RelayInfo, cloud: CloudSession, invitation: Invitation): Promise<{ user: string; device_id: number }> {
  const ticket = await cloud.ticket()
  const link = await RelayLink.open(`${relay.websocket}?role=device&ticket=${encodeURIComponent(ticket)}`)
  try {
    const key = await deviceKey()
    const session = new TunnelSession(link, invitation.rid, cloud.account.id)
    await session.open(key, invitation.rpk, invitation.inv)
    const enrolled = await session.enroll(invitation, key.publicKey)
    session.close()
    return enrolled
  } finally {
    link.close()
  }
}
