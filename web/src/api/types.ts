// Shapes of the recorder API's answers (docs/ref/api.md), as far as the app reads them.

export type Role = 'admin' | 'operator' | 'viewer'
export type Right = 'live' | 'playback' | 'export' | 'ptz'

export interface User {
  id: number
  username: string
  role: Role
  disabled?: boolean
  rights?: Record<string, Right[]>
}

export interface Login {
  access_token: string
  refresh_token: string
  expires_in: number
  user: User
}

export interface CameraStatus {
  state: string
  reason: string
  width?: number | null
  height?: number | null
  fps?: number | null
}

export interface Camera {
  id: string
  name: string
  enabled: boolean
  record_mode: string
  retention_days?: number | null
  rights?: Right[]
  status: CameraStatus
  sub_url?: string | null
  main_url?: string
  motion?: MotionSettings
  onvif?: { host: string | null; port: number }
}

export interface MotionZone {
  name: string
  points: Array<[number, number]> // fractions of the frame, origin top left
  kind: 'include' | 'exclude'
}

export interface MotionSettings {
  source: string
  zones: MotionZone[]
  [setting: string]: unknown
}

export interface Run {
  start_ms: number
  end_ms: number
}

export interface EventSummary {
  id: number
  start_ms: number
  end_ms: number | null
  score: number
  has_thumbnail: boolean
}

export interface Bucket {
  start_ms: number
  end_ms: number
  recorded_ms: number
  motion_ms: number // time covered by motion events
  events: number // events starting in it
}

export interface Timeline {
  runs: Run[]
  gaps?: Run[]
  buckets?: Bucket[]
  events: EventSummary[]
}

export interface MotionEvent extends EventSummary {
  camera_id: string
  source: string
  zones: string[]
  record_start_ms: number
  record_end_ms: number
}

export interface EventPage {
  events: MotionEvent[]
  next_cursor: string | null
}

export interface Clip {
  id: number
  camera_id: string
  name: string
  start_ms: number
  end_ms: number
  status: 'pending' | 'running' | 'ready' | 'failed'
  progress: number
  bytes: number
  error: string
}

export interface AuditEntry {
  id: number
  at_ms: number
  actor: string
  action: string
  camera_id: string | null
  target: string
  outcome: string
  client: string
}

export interface CameraGroup {
  name: string
  layout: number
  cameras: string[]
}
