// The sealed channel to a recorder (docs/ref/tunnel.md, section 2), the browser's half.
//
// Handshake: Noise_IK_25519_ChaChaPoly_BLAKE2b by `noise-handshake` (holepunch) with its X25519
// curve; the browser is the initiator, it knows the recorder's static key from its invitation.
// The device's static key may be a non-extractable WebCrypto key: noise-handshake's DH is
// synchronous, so the two DHs that use the static key (ss with the recorder's static key
// before message 1, se with the recorder's ephemeral key read from message 2) are computed
// beforehand, asynchronously, and handed to the library through a curve that looks them up.
//
// Transport: the two keys of Split(), ChaCha20-Poly1305 IETF with an explicit seq per message
// (Noise's nonce encoding of it), because the relay (API Gateway) does not keep order; the
// receiver authenticates first, delivers in order, holds at most 64 early messages and refuses
// replays, as recorder/tunnel/channel.py does.
import NoiseState from 'noise-handshake'
import curve from 'noise-handshake/dh.js'
import sodium from 'sodium-universal'
import { concat, hex, utf8 } from './bytes'

export const PROTOCOL = 'Noise_IK_25519_ChaChaPoly_BLAKE2b'
export const WINDOW = 64
const MAX_SEQ = 2n ** 64n - 2n
const KEY_BYTES = 32

/** The device's static X25519 key: its public half, and DH with it (the private half may
 * never leave WebCrypto). */
export interface StaticKey {
  readonly publicKey: Uint8Array
  dh(peerPublic: Uint8Array): Promise<Uint8Array>
}

/** A static key from raw private bytes (the test vectors; browsers without WebCrypto X25519). */
export function rawStaticKey(secretKey: Uint8Array): StaticKey {
  const pair = curve.generateKeyPair(new Uint8Array(secretKey))
  return { publicKey: pair.publicKey, dh: async (peer) => curve.dh(peer, pair) }
}

export function prologue(rid: string, sid: string): Uint8Array {
  return utf8(`skycam-tunnel/1\u0000${rid}\u0000${sid}`)
}

export class HandshakeFailed extends Error {
  override name = 'HandshakeFailed'
}
export class MessageRefused extends Error {
  override name = 'MessageRefused'
}

function nonceOf(seq: bigint): Uint8Array {
  const nonce = new Uint8Array(12)
  new DataView(nonce.buffer).setBigUint64(4, seq, true)
  return nonce
}

export class SealedChannel {
  private nextSend = 0n
  private nextRecv = 0n
  private readonly early = new Map<bigint, Uint8Array>()
  refused = 0

  constructor(
    private readonly sendKey: Uint8Array,
    private readonly recvKey: Uint8Array,
    readonly handshakeHash: Uint8Array,
    private readonly window = WINDOW,
  ) {}

  seal(plaintext: Uint8Array): { seq: number; ct: Uint8Array } {
    const seq = this.nextSend
    if (seq > MAX_SEQ) throw new MessageRefused('nonce space exhausted: open a new session')
    this.nextSend += 1n
    const ct = new Uint8Array(plaintext.length + 16)
    sodium.crypto_aead_chacha20poly1305_ietf_encrypt(ct, plaintext, null, null, nonceOf(seq), this.sendKey)
    return { seq: Number(seq), ct }
  }

  /** The plaintexts now deliverable in order (none if `seq` came early). Throws
   * MessageRefused, changing nothing, for a forgery, a replay or a seq beyond the window. */
  open(seq: unknown, ciphertext: Uint8Array): Uint8Array[] {
    if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) return this.refuse(`bad seq ${String(seq)}`)
    const n = BigInt(seq)
    if (n < this.nextRecv || this.early.has(n)) return this.refuse(`replayed seq ${seq}`)
    if (n >= this.nextRecv + BigInt(this.window)) return this.refuse(`seq ${seq} beyond the window`)
    if (ciphertext.length < 16) return this.refuse(`seq ${seq} is too short`)
    const plaintext = new Uint8Array(ciphertext.length - 16)
    try {
      sodium.crypto_aead_chacha20poly1305_ietf_decrypt(plaintext, null, ciphertext, null, nonceOf(n), this.recvKey)
    } catch {
      return this.refuse(`seq ${seq} failed authentication`)
    }
    this.early.set(n, plaintext)
    const delivered: Uint8Array[] = []
    for (let next = this.early.get(this.nextRecv); next !== undefined; next = this.early.get(this.nextRecv)) {
      delivered.push(next)
      this.early.delete(this.nextRecv)
      this.nextRecv += 1n
    }
    return delivered
  }

  private refuse(why: string): never {
    this.refused += 1
    console.warn(`sealed channel: refused a message: ${why}`)
    throw new MessageRefused(why)
  }
}

