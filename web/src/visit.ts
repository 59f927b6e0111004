import type { ApolloClient } from "@apollo/client";
import { CombinedGraphQLErrors, ServerError } from "@apollo/client";
import { graphql } from "./gql";
import { VISITOR_KEY } from "./apollo";
import { readStorage, writeStorage } from "./lib/storage";

export const StartVisitDocument = graphql(`
  mutation StartVisit {
    startVisit {
      token
      errors {
        message
      }
    }
  }
`);

let starting: Promise<string | null> | null = null;

/** The visitor token of this browser's visit, if one was started (kept in localStorage). */
export function visitToken(): string | null {
  return readStorage(VISITOR_KEY);
}

/**
 * The visitor token, starting a visit on first need (one `startVisit` even when several events
 * ask at once). Null when the shop refused to start one.
 */
export async function ensureVisit(client: ApolloClient): Promise<string | null> {
  const existing = visitToken();
  if (existing) return existing;
  starting ??= client
    .mutate({ mutation: StartVisitDocument })
    .then(({ data }) => {
      const token = data?.startVisit.token ?? null;
      if (token) writeStorage(VISITOR_KEY, token);
      return token;
    })
    .finally(() => {
      starting = null;
    });
  return starting;
}

/** Forget the visit: it moved to an account (register, sign in) or the shop no longer knows it. */
export function endVisit(): void {
  writeStorage(VISITOR_KEY, null);
}

/** True when the shop refused the bearer token (HTTP 401 or UNAUTHENTICATED). */
export function isUnauthenticated(error: unknown): boolean {
  if (ServerError.is(error)) return error.statusCode === 401;
  if (CombinedGraphQLErrors.is(error)) return error.errors.some((e) => e.extensions?.["code"] === "UNAUTHENTICATED");
  return false;
}
