import { useUnreadCount } from '@herald/react';
import { countRender } from './render-count.js';

// Re-rendered only when the number changes, not when the list does.
export function UnreadBadge() {
  countRender('UnreadBadge');
  const count = useUnreadCount();
  return (
    <span className="unread-badge" aria-live="polite">
      <span data-testid="unread-count">{count ?? '…'}</span> unread
    </span>
  );
}
