/// <reference types="vite/client" />
declare module '*.vue' {
  import type { DefineComponent } from 'vue'
  const component: DefineComponent<object, object, unknown>
  export default component
}
declare module 'hls.js/light' {
  // The light build has the same API as the full one (hls.js ships one set of types).
  import Hls from 'hls.js'
  export default Hls
}
