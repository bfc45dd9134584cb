// The browser's sealed channel against docs/ref/tunnel-vectors.json (the same vectors as the
// recorder's tests/tunnel/test_channel.py), run by vitest in Node on the browser's code path
// (sodium-javascript, see vite.config.ts), and the receiving rules of docs/ref/tunnel.md.
import sodium from 'sodium-universal'
import sodiumJavascript from 'sodium-javascript'
import { describe, expect, it } from 'vitest'
import raw from '../../../docs/ref/tunnel-vectors.json?raw'
import { fromUtf8, hex, unhex, utf8 } from './bytes'
import { enrollmentProof, Initiator, MessageRefused, prologue, rawStaticKey, SealedChannel, type StaticKey } from './channel'
import { webCryptoStaticKey } from './device-key'
import { parse, Reassembler, split } from './framing'

const v = JSON.parse(raw) as {
  rid: string
  sid: string
  prologue: string
  device_static_private: string
  device_static_public: string
  device_ephemeral_private: string
  recorder_static_public: string
  handshake: { from: string; message: string }[]
  handshake_hash: string
  device_send_key: string
  recorder_send_key: string
  transport: { from: string; seq: number; plaintext: string; ciphertext: string }[]
  enrollment: { account: string; secret: string; proof: string }
}

async function handshake(key: StaticKey): Promise<{ hello: Uint8Array; channel: SealedChannel }> {
  const initiator = await Initiator.start(key, unhex(v.recorder_static_public), prologue(v.rid, v.sid), unhex(v.device_ephemeral_private))
  const hello = initiator.hello()
  return { hello, channel: await initiator.finish(unhex(v.handshake[1].message)) }
}

const keysOf = (c: SealedChannel) => c as unknown as { sendKey: Uint8Array; recvKey: Uint8Array }

describe('the sealed channel passes the tunnel test vectors', () => {
  it('runs on sodium-javascript, the browser build', () => {
    expect(sodium).toBe(sodiumJavascript)
  })

  it('binds the session with the prologue', () => {
    expect(hex(prologue(v.rid, v.sid))).toBe(v.prologue)
    expect(hex(rawStaticKey(unhex(v.device_static_private)).publicKey)).toBe(v.device_static_public)
  })

  it('produces the handshake messages, hash and split keys', async () => {
    const { hello, channel } = await handshake(rawStaticKey(unhex(v.device_static_private)))
    expect(hex(hello)).toBe(v.handshake[0].message)
    expect(hello.length).toBe(96)
    expect(hex(channel.handshakeHash)).toBe(v.handshake_hash)
    expect(hex(keysOf(channel).sendKey)).toBe(v.device_send_key)
    expect(hex(keysOf(channel).recvKey)).toBe(v.recorder_send_key)
  })

  it('does the same with a non-extractable WebCrypto X25519 key', async () => {
    const pkcs8 = new Uint8Array([...unhex('302e020100300506032b656e04220420'), ...unhex(v.device_static_private)])
    const privateKey = await crypto.subtle.importKey('pkcs8', pkcs8, { name: 'X25519' }, false, ['deriveBits'])
    expect(privateKey.extractable).toBe(false)
    const { hello, channel } = await handshake(webCryptoStaticKey(unhex(v.device_static_public), privateKey))
    expect(hex(hello)).toBe(v.handshake[0].message)
    expect(hex(keysOf(channel).sendKey)).toBe(v.device_send_key)
  })

  it('seals and opens the transport messages', async () => {
    const { channel } = await handshake(rawStaticKey(unhex(v.device_static_private)))
    for (const message of v.transport) {
      if (message.from === 'device') {
        const { seq, ct } = channel.seal(unhex(message.plaintext))
        expect(seq).toBe(message.seq)
        expect(hex(ct)).toBe(message.ciphertext)
      } else {
        const [plaintext] = channel.open(message.seq, unhex(message.ciphertext))
        expect(hex(plaintext)).toBe(message.plaintext)
      }
    }
  })

  it('frames a call exactly as the recorder does', () => {
    const header = { k: 'req', id: 'c1', method: 'GET', path: '/api/v1/cameras', query: '', headers: [] }
    const [frame] = split({ header, body: new Uint8Array() })
    expect(hex(frame)).toBe(v.transport[0].plaintext)
    const answer = parse(unhex(v.transport[1].plaintext))
    expect(answer.header).toEqual({ k: 'res', id: 'c1', status: 200, headers: [['content-type', 'application/json']] })
    expect(JSON.parse(fromUtf8(answer.body))).toEqual([{ id: 'cam1' }])
    expect(hex(split({ header: { k: 'sub' }, body: new Uint8Array() })[0])).toBe(v.transport[2].plaintext)
  })

  it('computes the enrolment proof', async () => {
    const e = v.enrollment
    const proof = await enrollmentProof(unhex(e.secret), unhex(v.device_static_public), e.account, v.sid)
    expect(hex(proof)).toBe(e.proof)
  })
})

describe('the receiver', () => {
  // The recorder's side, sealing with its split key.
  const pair = () => ({
    recorder: new SealedChannel(unhex(v.recorder_send_key), unhex(v.device_send_key), new Uint8Array()),
    device: new SealedChannel(unhex(v.device_send_key), unhex(v.recorder_send_key), new Uint8Array()),
  })

  it('delivers in seq order, refuses replays, forgeries and seqs beyond the window', () => {
    const { recorder, device } = pair()
    const sealed = [0, 1, 2].map((i) => recorder.seal(utf8(`m${i}`)))
    expect(device.open(sealed[1].seq, sealed[1].ct)).toEqual([]) // early: held
    expect(device.open(sealed[0].seq, sealed[0].ct).map(fromUtf8)).toEqual(['m0', 'm1'])
    expect(() => device.open(sealed[1].seq, sealed[1].ct)).toThrow(MessageRefused) // replay
    const forged = new Uint8Array(sealed[2].ct)
    forged[0] ^= 1
    expect(() => device.open(sealed[2].seq, forged)).toThrow(MessageRefused)
    expect(device.open(sealed[2].seq, sealed[2].ct).map(fromUtf8)).toEqual(['m2']) // state unchanged by the forgery
    expect(() => device.open(3 + 64, recorder.seal(utf8('far')).ct)).toThrow(MessageRefused)
    expect(() => device.open('1', sealed[0].ct)).toThrow(MessageRefused)
    expect(device.refused).toBe(4)
  })

  it('splits a large answer into parts and puts it back together', () => {
    const body = crypto.getRandomValues(new Uint8Array(50_000))
    const frames = split({ header: { k: 'res', id: 'c9', status: 200, headers: [] }, body })
    expect(frames.length).toBe(4)
    expect(frames.every((f) => f.length <= 16 * 1024)).toBe(true)
    const reassembler = new Reassembler()
    const results = frames.map((f) => reassembler.feed(f))
    expect(results.slice(0, -1)).toEqual([null, null, null])
    expect(results.at(-1)?.header).toEqual({ k: 'res', id: 'c9', status: 200, headers: [] })
    expect(hex(results.at(-1)!.body)).toBe(hex(body))
  })
})
