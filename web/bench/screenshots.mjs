// Screenshots of the main views for docs/screenshots/ (run against a stack like bench/web.py's):
//   SKYCAM_URL=... SKYCAM_PASSWORD=... node bench/screenshots.mjs ../docs/screenshots [name...]
// (names: only those views; remote needs a stack with a relay, it creates an invitation;
// remote-wall also needs SKYCAM_RELAY: a fresh browser enrols by invitation and shows the wall
// through the relay)
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
if (process.env.SKYCAM_RELAY && (!only.length || only.includes('remote-wall'))) {
  // A fresh browser (no LAN login) enrols with an invitation made on the LAN API.
  const login = await fetch(`${url}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username: 'admin', password: process.env.SKYCAM_PASSWORD }),
  })
  const headers = { Authorization: `Bearer ${(await login.json()).access_token}`, 'Content-Type': 'application/json' }
  const made = await fetch(`${url}/api/v1/relay/invitations`, { method: 'POST', headers, body: JSON.stringify({ username: 'admin' }) })
  const { link } = await made.json()
  const remote = await browser.newPage({ viewport: { width: 1024, height: 640 } })
  await remote.goto(link)
  await remote.getByLabel('Email').fill(`screenshots-${Date.now()}@relay.local`)
  await remote.getByLabel('Password').fill('correct horse battery')
  await remote.getByRole('button', { name: 'Join' }).click()
  await remote.locator('h1', { hasText: 'Live' }).waitFor({ timeout: 60_000 })
  await remote.goto(`${process.env.SKYCAM_RELAY}/?layout=4`)
  for (const camera of ['cam1', 'cam2', 'cam3', 'cam4']) {
    await remote.locator(`figure.tile[data-camera="${camera}"][data-state="playing"]`).waitFor({ timeout: 90_000 })
  }
  await remote.waitForTimeout(2500) // a few seconds of video in every tile
  await remote.screenshot({ path: `${outDir}/remote-wall.jpg`, quality: 70 }) // video: JPEG
}
await browser.close()
