// Types of the CommonJS libraries the sealed channel uses (they ship none), as far as used.

declare module 'noise-handshake' {
  interface KeyPair {
    publicKey: Uint8Array
    secretKey: Uint8Array
  }
  export default class NoiseState {
    constructor(pattern: string, initiator: boolean, staticKeypair: KeyPair | null, opts?: { curve?: unknown; psk?: Uint8Array })
    e: KeyPair | null
    complete: boolean
    tx: Uint8Array | null
    rx: Uint8Array | null
    hash: Uint8Array | null
    initialise(prologue: Uint8Array, remoteStatic?: Uint8Array): void
    send(payload?: Uint8Array): Uint8Array
    recv(message: Uint8Array): Uint8Array
  }
}

declare module 'noise-handshake/dh.js' {
  interface KeyPair {
    publicKey: Uint8Array
    secretKey: Uint8Array
  }
  const curve: {
    DHLEN: number
    PKLEN: number
    SKLEN: number
    ALG: string
    generateKeyPair(secretKey?: Uint8Array): KeyPair
    dh(publicKey: Uint8Array, pair: { secretKey: Uint8Array }): Uint8Array
  }
  export default curve
}

declare module 'sodium-universal' {
  const sodium: {
    crypto_aead_chacha20poly1305_ietf_encrypt(
      c: Uint8Array, m: Uint8Array, ad: Uint8Array | null, nsec: null, npub: Uint8Array, k: Uint8Array,
    ): number
    crypto_aead_chacha20poly1305_ietf_decrypt(
      m: Uint8Array, nsec: null, c: Uint8Array, ad: Uint8Array | null, npub: Uint8Array, k: Uint8Array,
    ): number
  }
  export default sodium
}

declare module 'sodium-javascript' {
  const sodium: unknown
  export default sodium
}
