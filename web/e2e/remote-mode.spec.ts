// Remote mode through the real local relay (`skycam relay`, which serves this app): a browser
// enrols by invitation (cloud account, device key, proof inside the sealed channel), then uses
// the recorder's views through the tunnel only; the connection rolls over before the relay's
// cap (shortened to SKYCAM_RELAY_MAX_S by the stack) without a failed call; the relay admin's
// console. The recorder's own origin is never contacted by the remote page.
import { expect, password, seriousViolations, test } from './fixtures'
import { cloudPassword, enrol, invitation, recorder, relay, secondRecorder, watchRecorderCalls } from './remote-fixtures'

const relayAdmin = process.env.SKYCAM_RELAY_ADMIN ?? ''
const relayMaxS = Number(process.env.SKYCAM_RELAY_MAX_S ?? '7200')

test.describe.configure({ mode: 'serial' })

test('a browser enrols by invitation and uses the recorder through the relay', async ({ page, request }) => {
  test.skip(!relay, 'the stack has no relay (SKYCAM_RELAY)')
  test.setTimeout(180_000)
  const recorderCalls = watchRecorderCalls(page)
  const link = await invitation(request)
  await page.goto(link)
  await expect(page.locator('h1')).toContainText('Join a SkyCam recorder')
  await expect(page.locator('header .badge')).toHaveText('Remote')
  expect(await seriousViolations(page)).toEqual([])
  const email = `invitee-${Date.now()}@relay.local`
  await page.getByLabel('Email').fill(email)
  await page.getByLabel('Password').fill(cloudPassword)
  await page.getByRole('button', { name: 'Join' }).click()
  await expect(page.locator('h1')).toHaveText('Live', { timeout: 45_000 })
  expect(page.url()).toBe(`${relay}/`)
  await expect(page.locator('header .badge')).toHaveText('Remote')

  // The device key: X25519 in WebCrypto, non-extractable, kept in IndexedDB.
  const key = await page.evaluate(
    () =>
      new Promise<{ algorithm: string; extractable: boolean }>((resolve, reject) => {
        const open = indexedDB.open('skycam-remote')
        open.onerror = () => reject(open.error)
        open.onsuccess = () => {
          const get = open.result.transaction('keys').objectStore('keys').get('device')
          get.onsuccess = () => resolve({ algorithm: get.result.privateKey.algorithm.name, extractable: get.result.privateKey.extractable })
        }
      }),
  )
  expect(key).toEqual({ algorithm: 'X25519', extractable: false })

  // The wall: live video through the relay (remote-media.spec.ts watches it play).
  const tile = page.locator('[data-camera="cam1"]')
  await expect(tile).toHaveAttribute('data-state', 'playing', { timeout: 60_000 })
  await expect(tile.locator('.state')).toHaveText('live · remote')
  expect(await seriousViolations(page)).toEqual([])

  // Settings through the tunnel: a rename made remotely is what the recorder's LAN API shows.
  await page.getByRole('link', { name: 'Settings' }).click()
  const cam2 = page.getByRole('form', { name: 'Camera cam2' })
  const login = await request.post(`${recorder}/api/v1/auth/login`, { data: { username: 'admin', password } })
  const headers = { Authorization: `Bearer ${(await login.json()).access_token}` }
  const lanName = async () => (await (await request.get(`${recorder}/api/v1/cameras/cam2`, { headers })).json()).name as string
  const before = await lanName()
  const rename = async (name: string) =>
    // Again if the view's own load of the list (through the tunnel) replaced the field after the fill.
    expect(async () => {
      await cam2.getByLabel('Name').fill(name)
      await cam2.getByRole('button', { name: 'Save' }).click()
      await expect(page.getByRole('status').filter({ hasText: 'Camera cam2 saved.' })).toBeVisible()
      expect(await lanName()).toBe(name)
    }).toPass({ timeout: 30_000 })
  await rename('Renamed remotely')
  await rename(before)
  expect(await seriousViolations(page)).toEqual([])

  // Events and the timeline, read through the tunnel.
  await page.getByRole('link', { name: 'Events' }).click()
  await expect(page.locator('h1')).toHaveText('Events')
  await expect(page.locator('ul.events li').first().or(page.getByText('No events in this range.'))).toBeVisible()
  await expect(page.getByRole('alert')).toHaveCount(0)
  await page.getByRole('link', { name: 'Timeline' }).click()
  await expect(page.locator('h1')).toHaveText('Timeline')
  await expect(page.locator('.bar .run').first()).toBeAttached({ timeout: 30_000 })
  await expect(page.getByRole('alert')).toHaveCount(0)

  // Signing in again later: the cloud account, then the recorder (the only one: opened at once).
  await page.getByRole('button', { name: 'Sign out' }).click()
  await expect(page.locator('h1')).toContainText('Sign in')
  await expect(page.locator('header .badge')).toHaveText('Remote') // the login's badge
  expect(await seriousViolations(page)).toEqual([])
  await page.getByLabel('Email').fill(email)
  await page.getByLabel('Password').fill(cloudPassword)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await expect(page.locator('h1')).toHaveText('Live', { timeout: 30_000 })
  await expect(tile).toHaveAttribute('data-state', 'playing', { timeout: 60_000 })

  expect(recorderCalls).toEqual([])

  // The invitation was single use: opening the link again is refused, with a reason.
  await page.goto(link)
  await page.getByRole('button', { name: 'Join' }).click()
  await expect(page.getByRole('alert')).toContainText('The recorder refused this invitation')
})

