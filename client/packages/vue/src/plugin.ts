import { cacheTokens, createHeraldClient, type HeraldClient, type TokenSource } from '@herald/client';
import { getCurrentInstance, inject, onBeforeUnmount, onMounted, type InjectionKey, type Plugin } from 'vue';

export interface HeraldOptions {
  /** Base URL of Herald, e.g. `https://herald.example.com`. */
  server: string;
  /**
   * Returns the signed-in user's Herald JWT, e.g. from your backend. One token is reused
   * until shortly before its `exp`; asked again then, and at once when Herald refuses it.
   */
  getToken: TokenSource;
  /**
   * The signed-in user's id (the token's `sub`). With it the tabs of this origin share one
   * stream (and share it with `<herald-inbox>` elements of the same user); without it each
   * tab opens its own.
   */
  user?: string;
}

/**
 * The app's link to Herald: one client, made when the first component that needs it mounts
 * in the browser and closed a tick after the last one unmounts. Never made on the server.
 */
export class HeraldConnection {
  readonly options: HeraldOptions;
  #client: HeraldClient | null = null;
  #users = 0;
  #closeTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(options: HeraldOptions) {
    this.options = options;
  }

  acquire(): HeraldClient {
    this.#users += 1;
    clearTimeout(this.#closeTimer);
    if (!this.#client) {
      const { server, getToken, user } = this.options;
      this.#client = createHeraldClient({
        url: server,
        getToken: cacheTokens(getToken),
        // The key <herald-inbox> shares its stream under: an element and the composables of one user use one stream.
        shareKey: user === undefined ? undefined : `herald-inbox ${new URL(server, location.href).toString()} ${user}`,
      });
      this.#client.stream.start();
    }
    return this.#client;
  }

  release(): void {
    this.#users -= 1;
    if (this.#users > 0) return;
    // A component replaced by another in the same update keeps the stream.
    this.#closeTimer = setTimeout(() => {
      this.#client?.stream.close();
      this.#client = null;
    }, 0);
  }
}

export const heraldKey: InjectionKey<HeraldConnection> = Symbol('herald');

/** `app.use(createHerald({ server, getToken }))`: the composables and `<HeraldInbox>` of this app then reach Herald. */
export function createHerald(options: HeraldOptions): Plugin {
  return {
    install(app) {
      app.provide(heraldKey, new HeraldConnection(options));
    },
  };
}

export function useConnection(composable: string): HeraldConnection {
  const connection = getCurrentInstance() ? inject(heraldKey, null) : null;
  if (!connection) throw new Error(`${composable}() needs app.use(createHerald(…)) and a component's setup()`);
  return connection;
}

/**
 * Holds the app's client while the calling component is mounted: `setup` gets it in
 * `onMounted` (never on the server) and lets it go before unmounting.
 */
export function whileMounted(composable: string, use: (client: HeraldClient) => (() => void) | void): void {
  const connection = useConnection(composable);
  let stop: (() => void) | void;
  let held = false;
  onMounted(() => {
    held = true;
    stop = use(connection.acquire());
  });
  onBeforeUnmount(() => {
    stop?.();
    if (held) connection.release();
    held = false;
  });
}
