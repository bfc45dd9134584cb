// One cloud account enrolled with two recorders on the same relay (tests/web/stack.py starts a
// second recorder with one camera, `yard`): the recorder picker lists both, and each opens its
// own cameras through its own tunnel (the wall never shows the other recorder's).
import { expect, test } from './fixtures'
import { cloudPassword, enrol, invitation, relay, secondPassword, secondRecorder } from './remote-fixtures'

const ridOf = (link: string) => new URLSearchParams(link.split('#/join?')[1]).get('rid') ?? ''

test('an account enrolled with two recorders picks either, and sees that recorder\'s cameras', async ({ page, request }) => {
  test.skip(!relay || !secondRecorder, 'the stack has no relay with a second recorder (SKYCAM_SECOND_URL)')
  test.setTimeout(240_000)
  const email = `two-recorders-${Date.now()}@relay.local`
  await enrol(page, request, email) // the first recorder: cam1..cam4
  const tiles = page.locator('figure.tile')
  await expect(page.locator('figure.tile[data-camera="cam1"]')).toBeVisible()
  const first = await page.evaluate(() => JSON.parse(localStorage.getItem('skycam.remote')!).current as string)

  // Already signed in: the second recorder's invitation enrols this browser with it too.
  const link = await invitation(request, secondRecorder, secondPassword)
  const second = ridOf(link)
  expect(second).not.toBe(first)
  await page.goto(link)
  await expect(page.getByText(`Signed in as ${email}`)).toBeVisible()
  await page.getByRole('button', { name: 'Join' }).click()
  await expect(page.locator('h1')).toHaveText('Live', { timeout: 45_000 })
  const yard = page.locator('figure.tile[data-camera="yard"]')
  await expect(yard).toBeVisible()
  await expect(tiles).toHaveCount(1) // only the second recorder's camera
  await expect(yard).toHaveAttribute('data-state', 'playing', { timeout: 60_000 }) // its own remote media

  // The picker lists both; each opens its own cameras.
  const pick = async (rid: string) => {
    await page.getByRole('button', { name: 'Switch recorder' }).click()
    await expect(page.locator('h1')).toHaveText('Choose a recorder')
    const choices = page.getByRole('list', { name: 'Recorders' }).getByRole('button')
    await expect(choices).toHaveCount(2)
    await expect(choices.filter({ hasText: first })).toHaveCount(1)
    await expect(choices.filter({ hasText: second })).toHaveCount(1)
    await choices.filter({ hasText: rid }).click()
    await expect(page.locator('h1')).toHaveText('Live', { timeout: 30_000 })
  }
  await pick(first)
  await expect(page.locator('figure.tile[data-camera="cam1"]')).toHaveAttribute('data-state', 'playing', { timeout: 60_000 })
  await expect(yard).toHaveCount(0)
  await page.getByRole('link', { name: 'Settings' }).click()
  await expect(page.getByRole('form', { name: 'Camera cam1' })).toBeVisible()
  await expect(page.getByRole('form', { name: 'Camera yard' })).toHaveCount(0)
  // The recorder's notices come through its own tunnel: a new motion event of cam1 (scripted
  // three times a minute) joins the events list by itself, without a reload.
  await page.getByRole('link', { name: 'Events' }).click()
  await expect(page.locator('h1')).toHaveText('Events')
  await expect(page.locator('ul.events li').first()).toBeVisible({ timeout: 30_000 }) // the list as loaded (cam1 had events)
  const listed = await page.locator('ul.events li').evaluateAll((items) => items.map((li) => li.getAttribute('data-event-id')))
  await expect
    .poll(async () => (await page.locator('ul.events li').evaluateAll((items) => items.map((li) => li.getAttribute('data-event-id')))).filter((id) => !listed.includes(id)).length, {
      timeout: 75_000,
      message: 'a new event announced through the tunnel',
    })
    .toBeGreaterThan(0)

  await pick(second)
  await expect(yard).toHaveAttribute('data-state', 'playing', { timeout: 60_000 })
  await expect(tiles).toHaveCount(1)
  await page.getByRole('link', { name: 'Settings' }).click()
  await expect(page.getByRole('form', { name: 'Camera yard' })).toBeVisible()
  await expect(page.getByRole('form', { name: 'Camera cam1' })).toHaveCount(0)

  // Signing in again later offers the picker (two recorders: none is opened by itself).
  await page.getByRole('button', { name: 'Sign out' }).click()
  await page.getByLabel('Email').fill(email)
  await page.getByLabel('Password').fill(cloudPassword)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await expect(page.locator('h1')).toHaveText('Choose a recorder')
  await expect(page.getByRole('list', { name: 'Recorders' }).getByRole('button')).toHaveCount(2)
})
