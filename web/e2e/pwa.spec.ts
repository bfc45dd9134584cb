import { expect, logIn, test } from './fixtures'

test('the manifest and service worker register, and the shell opens offline', async ({ page, context, expectConsole }) => {
  expectConsole(/ERR_INTERNET_DISCONNECTED|Failed to fetch|Failed to load resource/)
  await logIn(page, '/')
  const manifest = await (await page.request.get('/manifest.webmanifest')).json()
  expect(manifest.name).toBe('SkyCam')
  expect(manifest.display).toBe('standalone')
  expect(manifest.icons.map((i: { sizes: string }) => i.sizes)).toEqual(expect.arrayContaining(['192x192', '512x512']))
  const link = await page.locator('link[rel=manifest]').getAttribute('href')
  expect(link).toBeTruthy()
  const scope = await page.evaluate(async () => (await navigator.serviceWorker.ready).scope)
  expect(scope).toMatch(/\/$/)
  await page.reload() // now controlled by the service worker
  await expect.poll(() => page.evaluate(() => Boolean(navigator.serviceWorker.controller))).toBe(true)
  await context.setOffline(true)
  await page.goto('/events')
  await expect(page.getByText('The recorder is unreachable.')).toBeVisible()
  await expect(page.getByRole('heading', { name: 'Events' })).toBeVisible()
  await context.setOffline(false)
})
