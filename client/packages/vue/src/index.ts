// Vue 3 bindings for Herald over the @herald/client SDK (a peer: one copy in the app).
export { useConnectionState, useHeraldClient, useNotifications, useUnreadCount, type NotificationsView } from './composables.js';
export { HeraldInbox } from './herald-inbox.js';
export { createHerald, type HeraldOptions } from './plugin.js';
