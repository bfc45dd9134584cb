// The plaintext framing inside the sealed channel (docs/ref/tunnel.md, section 3): each sealed
// plaintext is `u16 BE header length || header (UTF-8 JSON) || body`, at most 16 KiB; a larger
// message goes out as a first frame with "more": true, then "part" frames (same "id").
import { concat, fromUtf8, utf8 } from './bytes'

export const MAX_PLAINTEXT = 16 * 1024
const MAX_HEADER = 8 * 1024
const KINDS = new Set(['enroll', 'enrolled', 'req', 'res', 'sub', 'notice', 'error', 'part'])

export type Header = { k: string; id?: string; more?: boolean } & Record<string, unknown>

export interface Message {
  header: Header
  body: Uint8Array
}

export class FramingError extends Error {
  override name = 'FramingError'
}

function frame(header: Header, body: Uint8Array): Uint8Array {
  const encoded = utf8(JSON.stringify(header))
  if (encoded.length > MAX_HEADER) throw new FramingError(`header of ${encoded.length} bytes`)
  const size = new Uint8Array(2)
  new DataView(size.buffer).setUint16(0, encoded.length)
  return concat(size, encoded, body)
}

/** The frames of a message, each at most `limit` bytes. */
export function split(message: Message, limit = MAX_PLAINTEXT): Uint8Array[] {
  const { header, body } = message
  if (body.length <= limit - frame(header, new Uint8Array()).length) return [frame(header, body)]
  if (header.id === undefined) throw new FramingError(`a ${header.k} message too large for one frame needs an id`)
  const id = header.id
  const firstRoom = limit - frame({ ...header, more: true }, new Uint8Array()).length
  const frames = [frame({ ...header, more: true }, body.subarray(0, firstRoom))]
  const partRoom = limit - frame({ k: 'part', id, more: true }, new Uint8Array()).length
  for (let offset = firstRoom; offset < body.length; ) {
    const piece = body.subarray(offset, offset + partRoom)
    offset += piece.length
    frames.push(frame({ k: 'part', id, more: offset < body.length }, piece))
  }
  return frames
}

export function parse(bytes: Uint8Array): Message {
  if (bytes.length < 2) throw new FramingError('frame too short')
  const size = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint16(0)
  if (size > MAX_HEADER || 2 + size > bytes.length) throw new FramingError('bad header length')
  let header: unknown
  try {
    header = JSON.parse(fromUtf8(bytes.subarray(2, 2 + size)))
  } catch {
    throw new FramingError('header is not JSON')
  }
  if (typeof header !== 'object' || header === null || !KINDS.has(String((header as Header).k))) {
    throw new FramingError('header is not an object with a known kind')
  }
  return { header: header as Header, body: bytes.subarray(2 + size) }
}

/** Frames back into messages, bounded in bytes per message and in messages unfinished. */
export class Reassembler {
  private readonly pending = new Map<string, { header: Header; parts: Uint8Array[]; size: number }>()

  constructor(
    private readonly maxMessageBytes = 64 * 1024 * 1024,
    private readonly maxPending = 32,
  ) {}

  feed(bytes: Uint8Array): Message | null {
    const message = parse(bytes)
    const { header } = message
    const key = String(header.id)
    if (header.k !== 'part') {
      if (!header.more) return message
      if (header.id === undefined || this.pending.has(key)) throw new FramingError('a multi-part message needs a fresh id')
      if (this.pending.size >= this.maxPending) throw new FramingError(`more than ${this.maxPending} unfinished`)
      const { more: _more, ...rest } = header
      this.pending.set(key, { header: rest as Header, parts: [message.body], size: message.body.length })
      return null
    }
    const pending = this.pending.get(key)
    if (!pending) throw new FramingError(`a part for unknown message ${key}`)
    pending.size += message.body.length
    if (pending.size > this.maxMessageBytes) {
      this.pending.delete(key)
      throw new FramingError(`message ${key} is over ${this.maxMessageBytes} bytes`)
    }
    pending.parts.push(message.body)
    if (header.more) return null
    this.pending.delete(key)
    return { header: pending.header, body: concat(...pending.parts) }
  }
}
