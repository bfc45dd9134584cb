// Pictures from the recorder for an <img> (snapshots, timeline previews), on either door. On the
// LAN a plain URL: the browser loads it itself, with its HTTP cache and no extra hop. Remotely
// there is no URL to give an <img> (the recorder is only reachable through the sealed tunnel), so
// the picture comes through the tunnel as an object URL (Transport.imageUrl), which holds its
// bytes until revoked: every object URL made here is revoked when replaced or when its view
// goes, so scrubbing or taking snapshots for an hour does not grow the page's memory.
import { onBeforeUnmount, ref } from 'vue'
import type { Transport } from '../api/transport'
import { useSession } from '../stores/session'

/** Revoke `url` if it is an object URL (a LAN URL needs nothing). */
export function releaseImage(url: string): void {
  if (url.startsWith('blob:')) URL.revokeObjectURL(url)
}

/** One picture at a time (a snapshot): `load(path)` shows the picture at API path `path`; the
 * one it replaces, and the last one when the component unmounts, is released. */
export function useRecorderImage() {
  const session = useSession()
  const src = ref('')
  const error = ref('')
  let asked = 0

  async function load(path: string): Promise<void> {
    const mine = ++asked
    try {
      const url = await session.transport.imageUrl(path, session.token ?? '')
      if (mine !== asked) return releaseImage(url) // a newer picture was asked for meanwhile
      releaseImage(src.value)
      src.value = url
      error.value = ''
    } catch (e) {
      if (mine === asked) error.value = e instanceof Error ? e.message : String(e)
    }
  }

  function clear(): void {
    asked += 1
    releaseImage(src.value)
    src.value = ''
  }

  onBeforeUnmount(clear)
  return { src, error, load, clear }
}

/** Many pictures by path (timeline previews): a plain URL at once on the LAN; remotely the
 * object URLs of the last `size` paths are kept (scrubbing back and forth shows them again
 * without a round trip through the relay, as the browser's cache does on the LAN), the oldest
 * revoked as new ones come. `dispose()` revokes them all (the view goes). */
export class RecorderImages {
  private readonly kept = new Map<string, Promise<string>>()

  constructor(
    private readonly transport: () => Transport,
    private readonly token: () => string | null,
    private readonly size = 48,
  ) {}

  url(path: string): string | Promise<string> {
    const transport = this.transport()
    if (transport.door === 'lan') return transport.mediaUrl(path, this.token() ?? '')
    const known = this.kept.get(path)
    if (known) {
      this.kept.delete(path) // most recently used goes last
      this.kept.set(path, known)
      return known
    }
    const made = transport.imageUrl(path, '')
    made.catch(() => this.kept.delete(path)) // a failure is asked again next time
    this.kept.set(path, made)
    while (this.kept.size > this.size) {
      const [oldest, url] = this.kept.entries().next().value as [string, Promise<string>]
      this.kept.delete(oldest)
      void url.then(releaseImage, () => undefined)
    }
    return made
  }

  dispose(): void {
    for (const url of this.kept.values()) void url.then(releaseImage, () => undefined)
    this.kept.clear()
  }
}
