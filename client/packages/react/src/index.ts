// React bindings for Herald over the @herald/client SDK (a peer: one copy in the app).
export { HeraldInbox, type HeraldInboxProps } from './herald-inbox.js';
export { useConnectionState, useNotifications, useUnreadCount, type NotificationsView } from './hooks.js';
export { HeraldProvider, useHeraldClient, type HeraldProviderProps } from './provider.js';
