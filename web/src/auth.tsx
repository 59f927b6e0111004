import { createContext, useCallback, useContext, useEffect, useMemo, useState } from "react";
import type { ReactNode } from "react";
import { useApolloClient, useQuery } from "@apollo/client/react";
import { graphql } from "./gql";
import type { MeQuery } from "./gql/graphql";
import { reconnectLiveUpdates, TOKEN_KEY, VISITOR_KEY } from "./apollo";
import { readStorage, writeStorage } from "./lib/storage";

export const MeDocument = graphql(`
  query Me {
    me {
      id
      username
      email
      role
      createdAt
    }
  }
`);

export type CurrentUser = NonNullable<MeQuery["me"]>;

export type AuthStatus = "loading" | "anonymous" | "signedIn";

interface AuthValue {
  status: AuthStatus;
  user: CurrentUser | null;
  signIn(token: string): Promise<void>;
  signOut(): Promise<void>;
}

const AuthContext = createContext<AuthValue | null>(null);

export function AuthProvider({ children }: { children: ReactNode }) {
  const client = useApolloClient();
  const [token, setToken] = useState<string | null>(() => readStorage(TOKEN_KEY));
  const { data, loading, error } = useQuery(MeDocument, { skip: !token });

  const signIn = useCallback(
    async (next: string) => {
      writeStorage(TOKEN_KEY, next);
      // The sign-in carried the visitor token: the visit's events now belong to the account.
      writeStorage(VISITOR_KEY, null);
      setToken(next);
      reconnectLiveUpdates();
      // Everything cached so far was for a visitor.
      await client.resetStore().catch(() => undefined);
    },
    [client],
  );

  const signOut = useCallback(async () => {
    writeStorage(TOKEN_KEY, null);
    setToken(null);
    reconnectLiveUpdates();
    await client.clearStore().catch(() => undefined);
  }, [client]);

  // A token the server no longer accepts (expired, or a new database) signs the visitor out.
  useEffect(() => {
    if (token && !loading && !error && data && data.me === null) void signOut();
  }, [token, loading, error, data, signOut]);

  // Another tab signed in or out.
  useEffect(() => {
    const onStorage = (event: StorageEvent) => {
      if (event.key === TOKEN_KEY && event.newValue !== token) {
        setToken(event.newValue);
        reconnectLiveUpdates();
        void client.resetStore().catch(() => undefined);
      }
    };
    window.addEventListener("storage", onStorage);
    return () => window.removeEventListener("storage", onStorage);
  }, [client, token]);

  const value = useMemo<AuthValue>(() => {
    const user = token ? (data?.me ?? null) : null;
    let status: AuthStatus = "anonymous";
    if (token && user) status = "signedIn";
    else if (token && (loading || !data) && !error) status = "loading";
    return { status, user, signIn, signOut };
  }, [token, data, loading, error, signIn, signOut]);

  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): AuthValue {
  const value = useContext(AuthContext);
  if (!value) throw new Error("useAuth must be used inside <AuthProvider>");
  return value;
}
