// Settings > Notifications: subscribing this browser to the recorder's Web Push, and the list of
// this user's subscribed devices. Chromium under Playwright has no push service: its contexts
// are off the record, where Chrome refuses the Push API (crbug.com/41124656), and the push
// service (Google's FCM) is not reachable from these loopback-only tests anyway. So
// pushManager.subscribe cannot succeed here: the first test follows the real call up to the
// push service and skips the rest with that reason; the recorder's side of subscribing (the
// body this view posts) is tests/api/test_push_api.py.
import { expect, logIn, seriousViolations, test } from './fixtures'

test.use({ permissions: ['notifications'] })

test('turning notifications on asks permission and subscribes with the recorder VAPID key', async ({ page, expectConsole }) => {
  expectConsole(/does not support the Push API in incognito mode/)
  // Watch (not replace) the real PushManager.subscribe: record its options, then call it.
  await page.addInitScript(() => {
    const real = PushManager.prototype.subscribe
    PushManager.prototype.subscribe = function (options?: PushSubscriptionOptionsInit) {
      const key = options?.applicationServerKey
      const bytes = key instanceof ArrayBuffer ? new Uint8Array(key) : ArrayBuffer.isView(key) ? new Uint8Array(key.buffer, key.byteOffset, key.byteLength) : null
      ;(window as unknown as { pushCalls: unknown[] }).pushCalls = [
        ...((window as unknown as { pushCalls?: unknown[] }).pushCalls ?? []),
        { userVisibleOnly: options?.userVisibleOnly, key: bytes ? btoa(String.fromCharCode(...bytes)) : null },
      ]
      return real.call(this, options)
    }
  })
  await logIn(page, '/settings/notifications')
  await expect(page.locator('h1')).toHaveText('Notifications')
  // The service worker must be in place before subscribing (it is what receives pushes).
  await page.waitForFunction(async () => Boolean(await navigator.serviceWorker.getRegistration()))
  await page.getByLabel('Device name').fill('Playwright Chromium')
  await page.getByLabel('Every camera I may play back, now and later').uncheck()
  await page.getByRole('group', { name: 'Cameras' }).getByRole('checkbox').nth(1).check()
  await page.getByLabel('No notifications during quiet hours').check()
  await page.getByLabel('From').fill('23:00')
  await page.getByLabel('To').fill('06:30')
  await page.getByRole('button', { name: 'Turn on notifications' }).click()
  await expect(page.getByText('Permission: granted')).toBeVisible()

  const outcome = page.getByRole('alert').or(page.getByRole('status'))
  await expect(outcome).toBeVisible({ timeout: 30_000 })
  const calls = await page.evaluate(() => (window as unknown as { pushCalls?: Array<{ userVisibleOnly: boolean; key: string }> }).pushCalls ?? [])
  expect(calls).toHaveLength(1)
  expect(calls[0].userVisibleOnly).toBe(true)
  const token = await page.evaluate(() => JSON.parse(localStorage.getItem('skycam.session') ?? '{}').access as string)
  const answer = await page.request.get('/api/v1/push/public-key', { headers: { Authorization: `Bearer ${token}` } })
  const vapid = Buffer.from((await answer.json()).public_key as string, 'base64url')
  expect(Buffer.from(calls[0].key, 'base64').equals(vapid), 'applicationServerKey is the recorder VAPID key').toBe(true)

  const refused = await page.getByRole('alert').filter({ hasText: "push service refused" }).isVisible()
  test.skip(refused, 'Chromium under Playwright refuses the Push API (off-the-record context) and FCM is not reachable from loopback: pushManager.subscribe rejects; the recorder side is tests/api/test_push_api.py')
  // A browser with a push service: the subscription is on the recorder, marked as this browser.
  await expect(page.getByRole('status')).toHaveText('Notifications are on for this browser.')
  await expect(page.getByRole('row', { name: /Playwright Chromium \(this browser\)/ })).toContainText('23:00-06:30')
  await page.getByRole('button', { name: 'Remove Playwright Chromium' }).click()
  await expect(page.getByText('This browser is not subscribed.')).toBeVisible()
})

test("the user's subscribed devices are listed and one is removed", async ({ page }) => {
  await logIn(page, '/settings/notifications')
  const token = await page.evaluate(() => JSON.parse(localStorage.getItem('skycam.session') ?? '{}').access as string)
  const headers = { Authorization: `Bearer ${token}` }
  // Another of this user's devices, subscribed through the API with a real P-256 key pair.
  const keys = await page.evaluate(async () => {
    const pair = await crypto.subtle.generateKey({ name: 'ECDH', namedCurve: 'P-256' }, true, ['deriveBits'])
    const raw = new Uint8Array(await crypto.subtle.exportKey('raw', pair.publicKey))
    const b64url = (b: Uint8Array) => btoa(String.fromCharCode(...b)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
    return { p256dh: b64url(raw), auth: b64url(crypto.getRandomValues(new Uint8Array(16))) }
  })
  const device = `Tablet ${Date.now() % 100000}`
  const made = await page.request.post('/api/v1/push/subscriptions', {
    headers,
    data: { endpoint: `https://push.example.com/send/${device.replace(' ', '-')}`, keys, device, cameras: null, quiet_hours: { start: '22:00', end: '07:00', time_zone: 'Europe/Paris' } },
  })
  expect(made.status(), await made.text()).toBe(201)
  await page.reload()
  const row = page.getByRole('row', { name: new RegExp(device) })
  await expect(row).toContainText('22:00-07:00 Europe/Paris')
  await expect(row).toContainText('all')
  await page.getByLabel('No notifications during quiet hours').check()
  expect(await seriousViolations(page)).toEqual([]) // with the list and every field shown
  await page.getByRole('button', { name: `Remove ${device}` }).click()
  await expect(page.getByRole('status')).toHaveText(`Notifications to ${device} are off.`)
  await expect(row).toHaveCount(0)
  const left = await (await page.request.get('/api/v1/push/subscriptions', { headers })).json()
  expect(left.map((s: { device: string }) => s.device)).not.toContain(device)
})
