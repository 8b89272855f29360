import type { HeraldNotification, TokenSource } from '@herald/client';
import type { HeraldClickEventDetail, HeraldInboxElement } from '@herald/client/element';
import { defineComponent, getCurrentInstance, h, inject, onMounted, shallowRef, type PropType } from 'vue';
import { heraldKey } from './plugin.js';

/**
 * The drop-in bell and inbox panel: renders `<herald-inbox>` (loaded on mount; nothing on
 * the server or during hydration), gives it the token function and turns its DOM events
 * into Vue events: `notification`, `unread-change` and `open` (the notification and its
 * checked `href`: navigate to that, never to `data.url`; `event.preventDefault()` keeps it
 * unread). With `app.use(createHerald(…))` it needs no props. Other attributes
 * (`class`, `theme`, `allowed-origins`, `placement`) go to the element.
 */
export const HeraldInbox = defineComponent({
  name: 'HeraldInbox',
  props: {
    /** Base URL of Herald. Default: the one given to `createHerald`. */
    server: { type: String, default: undefined },
    /** Returns the user's Herald JWT. Default: the one given to `createHerald`. */
    getToken: { type: Function as PropType<TokenSource>, default: undefined },
  },
  emits: {
    notification: (_notification: HeraldNotification) => true,
    'unread-change': (_count: number) => true,
    open: (_notification: HeraldNotification, _href: string | undefined, _event: CustomEvent<HeraldClickEventDetail>) => true,
  },
  setup(props, { emit }) {
    const connection = getCurrentInstance() ? inject(heraldKey, null) : null;
    const mounted = shallowRef(false);
    onMounted(() => {
      mounted.value = true;
      void import('@herald/client/element');
    });
    const tokenProvider = (): Promise<string> | string => {
      const source = props.getToken ?? connection?.options.getToken;
      if (!source) throw new Error('<HeraldInbox> needs a get-token prop or app.use(createHerald(…))');
      return source();
    };
    // One function for the element's life: each new tokenProvider would restart its stream.
    // Set before the element's module has loaded it is an own property; the element adopts it when it upgrades.
    const adopt = (node: unknown): void => {
      if (node) (node as HeraldInboxElement).tokenProvider = tokenProvider;
    };
    const listeners = {
      onHeraldNotification: (event: CustomEvent<{ notification: HeraldNotification }>) => emit('notification', event.detail.notification),
      onHeraldUnreadChange: (event: CustomEvent<{ count: number }>) => emit('unread-change', event.detail.count),
      onHeraldClick: (event: CustomEvent<HeraldClickEventDetail>) => emit('open', event.detail.notification, event.detail.href, event),
    };
    return () =>
      mounted.value ? h('herald-inbox', { ref: adopt, server: props.server ?? connection?.options.server, ...listeners }) : null;
  },
});
