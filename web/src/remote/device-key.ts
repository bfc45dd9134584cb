// The device's static X25519 key: made in this browser, kept in IndexedDB, never sent anywhere
// (the recorder learns its public half through the handshake). Where the browser has X25519 in
// WebCrypto it is a non-extractable CryptoKey: script can use it but never read it out.
import { rawStaticKey, type StaticKey } from './channel'

const DB = 'skycam-remote'
const STORE = 'keys'
const ID = 'device'

type Stored = { publicKey: Uint8Array; privateKey: CryptoKey } | { publicKey: Uint8Array; secretKey: Uint8Array }

function request<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result)
    req.onerror = () => reject(req.error)
  })
}

async function database(): Promise<IDBDatabase> {
  const open = indexedDB.open(DB, 1)
  open.onupgradeneeded = () => open.result.createObjectStore(STORE)
  return request(open)
}

async function generate(): Promise<Stored> {
  try {
    const pair = (await crypto.subtle.generateKey({ name: 'X25519' }, false, ['deriveBits'])) as CryptoKeyPair
    const publicKey = new Uint8Array(await crypto.subtle.exportKey('raw', pair.publicKey))
    return { publicKey, privateKey: pair.privateKey }
  } catch {
    // No X25519 in this browser's WebCrypto: a raw key (still only in this origin's storage).
    const secretKey = crypto.getRandomValues(new Uint8Array(32))
    return { publicKey: rawStaticKey(secretKey).publicKey, secretKey }
  }
}

/** A static key whose private half is a (non-extractable) WebCrypto X25519 key. */
export function webCryptoStaticKey(publicKey: Uint8Array, privateKey: CryptoKey): StaticKey {
  return {
    publicKey,
    async dh(peer: Uint8Array): Promise<Uint8Array> {
      const theirs = await crypto.subtle.importKey('raw', peer as BufferSource, { name: 'X25519' }, true, [])
      return new Uint8Array(await crypto.subtle.deriveBits({ name: 'X25519', public: theirs }, privateKey, 256))
    },
  }
}

function usable(stored: Stored): StaticKey {
  return 'secretKey' in stored ? rawStaticKey(stored.secretKey) : webCryptoStaticKey(stored.publicKey, stored.privateKey)
}

let loaded: Promise<StaticKey> | null = null

/** This browser's device key, made on first use. */
export function deviceKey(): Promise<StaticKey> {
  loaded ??= (async () => {
    const db = await database()
    try {
      const found = (await request(db.transaction(STORE).objectStore(STORE).get(ID))) as Stored | undefined
      if (found) return usable(found)
      const made = await generate()
      const tx = db.transaction(STORE, 'readwrite')
      // add, not put: two tabs making a key at once keep the first one.
      await request(tx.objectStore(STORE).add(made, ID)).catch(() => null)
      const kept = (await request(db.transaction(STORE).objectStore(STORE).get(ID))) as Stored
      return usable(kept)
    } finally {
      db.close()
    }
  })()
  loaded.catch(() => (loaded = null))
  return loaded
}

/** Whether the key is a non-extractable WebCrypto key (shown in the devices' view). */
export async function keyIsNonExtractable(): Promise<boolean> {
  const db = await database()
  try {
    const found = (await request(db.transaction(STORE).objectStore(STORE).get(ID))) as Stored | undefined
    return !!found && 'privateKey' in found && !found.privateKey.extractable
  } finally {
    db.close()
  }
}
