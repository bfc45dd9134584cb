import { createRouter, createWebHistory } from 'vue-router'
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
    { path: '/:rest(.*)', redirect: '/' },
  ],
})

router.beforeEach((to) => {
  const session = useSession()
  if (!to.meta.public && !session.user) return { name: 'login', query: { next: to.fullPath } }
  return true
})

router.afterEach((to) => {
  document.title = `${String(to.meta.title ?? '')} · SkyCam`
})
