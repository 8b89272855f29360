import { createHeraldClient, InboxState, type HeraldClient, type HeraldError, type InboxFilter } from '../../client/src/index.js';
import { InboxView, type PageFilter } from './inbox-view.js';
import { PreferencesPanel } from './preferences-panel.js';
import { PushToggle } from '../../client/src/view/push-toggle.js';
import { refreshRelativeTimes } from '../../client/src/view/relative-time.js';
import { currentSession, dropTokenFromUrl, mintDevToken, startSession, subjectOf, tokenFromFragment } from './token.js';

const PAGE_SIZE = 50;

/** What each filter button asks the server for. */
const FILTERS: Record<PageFilter, InboxFilter> = {
  all: { status: 'all' },
  unread: { status: 'unread' },
  snoozed: { status: 'snoozed' },
  archived: { status: 'all', archived: true },
};

async function start(): Promise<void> {
  const token = tokenFromFragment(location.hash);
  // Out of the address bar before anything else runs: history, session restore and a
  // copied URL must never carry the token.
  if (location.hash) dropTokenFromUrl();
  const session = await currentSession().catch(() => undefined);
  if (token) {
    // A link can carry anyone's token: before it replaces another user's session, ask.
    const linkUser = subjectOf(token);
    if (session && linkUser !== session.user && !(await confirmSwitch(session.user, linkUser ?? '(unknown)'))) {
      openInbox(null, session.user);
      return;
    }
    await signIn(token);
    return;
  }
  if (session) openInbox(null, session.user);
  else showLogin();
}

/**
 * Asks whether to leave `current`'s session for the link's `next` user, naming both: a link
 * from someone else would otherwise sign the victim into the sender's account, where what
 * they then read or write is the sender's. Staying is the default (focused, and Escape).
 */
function confirmSwitch(current: string, next: string): Promise<boolean> {
  const section = document.getElementById('switch') as HTMLElement;
  const stay = document.getElementById('switch-stay') as HTMLButtonElement;
  const go = document.getElementById('switch-go') as HTMLButtonElement;
  (document.getElementById('switch-to') as HTMLElement).textContent = next;
  (document.getElementById('switch-from') as HTMLElement).textContent = current;
  stay.textContent = `Stay signed in as ${current}`;
  go.textContent = `Switch to ${next}`;
  section.hidden = false;
  stay.focus();
  return new Promise((resolve) => {
    const answer = (switching: boolean) => {
      section.hidden = true;
      document.removeEventListener('keydown', onKey);
      resolve(switching);
    };
    const onKey = (event: KeyboardEvent) => { if (event.key === 'Escape') answer(false); };
    document.addEventListener('keydown', onKey);
    stay.addEventListener('click', () => answer(false), { once: true });
    go.addEventListener('click', () => answer(true), { once: true });
  });
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
  const { stream } = client;
  const state = new InboxState({ inbox: client.inbox, stream, pageSize: PAGE_SIZE });

  /** Runs one action; a refusal shows as the page's error, success clears it. */
  const act = (what: string, work: Promise<unknown>): void => {
    work
      .then(() => view.showError(undefined))
      .catch((err: unknown) => {
        view.showError(`Could not ${what}: ${describe(err)}`);
        view.enableActions();
      });
  };

  const view = new InboxView({
    setStatus: (id, status) => act(`mark it ${status}`, status === 'read' ? state.markRead(id) : state.markUnread(id)),
    archive: (id, archived) => act(archived ? 'archive it' : 'unarchive it', archived ? state.archive(id) : state.unarchive(id)),
    snooze: (id, choice) => act(choice ? 'snooze it' : 'wake it', state.snooze(id, choice ? choice.until(new Date()) : null)),
    readAll: () => act('mark all read', state.readAll()),
    loadMore: () => void state.loadMore(),
    showFilter: (filter) => {
      view.showFilter(filter);
      void state.setFilter(FILTERS[filter]);
    },
  });
  const preferences = new PreferencesPanel({
    load: async () => (await state.loadPreferences()).muted_types,
    save: async (mutedTypes) => {
      await state.setPreferences({ muted_types: mutedTypes });
    },
  });

  let shownMutes: string | undefined;
  state.on('change', (snapshot) => {
    view.render(snapshot);
    preferences.noteTypes(snapshot.items.map((item) => item.type));
    const mutes = snapshot.mutedTypes?.join('\n');
    if (snapshot.mutedTypes && mutes !== shownMutes) {
      shownMutes = mutes;
      preferences.show(snapshot.mutedTypes);
    }
  });
  state.on('arrived', (notification) => view.highlight(notification.id));
  state.on('error', (err) => view.showError(`Could not load the inbox: ${describe(err)}`));

  view.showState(stream.state === 'closed' ? 'connecting' : stream.state);
  stream.on('state', ({ newState }) => {
    view.showState(newState);
    if (newState === 'open') view.showError(undefined);
  });
  stream.on('error', (err: HeraldError) => {
    if (err.code === 'unauthorized' || err.code === 'forbidden') {
      view.showError('Your token was refused. Open the page with a fresh #token=… or sign in again.');
    }
  });
  const pushToggle = new PushToggle({ button: document.getElementById('push-toggle') as HTMLButtonElement, onError: (message) => view.showError(message) });
  void pushToggle.use(client.push);
  // The state refetches whenever the stream (re)opens or resets; it loads the first page now.
  void state.start();
  stream.start();
  // "3 min ago" stays true while the page is open.
  setInterval(() => refreshRelativeTimes(document.getElementById('list') as HTMLElement, Date.now()), 60_000);
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
