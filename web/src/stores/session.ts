// Who is logged in, and every API call made on their behalf (with silent token refresh).
import { defineStore } from 'pinia'
import { computed, ref, watch } from 'vue'
import { ApiError, LanTransport, type Transport, Unreachable } from '../api/transport'
import type { Login, User } from '../api/types'
import { handTokenToWorker } from '../push/worker-token'

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
  const transport: Transport = new LanTransport()
  const saved = ref<Saved | null>(load())
  const unreachable = ref(false)
  let refreshing: Promise<boolean> | null = null

  const user = computed(() => saved.value?.user ?? null)
  const token = computed(() => saved.value?.access ?? null)
  const isAdmin = computed(() => saved.value?.user.role === 'admin')
  // The service worker fetches notification thumbnails with the current access token.
  watch(token, (value) => void handTokenToWorker(value), { immediate: true })

  function keep(value: Saved | null): void {
    saved.value = value
    if (value) localStorage.setItem(STORE_KEY, JSON.stringify(value))
    else localStorage.removeItem(STORE_KEY)
  }

  async function login(username: string, password: string): Promise<void> {
    const body = await transport.request<Login>('POST', '/auth/login', null, { username, password })
    unreachable.value = false
    keep({ access: body.access_token, refresh: body.refresh_token, user: body.user })
  }

  async function refresh(): Promise<boolean> {
    const current = saved.value
    if (!current) return false
    refreshing ??= transport
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
      const result = await transport.request<T>(method, path, token.value, body)
      unreachable.value = false
      return result
    } catch (error) {
      if (error instanceof Unreachable) unreachable.value = true
      if (error instanceof ApiError && error.status === 401 && (await refresh())) {
        return transport.request<T>(method, path, token.value, body)
      }
      throw error
    }
  }

  async function logout(): Promise<void> {
    try {
      await transport.request('POST', '/auth/logout', token.value)
    } catch {
      // Logged out locally either way.
    }
    keep(null)
    localStorage.removeItem('skycam.cameras')
  }

  /** Check the recorder answers (the offline shell shows when it does not). */
  async function probe(): Promise<void> {
    if (!token.value) return // logged out: the login form reports an unreachable recorder
    try {
      await transport.request('GET', '/auth/me', token.value)
      unreachable.value = false
    } catch (error) {
      unreachable.value = error instanceof Unreachable
      if (error instanceof ApiError && error.status === 401) await refresh()
    }
  }

  return { transport, user, token, isAdmin, unreachable, login, logout, refresh, call, probe }
})
