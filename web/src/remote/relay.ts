// The relay connection of a device (docs/ref/tunnel.md, section 1): a WebSocket opened with a
// one-time ticket, JSON envelopes in text frames, an application heartbeat (API Gateway ignores
// protocol pings and closes a connection idle for 10 minutes), and rollover before the
// connection cap (2 h on API Gateway): a new connection is opened first and sessions move to it
// (make-before-break, by the tunnel), then the old one is closed.

export type Envelope = { t: string; sid?: string | null } & Record<string, unknown>

export class RelayUnavailable extends Error {
  override name = 'RelayUnavailable'
}

interface Party {
  readonly sid: string
  deliver(message: Envelope): void
  end(reason: string): unknown
}

const HEARTBEAT_MS = 5 * 60_000

export class RelayLink {
  private readonly parties = new Map<string, Party>()
  private heartbeat: ReturnType<typeof setInterval> | null = null
  readonly openedAt = Date.now()
  closed = false
  onClose: (link: RelayLink) => void = () => {}

  private constructor(private readonly ws: WebSocket) {
    ws.onmessage = (event) => this.receive(String(event.data))
    ws.onclose = () => this.lost('relay connection lost')
    this.heartbeat = setInterval(() => this.send({ t: 'ping' }), HEARTBEAT_MS)
  }

  static open(url: string, timeoutMs = 15_000): Promise<RelayLink> {
    return new Promise((resolve, reject) => {
      let ws: WebSocket
      try {
        ws = new WebSocket(url)
      } catch (error) {
        reject(new RelayUnavailable(String(error)))
        return
      }
      const timer = setTimeout(() => {
        ws.close()
        reject(new RelayUnavailable('the relay did not answer'))
      }, timeoutMs)
      ws.onopen = () => {
        clearTimeout(timer)
        resolve(new RelayLink(ws))
      }
      ws.onclose = () => {
        clearTimeout(timer)
        reject(new RelayUnavailable('the relay refused the connection'))
      }
    })
  }

  get sessions(): number {
    return this.parties.size
  }

  attach(party: Party): void {
    this.parties.set(party.sid, party)
  }

  detach(party: Party): void {
    if (this.parties.get(party.sid) === party) this.parties.delete(party.sid)
  }

  send(message: Envelope): void {
    if (this.closed || this.ws.readyState !== WebSocket.OPEN) throw new RelayUnavailable('the relay connection is closed')
    this.ws.send(JSON.stringify(message))
  }

  private receive(text: string): void {
    let message: Envelope
    try {
      message = JSON.parse(text) as Envelope
    } catch {
      return
    }
    if (message.t === 'pong') return
    const party = message.sid ? this.parties.get(message.sid) : undefined
    if (party) party.deliver(message)
    else if (message.t === 'error' && !message.sid) console.warn(`relay: ${String(message.code)}: ${String(message.reason)}`)
  }

  private lost(reason: string): void {
    if (this.closed) return
    this.closed = true
    if (this.heartbeat !== null) clearInterval(this.heartbeat)
    for (const party of [...this.parties.values()]) party.end(reason)
    this.parties.clear()
    this.onClose(this)
  }

  close(): void {
    this.lost('relay connection closed')
    this.ws.close(1000)
  }
}
