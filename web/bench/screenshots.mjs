// Screenshots of the main views for docs/screenshots/ (run against a stack like bench/web.py's):
//   SKYCAM_URL=... SKYCAM_PASSWORD=... node bench/screenshots.mjs ../docs/screenshots [name...]
// (names: only those views; remote needs a stack with a relay, it creates an invitation)
import { chromium } from '@playwright/test'
import { chromiumArgs } from '../chromium-args.mjs'

const [outDir, ...only] = process.argv.slice(2)
const url = process.env.SKYCAM_URL
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: chromiumArgs })
const page = await browser.newPage({ viewport: { width: 1024, height: 640 } })
await page.goto(`${url}/login`)
await page.screenshot({ path: `${outDir}/login.png` })
await page.getByLabel('User name').fill('admin')
await page.getByLabel('Password').fill(process.env.SKYCAM_PASSWORD)
await page.getByRole('button', { name: 'Log in' }).click()
await page.waitForURL((u) => !u.pathname.startsWith('/login'))
// Text-heavy views as PNG, video as JPEG.
const png = (name) => !['wall', 'camera', 'events', 'playback'].includes(name)
const aMinuteAgo = Date.now() - 60_000
for (const [path, name, ready] of [
  ['/?layout=4', 'wall', 'figure.tile[data-state="playing"]'],
  ['/camera/cam1', 'camera', 'figure.tile[data-state="playing"]'],
  ['/timeline/cam1', 'timeline', '.bar .event >> nth=2'],
  ['/events', 'events', 'h1'],
  [`/playback?cameras=cam1,cam2,cam3,cam4&t=${aMinuteAgo}`, 'playback', 'figure.tile[data-state="ready"] >> nth=3'],
  ['/settings', 'settings', '#name-cam1'],
  ['/settings', 'zones', '#name-cam1'],
  ['/settings/notifications', 'notifications', '#push-device'],
  ['/settings/remote', 'remote', 'dl dd'],
]) {
  if (only.length && !only.includes(name)) continue
  await page.goto(`${url}${path}`)
  await page.locator(ready).first().waitFor({ timeout: 60_000 })
  if (name === 'timeline') {
    await page.locator('.bar .run').last().hover() // a preview of the moment under the pointer
    await page.locator('figure.preview img').waitFor()
  }
  if (name === 'zones') {
    await page.getByRole('tab', { name: 'Motion zones' }).click()
    await page.getByRole('img', { name: /Snapshot of/ }).waitFor()
    await page.getByRole('button', { name: 'New zone' }).click()
    const box = await page.getByTestId('zone-surface').boundingBox()
    for (const [x, y] of [[0.05, 0.6], [0.45, 0.5], [0.6, 0.95], [0.05, 0.95]]) {
      await page.getByTestId('zone-surface').click({ position: { x: x * box.width, y: y * box.height } })
    }
  }
  if (name === 'remote') {
    await page.getByRole('button', { name: 'Create invitation' }).click()
    await page.locator('.qr svg').waitFor()
  }
  await page.waitForTimeout(1500)
  await page.screenshot({ path: `${outDir}/${name}.${png(name) ? 'png' : 'jpg'}`, quality: png(name) ? undefined : 70 })
}
await browser.close()
