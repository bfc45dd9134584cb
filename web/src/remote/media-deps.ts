// What remote media needs from the app: recorder calls through the tunnel (the session store's
// call: its errors carry the recorder's status) and the relay's signed links (the cloud
// account's session, which refreshes its token). Loaded lazily with the rest of remote media.
import { useRemote } from '../stores/remote'
import { useSession } from '../stores/session'
import type { MediaDeps } from './media'

export function mediaDeps(): MediaDeps {
  const session = useSession()
  const remote = useRemote()
  return {
    call: (method, path, body) => session.call(method, path, body),
    links: async (keys) => (await remote.cloud()).call('POST', '/media/links', { keys }),
  }
}
