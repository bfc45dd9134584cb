import { expect, logIn, test } from './fixtures'

test('a camera renamed in settings keeps its name after a reload', async ({ page }) => {
  await logIn(page, '/settings')
  const name = `Yard ${Date.now() % 100000}`
  const field = page.locator('#name-cam2')
  await field.fill(name)
  await page.getByRole('form', { name: 'Camera cam2' }).getByRole('button', { name: 'Save' }).click()
  await expect(page.getByRole('status').filter({ hasText: 'Camera cam2 saved.' })).toBeVisible()
  await page.reload()
  await expect(page.locator('#name-cam2')).toHaveValue(name)
})

test('a saved camera group comes back after a reload', async ({ page }) => {
  await logIn(page, '/')
  await page.getByRole('button', { name: 'New group' }).click()
  await page.getByLabel('Name', { exact: true }).fill('Front')
  const boxes = page.locator('.group-editor input[type=checkbox]')
  const count = await boxes.count()
  for (let i = 2; i < count; i++) await boxes.nth(i).uncheck()
  await page.getByRole('button', { name: 'Save group' }).click()
  await expect(page.locator('figure.tile')).toHaveCount(2)
  await page.reload()
  await expect(page.getByLabel('Group')).toHaveValue('Front')
  await expect(page.locator('figure.tile')).toHaveCount(2)
})
