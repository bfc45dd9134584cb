// The service worker's push handler, driven by Chromium's own push delivery (DevTools protocol
// ServiceWorker.deliverPushMessage: the payload reaches the real worker as a push event, as
// from a push service). It shows the event, tagged with its id, and the event's thumbnail: on
// the LAN fetched with the access token the page handed over (without it, no picture); remotely
// (the app served by the relay) the sealed thumbnail the relay stores, fetched by a signed link
// the worker gets with its own cloud login and opened with the key the payload carries (a bad
// key: the notification without a picture).
import type { Page } from '@playwright/test'
import { expect, logIn, test } from './fixtures'
import { enrol, relay } from './remote-fixtures'

test.use({ permissions: ['notifications'] })

interface Shown {
  title: string
  body: string
  image: string
  url: string
}

/** Delivers pushes to the page's service worker through DevTools. */
async function pushTo(page: Page) {
  await page.waitForFunction(async () => Boolean((await navigator.serviceWorker.getRegistration())?.active))
  const cdp = await page.context().newCDPSession(page)
  const scopeURL = new URL('/', page.url()).href
  const registration = new Promise<string>((resolve) =>
    cdp.on('ServiceWorker.workerRegistrationUpdated', ({ registrations }) => {
      const ours = registrations.find((r) => r.scopeURL === scopeURL && !r.isDeleted)
      if (ours) resolve(ours.registrationId)
    }),
  )
  // Which of the worker's versions are running: Chromium stops an idle worker after about 30 s
  // (a test may wait up to a minute for an event), and DevTools' push delivery does not wait
  // for a stopped worker to start again, so the push must go to a running one.
  let running = false
  let registrationIdSeen = ''
  cdp.on('ServiceWorker.workerVersionUpdated', ({ versions }) => {
    const ours = versions.filter((v) => v.registrationId === registrationIdSeen)
    if (ours.length) running = ours.some((v) => v.status === 'activated' && v.runningStatus === 'running')
  })
  await cdp.send('ServiceWorker.enable')
  const registrationId = await registration
  registrationIdSeen = registrationId
  const origin = new URL(page.url()).origin
  return async (payload: Record<string, unknown>) => {
    await cdp.send('ServiceWorker.startWorker', { scopeURL })
    await expect.poll(() => running, { timeout: 20_000, message: 'the service worker is running' }).toBe(true)
    await cdp.send('ServiceWorker.deliverPushMessage', { origin, registrationId, data: JSON.stringify(payload) })
  }
}

function shown(page: Page, tag: string, title: string): Promise<Shown | null> {
  return page.evaluate(
    async ([tag, title]) => {
      const found = await (await navigator.serviceWorker.ready).getNotifications({ tag })
      const n = found.find((x) => x.title === title)
      return n ? { title: n.title, body: n.body, image: (n as Notification & { image?: string }).image ?? '', url: (n.data as { url: string }).url } : null
    },
    [tag, title],
  )
}

test('a push shows the event with its thumbnail, fetched with the handed-over token', async ({ page }) => {
  await logIn(page, '/')
  const token = await page.evaluate(() => JSON.parse(localStorage.getItem('skycam.session') ?? '{}').access as string)
  // An event with a thumbnail (the motion camera makes them; wait for one).
  let eventId = 0
  await expect
    .poll(
      async () => {
        const page1 = await (await page.request.get('/api/v1/events?limit=50', { headers: { Authorization: `Bearer ${token}` } })).json()
        eventId = (page1.events as Array<{ id: number; has_thumbnail: boolean }>).find((e) => e.has_thumbnail)?.id ?? 0
        return eventId
      },
      { timeout: 60_000, message: 'an event with a thumbnail' },
    )
    .toBeGreaterThan(0)

  const push = await pushTo(page)
  const payload = (tag: string) => ({
    v: 1, type: 'event.start', event_id: eventId, camera_id: 'cam1', title: `Cam ${tag}`, body: 'motion',
    url: `/events?event=${eventId}`, thumbnail: `/api/v1/events/${eventId}/thumbnail.jpg`,
  })
  await push(payload('with token'))
  await expect.poll(() => shown(page, `event-${eventId}`, 'Cam with token'), { timeout: 20_000 }).not.toBeNull()
  const first = (await shown(page, `event-${eventId}`, 'Cam with token'))!
  expect(first.body).toBe('motion')
  expect(first.url).toBe(`/events?event=${eventId}`)
  expect(first.image.startsWith('data:image/jpeg;base64,/9j/'), first.image.slice(0, 40)).toBe(true)

  // Without the handed-over token the worker cannot fetch the picture: the event still shows.
  await page.evaluate(() => caches.delete('skycam-worker-token'))
  await push(payload('without token'))
  await expect.poll(() => shown(page, `event-${eventId}`, 'Cam without token'), { timeout: 20_000 }).not.toBeNull()
  expect((await shown(page, `event-${eventId}`, 'Cam without token'))!.image).toBe('')
})

