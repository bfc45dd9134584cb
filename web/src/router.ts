import { createRouter, createWebHistory } from 'vue-router'
import { useRemote } from './stores/remote'
import { useSession } from './stores/session'
import LoginView from './views/LoginView.vue'
import WallView from './views/WallView.vue'

export const router = createRouter({
  history: createWebHistory(),
  routes: [
    { path: '/login', name: 'login', component: LoginView, meta: { title: 'Log in', public: true } },
    { path: '/', name: 'wall', component: WallView, meta: { title: 'Live' } },
    {
      path: '/camera/:id',
      name: 'camera',
      component: () => import('./views/CameraView.vue'),
      meta: { title: 'Camera' },
    },
    {
      path: '/timeline/:id?',
      name: 'timeline',
      component: () => import('./views/TimelineView.vue'),
      meta: { title: 'Timeline' },
    },
    {
      path: '/playback',
      name: 'playback',
      component: () => import('./views/PlaybackWall.vue'),
      meta: { title: 'Playback wall' },
    },
    { path: '/events', name: 'events', component: () => import('./views/EventsView.vue'), meta: { title: 'Events' } },
    { path: '/clips', name: 'clips', component: () => import('./views/ClipsView.vue'), meta: { title: 'Clips' } },
    {
      path: '/settings',
      name: 'settings',
      component: () => import('./views/SettingsView.vue'),
      meta: { title: 'Settings' },
    },
    {
      path: '/settings/notifications',
      name: 'notifications',
      component: () => import('./views/NotificationsView.vue'),
      meta: { title: 'Notifications' },
    },
    {
      path: '/settings/remote',
      name: 'remote',
      component: () => import('./views/RemoteAccessView.vue'),
      meta: { title: 'Remote access' },
    },
    { path: '/audit', name: 'audit', component: () => import('./views/AuditView.vue'), meta: { title: 'Audit log' } },
    // Remote mode (the app served by the relay): enrolment by invitation, the relay's console.
    { path: '/join', name: 'join', component: () => import('./views/JoinView.vue'), meta: { title: 'Join', public: true } },
    {
      path: '/console',
      name: 'console',
      component: () => import('./views/ConsoleView.vue'),
      meta: { title: 'Relay console', cloud: true },
    },
    { path: '/:rest(.*)', redirect: '/' },
  ],
})

router.beforeEach((to) => {
  // An invitation link is {relay}/#/join?...: its secret stays in the fragment, never sent.
  if (to.name !== 'join' && to.hash.startsWith('#/join?')) return { name: 'join', hash: to.hash, replace: true }
  if (to.meta.cloud) return useRemote().account ? true : { name: 'login', query: { next: to.fullPath } }
  const session = useSession()
  if (!to.meta.public && !session.user) return { name: 'login', query: { next: to.fullPath } }
  return true
})

router.afterEach((to) => {
  document.title = `${String(to.meta.title ?? '')} · SkyCam`
})
