// Settings > Remote access against a real local relay (`skycam relay`, started by the test
// stack): the link's status, an invitation created (link and QR code), listed, revoked.
import { expect, logIn, seriousViolations, test } from './fixtures'

const relay = process.env.SKYCAM_RELAY ?? ''

test('an invitation is created with its link and QR code, listed, and revoked', async ({ page }) => {
  test.skip(!relay, 'the stack has no relay (SKYCAM_RELAY)')
  await logIn(page, '/settings/remote')
  await expect(page.locator('h1')).toHaveText('Remote access')
  // The recorder dials the relay by itself; the view reads the status again every 5 s.
  await expect(page.getByText(/^connected since/)).toBeVisible({ timeout: 45_000 })
  await expect(page.locator('dd code')).not.toHaveText('not assigned yet')

  await page.getByLabel('User', { exact: true }).selectOption('admin')
  await page.getByRole('button', { name: 'Create invitation' }).click()
  await expect(page.getByRole('status')).toHaveText('Invitation for admin created.')
  const link = await page.getByRole('textbox', { name: 'Link' }).inputValue()
  expect(link.startsWith(`${relay}/#/join?`), link).toBe(true)
  const qr = page.getByRole('img', { name: 'QR code of the invitation link for admin' })
  await expect(qr.locator('svg')).toBeVisible()
  expect((await qr.locator('svg').boundingBox())?.width ?? 0).toBeGreaterThan(100)
  expect(await seriousViolations(page)).toEqual([]) // with the link, the code and the list shown

  const row = page.locator('tbody tr').first()
  await expect(row).toContainText('pending')
  await row.getByRole('button', { name: /Revoke invitation for admin/ }).click()
  await expect(page.getByRole('status')).toHaveText('Invitation for admin revoked.')
  await expect(page.locator('tbody tr').first()).toContainText('revoked')
  await expect(page.locator('tbody tr').first().getByRole('button')).toHaveCount(0)
})
