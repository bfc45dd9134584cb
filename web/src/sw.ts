/// <reference lib="webworker" />
// The service worker: the app shell from the precache (so the app opens offline and says the
// recorder is unreachable), never the API or video; push notifications.
import { cleanupOutdatedCaches, createHandlerBoundToURL, precacheAndRoute } from 'workbox-precaching'
import { NavigationRoute, registerRoute } from 'workbox-routing'
import { workerAccessToken } from './push/worker-cloud'
import { TOKEN_CACHE, TOKEN_KEY } from './push/worker-token'
import { importSealKey, openSealed, thumbnailAad } from './remote/sealed'

declare const self: ServiceWorkerGlobalScope & { __WB_MANIFEST: Array<{ url: string; revision: string | null }> }

precacheAndRoute(self.__WB_MANIFEST)
cleanupOutdatedCaches()
// Page loads get the cached shell; the API, sockets and media always go to the network.
registerRoute(new NavigationRoute(createHandlerBoundToURL('/index.html'), { denylist: [/^\/api\//] }))

self.addEventListener('install', () => void self.skipWaiting())
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()))

interface PushBody {
  title?: string
  body?: string
  event_id?: number | string
  camera_id?: string
  url?: string
  thumbnail?: string // an authenticated API path (docs/ref/api.md, Web Push payload)
  // The sealed thumbnail the relay stores, and its key (docs/ref/remote-media.md): remote mode.
  remote_thumbnail?: { key?: unknown; k?: unknown } | null
}

const THUMBNAIL_TIMEOUT_MS = 4000
const REMOTE_THUMBNAIL_TIMEOUT_MS = 6000 // a link from the relay, then the object (maybe not up yet)
const REMOTE_RETRY_MS = 400 // the recorder uploads the thumbnail beside the push: look again
const THUMBNAIL_MAX_BYTES = 512 * 1024

function dataUrl(type: string, bytes: Uint8Array): string {
  let binary = ''
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000))
  return `data:${type};base64,${btoa(binary)}`
}

/** `work`'s answer, or null once `ms` have passed: a slow relay or recorder never holds the
 * notification back (it shows without a picture). */
function within<T>(ms: number, work: (signal: AbortSignal) => Promise<T | null>): Promise<T | null> {
  const controller = new AbortController()
  let timer = 0
  return new Promise<T | null>((resolve) => {
    timer = setTimeout(() => resolve(null), ms)
    work(controller.signal).then(resolve, () => resolve(null))
  }).finally(() => {
    clearTimeout(timer)
    controller.abort() // whatever is still running (a fetch, a retry wait) stops
  })
}

/** The event's thumbnail as a data: URL, fetched with the access token the page handed over
 * (push/worker-token.ts); null when there is none, it expired, or the recorder is slow: the
 * notification then shows without a picture rather than late. Never cached. */
async function thumbnailDataUrl(path: string | undefined): Promise<string | null> {
  if (!path || !path.startsWith('/api/v1/')) return null // only our own API, never a foreign URL
  try {
    const cache = await caches.open(TOKEN_CACHE)
    const token = await (await cache.match(TOKEN_KEY))?.text()
    if (!token) return null
    const response = await fetch(new URL(path, self.location.origin), {
      headers: { Authorization: `Bearer ${token}` },
      cache: 'no-store',
      signal: AbortSignal.timeout(THUMBNAIL_TIMEOUT_MS),
    })
    const type = response.headers.get('Content-Type') ?? ''
    if (!response.ok || !type.startsWith('image/')) return null
    const bytes = new Uint8Array(await response.arrayBuffer())
    if (bytes.length > THUMBNAIL_MAX_BYTES) return null
    // A data: URL, not a blob: URL: the notification outlives this worker's run, and
    // URL.createObjectURL is not available in service workers everywhere.
    return dataUrl(type.split(';')[0], bytes)
  } catch {
    return null
  }
}

