// The cameras this user may see, with live status from /api/v1/ws.
import { defineStore } from 'pinia'
import { ref } from 'vue'
import type { Camera, CameraStatus } from '../api/types'
import { useSession } from './session'

export const useCameras = defineStore('cameras', () => {
  const list = ref<Camera[]>([])
  const loaded = ref(false)
  const error = ref('')
  let socket: WebSocket | null = null

  async function load(): Promise<void> {
    const session = useSession()
    try {
      list.value = await session.call<Camera[]>('GET', '/cameras')
      error.value = ''
    } catch (e) {
      error.value = e instanceof Error ? e.message : String(e)
    }
    loaded.value = true
    follow()
  }

  function follow(): void {
    const session = useSession()
    if (socket || !session.token) return
    const ws = new WebSocket(session.transport.socketUrl('/ws'))
    socket = ws
    ws.onopen = () => ws.send(JSON.stringify({ type: 'auth', token: session.token }))
    ws.onmessage = (message) => {
      const body = JSON.parse(String(message.data)) as { type: string; camera_id?: string } & CameraStatus
      if (body.type !== 'camera.status') return
      const camera = list.value.find((c) => c.id === body.camera_id)
      if (camera) camera.status = { ...camera.status, state: body.state, reason: body.reason }
    }
    ws.onclose = () => {
      socket = null
      if (session.token) setTimeout(follow, 3000)
    }
  }

  function name(id: string): string {
    return list.value.find((c) => c.id === id)?.name ?? id
  }

  return { list, loaded, error, load, name }
})
