import { createPinia } from 'pinia'
import { createApp } from 'vue'
import App from './App.vue'
import { router } from './router'
import './style.css'

createApp(App).use(createPinia()).use(router).mount('#app')

if ('serviceWorker' in navigator && import.meta.env.PROD) {
  // The shell is cached so the app opens (and says the recorder is unreachable) offline.
  void navigator.serviceWorker.register('/sw.js', { scope: '/' })
}