/** The device's half of the handshake: `hello()` is open.hs, `finish(accept.hs)` the channel. */
export class Initiator {
  private readonly state: NoiseState
  private readonly precomputed = new Map<string, Uint8Array>()
  private readonly staticPair: { publicKey: Uint8Array; secretKey: Uint8Array }

  private constructor(
    private readonly key: StaticKey,
    theirStatic: Uint8Array,
    theProlgue: Uint8Array,
    ephemeralSecret?: Uint8Array,
  ) {
    // The library never sees the static private key: a placeholder, recognised by identity.
    this.staticPair = { publicKey: key.publicKey, secretKey: new Uint8Array(KEY_BYTES) }
    const precomputed = this.precomputed
    const staticPair = this.staticPair
    const lookingUp = {
      ...curve,
      dh(publicKey: Uint8Array, pair: { secretKey: Uint8Array }): Uint8Array {
        if (pair !== staticPair) return curve.dh(publicKey, pair)
        const value = precomputed.get(hex(publicKey))
        if (value === undefined) throw new HandshakeFailed('no DH computed for this key')
        return value
      },
    }
    this.state = new NoiseState('IK', true, staticPair, { curve: lookingUp })
    this.state.initialise(theProlgue, theirStatic)
    // Only the test vectors fix the ephemeral key.
    if (ephemeralSecret) this.state.e = curve.generateKeyPair(new Uint8Array(ephemeralSecret))
  }

  /** A new handshake; `ephemeralSecret` only for the test vectors. */
  static async start(
    key: StaticKey,
    theirStatic: Uint8Array,
    theProlgue: Uint8Array,
    ephemeralSecret?: Uint8Array,
  ): Promise<Initiator> {
    if (theirStatic.length !== KEY_BYTES) throw new HandshakeFailed('the recorder key is not 32 bytes')
    const initiator = new Initiator(key, theirStatic, theProlgue, ephemeralSecret)
    initiator.precomputed.set(hex(theirStatic), await key.dh(theirStatic)) // ss
    return initiator
  }

  hello(): Uint8Array {
    return this.state.send()
  }

  async finish(reply: Uint8Array): Promise<SealedChannel> {
    if (reply.length !== KEY_BYTES + 16) throw new HandshakeFailed(`a reply of ${reply.length} bytes`)
    const theirEphemeral = reply.subarray(0, KEY_BYTES)
    try {
      this.precomputed.set(hex(theirEphemeral), await this.key.dh(theirEphemeral)) // se
      this.state.recv(reply)
    } catch (error) {
      throw new HandshakeFailed(`handshake reply refused: ${String(error)}`)
    } finally {
      this.precomputed.clear()
    }
    if (!this.state.complete || !this.state.tx || !this.state.rx) throw new HandshakeFailed('handshake not complete')
    return new SealedChannel(new Uint8Array(this.state.tx), new Uint8Array(this.state.rx), new Uint8Array(this.state.hash!))
  }
}

/** HMAC-SHA256(secret, "skycam-enroll/1\0" + device_pk + account + "\0" + sid). */
export async function enrollmentProof(
  secret: Uint8Array,
  devicePublic: Uint8Array,
  account: string,
  sid: string,
): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey('raw', secret as BufferSource, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign'])
  const message = concat(utf8('skycam-enroll/1\u0000'), devicePublic, utf8(`${account}\u0000${sid}`))
  return new Uint8Array(await crypto.subtle.sign('HMAC', key, message as BufferSource))
}
