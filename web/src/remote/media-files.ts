// Remote media that is one object: a clip downloaded (decrypted, then saved from a Blob) and
// event thumbnails (sealed by the recorder under the relay's thumbnails/ keys; the key of each
// comes in the sealed answer of GET /api/v1/remote/events, only for events the user may see).
import type { MotionEvent } from '../api/types'
import { type MediaDeps, MediaSession, RelayLinks } from './media'
import { mediaDeps } from './media-deps'
import { importSealKey, openSealed, thumbnailAad } from './sealed'

const CLIP_WAIT_MS = 60_000
const PARALLEL = 4

export interface ThumbnailReference {
  key: string
  k: string
}

export type RemoteEvent = MotionEvent & { thumbnail: ThumbnailReference | null }

/** A clip through the relay: one sealed object, opened and saved as `filename`. Returns its size. */
export async function downloadRemoteClip(clipId: number, filename: string, deps: MediaDeps = mediaDeps()): Promise<number> {
  const session = await MediaSession.start(deps, `/remote/clips/${clipId}`)
  try {
    const data = await session.fetchWhenReady(session.answer.name ?? 'clip.mp4', CLIP_WAIT_MS)
    const url = URL.createObjectURL(new Blob([data as BlobPart], { type: 'video/mp4' }))
    const link = Object.assign(document.createElement('a'), { href: url, download: filename })
    document.body.append(link)
    link.click()
    link.remove()
    setTimeout(() => URL.revokeObjectURL(url), 60_000)
    return data.byteLength
  } finally {
    await session.stop()
  }
}

/** Events (newest first) with their sealed thumbnails' references. */
export async function remoteEvents(camera: string, limit: number, deps: MediaDeps = mediaDeps()): Promise<RemoteEvent[]> {
  const query = new URLSearchParams({ limit: String(limit) })
  if (camera) query.append('camera', camera)
  return (await deps.call<{ events: RemoteEvent[] }>('GET', `/remote/events?${query}`)).events
}

/** Object URLs of the events' thumbnails (event id -> blob: URL), fetched and opened a few at a
 * time; one that fails to download or authenticate is left out. The caller revokes the URLs. */
export async function remoteThumbnails(events: RemoteEvent[], deps: MediaDeps = mediaDeps()): Promise<Map<number, string>> {
  const withThumbs = events.filter((e) => e.thumbnail)
  const relay = new RelayLinks(deps.links)
  const urls = await relay.links(withThumbs.map((e) => e.thumbnail!.key))
  const shown = new Map<number, string>()
  let next = 0
  const worker = async () => {
    while (next < withThumbs.length) {
      const i = next++
      const event = withThumbs[i]
      const reference = event.thumbnail!
      try {
        const response = await fetch(urls[i], { cache: 'no-store' })
        if (!response.ok) continue
        const key = await importSealKey(reference.k)
        const jpeg = await openSealed(key, thumbnailAad(reference.key), new Uint8Array(await response.arrayBuffer()))
        shown.set(event.id, URL.createObjectURL(new Blob([jpeg as BlobPart], { type: 'image/jpeg' })))
      } catch {
        // not shown: the list says it has none
      }
    }
  }
  await Promise.all(Array.from({ length: PARALLEL }, worker))
  return shown
}
