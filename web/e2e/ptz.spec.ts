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

test('a click on the picture centres the camera there, and presets are saved, used and deleted', async ({ page }) => {
  await logIn(page, '/camera/cam1')
  const ptz = page.locator('details.ptz')
  const token = await page.evaluate(() => JSON.parse(localStorage.getItem('skycam.session')!).access as string)
  const headers = { Authorization: `Bearer ${token}` }
  const head = async () => (await (await page.request.get('/api/v1/cameras/cam1/ptz/status', { headers })).json()) as { pan: number; tilt: number; moving: boolean }
  // From a known place: the Gate preset (pan -0.5, tilt 0 on the simulated head).
  await ptz.getByRole('button', { name: 'Go to Gate' }).click()
  await expect.poll(async () => (await head()).pan, { timeout: 10_000 }).toBeCloseTo(-0.5, 3)
  const start = await head()
  const video = page.getByTestId('camera-picture').locator('video')
  await expect.poll(() => video.evaluate((v: HTMLVideoElement) => v.videoWidth), { timeout: 20_000 }).toBeGreaterThan(0)
  // Three quarters across and a quarter down the picture itself (inside any letterbox bars).
  const spot = await video.evaluate((v: HTMLVideoElement) => {
    const box = v.getBoundingClientRect()
    const scale = Math.min(box.width / v.videoWidth, box.height / v.videoHeight)
    const [w, h] = [v.videoWidth * scale, v.videoHeight * scale]
    return { x: (box.width - w) / 2 + 0.75 * w, y: (box.height - h) / 2 + 0.25 * h, aspect: v.videoWidth / v.videoHeight }
  })
  await video.click({ position: { x: spot.x, y: spot.y } })
  await expect(ptz.getByRole('status')).toHaveText('Centred on the point.')
  // A 60° lens on a 360° × 90° head (the [cameras.onvif] defaults): the angles of that point.
  const halfH = Math.PI / 6
  const halfV = Math.atan(Math.tan(halfH) / spot.aspect)
  const panDeg = (Math.atan(0.5 * Math.tan(halfH)) * 180) / Math.PI
  const tiltDeg = (Math.atan(0.5 * Math.tan(halfV)) * 180) / Math.PI
  const centred = await head()
  expect(centred.pan - start.pan).toBeCloseTo(panDeg / 180, 2)
  expect(centred.tilt - start.tilt).toBeCloseTo(tiltDeg / 45, 2)

  // Save this position, go elsewhere, come back to it, delete it.
  const name = `Porch ${Date.now() % 100000}`
  await ptz.getByLabel('Save the current position as').fill(name)
  await ptz.getByRole('button', { name: 'Save preset' }).click()
  await expect(ptz.getByRole('status')).toHaveText(`Preset ${name} saved.`)
  await ptz.getByRole('button', { name: 'Go to Yard' }).click()
  await expect.poll(async () => (await head()).pan).toBeCloseTo(0.5, 3)
  await ptz.getByRole('button', { name: `Go to ${name}` }).click()
  await expect.poll(async () => (await head()).pan).toBeCloseTo(centred.pan, 3)
  expect((await head()).tilt).toBeCloseTo(centred.tilt, 3)
  await ptz.getByRole('button', { name: `Delete preset ${name}` }).click()
  await expect(ptz.getByRole('status')).toHaveText(`Preset ${name} deleted.`)
  await expect(ptz.getByRole('button', { name: `Go to ${name}` })).toHaveCount(0)
  const presets = (await (await page.request.get('/api/v1/cameras/cam1/ptz/presets', { headers })).json()) as Array<{ name: string }>
  expect(presets.map((p) => p.name)).not.toContain(name)
  // Each step is in the audit log.
  const audit = (await (await page.request.get('/api/v1/audit?action=camera.ptz', { headers })).json()) as Array<{ detail: Record<string, string> }>
  expect(audit.some((a) => a.detail.method === 'relative')).toBe(true)
  expect(audit.filter((a) => a.detail.name === name)).toHaveLength(2)
})