test('the relay connection rolls over before its cap, every call answered', async ({ page, request }) => {
  test.skip(!relay, 'the stack has no relay (SKYCAM_RELAY)')
  test.skip(relayMaxS > 120, 'the relay cap is not shortened (SKYCAM_RELAY_MAX_S)')
  test.setTimeout(60_000 + relayMaxS * 2000)
  await enrol(page, request, `roller-${Date.now()}@relay.local`)
  // Calls every 200 ms, as a busy view would make them, across the rollover (at 3/4 of the cap).
  const result = await page.evaluate(async (capS) => {
    type Stats = { connections: number; rollovers: number; sessions: number; retried: number }
    const tunnel = (window as unknown as { skycamTunnel: { stats: Stats; request: (...a: unknown[]) => Promise<{ status: number }> } }).skycamTunnel
    const statuses: number[] = []
    const failures: string[] = []
    const deadline = Date.now() + capS * 1000
    let after = 0
    while (Date.now() < deadline && after < 15) {
      try {
        statuses.push((await tunnel.request('GET', '/cameras', null, [])).status)
      } catch (error) {
        failures.push(String(error))
      }
      if (tunnel.stats.rollovers > 0) after += 1
      await new Promise((r) => setTimeout(r, 200))
    }
    return { statuses, failures, stats: { ...tunnel.stats } }
  }, relayMaxS)
  expect(result.failures).toEqual([])
  expect(result.statuses.every((s) => s === 200), JSON.stringify(result.statuses)).toBe(true)
  expect(result.stats.rollovers).toBeGreaterThanOrEqual(1)
  expect(result.stats.connections).toBeGreaterThanOrEqual(2)
  expect(result.stats.retried).toBe(0) // nothing had to be retried: make-before-break
  // And the views still work on the new connection.
  await page.getByRole('link', { name: 'Events' }).click()
  await expect(page.locator('h1')).toHaveText('Events')
  await expect(page.getByRole('alert')).toHaveCount(0)
})

test('a lost relay connection is redialled by itself, and the views go on', async ({ page, request }) => {
  test.skip(!relay, 'the stack has no relay (SKYCAM_RELAY)')
  test.setTimeout(120_000)
  // The relay WebSocket goes through Playwright's router (to the real relay), so the test can
  // cut it as a network drop would.
  const routed: { close: () => Promise<void> }[] = []
  await page.routeWebSocket(
    (url) => url.protocol === 'ws:' && !url.href.startsWith(recorder.replace('http', 'ws')),
    (ws) => {
      ws.connectToServer()
      routed.push({ close: () => ws.close({ code: 4000, reason: 'network drop' }) })
    },
  )
  await enrol(page, request, `dropped-${Date.now()}@relay.local`)
  const stats = () =>
    page.evaluate(() => ({ ...(window as unknown as { skycamTunnel: { stats: { connections: number } } }).skycamTunnel.stats }))
  await expect.poll(async () => routed.length).toBeGreaterThan(0)
  const before = (await stats()).connections
  for (const socket of routed.splice(0)) await socket.close()
  // Subscribed to notices (the wall's camera status), the tunnel redials without a call...
  await expect.poll(async () => (await stats()).connections, { timeout: 30_000 }).toBeGreaterThan(before)
  // ...and the views work again.
  await page.getByRole('link', { name: 'Settings' }).click()
  await expect(page.getByRole('form', { name: 'Camera cam1' })).toBeVisible()
  await expect(page.getByRole('alert')).toHaveCount(0)
})

