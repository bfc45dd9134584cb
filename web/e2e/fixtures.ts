// Shared fixtures: a console-error collector that fails any test whose page logged an error
// (unless the test says which errors it expects), and logging in.
import AxeBuilder from '@axe-core/playwright'
import { expect, test as base, type Page } from '@playwright/test'

export const password = process.env.SKYCAM_PASSWORD ?? ''
export const cameras = (process.env.SKYCAM_CAMERAS ?? 'cam1,cam2,cam3,cam4').split(',')
export const faulty = process.env.SKYCAM_FAULTY ?? ''

interface Fixtures {
  expectConsole: (pattern: RegExp) => void
}

export const test = base.extend<Fixtures>({
  expectConsole: [
    async ({ page }, use) => {
      const allowed: RegExp[] = []
      const errors: string[] = []
      page.on('console', (message) => {
        if (message.type() === 'error') errors.push(message.text())
      })
      page.on('pageerror', (error) => errors.push(`uncaught: ${error.message}`))
      await use((pattern) => allowed.push(pattern))
      const unexpected = errors.filter((text) => !allowed.some((p) => p.test(text)))
      expect(unexpected, 'console errors').toEqual([])
    },
    { auto: true },
  ],
})

export { expect }

export async function logIn(page: Page, next = '/'): Promise<void> {
  await page.goto(`/login?next=${encodeURIComponent(next)}`)
  await page.getByLabel('User name').fill('admin')
  await page.getByLabel('Password').fill(password)
  await page.getByRole('button', { name: 'Log in' }).click()
  await expect(page).not.toHaveURL(/\/login/)
}

/** Frames shown and media time advanced by a <video> over `ms` of wall time. */
export async function playbackOver(page: Page, selector: string, ms: number) {
  return page.locator(selector).evaluate(
    (video: HTMLVideoElement, ms) =>
      new Promise<{ frames: number; advanced: number; elapsed: number }>((resolve) => {
        let frames = 0
        const startTime = video.currentTime
        const started = performance.now()
        const count = () => {
          frames += 1
          video.requestVideoFrameCallback(count)
        }
        video.requestVideoFrameCallback(count)
        setTimeout(
          () => resolve({ frames, advanced: video.currentTime - startTime, elapsed: (performance.now() - started) / 1000 }),
          ms,
        )
      }),
    ms,
  )
}

export async function seriousViolations(page: Page): Promise<string[]> {
  const results = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze()
  return results.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`)
}
