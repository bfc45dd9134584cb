import { expect, logIn, test } from './fixtures'

test('a motion zone drawn on the snapshot is saved and survives a reload', async ({ page }) => {
  await logIn(page, '/settings')
  await page.getByRole('tab', { name: 'Motion zones' }).click()
  await page.getByLabel('Camera').selectOption('cam3')
  await expect(page.getByRole('img', { name: /Snapshot of/ })).toBeVisible()
  await page.getByRole('button', { name: 'New zone' }).click()
  const surface = page.getByTestId('zone-surface')
  const box = (await surface.boundingBox())!
  const corners: Array<[number, number]> = [
    [0.1, 0.1],
    [0.6, 0.1],
    [0.6, 0.5],
    [0.1, 0.5],
  ]
  for (const [x, y] of corners) await surface.click({ position: { x: x * box.width, y: y * box.height } })
  await page.getByLabel('Name', { exact: true }).fill('Driveway')
  await page.getByLabel('Kind').selectOption('exclude')
  await page.getByRole('button', { name: 'Save zones' }).click()
  await expect(page.getByRole('status').filter({ hasText: 'Motion zones of cam3 saved.' })).toBeVisible()

  await page.reload()
  await page.getByRole('tab', { name: 'Motion zones' }).click()
  await page.getByLabel('Camera').selectOption('cam3')
  await expect(page.getByLabel('Name', { exact: true })).toHaveValue('Driveway')
  await expect(page.getByLabel('Kind')).toHaveValue('exclude')
  const saved = (await page.getByLabel(/Corners/).inputValue()).split(' ').map((p) => p.split(',').map(Number))
  expect(saved).toHaveLength(4)
  saved.forEach(([x, y], i) => {
    expect(x).toBeCloseTo(corners[i][0], 1)
    expect(y).toBeCloseTo(corners[i][1], 1)
  })
  // The recorder's own config says the same (what the detector masks with).
  const token = await page.evaluate(() => JSON.parse(localStorage.getItem('skycam.session')!).access as string)
  const camera = await (await page.request.get('/api/v1/cameras/cam3', { headers: { Authorization: `Bearer ${token}` } })).json()
  expect(camera.motion.zones).toEqual([expect.objectContaining({ name: 'Driveway', kind: 'exclude' })])
  expect(camera.motion.zones[0].points).toHaveLength(4)

  // Clean up: cam3 watches its whole frame again.
  await page.getByRole('button', { name: 'Delete Driveway' }).click()
  await page.getByRole('button', { name: 'Save zones' }).click()
  await expect(page.getByRole('status').filter({ hasText: 'Motion zones of cam3 saved.' })).toBeVisible()
})

test('a stream URL is tested before a camera is added', async ({ page }) => {
  await logIn(page, '/settings')
  await page.getByRole('tab', { name: 'Add camera' }).click()
  const token = await page.evaluate(() => JSON.parse(localStorage.getItem('skycam.session')!).access as string)
  const cam2 = await (await page.request.get('/api/v1/cameras/cam2', { headers: { Authorization: `Bearer ${token}` } })).json()
  await page.getByLabel('Main stream URL').fill(cam2.main_url)
  await page.getByRole('button', { name: 'Test stream' }).click()
  await expect(page.getByRole('status')).toContainText(/The stream plays: h264 1280×720/)
})

test('discovery at an address lists the ONVIF camera that answers', async ({ page }) => {
  const target = process.env.SKYCAM_DISCOVERY ?? ''
  test.skip(!target, 'the stack runs no discovery responder')
  await logIn(page, '/settings')
  await page.getByRole('tab', { name: 'Add camera' }).click()
  await page.getByLabel(/Addresses/).fill(target)
  await page.getByRole('button', { name: 'Find cameras' }).click()
  await expect(page.getByRole('status')).toHaveText('1 camera(s) answered.')
  // It is cam1's ONVIF service (tests/web/stack.py): already added.
  await expect(page.locator('ul.found li')).toHaveCount(1)
  await expect(page.locator('ul.found li')).toContainText('127.0.0.1')
  await expect(page.locator('ul.found li')).toContainText('(already added)')
})
