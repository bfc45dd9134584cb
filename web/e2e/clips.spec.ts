import { readFile } from 'node:fs/promises'
import { expect, logIn, test } from './fixtures'

const local = (t: number) => new Date(t - new Date().getTimezoneOffset() * 60_000).toISOString().slice(0, 19)

test('a clip is cut to the second, shows its progress and downloads as an MP4', async ({ page }) => {
  await logIn(page, '/clips')
  const now = Date.now()
  await page.getByLabel('Camera', { exact: true }).selectOption('cam1')
  await page.getByLabel('In', { exact: true }).fill(local(now - 25_000))
  await page.getByLabel('Out', { exact: true }).fill(local(now - 15_000))
  const name = `door ${now % 100000}`
  await page.getByLabel('Name', { exact: true }).fill(name)
  await page.getByRole('button', { name: 'Save clip' }).click()
  await expect(page.getByRole('status').filter({ hasText: /is being cut/ })).toBeVisible()
  const row = page.getByRole('row').filter({ hasText: name })
  await expect(row).toContainText('10 s')
  const link = row.getByRole('link', { name: 'Download' })
  await expect(link).toBeVisible({ timeout: 60_000 })
  const [download] = await Promise.all([page.waitForEvent('download'), link.click()])
  const data = await readFile((await download.path())!)
  expect(data.subarray(4, 8).toString()).toBe('ftyp')
  expect(data.length).toBeGreaterThan(20_000)
})
