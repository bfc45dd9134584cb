// The cloud credentials the service worker uses, in remote mode, to get a signed link for a
// push's sealed thumbnail (POST /v1/media/links needs the cloud account's access token). A push
// comes when no page is open, and a worker cannot read localStorage, so they live in IndexedDB
// (`skycam-worker`/`cloud`, this origin only: the relay's), written by the page at sign-in and
// deleted at sign-out.
//
// The worker has a token pair of its own, not the page's: refresh tokens are single-use and a
// reused one revokes every token of the account (cloud/chalicelib/accounts), so a worker rotating
// the page's pair would sign the page out. The page signs in a second time for it (it holds the
// password only then), and the worker alone rotates that pair, under a Web Lock so two pushes
// at once never spend the same refresh token.

const DB = 'skycam-worker'
const STORE = 'cloud'
const KEY = 'tokens'
const LOCK = 'skycam-worker-cloud'
const MARGIN_S = 30 // an access token this close to its expiry is refreshed first

export interface WorkerCloud {
  account: string // the cloud account's id (the page checks it is still the one signed in)
  access_token: string
  refresh_token: string
  expires_at: number // of the access token, Unix seconds
}

function open(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DB, 1)
    request.onupgradeneeded = () => request.result.createObjectStore(STORE)
    request.onsuccess = () => resolve(request.result)
    request.onerror = () => reject(request.error)
  })
}

async function run<T>(mode: IDBTransactionMode, act: (store: IDBObjectStore) => IDBRequest): Promise<T> {
  const db = await open()
  try {
    return await new Promise<T>((resolve, reject) => {
      const request = act(db.transaction(STORE, mode).objectStore(STORE))
      request.onsuccess = () => resolve(request.result as T)
      request.onerror = () => reject(request.error)
    })
  } finally {
    db.close()
  }
}

export async function loadWorkerCloud(): Promise<WorkerCloud | null> {
  return (await run<WorkerCloud | undefined>('readonly', (s) => s.get(KEY))) ?? null
}

/** Keep (or, with null, forget) the worker's credentials. */
export async function storeWorkerCloud(value: WorkerCloud | null): Promise<void> {
  await run('readwrite', (s) => (value ? s.put(value, KEY) : s.delete(KEY)))
}

type Answer = { access_token: string; refresh_token: string; expires_at: number; account: { id: string } }

function withLock<T>(act: () => Promise<T>): Promise<T> {
  const locks = (globalThis.navigator as Navigator | undefined)?.locks
  return locks ? (locks.request(LOCK, act) as Promise<T>) : act()
}

/** A valid access token of the worker's pair (refreshed when near its expiry; a refused refresh
 * forgets the pair), or null when there is none. `origin`: the relay's (the worker's own). */
export function workerAccessToken(origin: string, signal?: AbortSignal): Promise<string | null> {
  return withLock(async () => {
    const kept = await loadWorkerCloud()
    if (!kept) return null
    if (kept.expires_at - MARGIN_S > Date.now() / 1000) return kept.access_token
    const response = await fetch(`${origin}/v1/auth/refresh`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ refresh_token: kept.refresh_token }),
      cache: 'no-store',
      signal,
    })
    if (response.status >= 400 && response.status < 500) {
      await storeWorkerCloud(null) // spent, revoked or the account disabled: it will not work again
      return null
    }
    if (!response.ok) return null
    const fresh = (await response.json()) as Answer
    await storeWorkerCloud({ account: kept.account, access_token: fresh.access_token, refresh_token: fresh.refresh_token, expires_at: fresh.expires_at })
    return fresh.access_token
  })
}

/** The page, at sign-out: revoke the worker's refresh token at the relay and forget the pair. */
export async function dropWorkerCloud(origin: string): Promise<void> {
  await withLock(async () => {
    const kept = await loadWorkerCloud().catch(() => null)
    if (!kept) return
    await storeWorkerCloud(null)
    await revoke(origin, kept.refresh_token)
  }).catch(() => undefined)
}

/** The page, at sign-in: a pair for the worker (a second login), kept for its account; the
 * pair it replaces (an earlier sign-in) is revoked at the relay. */
export async function handCloudToWorker(origin: string, tokens: Answer): Promise<void> {
  const replaced = await withLock(async () => {
    const kept = await loadWorkerCloud().catch(() => null)
    await storeWorkerCloud({ account: tokens.account.id, access_token: tokens.access_token, refresh_token: tokens.refresh_token, expires_at: tokens.expires_at })
    return kept
  })
  if (replaced && replaced.refresh_token !== tokens.refresh_token) await revoke(origin, replaced.refresh_token)
}

async function revoke(origin: string, refreshToken: string): Promise<void> {
  await fetch(`${origin}/v1/auth/logout`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ refresh_token: refreshToken }),
    cache: 'no-store',
  }).catch(() => null)
}
