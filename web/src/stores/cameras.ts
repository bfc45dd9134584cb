// The cameras this user may see, with live status from /api/v1/ws (and the motion events that
// socket announces, for views that list them).
import { defineStore } from 'pinia'
import { ref, watch } from 'vue'
import { RemoteTransport } from '../api/remote-transport'
import type { Camera, CameraStatus, MotionEvent } from '../api/types'
import { useRemote } from './remote'
import { useSession } from './session'

const CACHE_KEY = 'skycam.cameras'

function cached(): Camera[] {
  try {
    return JSON.parse(localStorage.getItem(CACHE_KEY) ?? '[]') as Camera[]
  } catch {
    return []
  }
}

export const useCameras = defineStore('cameras', () => {
  // The last list seen, so the wall's tiles connect at once on the next visit while the list is
  // fetched again (the server checks rights on every live socket anyway).
  const list = ref<Camera[]>(cached())
  const loaded = ref(false)
  const error = ref('')
  let socket: WebSocket | null = null
  let notices: Promise<() => void> | null = null // remote: the tunnel's realtime notices
  const eventListeners = new Set<(event: MotionEvent) => void>()

  // Remote: another recorder opened (the picker): its cameras, not the last one's, and its
  // tunnel's notices (the last tunnel is closed).
  watch(
    () => useRemote().current,
    () => {
      list.value = []
      loaded.value = false
      notices = null
      localStorage.removeItem(CACHE_KEY)
    },
  )

  async function load(): Promise<void> {
    const session = useSession()
    try {
      list.value = await session.call<Camera[]>('GET', '/cameras')
      localStorage.setItem(CACHE_KEY, JSON.stringify(list.value.map(({ id, name }) => ({ id, name, status: { state: '', reason: '' } }))))
      error.value = ''
    } catch (e) {
      error.value = e instanceof Error ? e.message : String(e)
    }
    loaded.value = true
    follow()
  }

  function onNotice(body: { type: string; camera_id?: string; event?: MotionEvent } & CameraStatus): void {
    if (body.type.startsWith('event.') && body.event) {
      for (const listener of eventListeners) listener(body.event)
      return
    }
    if (body.type !== 'camera.status') return
    const camera = list.value.find((c) => c.id === body.camera_id)
    if (camera) camera.status = { ...camera.status, state: body.state, reason: body.reason }
  }

  function follow(): void {
    const session = useSession()
    const transport = session.transport
    if (transport instanceof RemoteTransport) {
      notices ??= transport.subscribe((n) => onNotice(n as Parameters<typeof onNotice>[0]))
      notices.catch(() => (notices = null))
      return
    }
    if (socket || !session.token) return
    const ws = new WebSocket(transport.socketUrl('/ws'))
    socket = ws
    ws.onopen = () => ws.send(JSON.stringify({ type: 'auth', token: session.token }))
    ws.onmessage = (message) => onNotice(JSON.parse(String(message.data)))
    ws.onclose = () => {
      socket = null
      if (session.token) setTimeout(follow, 3000)
    }
  }

  function name(id: string): string {
    return list.value.find((c) => c.id === id)?.name ?? id
  }

  /** Call `listener` with every motion event started, updated or ended; returns the undo. */
  function onEvent(listener: (event: MotionEvent) => void): () => void {
    eventListeners.add(listener)
    follow()
    return () => eventListeners.delete(listener)
  }

  return { list, loaded, error, load, name, onEvent }
})
