// Remote mode (the app served by the relay): the cloud account, the recorders this browser is
// enrolled with, which one is in use, and its tunnel. The remote code (cloud REST, Noise,
// relay client) is loaded only here, lazily: the LAN never loads it.
import { defineStore } from 'pinia'
import { computed, ref, shallowRef } from 'vue'
import type { User } from '../api/types'
import type { CloudSession, CloudTokens } from '../remote/cloud'
import type { Invitation } from '../remote/session'
import type { Tunnel } from '../remote/tunnel'

const STORE_KEY = 'skycam.remote'
const RELAY_INFO = '/.well-known/skycam-relay'

/** What the relay that served this page says about itself (cloud/local/web.py). */
export interface RelayInfo {
  websocket: string // the relay's WebSocket URL (another endpoint than its REST API, as on AWS)
  max_connection_s: number // the connection cap (API Gateway: 2 h); the device rolls over before it
}

/** The relay this page was served by, or null on a recorder (the LAN), which answers that path
 * with its HTML shell. Here, not in the lazy remote code: the LAN login page asks it. */
async function relayInfo(): Promise<RelayInfo | null> {
  try {
    const response = await fetch(RELAY_INFO, { cache: 'no-store' })
    if (!response.ok || !response.headers.get('content-type')?.includes('json')) return null
    const body = (await response.json()) as Partial<RelayInfo>
    if (typeof body.websocket !== 'string') return null
    return { websocket: body.websocket, max_connection_s: Number(body.max_connection_s) || 7200 }
  } catch {
    return null
  }
}

/** A recorder this browser enrolled with (the recorder's static key came in the invitation). */
export interface EnrolledRecorder {
  rid: string
  rpk: string // base64url X25519 public key
  account: string // the cloud account that enrolled this browser (the recorder checks it)
  user: string // the recorder user the device acts as
}

interface Saved {
  relay: RelayInfo | null
  tokens: CloudTokens | null
  recorders: EnrolledRecorder[]
  current: string | null
  user: User | null // the recorder user of the current recorder (the views' `session.user`)
}

function load(): Saved {
  try {
    const saved = JSON.parse(localStorage.getItem(STORE_KEY) ?? 'null') as Saved | null
    if (saved) return saved
  } catch {
    // a damaged entry: start again
  }
  return { relay: null, tokens: null, recorders: [], current: null, user: null }
}

