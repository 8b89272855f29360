import { cacheTokens, createHeraldClient, type HeraldClient, type TokenSource } from '@herald/client';
import { createContext, createElement, useCallback, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from 'react';

export interface HeraldProviderProps {
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
   * tab opens its own. A new value starts a new client: pass the new user's id on sign-in.
   */
  user?: string;
  children?: ReactNode;
}

interface HeraldContextValue {
  server: string;
  getToken: TokenSource;
  /** Null on the server and until the provider has mounted in the browser. */
  client: HeraldClient | null;
}

export const HeraldContext = createContext<HeraldContextValue | null>(null);

/**
 * Connects the components below it to Herald: one client (a stream and the inbox API) made
 * when the provider mounts in the browser and closed when it unmounts. On the server it
 * makes nothing, so the hooks below render their empty values there.
 */
export function HeraldProvider({ server, getToken, user, children }: HeraldProviderProps): ReactNode {
  // The latest function is asked, so an inline `getToken` does not restart the stream.
  const latestGetToken = useRef(getToken);
  useEffect(() => {
    latestGetToken.current = getToken;
  });
  const stableGetToken = useCallback(() => latestGetToken.current(), []);
  const [client, setClient] = useState<HeraldClient | null>(null);
  useEffect(() => {
    const next = createHeraldClient({
      url: server,
      getToken: cacheTokens(stableGetToken),
      shareKey: user === undefined ? undefined : shareKey(server, user),
    });
    next.stream.start();
    setClient(next);
    return () => {
      next.stream.close();
      setClient(null);
    };
  }, [server, user, stableGetToken]);
  const value = useMemo(() => ({ server, getToken: stableGetToken, client }), [server, stableGetToken, client]);
  return createElement(HeraldContext.Provider, { value }, children);
}

/** The key `<herald-inbox>` shares its stream under, so an element and the hooks of one user use one stream. */
function shareKey(server: string, user: string): string {
  return `herald-inbox ${new URL(server, location.href).toString()} ${user}`;
}

export function useHeraldContext(hook: string): HeraldContextValue {
  const value = useContext(HeraldContext);
  if (!value) throw new Error(`${hook}() needs a <HeraldProvider> above it`);
  return value;
}

/**
 * The provider's client (`stream` and `inbox`), for anything the hooks do not cover; null
 * on the server and during the first render in the browser.
 */
export function useHeraldClient(): HeraldClient | null {
  return useHeraldContext('useHeraldClient').client;
}
