/// <reference lib="webworker" />
// The service worker: the app shell from the precache (so the app opens offline and says the
// recorder is unreachable), never the API or video; push notifications.
import { cleanupOutdatedCaches, createHandlerBoundToURL, precacheAndRoute } from 'workbox-precaching'
import { NavigationRoute, registerRoute } from 'workbox-routing'

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
  image?: string
}

self.addEventListener('push', (event) => {
  let data: PushBody = {}
  try {
    data = (event.data?.json() as PushBody) ?? {}
  } catch {
    data = { body: event.data?.text() }
  }
  const tag = data.event_id !== undefined ? `event-${data.event_id}` : 'skycam'
  const url = data.url ?? (data.event_id !== undefined ? `/events?event=${data.event_id}` : '/events')
  // Always inside waitUntil: a push that shows nothing gets the subscription revoked (iOS).
  event.waitUntil(
    self.registration.showNotification(data.title ?? 'SkyCam', {
      body: data.body ?? 'Motion detected',
      tag, // one notification per event: updates replace it
      icon: '/icons/icon-192.png',
      badge: '/icons/icon-192.png',
      data: { url },
      ...(data.image ? { image: data.image } : {}),
    } as NotificationOptions),
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
