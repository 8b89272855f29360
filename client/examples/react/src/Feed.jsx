import { useNotifications } from '@herald/react';
import { countRender } from './render-count.js';

const HOUR_MS = 3_600_000;

// A headless inbox: the markup is the app's own, the list and its actions are Herald's.
export function Feed() {
  countRender('Feed');
  const { items, loaded, hasMore, error, markRead, archive, snooze, readAll, loadMore } = useNotifications();
  // An action that fails (the network, an expired item) rejects: show it your way.
  const act = (action) => () => action().catch((err) => console.error(`Herald: ${err.message}`));

  if (!loaded) return <p>{error ? `Could not load notifications: ${error.message}` : 'Loading notifications…'}</p>;
  return (
    <section aria-labelledby="feed-title">
      <h2 id="feed-title">Notifications</h2>
      <button type="button" data-testid="mark-all-read" onClick={act(readAll)}>Mark all read</button>
      {items.length === 0 ? (
        <p data-testid="empty">Nothing here.</p>
      ) : (
        <ul>
          {items.map((n) => (
            <li key={n.id} data-testid="notification" data-status={n.status}>
              <strong>{n.title ?? n.type}</strong> {n.content}{' '}
              {n.status === 'unread' && (
                <button type="button" data-testid="mark-read" onClick={act(() => markRead(n.id))}>Mark read</button>
              )}
              <button type="button" data-testid="archive" onClick={act(() => archive(n.id))}>Archive</button>
              <button type="button" data-testid="snooze" onClick={act(() => snooze(n.id, new Date(Date.now() + HOUR_MS)))}>Snooze 1 h</button>
            </li>
          ))}
        </ul>
      )}
      {hasMore && <button type="button" data-testid="load-more" onClick={act(loadMore)}>Load more</button>}
    </section>
  );
}