test('the relay admin sees the console, and a grant revoked there ends the device\'s access at once', async ({ page, browser, request }) => {
  test.skip(!relay || !relayAdmin, 'the stack has no relay (SKYCAM_RELAY, SKYCAM_RELAY_ADMIN)')
  test.setTimeout(120_000)
  // Another browser, enrolled as another account, whose grant the admin will revoke.
  const other = await browser.newContext()
  const device = await other.newPage()
  const email = `revoked-${Date.now()}@relay.local`
  await enrol(device, request, email)

  await page.goto(`${relay}/login`)
  await expect(page.locator('h1')).toContainText('Sign in')
  await page.getByLabel('Email').fill('admin@relay.local')
  await page.getByLabel('Password').fill(relayAdmin)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await expect(page.locator('h1')).toContainText('Choose a recorder')
  await page.getByRole('link', { name: 'Relay console' }).click()
  await expect(page.locator('h1')).toHaveText('Relay console')
  const recorders = page.getByRole('table', { name: 'Recorders' })
  // Every recorder on the relay (the stack may have a second one), this one's row by its RID.
  await expect(recorders.locator('tbody tr')).toHaveCount(secondRecorder ? 2 : 1)
  const rid = await device.evaluate(() => JSON.parse(localStorage.getItem('skycam.remote')!).current as string)
  const row = recorders.locator('tbody tr').filter({ hasText: rid })
  await expect(row).toHaveCount(1)
  await expect(row).toContainText('online')
  await expect(row).toContainText('invitee-') // granted by the first test's enrolment
  await expect(row).toContainText(email)
  await expect(page.getByRole('table', { name: 'Accounts' })).toContainText('admin@relay.local')
  await expect(page.getByRole('table', { name: 'Relay audit' })).toContainText('signup')
  expect(await seriousViolations(page)).toEqual([])

  await page.getByRole('button', { name: new RegExp(`Revoke the grant of ${email}`) }).click()
  await expect(page.getByRole('status')).toContainText(`Grant of ${email}`)
  await expect(row).not.toContainText(email)
  // The device's next call is refused, and says why (the relay closed its session at once).
  await device.getByRole('link', { name: 'Events' }).click()
  await expect(device.getByRole('alert')).toContainText('no longer has access')
  await other.close()
})

test('every view and settings section opens remotely without an error', async ({ page, request }) => {
  test.skip(!relay, 'the stack has no relay (SKYCAM_RELAY)')
  test.setTimeout(150_000)
  const recorderCalls = watchRecorderCalls(page)
  await enrol(page, request, `views-${Date.now()}@relay.local`)
  const views: Array<[string, string]> = [
    ['Timeline', 'Timeline'], ['Events', 'Events'], ['Clips', 'Clips'], ['Settings', 'Settings'],
    ['Notifications', 'Notifications'], ['Remote access', 'Remote access'], ['Audit', 'Audit log'], ['Live', 'Live'],
  ]
  // The view's reads through the tunnel are all answered (then an error would be on screen).
  const answered = async (what: string) => {
    await page.waitForLoadState('networkidle')
    await expect
      .poll(() => page.evaluate(() => (window as unknown as { skycamTunnel: { stats: { pending: number } } }).skycamTunnel.stats.pending), { message: what })
      .toBe(0)
  }
  for (const [link, heading] of views) {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: link, exact: true }).click()
    await expect(page.locator('h1').first(), link).toContainText(heading)
    await answered(link)
    await expect(page.getByRole('alert'), link).toHaveCount(0)
    if (link === 'Settings') {
      for (const tab of await page.getByRole('tab').all()) {
        const name = (await tab.textContent())?.trim() ?? ''
        await tab.click()
        await expect(page.getByRole('tabpanel').first(), name).toBeVisible()
        await answered(name)
        await expect(page.getByRole('alert'), name).toHaveCount(0)
      }
    }
  }
  expect(recorderCalls).toEqual([])
})
