import { expect, logIn, test } from './fixtures'

test('a wrong password is refused with a message, the right one logs in', async ({ page, expectConsole }) => {
  expectConsole(/status of 401/) // the refused login, as Chromium logs it
  await page.goto('/')
  await expect(page).toHaveURL(/\/login/)
  await expect(page.getByText('LAN', { exact: true })).toBeVisible()
  await page.getByLabel('User name').fill('admin')
  await page.getByLabel('Password').fill('not-the-password')
  await page.getByRole('button', { name: 'Log in' }).click()
  await expect(page.getByRole('alert')).toHaveText('Wrong user name or password.')
  await logIn(page)
  await expect(page.getByRole('heading', { name: 'Live' })).toBeVisible()
})
