// Who is logged in, and every API call made on their behalf (with silent token refresh).
// On the LAN: a recorder user and its tokens. Remotely (the app served by the relay): the
// recorder user this browser is enrolled as, every call through the sealed tunnel (remote.ts).
import { defineStore } from 'pinia'
import { computed, ref, watch } from 'vue'
import { RemoteTransport } from '../api/remote-transport'
import { ApiError, LanTransport, type Transport, Unreachable } from '../api/transport'
import type { Login, User } from '../api/types'
import { handTokenToWorker } from '../push/worker-token'
import { useRemote } from './remote'

const STORE_KEY = 'skycam.session'

interface Saved {
  access: string
  refresh: string
  user: User
}

function load(): Saved | null {
  try {
    return JSON.parse(localStorage.getItem(STORE_KEY) ?? 'null') as Saved | null
  } catch {
    return null
  }
}

export const useSession = defineStore('session', () => {
  const remote = useRemote()
  const lan = new LanTransport()
  const tunnelled = new RemoteTransport(() => remote.tunnel())
  const transport = computed<Transport>(() => (remote.relay ? tunnelled : lan))
  const saved = ref<Saved | null>(load())
  const unreachable = ref(false)
  let refreshing: Promise<boolean> | null = null

  const user = computed(() => (remote.relay ? remote.user : (saved.value?.user ?? null)))
  const token = computed(() => (remote.relay ? null : (saved.value?.access ?? null)))
  const isAdmin = computed(() => user.value?.role === 'admin')
  // The service worker fetches notification thumbnails with the current access token.
  watch(token, (value) => void handTokenToWorker(value), { immediate: true })

  function keep(value: Saved | null): void {
    saved.value = value
    if (value) localStorage.setItem(STORE_KEY, JSON.stringify(value))
    else localStorage.removeItem(STORE_KEY)
  }

  async function login(username: string, password: string): Promise<void> {
    const body = await lan.request<Login>('POST', '/auth/login', null, { username, password })
    unreachable.value = false
    keep({ access: body.access_token, refresh: body.refresh_token, user: body.user })
  }

  async function refresh(): Promise<boolean> {
    const current = saved.value
    if (remote.relay || !current) return false // the tunnel keeps its own login on the recorder
    refreshing ??= lan
      .request<Login>('POST', '/auth/refresh', null, { refresh_token: current.refresh })
      .then((body) => {
        keep({ access: body.access_token, refresh: body.refresh_token, user: body.user })
        return true
      })
      .catch((error: unknown) => {
        if (error instanceof ApiError) keep(null)
        return false
      })
      .finally(() => {
        refreshing = null
      })
    return refreshing
  }

  async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
    try {
      const result = await transport.value.request<T>(method, path, token.value, body)
      unreachable.value = false
      return result
    } catch (error) {
      if (error instanceof Unreachable) unreachable.value = true
      if (error instanceof ApiError && error.status === 401 && (await refresh())) {
        return transport.value.request<T>(method, path, token.value, body)
      }
      throw error
    }
  }

  /** Remote: open the chosen recorder's tunnel and read who this device is there. */
  async function enterRecorder(rid: string): Promise<void> {
    remote.choose(rid)
    remote.keepUser(await tunnelled.request<User>('GET', '/auth/me', null))
    unreachable.value = false
  }

  async function logout(): Promise<void> {
    if (remote.relay) {
      await remote.signOut()
    } else {
      try {
        await lan.request('POST', '/auth/logout', token.value)
      } catch {
        // Logged out locally either way.
      }
      keep(null)
    }
    localStorage.removeItem('skycam.cameras')
  }

  /** Check the recorder answers (the offline shell shows when it does not). */
  async function probe(): Promise<void> {
    if (!user.value) return // logged out: the login form reports an unreachable recorder
    try {
      const me = await transport.value.request<User>('GET', '/auth/me', token.value)
      if (remote.relay) remote.keepUser(me)
      unreachable.value = false
    } catch (error) {
      unreachable.value = error instanceof Unreachable
      if (error instanceof ApiError && error.status === 401) {
        if (remote.relay) remote.keepUser(null)
        else await refresh()
      }
    }
  }

  return { transport, user, token, isAdmin, unreachable, login, logout, refresh, call, probe, enterRecorder }
})
