// Notification ids. UUIDv7 text sorts by creation time, so the ids of a batch land together
// at the end of the id index: with random (v4) ids, a publish to 1000 recipients dirtied
// about one index page per row, and the commit had to write every one of them.
import { v7 } from 'uuid';

export function newNotificationId(): string {
  return v7();
}
