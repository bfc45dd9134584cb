// Remote mode's shared steps: an invitation made on the recorder's LAN API, and a browser
// enrolled with it through the local relay (the app served by the relay).
import type { APIRequestContext, Page } from '@playwright/test'
import { expect, password } from './fixtures'

export const relay = process.env.SKYCAM_RELAY ?? ''
export const recorder = process.env.SKYCAM_URL ?? ''
export const cloudPassword = 'correct horse battery'

// A second recorder on the same relay (tests/web/stack.py), when the stack has one.
export const secondRecorder = process.env.SKYCAM_SECOND_URL ?? ''
export const secondPassword = process.env.SKYCAM_SECOND_PASSWORD ?? ''

export async function lanHeaders(request: APIRequestContext, at = recorder, adminPassword = password): Promise<Record<string, string>> {
  const login = await request.post(`${at}/api/v1/auth/login`, { data: { username: 'admin', password: adminPassword } })
  return { Authorization: `Bearer ${(await login.json()).access_token}` }
}

/** A fresh invitation link for the recorder's `admin`, made on the LAN API once the recorder is
 * connected to the relay (so the relay knows the invitation id); `at`: another recorder's URL. */
export async function invitation(request: APIRequestContext, at = recorder, adminPassword = password): Promise<string> {
  const headers = await lanHeaders(request, at, adminPassword)
  await expect
    .poll(async () => (await (await request.get(`${at}/api/v1/relay`, { headers })).json()).connected, { timeout: 45_000 })
    .toBe(true)
  const made = await request.post(`${at}/api/v1/relay/invitations`, { headers, data: { username: 'admin' } })
  expect(made.status()).toBe(201)
  return (await made.json()).link as string
}

export async function enrol(page: Page, request: APIRequestContext, email: string): Promise<void> {
  const link = await invitation(request)
  expect(link.startsWith(`${relay}/#/join?`), link).toBe(true)
  await page.goto(link)
  await expect(page.locator('h1')).toContainText('Join a SkyCam recorder')
  await page.getByLabel('Email').fill(email)
  await page.getByLabel('Password').fill(cloudPassword)
  await page.getByRole('button', { name: 'Join' }).click()
  await expect(page.locator('h1')).toHaveText('Live', { timeout: 45_000 })
  expect(page.url()).toBe(`${relay}/`) // the secret is out of the address bar
}

/** The recorder's origin is never called by a remote page: everything goes through the relay. */
export function watchRecorderCalls(page: Page): string[] {
  const calls: string[] = []
  page.on('request', (r) => {
    if (r.url().startsWith(recorder)) calls.push(r.url())
  })
  return calls
}
