import { expect, logIn, seriousViolations, test } from './fixtures'

test('the login view has no serious accessibility violation', async ({ page }) => {
  await page.goto('/login')
  await expect(page.getByRole('heading', { name: /Log in/ })).toBeVisible()
  expect(await seriousViolations(page)).toEqual([])
})

const views: Array<[string, string]> = [
  ['/', 'Live'],
  ['/camera/cam1', ''],
  ['/timeline/cam1', 'Timeline'],
  ['/playback?cameras=cam1,cam2', 'Playback wall'],
  ['/events', 'Events'],
  ['/clips', 'Clips'],
  ['/settings', 'Settings'],
  ['/audit', 'Audit log'],
  ['/settings/notifications', 'Notifications'],
  ['/settings/remote', 'Remote access'],
]

for (const tab of ['Add camera', 'Motion zones', 'Storage']) {
  test(`the settings tab ${tab} has no serious accessibility violation`, async ({ page }) => {
    await logIn(page, '/settings')
    await page.getByRole('tab', { name: tab }).click()
    await expect(page.getByRole('tabpanel')).toBeVisible()
    await page.waitForLoadState('networkidle').catch(() => undefined)
    expect(await seriousViolations(page)).toEqual([])
  })
}

test('the timeline with a preview shown has no serious accessibility violation', async ({ page }) => {
  await logIn(page, '/timeline/cam1')
  const run = page.locator('.bar .run').last()
  await expect(run).toBeVisible({ timeout: 60_000 })
  await run.hover()
  await expect(page.locator('figure.preview')).toBeVisible()
  expect(await seriousViolations(page)).toEqual([])
})

for (const [path, heading] of views) {
  test(`${path} has no serious accessibility violation`, async ({ page }) => {
    await logIn(page, path)
    await expect(page.locator('h1')).toBeVisible()
    if (heading) await expect(page.locator('h1')).toHaveText(heading)
    await page.waitForLoadState('networkidle').catch(() => undefined)
    expect(await seriousViolations(page)).toEqual([])
  })
}
