import { createPinia } from 'pinia'
import { createApp } from 'vue'
import App from './App.vue'
import { router } from './router'
import './style.css'

const SW_DELAY_MS = 1500

createApp(App).use(createPinia()).use(router).mount('#app')

if ('serviceWorker' in navigator && import.meta.env.PROD) {
  // The shell is cached so the app opens (and says the recorder is unreachable) offline.
  // Registered once the page has loaded and the wall had time to start: installing fetches the
  // whole shell (about 40 files) from the recorder, which on a first visit competed with the
  // live tiles' sockets for it (bench/web.py, first_frame_phases).
  const register = () => window.setTimeout(() => void navigator.serviceWorker.register('/sw.js', { scope: '/' }), SW_DELAY_MS)
  if (document.readyState === 'complete') register()
  else window.addEventListener('load', register, { once: true })
}
