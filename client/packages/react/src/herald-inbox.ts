import type { HeraldNotification, TokenSource } from '@herald/client';
import type { HeraldClickEventDetail, HeraldInboxElement } from '@herald/client/element';
import {
  createElement,
  forwardRef,
  useCallback,
  useContext,
  useEffect,
  useRef,
  useSyncExternalStore,
  type ForwardedRef,
  type HTMLAttributes,
} from 'react';
import { HeraldContext } from './provider.js';

export interface HeraldInboxProps extends HTMLAttributes<HTMLElement> {
  /** Base URL of Herald. Default: the `<HeraldProvider>`'s. */
  server?: string;
  /** Returns the user's Herald JWT. Default: the `<HeraldProvider>`'s. */
  getToken?: TokenSource;
  /** A notification arrived live. */
  onNotification?: (notification: HeraldNotification) => void;
  /** The unread count, first when known, then on every change. */
  onUnreadChange?: (count: number) => void;
  /**
   * An item was clicked. `href` is its `data.url` checked by the element (http or https,
   * within `allowedOrigins` when set), else undefined: navigate to it, never to `data.url`.
   * `event.preventDefault()` keeps the item unread.
   */
  onOpen?: (notification: HeraldNotification, href: string | undefined, event: CustomEvent<HeraldClickEventDetail>) => void;
  /** The element's `allowed-origins` attribute, e.g. `"self https://docs.example.com"`. */
  allowedOrigins?: string;
  /** Forces a colour scheme; default: the user's `prefers-color-scheme`. */
  theme?: 'light' | 'dark';
}

const subscribeNothing = (): (() => void) => () => {};

/**
 * The drop-in bell and inbox panel: renders `<herald-inbox>` (loaded on mount; nothing on
 * the server or during hydration), gives it the token function and turns its DOM events
 * into callbacks. Inside a `<HeraldProvider>` it needs no props. Other props (`className`,
 * `style`, `id`, attributes the element knows such as `placement`) go to the element.
 */
export const HeraldInbox = forwardRef(function HeraldInbox(props: HeraldInboxProps, forwarded: ForwardedRef<HTMLElement>) {
  const { server, getToken, onNotification, onUnreadChange, onOpen, allowedOrigins, ...attributes } = props;
  const herald = useContext(HeraldContext);
  const inBrowser = useSyncExternalStore(subscribeNothing, () => true, () => false);
  // The element keeps one token function and one listener per event for its whole life;
  // they call whatever the latest props are.
  const latest = useRef({ getToken: getToken ?? herald?.getToken, onNotification, onUnreadChange, onOpen });
  useEffect(() => {
    latest.current = { getToken: getToken ?? herald?.getToken, onNotification, onUnreadChange, onOpen };
  });
  const element = useRef<HeraldInboxElement | null>(null);
  const setElement = useCallback(
    (node: HTMLElement | null) => {
      element.current = node as HeraldInboxElement | null;
      if (typeof forwarded === 'function') forwarded(node);
      else if (forwarded) forwarded.current = node;
    },
    [forwarded],
  );

  useEffect(() => {
    void import('@herald/client/element');
  }, []);

  useEffect(() => {
    const node = element.current;
    if (!node) return undefined;
    // Set before the element's module has loaded it is an own property; the element adopts it when it upgrades.
    node.tokenProvider = () => {
      const source = latest.current.getToken;
      if (!source) throw new Error('<HeraldInbox> needs a getToken prop or a <HeraldProvider> above it');
      return source();
    };
    const handlers: Record<string, (event: Event) => void> = {
      'herald-notification': (event) => latest.current.onNotification?.((event as CustomEvent<{ notification: HeraldNotification }>).detail.notification),
      'herald-unread-change': (event) => latest.current.onUnreadChange?.((event as CustomEvent<{ count: number }>).detail.count),
      'herald-click': (event) => {
        const click = event as CustomEvent<HeraldClickEventDetail>;
        latest.current.onOpen?.(click.detail.notification, click.detail.href, click);
      },
    };
    for (const [name, handler] of Object.entries(handlers)) node.addEventListener(name, handler);
    return () => {
      for (const [name, handler] of Object.entries(handlers)) node.removeEventListener(name, handler);
    };
  }, [inBrowser]);

  if (!inBrowser) return null;
  return createElement('herald-inbox', {
    ...attributes,
    ref: setElement,
    server: server ?? herald?.server,
    'allowed-origins': allowedOrigins,
  });
});
