// One sealed session to a recorder over a relay connection (docs/ref/tunnel.md): the handshake
// ("open"/"accept"), calls ("req"/"res"), enrolment, realtime notices, the end ("close").
// Modelled on the Python reference device, recorder/tunnel/device.py.
import { b64url, fromUtf8, randomB64url, unb64url } from './bytes'
import { enrollmentProof, Initiator, MessageRefused, prologue, type SealedChannel, type StaticKey } from './channel'
import { FramingError, type Message, Reassembler, split } from './framing'
import type { Envelope, RelayLink } from './relay'

export class SessionEnded extends Error {
  override name = 'SessionEnded'

  constructor(readonly reason: string) {
    super(`the session ended: ${reason}`)
  }
}

export interface Answer {
  status: number
  headers: [string, string][]
  body: Uint8Array
}

export interface Invitation {
  rid: string
  rpk: Uint8Array
  inv: string
  secret: Uint8Array
}

type Waiter = { resolve: (m: Message) => void; reject: (e: Error) => void }

export class TunnelSession {
  readonly sid = randomB64url(16)
  private channel: SealedChannel | null = null
  private readonly reassembler = new Reassembler()
  private readonly waiting = new Map<string, Waiter>()
  private accepted: Waiter | null = null
  private nextId = 1
  endedWith: string | null = null
  /** Calls sent and not answered yet (the rollover waits for them before closing). */
  inFlight = 0
  onNotice: (notice: unknown) => void = () => {}
  onEnd: (reason: string) => void = () => {}

  constructor(
    readonly link: RelayLink,
    readonly rid: string,
    readonly account: string,
  ) {}

  /** Handshake; resolves once the recorder accepted. `inv` only to enrol. */
  async open(key: StaticKey, recorderStatic: Uint8Array, inv?: string, timeoutMs = 20_000): Promise<void> {
    const initiator = await Initiator.start(key, recorderStatic, prologue(this.rid, this.sid))
    const reply = new Promise<Message>((resolve, reject) => (this.accepted = { resolve, reject }))
    this.link.attach(this)
    const open: Envelope = { t: 'open', sid: this.sid, rid: this.rid, hs: b64url(initiator.hello()) }
    if (inv) open.inv = inv
    this.link.send(open)
    const answer = await within(reply, timeoutMs, () => this.end('no answer to the handshake'))
    try {
      this.channel = await initiator.finish(answer.body)
    } catch (error) {
      this.end('handshake failed')
      throw error
    }
  }

  async enroll(invitation: Invitation, devicePublic: Uint8Array): Promise<{ device_id: number; user: string; rid: string }> {
    const proof = await enrollmentProof(invitation.secret, devicePublic, this.account, this.sid)
    const answer = await this.ask({ header: { k: 'enroll', inv: invitation.inv, proof: b64url(proof) }, body: new Uint8Array() }, 'enroll', 20_000)
    if (answer.header.k !== 'enrolled') throw new SessionEnded(String(answer.header.reason ?? 'enrolment refused'))
    return JSON.parse(fromUtf8(answer.body))
  }

  async call(method: string, path: string, query: string, body: Uint8Array | null, headers: [string, string][], timeoutMs = 30_000): Promise<Answer> {
    const id = `c${this.nextId++}`
    const header = { k: 'req', id, method, path, query, headers }
    this.inFlight += 1
    try {
      const answer = await this.ask({ header, body: body ?? new Uint8Array() }, id, timeoutMs)
      if (answer.header.k !== 'res') throw new SessionEnded(String(answer.header.reason ?? 'call refused'))
      return { status: Number(answer.header.status), headers: (answer.header.headers ?? []) as [string, string][], body: answer.body }
    } finally {
      this.inFlight -= 1
    }
  }

  subscribe(): void {
    this.send({ header: { k: 'sub' }, body: new Uint8Array() })
  }

  private async ask(message: Message, key: string, timeoutMs: number): Promise<Message> {
    if (this.endedWith !== null) throw new SessionEnded(this.endedWith)
    const answer = new Promise<Message>((resolve, reject) => this.waiting.set(key, { resolve, reject }))
    try {
      this.send(message)
      return await within(answer, timeoutMs, () => new SessionEnded('no answer in time'))
    } finally {
      this.waiting.delete(key)
    }
  }

  private send(message: Message): void {
    if (!this.channel || this.endedWith !== null) throw new SessionEnded(this.endedWith ?? 'not open')
    for (const frame of split(message)) {
      const { seq, ct } = this.channel.seal(frame)
      this.link.send({ t: 'data', sid: this.sid, seq, ct: b64url(ct) })
    }
  }

  /** An envelope for this session, from the relay connection. */
  deliver(message: Envelope): void {
    if (message.t === 'accept' && this.accepted) {
      try {
        this.accepted.resolve({ header: { k: 'accept' }, body: unb64url(String(message.hs)) })
      } catch {
        this.end('bad accept')
      }
      this.accepted = null
    } else if (message.t === 'data') this.data(message)
    else if (message.t === 'close') this.end(String(message.reason ?? 'closed'))
    else if (message.t === 'error') this.end(`${String(message.code)}: ${String(message.reason)}`)
  }

  private data(message: Envelope): void {
    if (!this.channel) return
    let plaintexts: Uint8Array[]
    try {
      plaintexts = this.channel.open(message.seq, unb64url(String(message.ct)))
    } catch (error) {
      if (error instanceof MessageRefused) return // dropped and logged, never delivered
      return
    }
    for (const plaintext of plaintexts) {
      let whole: Message | null
      try {
        whole = this.reassembler.feed(plaintext)
      } catch (error) {
        if (error instanceof FramingError) console.warn(`tunnel: ${error.message}`)
        continue
      }
      if (!whole) continue
      if (whole.header.k === 'notice') {
        try {
          this.onNotice(JSON.parse(fromUtf8(whole.body)))
        } catch {
          console.warn('tunnel: a notice that is not JSON')
        }
        continue
      }
      let key = whole.header.k === 'enrolled' ? 'enroll' : String(whole.header.id)
      if (whole.header.k === 'error' && whole.header.id === undefined && this.waiting.has('enroll')) key = 'enroll'
      this.waiting.get(key)?.resolve(whole)
    }
  }

  /** Ends the session here (the relay or the recorder ended it, or we did). */
  end(reason: string): SessionEnded {
    const error = new SessionEnded(reason)
    if (this.endedWith !== null) return error
    this.endedWith = reason
    this.accepted?.reject(error)
    this.accepted = null
    for (const waiter of this.waiting.values()) waiter.reject(error)
    this.waiting.clear()
    this.link.detach(this)
    this.onEnd(reason)
    return error
  }

  close(): void {
    if (this.endedWith !== null) return
    try {
      this.link.send({ t: 'close', sid: this.sid })
    } catch {
      // the connection is gone already: the relay forgot the session with it
    }
    this.end('closed by the device')
  }
}

function within<T>(promise: Promise<T>, ms: number, onTimeout: () => Error | void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(onTimeout() ?? new SessionEnded('timed out')), ms)
    promise.then(
      (value) => {
        clearTimeout(timer)
        resolve(value)
      },
      (error: unknown) => {
        clearTimeout(timer)
        reject(error)
      },
    )
  })
}