export const useRemote = defineStore('remote', () => {
  const saved = ref<Saved>(load())
  const granted = ref<string[] | null>(null) // rids the relay grants the account, once asked
  const tunnelRef = shallowRef<Tunnel | null>(null)
  let cloudSession: CloudSession | null = null

  const relay = computed(() => saved.value.relay)
  const account = computed(() => saved.value.tokens?.account ?? null)
  const isRelayAdmin = computed(() => account.value?.role === 'relay_admin')
  const user = computed(() => saved.value.user)
  const current = computed(() => saved.value.current)
  /** Recorders this browser may open as the signed-in account. */
  const choices = computed(() =>
    saved.value.recorders.filter((r) => r.account === account.value?.id && (granted.value === null || granted.value.includes(r.rid))),
  )

  function persist(): void {
    localStorage.setItem(STORE_KEY, JSON.stringify(saved.value))
  }

  function keepTokens(tokens: CloudTokens | null): void {
    saved.value = { ...saved.value, tokens, ...(tokens ? {} : { user: null, current: null }) }
    if (!tokens) {
      dropTunnel()
      // Signed out (or the account's tokens refused): the service worker's pair goes too.
      void import('../push/worker-cloud').then((w) => w.dropWorkerCloud(location.origin))
    }
    persist()
  }

  /** Whether this page came from a relay (it describes itself at RELAY_INFO; a recorder does not). */
  async function detect(): Promise<boolean> {
    const info = await relayInfo()
    if (info) {
      saved.value = { ...saved.value, relay: info }
      persist()
    }
    return info !== null
  }

  async function cloud(): Promise<CloudSession> {
    const tokens = saved.value.tokens
    if (!tokens) throw new Error('not signed in to a cloud account')
    if (!cloudSession || cloudSession.tokens.refresh_token !== tokens.refresh_token) {
      const { CloudSession } = await import('../remote/cloud')
      cloudSession = new CloudSession(tokens, keepTokens)
    }
    return cloudSession
  }

  async function signIn(email: string, password: string, invitation?: string): Promise<void> {
    const api = await import('../remote/cloud')
    if (invitation) await api.signup(email, password, invitation)
    const tokens = await api.login(email, password)
    keepTokens(tokens)
    void handWorkerItsOwnLogin(email, password, tokens.account.id)
    await refreshGrants()
  }

  /** The service worker fetches push thumbnails with a token pair of its own (a second login,
   * push/worker-cloud.ts): not the page's, whose single-use refresh token it must not spend.
   * In the background: a sign-in does not wait for it, and without it pushes show no picture. */
  async function handWorkerItsOwnLogin(email: string, password: string, account: string): Promise<void> {
    try {
      const [api, worker] = await Promise.all([import('../remote/cloud'), import('../push/worker-cloud')])
      const pair = await api.login(email, password)
      if (saved.value.tokens?.account.id === account) await worker.handCloudToWorker(location.origin, pair)
      else await api.logoutToken(pair.refresh_token) // signed out meanwhile
    } catch {
      // No picture in this browser's notifications until the next sign-in.
    }
  }

  async function refreshGrants(): Promise<void> {
    granted.value = (await (await cloud()).me()).recorders
  }

  async function tunnel(): Promise<Tunnel> {
    if (tunnelRef.value) return tunnelRef.value
    const rid = saved.value.current
    const recorder = saved.value.recorders.find((r) => r.rid === rid)
    if (!recorder || !saved.value.relay) throw new Error('no recorder chosen')
    const [{ Tunnel }, { unb64url }, session] = await Promise.all([import('../remote/tunnel'), import('../remote/bytes'), cloud()])
    if (tunnelRef.value) return tunnelRef.value
    const made = new Tunnel(saved.value.relay, session, recorder.rid, unb64url(recorder.rpk))
    tunnelRef.value = made
    ;(window as unknown as { skycamTunnel?: Tunnel }).skycamTunnel = made // read by the browser tests
    return made
  }

  function dropTunnel(): void {
    tunnelRef.value?.close()
    tunnelRef.value = null
  }

  /** Use `rid` from now on; `user` is then read through its tunnel by the caller. */
  function choose(rid: string): void {
    if (saved.value.current !== rid) dropTunnel()
    saved.value = { ...saved.value, current: rid, user: null }
    persist()
  }

  function keepUser(value: User | null): void {
    saved.value = { ...saved.value, user: value }
    persist()
  }

  /** Enrol this browser with an invitation, as the signed-in account; the recorder becomes current. */
  async function enroll(invitation: Invitation): Promise<void> {
    const [{ enroll: enrollDevice }, { b64url }, session] = await Promise.all([import('../remote/tunnel'), import('../remote/bytes'), cloud()])
    const enrolled = await enrollDevice(saved.value.relay!, session, invitation)
    const entry: EnrolledRecorder = { rid: invitation.rid, rpk: b64url(invitation.rpk), account: session.account.id, user: enrolled.user }
    const others = saved.value.recorders.filter((r) => !(r.rid === entry.rid && r.account === entry.account))
    saved.value = { ...saved.value, recorders: [...others, entry] }
    granted.value = null
    choose(invitation.rid)
  }

  async function signOut(): Promise<void> {
    dropTunnel()
    const session = saved.value.tokens ? await cloud().catch(() => null) : null
    await session?.logout()
    keepTokens(null)
  }

  return {
    relay,
    account,
    isRelayAdmin,
    user,
    current,
    choices,
    granted,
    detect,
    cloud,
    signIn,
    refreshGrants,
    tunnel,
    choose,
    keepUser,
    enroll,
    signOut,
  }
})
