import { expect, logIn, test } from './fixtures'

// cam1 has a (fake, loopback) ONVIF service with PTZ and two presets: tests/web/stack.py.
test('the camera view moves the camera, stops it and goes to a preset', async ({ page }) => {
  await logIn(page, '/camera/cam1')
  const ptz = page.locator('details.ptz')
  await expect(ptz).toHaveAttribute('open', '')
  await expect(ptz.getByRole('button', { name: 'Go to Gate' })).toBeVisible()
  await ptz.getByRole('button', { name: 'Go to Yard' }).click()
  await expect(ptz.getByRole('status')).toHaveText('Going to Yard.')
  const left = ptz.getByRole('button', { name: 'Left' })
  await left.hover()
  await page.mouse.down()
  await expect(ptz.getByRole('status')).toHaveText('Moving: left.')
  await page.mouse.up()
  await expect(ptz.getByRole('status')).toHaveText('Stopped.')
  // From the keyboard: a short nudge.
  await ptz.getByRole('button', { name: 'Zoom in' }).focus()
  await page.keyboard.press('Enter')
  await expect(ptz.getByRole('status')).toHaveText('Moving: zoom in.')
})

test('a camera without a configured ONVIF service opens PTZ only on demand', async ({ page }) => {
  await logIn(page, '/camera/cam2')
  const ptz = page.locator('details.ptz')
  await expect(ptz).toBeVisible()
  await expect(ptz).not.toHaveAttribute('open', '')
})
