// <herald-inbox> in React (18 or 19). Load the element once, e.g. in index.html:
//   <script type="module" src="https://herald.example.com/herald-inbox.js"></script>
// Functions and events go through a ref: React passes only strings as attributes of a
// custom element before React 19, and never adds listeners for custom events.
import { useEffect, useRef } from 'react';

export function HeraldInbox({ server, getToken, onNotification, onUnreadChange, onOpen }) {
  const ref = useRef(null);

  useEffect(() => {
    ref.current.tokenProvider = getToken; // asked again whenever the token expires
  }, [getToken]);

  useEffect(() => {
    const element = ref.current;
    const handlers = {
      'herald-notification': (event) => onNotification?.(event.detail.notification),
      'herald-unread-change': (event) => onUnreadChange?.(event.detail.count),
      // href: data.url checked by the element (http(s), allowed origins); never data.url itself.
      'herald-click': (event) => onOpen?.(event.detail.notification, event.detail.href, event),
    };
    for (const [name, handler] of Object.entries(handlers)) element.addEventListener(name, handler);
    return () => {
      for (const [name, handler] of Object.entries(handlers)) element.removeEventListener(name, handler);
    };
  }, [onNotification, onUnreadChange, onOpen]);

  return <herald-inbox ref={ref} server={server} />;
}

// Use:
//   const getToken = useCallback(async () => (await fetch('/session/herald-token')).text(), []);
//   <HeraldInbox
//     server="https://herald.example.com"
//     getToken={getToken}
//     onOpen={(n, href) => href && location.assign(href)}
//   />
