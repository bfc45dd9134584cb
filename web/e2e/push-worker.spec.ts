// The service worker's push handler, driven by Chromium's own push delivery (DevTools protocol
// ServiceWorker.deliverPushMessage: the payload reaches the real worker as a push event, as
// from a push service). It shows the event, tagged with its id, and the event's thumbnail,
// fetched with the access token the page handed over; without that token, no picture.
import { expect, logIn, test } from './fixtures'

test.use({ permissions: ['notifications'] })

interface Shown {
  title: string
  body: string
  image: string
  url: string
}

test('a push shows the event with its thumbnail, fetched with the handed-over token', async ({ page }) => {
  await logIn(page, '/')
  await page.waitForFunction(async () => Boolean((await navigator.serviceWorker.getRegistration())?.active))
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

  const cdp = await page.context().newCDPSession(page)
  const registration = new Promise<string>((resolve) =>
    cdp.on('ServiceWorker.workerRegistrationUpdated', ({ registrations }) => {
      const ours = registrations.find((r) => r.scopeURL === new URL('/', page.url()).href && !r.isDeleted)
      if (ours) resolve(ours.registrationId)
    }),
  )
  // Which of the worker's versions are running: Chromium stops an idle worker after about 30 s
  // (this test waits up to a minute for an event), and DevTools' push delivery does not wait
  // for a stopped worker to start again, so the push must go to a running one.
  let running = false
  cdp.on('ServiceWorker.workerVersionUpdated', ({ versions }) => {
    const ours = versions.filter((v) => v.registrationId === registrationIdSeen)
    if (ours.length) running = ours.some((v) => v.status === 'activated' && v.runningStatus === 'running')
  })
  let registrationIdSeen = ''
  await cdp.send('ServiceWorker.enable')
  const registrationId = await registration
  registrationIdSeen = registrationId
  const origin = new URL(page.url()).origin
  const scopeURL = new URL('/', page.url()).href
  const push = async (tag: string) => {
    await cdp.send('ServiceWorker.startWorker', { scopeURL })
    await expect.poll(() => running, { timeout: 20_000, message: 'the service worker is running' }).toBe(true)
    await cdp.send('ServiceWorker.deliverPushMessage', {
      origin,
      registrationId,
      data: JSON.stringify({
        v: 1, type: 'event.start', event_id: eventId, camera_id: 'cam1', title: `Cam ${tag}`, body: 'motion',
        url: `/events?event=${eventId}`, thumbnail: `/api/v1/events/${eventId}/thumbnail.jpg`,
      }),
    })
  }
  const shown = (title: string) =>
    page.evaluate(async ([tag, title]) => {
      const found = await (await navigator.serviceWorker.ready).getNotifications({ tag })
      const n = found.find((x) => x.title === title)
      return n ? { title: n.title, body: n.body, image: (n as Notification & { image?: string }).image ?? '', url: (n.data as { url: string }).url } : null
    }, [`event-${eventId}`, title]) as Promise<Shown | null>

  await push('with token')
  await expect.poll(() => shown('Cam with token'), { timeout: 20_000 }).not.toBeNull()
  const first = (await shown('Cam with token'))!
  expect(first.body).toBe('motion')
  expect(first.url).toBe(`/events?event=${eventId}`)
  expect(first.image.startsWith('data:image/jpeg;base64,/9j/'), first.image.slice(0, 40)).toBe(true)

  // Without the handed-over token the worker cannot fetch the picture: the event still shows.
  await page.evaluate(() => caches.delete('skycam-worker-token'))
  await push('without token')
  await expect.poll(() => shown('Cam without token'), { timeout: 20_000 }).not.toBeNull()
  expect((await shown('Cam without token'))!.image).toBe('')
})
