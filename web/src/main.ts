import { createHeraldClient, type HeraldClient, type HeraldError } from '../../client/src/index.js';
import { InboxView } from './inbox-view.js';
import { currentSession, dropTokenFromUrl, mintDevToken, startSession, subjectOf, tokenFromFragment } from './token.js';

const PAGE_SIZE = 50;

async function start(): Promise<void> {
  const token = tokenFromFragment(location.hash);
  // Out of the address bar before anything else runs: history, session restore and a
  // copied URL must never carry the token.
  if (location.hash) dropTokenFromUrl();
  if (token) {
    await signIn(token);
    return;
  }
  const session = await currentSession().catch(() => undefined);
  if (session) openInbox(null, session.user);
  else showLogin();
}

/**
 * Trades the token for the HttpOnly session cookie (what a reload uses) and keeps it in
 * memory for this page's requests; it is never written to the URL or to storage.
 */
async function signIn(token: string): Promise<void> {
  await startSession(token).catch(() => undefined);
  openInbox(token, subjectOf(token));
}

function showLogin(): void {
  const login = document.getElementById('login') as HTMLElement;
  const form = document.getElementById('login-form') as HTMLFormElement;
  const input = document.getElementById('user-name') as HTMLInputElement;
  const state = document.querySelector('[data-testid="connection-state"]') as HTMLElement;
  state.textContent = 'closed';
  state.dataset.state = 'closed';
  login.hidden = false;
  input.focus();
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const submit = form.querySelector('button') as HTMLButtonElement;
    submit.disabled = true;
    mintDevToken(input.value.trim())
      .then(async (token) => {
        login.hidden = true;
        await signIn(token);
      })
      .catch((err: unknown) => {
        submit.disabled = false;
        let note = form.querySelector<HTMLElement>('.error');
        if (!note) {
          note = document.createElement('p');
          note.className = 'error';
          note.setAttribute('role', 'alert');
          form.append(note);
        }
        note.textContent = err instanceof Error ? err.message : String(err);
      });
  });
}

/** Opens the inbox with `token`, or with the session cookie alone when it is null. */
function openInbox(token: string | null, user: string | undefined): void {
  (document.getElementById('user') as HTMLElement).textContent = user ?? '';
  (document.getElementById('inbox') as HTMLElement).hidden = false;

  const client: HeraldClient = createHeraldClient({
    url: new URL('.', location.href).toString(),
    ...(token ? { getToken: () => token } : {}),
    shareKey: user ?? 'anonymous',
  });
  let nextCursor: string | null = null;
  let refetching: Promise<void> | undefined;

  const view = new InboxView({
    setStatus: (id, status) => {
      const call = status === 'read' ? client.inbox.markRead(id) : client.inbox.markUnread(id);
      call
        .then((change) => {
          view.upsert(change.notification);
          view.showUnread(change.unread_count);
          view.showError(undefined);
        })
        .catch((err: unknown) => view.showError(`Could not mark it ${status}: ${describe(err)}`));
    },
    readAll: () => {
      client.inbox
        .readAll()
        .then((body) => {
          view.applyUpdate({ ids: [], status: 'read', archived: null, seen: null, all: true, unread_count: body.unread_count, notification: null });
          view.showError(undefined);
        })
        .catch((err: unknown) => view.showError(`Could not mark all read: ${describe(err)}`));
    },
    loadMore: () => {
      if (!nextCursor) return;
      client.inbox
        .list({ limit: PAGE_SIZE, cursor: nextCursor })
        .then((page) => {
          for (const item of page.items) view.upsert(item);
          nextCursor = page.next_cursor;
          view.loaded(nextCursor !== null);
        })
        .catch((err: unknown) => view.showError(`Could not load more: ${describe(err)}`));
    },
  });

  /** Fetches the first page and merges it: the server's statuses win, live arrivals stay. */
  const refetch = (): Promise<void> => {
    refetching ??= client.inbox
      .list({ limit: PAGE_SIZE })
      .then((page) => {
        for (const item of page.items) view.upsert(item);
        nextCursor ??= page.next_cursor;
        view.showUnread(page.unread_count);
        view.loaded(nextCursor !== null);
        view.showError(undefined);
      })
      .catch((err: unknown) => {
        view.loaded(false);
        view.showError(`Could not load the inbox: ${describe(err)}`);
      })
      .finally(() => {
        refetching = undefined;
      });
    return refetching;
  };

  const { stream } = client;
  view.showState(stream.state === 'closed' ? 'connecting' : stream.state);
  stream.on('state', ({ newState }) => view.showState(newState));
  stream.on('notification', (n) => {
    view.upsert(n, true);
    view.showUnread(n.unread_count);
  });
  stream.on('notification.updated', (update) => view.applyUpdate(update));
  // Read status changes are not replayed on resume, so refetch whenever a stream (re)opens.
  stream.on('ready', (ready) => {
    view.showUnread(ready.unread_count);
    void refetch();
  });
  stream.on('reset', () => void refetch());
  stream.on('error', (err: HeraldError) => {
    if (err.code === 'unauthorized' || err.code === 'forbidden') {
      view.showError('Your token was refused. Open the page with a fresh #token=… or sign in again.');
    }
  });
  stream.on('state', ({ newState }) => {
    if (newState === 'open') view.showError(undefined);
  });
  stream.start();
  void refetch();
  // Hand the stream to another tab at once; restart if the page comes back from the bfcache.
  addEventListener('pagehide', () => stream.close());
  addEventListener('pageshow', (event) => {
    if (event.persisted) stream.start();
  });
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

void start();