type Reference = { key: string; k: string }

test('remotely, a push shows the sealed thumbnail the worker fetched from the relay and opened', async ({ page, request }) => {
  test.skip(!relay, 'the stack has no relay (SKYCAM_RELAY)')
  test.setTimeout(150_000)
  await enrol(page, request, `pushed-${Date.now()}@relay.local`)
  // The worker's own cloud login, kept in IndexedDB for it (the page signs in a second time).
  const workerLogin = () =>
    page.evaluate(
      () =>
        new Promise<{ account: string; refresh: string } | null>((resolve) => {
          const open = indexedDB.open('skycam-worker')
          open.onerror = () => resolve(null)
          open.onupgradeneeded = () => open.result.createObjectStore('cloud')
          open.onsuccess = () => {
            const get = open.result.transaction('cloud').objectStore('cloud').get('tokens')
            get.onsuccess = () => resolve(get.result ? { account: get.result.account, refresh: get.result.refresh_token } : null)
            get.onerror = () => resolve(null)
          }
        }),
    )
  await expect.poll(workerLogin, { timeout: 20_000, message: "the worker's cloud login" }).not.toBeNull()
  const pageTokens = await page.evaluate(() => JSON.parse(localStorage.getItem('skycam.remote')!).tokens as { refresh_token: string; account: { id: string } })
  const kept = (await workerLogin())!
  expect(kept.account).toBe(pageTokens.account.id)
  expect(kept.refresh).not.toBe(pageTokens.refresh_token) // a pair of its own, never the page's

  // An event's sealed thumbnail as the recorder names it (through the tunnel), and its JPEG
  // opened here independently of the app's code (WebCrypto, AAD "skycam-thumb/1\0KEY").
  let event: { id: number; thumbnail: Reference } | null = null
  let jpeg = ''
  await expect
    .poll(
      async () => {
        const found = await page.evaluate(async () => {
          type Tunnel = { request: (...a: unknown[]) => Promise<{ status: number; body: Uint8Array }> }
          const tunnel = (window as unknown as { skycamTunnel: Tunnel }).skycamTunnel
          const answer = await tunnel.request('GET', '/remote/events?limit=20', null, [])
          const events = JSON.parse(new TextDecoder().decode(answer.body)).events as Array<{ id: number; thumbnail: Reference | null }>
          const tokens = JSON.parse(localStorage.getItem('skycam.remote')!).tokens as { access_token: string }
          const unb64 = (s: string) => Uint8Array.from(atob(s.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (s.length % 4)) % 4)), (c) => c.charCodeAt(0))
          for (const e of events) {
            if (!e.thumbnail) continue
            const links = await fetch('/v1/media/links', {
              method: 'POST',
              headers: { Authorization: `Bearer ${tokens.access_token}`, 'Content-Type': 'application/json' },
              body: JSON.stringify({ keys: [e.thumbnail.key] }),
            })
            const link = (await links.json()).links[e.thumbnail.key] as string
            const sealed = new Uint8Array(await (await fetch(link)).arrayBuffer())
            if (new TextDecoder().decode(sealed.subarray(0, 4)) !== 'SKM1') continue // not uploaded yet
            const key = await crypto.subtle.importKey('raw', unb64(e.thumbnail.k), 'AES-GCM', false, ['decrypt'])
            const plain = new Uint8Array(
              await crypto.subtle.decrypt(
                { name: 'AES-GCM', iv: sealed.subarray(4, 16), additionalData: new TextEncoder().encode(`skycam-thumb/1\0${e.thumbnail.key}`) },
                key,
                sealed.subarray(16),
              ),
            )
            let binary = ''
            for (const b of plain) binary += String.fromCharCode(b)
            return { event: { id: e.id, thumbnail: e.thumbnail }, jpeg: btoa(binary) }
          }
          return null
        })
        if (found) ({ event, jpeg } = found)
        return found !== null
      },
      { timeout: 90_000, message: 'an event whose sealed thumbnail is on the relay' },
    )
    .toBe(true)
  const { id, thumbnail } = event!
  expect(jpeg.startsWith('/9j/')).toBe(true) // a JPEG

  const push = await pushTo(page)
  const payload = (title: string, reference: Reference) => ({
    v: 1, type: 'event.start', event_id: id, camera_id: 'cam1', title, body: 'motion', url: `/events?event=${id}`,
    thumbnail: `/api/v1/events/${id}/thumbnail.jpg`, remote_thumbnail: reference,
  })
  await push(payload('Remote cam', thumbnail))
  await expect.poll(() => shown(page, `event-${id}`, 'Remote cam'), { timeout: 20_000 }).not.toBeNull()
  const remote = (await shown(page, `event-${id}`, 'Remote cam'))!
  expect(remote.url).toBe(`/events?event=${id}`)
  expect(remote.image.slice(0, 40)).toBe(`data:image/jpeg;base64,${jpeg}`.slice(0, 40))
  expect(remote.image).toBe(`data:image/jpeg;base64,${jpeg}`) // the very bytes the recorder sealed

  // A key that does not open it: the event shows, without a picture.
  const wrong = Buffer.from(Array.from({ length: 32 }, (_, i) => i)).toString('base64url')
  await push(payload('Remote cam, bad key', { key: thumbnail.key, k: wrong }))
  await expect.poll(() => shown(page, `event-${id}`, 'Remote cam, bad key'), { timeout: 20_000 }).not.toBeNull()
  expect((await shown(page, `event-${id}`, 'Remote cam, bad key'))!.image).toBe('')

  // A thumbnail that never arrives (the relay answers 404 for as long as the worker asks): the
  // notification still shows, without a picture, once the worker stops waiting (6 s).
  const missing = { key: thumbnail.key.replace(/\/e\d+$/, '/e999999999'), k: thumbnail.k }
  const pushedAt = Date.now()
  await push(payload('Remote cam, never uploaded', missing))
  await expect.poll(() => shown(page, `event-${id}`, 'Remote cam, never uploaded'), { timeout: 20_000 }).not.toBeNull()
  expect((await shown(page, `event-${id}`, 'Remote cam, never uploaded'))!.image).toBe('')
  expect(Date.now() - pushedAt).toBeLessThan(15_000)

  // The worker's access token expired (it lives 15 minutes): the worker refreshes its own pair
  // (the page's stays as it was) and the picture shows.
  await page.evaluate(
    () =>
      new Promise<void>((resolve, reject) => {
        const open = indexedDB.open('skycam-worker')
        open.onsuccess = () => {
          const store = open.result.transaction('cloud', 'readwrite').objectStore('cloud')
          const get = store.get('tokens')
          get.onsuccess = () => {
            const put = store.put({ ...get.result, expires_at: 0 }, 'tokens')
            put.onsuccess = () => resolve()
            put.onerror = () => reject(put.error)
          }
        }
      }),
  )
  await push(payload('Remote cam, refreshed', thumbnail))
  await expect.poll(() => shown(page, `event-${id}`, 'Remote cam, refreshed'), { timeout: 20_000 }).not.toBeNull()
  expect((await shown(page, `event-${id}`, 'Remote cam, refreshed'))!.image).toBe(`data:image/jpeg;base64,${jpeg}`)
  const rotated = (await workerLogin())!
  expect(rotated.refresh).not.toBe(kept.refresh)
  expect(await page.evaluate(() => JSON.parse(localStorage.getItem('skycam.remote')!).tokens.refresh_token)).toBe(pageTokens.refresh_token)

  // Signing out forgets the worker's login (and the relay refuses its refresh token).
  await page.getByRole('button', { name: 'Sign out' }).click()
  await expect(page.locator('h1')).toContainText('Sign in')
  await expect.poll(workerLogin, { timeout: 10_000 }).toBeNull()
  const refreshed = await request.post(`${relay}/v1/auth/refresh`, { data: { refresh_token: rotated.refresh } })
  expect(refreshed.status()).toBe(401)
})
