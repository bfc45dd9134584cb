// The access token the service worker uses to fetch a notification's thumbnail. A push can
// arrive with no page open, so the worker cannot ask a page: the page keeps the current access
// token (short-lived, 15 min) in Cache Storage, which both sides can read. Never the refresh
// token: refresh tokens are single-use, a worker rotating one would log the page out. After
// the token expires the worker shows notifications without a picture.

export const TOKEN_CACHE = 'skycam-worker-token'
export const TOKEN_KEY = '/__skycam/worker-token'

export async function handTokenToWorker(token: string | null): Promise<void> {
  if (!('caches' in window) || !('serviceWorker' in navigator)) return
  try {
    const cache = await caches.open(TOKEN_CACHE)
    if (token) {
      await cache.put(TOKEN_KEY, new Response(token, { headers: { 'Content-Type': 'text/plain' } }))
    } else {
      await cache.delete(TOKEN_KEY)
    }
  } catch {
    // Cache Storage refused (private mode, quota): notifications simply have no picture.
  }
}
