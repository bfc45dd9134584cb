// Sealed media objects of remote media (docs/ref/remote-media.md, section 1): AES-256-GCM in
// WebCrypto, "SKM1" || nonce (12) || ciphertext || tag (16), with associated data that binds an
// object to its place (a media session's object to its session and name, a thumbnail to its
// key), so a store that swaps, renames or replays objects fails authentication.
import { unb64url, utf8 } from './bytes'

const MAGIC = [0x53, 0x4b, 0x4d, 0x31] // "SKM1"
const NONCE_BYTES = 12
const TAG_BYTES = 16
const SAFE_NAME = /^[\x21-\x7e]+$/ // printable ASCII without NUL: the AAD's separators stay unambiguous

export class SealError extends Error {
  override name = 'SealError'
}

function checked(text: string, what: string): string {
  if (!SAFE_NAME.test(text)) throw new SealError(`${what} is not printable ASCII`)
  return text
}

/** The AAD of an object of media session `msid` named `name` (e.g. p00000001.m4s). */
export function mediaAad(msid: string, name: string): Uint8Array {
  return utf8(`skycam-media/1\0${checked(msid, 'msid')}\0${checked(name, 'name')}`)
}

/** The AAD of an event thumbnail, from its whole object key (thumbnails/RID/CAMKEY/eID). */
export function thumbnailAad(objectKey: string): Uint8Array {
  return utf8(`skycam-thumb/1\0${checked(objectKey, 'object key')}`)
}

/** A session's or thumbnail's key (32 bytes, base64url) as a non-extractable AES-GCM key. */
export async function importSealKey(keyB64url: string): Promise<CryptoKey> {
  const raw = unb64url(keyB64url)
  if (raw.length !== 32) throw new SealError('a media key is 32 bytes')
  return crypto.subtle.importKey('raw', raw as BufferSource, { name: 'AES-GCM' }, false, ['decrypt'])
}

/** The plaintext of a sealed object; SealError if it does not authenticate (never use its bytes). */
export async function openSealed(key: CryptoKey, aad: Uint8Array, sealed: Uint8Array): Promise<Uint8Array> {
  if (sealed.length < MAGIC.length + NONCE_BYTES + TAG_BYTES || MAGIC.some((b, i) => sealed[i] !== b)) {
    throw new SealError('not a sealed media object')
  }
  const iv = sealed.subarray(MAGIC.length, MAGIC.length + NONCE_BYTES)
  try {
    const plain = await crypto.subtle.decrypt(
      { name: 'AES-GCM', iv: iv as BufferSource, additionalData: aad as BufferSource, tagLength: TAG_BYTES * 8 },
      key,
      sealed.subarray(MAGIC.length + NONCE_BYTES) as BufferSource,
    )
    return new Uint8Array(plain)
  } catch (error) {
    throw new SealError(`the object does not authenticate with this key and name (${String(error)})`)
  }
}