/** Remote mode (this worker's origin is the relay's): the event's sealed thumbnail, fetched by a
 * signed link the relay gives the worker's own cloud login (push/worker-cloud.ts) and opened with
 * the key the payload carries (AES-256-GCM, AAD bound to the object key: remote/sealed.ts), as a
 * data: URL; null without a login here, a grant, the object, or a key that opens it. */
async function remoteThumbnailDataUrl(reference: PushBody['remote_thumbnail'], signal: AbortSignal): Promise<string | null> {
  const key = reference?.key
  const k = reference?.k
  if (typeof key !== 'string' || typeof k !== 'string' || !key.startsWith('thumbnails/')) return null
  const origin = self.location.origin
  const access = await workerAccessToken(origin, signal)
  if (!access) return null
  const reply = await fetch(`${origin}/v1/media/links`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${access}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ keys: [key] }),
    cache: 'no-store',
    signal,
  })
  if (!reply.ok) return null
  const link = ((await reply.json()) as { links?: Record<string, string> }).links?.[key]
  if (!link) return null
  let sealed: Uint8Array | null = null
  while (!sealed) {
    const response = await fetch(link, { cache: 'no-store', signal })
    if (response.ok) sealed = new Uint8Array(await response.arrayBuffer())
    else if (response.status === 404) await new Promise((r) => setTimeout(r, REMOTE_RETRY_MS)) // not uploaded yet
    else return null
    signal.throwIfAborted()
  }
  if (sealed.length > THUMBNAIL_MAX_BYTES) return null
  const jpeg = await openSealed(await importSealKey(k), thumbnailAad(key), sealed)
  return dataUrl('image/jpeg', jpeg)
}

/** The picture for a push: the sealed remote thumbnail when the payload names one and this
 * browser has a cloud login for the worker (remote mode), else the LAN path with the token. */
async function pictureFor(data: PushBody): Promise<string | null> {
  if (data.remote_thumbnail) {
    const remote = await within(REMOTE_THUMBNAIL_TIMEOUT_MS, (signal) => remoteThumbnailDataUrl(data.remote_thumbnail, signal))
    if (remote) return remote
  }
  return within(THUMBNAIL_TIMEOUT_MS + 500, () => thumbnailDataUrl(data.thumbnail))
}

function notificationFor(data: PushBody, image: string | null): [string, NotificationOptions] {
  const tag = data.event_id !== undefined ? `event-${data.event_id}` : 'skycam'
  const url = data.url ?? (data.event_id !== undefined ? `/events?event=${data.event_id}` : '/events')
  const options = {
    body: data.body ?? 'Motion detected',
    tag, // one notification per event: updates replace it
    icon: '/icons/icon-192.png',
    badge: '/icons/icon-192.png',
    data: { url },
    ...(image ? { image } : {}),
  }
  return [data.title ?? 'SkyCam', options as NotificationOptions]
}

self.addEventListener('push', (event) => {
  let data: PushBody = {}
  try {
    data = (event.data?.json() as PushBody) ?? {}
  } catch {
    data = { body: event.data?.text() }
  }
  // Always inside waitUntil: a push that shows nothing gets the subscription revoked (iOS).
  event.waitUntil(
    (async () => {
      const image = await pictureFor(data)
      const [title, options] = notificationFor(data, image)
      try {
        await self.registration.showNotification(title, options)
      } catch {
        // A browser that refuses the picture still shows the event.
        await self.registration.showNotification(title, notificationFor(data, null)[1])
      }
    })(),
  )
})

self.addEventListener('notificationclick', (event) => {
  event.notification.close()
  const url = new URL((event.notification.data as { url?: string })?.url ?? '/', self.location.origin).href
  event.waitUntil(
    (async () => {
      const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true })
      for (const client of windows) {
        if (new URL(client.url).origin === self.location.origin) {
          await client.focus()
          if ('navigate' in client) await (client as WindowClient).navigate(url)
          return
        }
      }
      await self.clients.openWindow(url)
    })(),
  )
})
