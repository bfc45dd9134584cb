/// <reference lib="webworker" />
// The service worker: the app shell from the precache (so the app opens offline and says the
// recorder is unreachable), never the API or video; push notifications.
import { cleanupOutdatedCaches, createHandlerBoundToURL, precacheAndRoute } from 'workbox-precaching'
import { NavigationRoute, registerRoute } from 'workbox-routing'
import { TOKEN_CACHE, TOKEN_KEY } from './push/worker-token'

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
}

const THUMBNAIL_TIMEOUT_MS = 4000
const THUMBNAIL_MAX_BYTES = 512 * 1024

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
    let binary = ''
    for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000))
    return `data:${type.split(';')[0]};base64,${btoa(binary)}`
  } catch {
    return null
  }
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
      const image = await thumbnailDataUrl(data.thumbnail)
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
