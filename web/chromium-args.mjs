// How Debian's Chromium runs headless here (../shared GUIDE): shared by the Playwright specs
// and bench/measure.mjs.
export const chromiumArgs = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-dev-shm-usage',
  '--autoplay-policy=no-user-gesture-required',
]
