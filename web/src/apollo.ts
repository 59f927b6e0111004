import { ApolloClient, ApolloLink, HttpLink, InMemoryCache } from "@apollo/client";
import type { ApolloCache } from "@apollo/client";
import { PersistedQueryLink } from "@apollo/client/link/persisted-queries";
import { GraphQLWsLink } from "@apollo/client/link/subscriptions";
import { printExecutableGraphQLDocument } from "@graphql-tools/documents";
import type { ASTNode, DocumentNode } from "graphql";
import { isSubscriptionOperation, relayStylePagination } from "@apollo/client/utilities";
import { createClient as createWsClient } from "graphql-ws";
import type { Client as WsClient } from "graphql-ws";
import { readStorage } from "./lib/storage";

export const TOKEN_KEY = "shop.token";
/** A visitor's token (see src/visit.ts): sent only by the operations a visitor may run. */
export const VISITOR_KEY = "shop.visitor";
const VISITOR_OPERATIONS = new Set(["RecordInteraction", "Recommendations", "Register", "Login"]);

/** The cache with the app's type policies; tests build theirs with it too. */
export function createCache(): InMemoryCache {
  return new InMemoryCache({
    typePolicies: {
      Query: {
        fields: {
          // One list per filter combination; `first`/`after` pages are merged.
          products: relayStylePagination(["category", "search", "minPrice", "maxPrice"]),
          // A product page can start from what a list already has in the cache.
          product: {
            read(existing, { args, toReference }) {
              if (existing !== undefined) return existing;
              const id = args?.["id"];
              return typeof id === "string" ? toReference({ __typename: "Product", id }) : undefined;
            },
          },
          recommendations: { keyArgs: ["userId", "first", "category"], merge: false },
          recommendation: { keyArgs: ["productId", "userId"] },
          trending: { keyArgs: ["first", "category"], merge: false },
        },
      },
      User: {
        fields: {
          interactions: relayStylePagination(["type"]),
        },
      },
      Product: {
        fields: {
          similar: { keyArgs: ["first"], merge: false },
          tags: { merge: false },
        },
      },
      // Value objects without ids: stored inside their parent.
      Recommendation: { keyFields: false },
      Reason: { keyFields: false },
      Explanation: { keyFields: false },
      PageInfo: { keyFields: false },
      // The admin view's reports: replaced as a whole on every fetch.
      ModelInfo: { keyFields: false, merge: true },
      OfflineEvaluation: { keyFields: false, merge: true },
      OfflineModelMetrics: { keyFields: false },
      ExperimentVariant: { keyFields: false },
      ExperimentDifference: { keyFields: false },
      ExperimentAssignment: { keyFields: false },
    },
  });
}

/**
 * Adds `Authorization: Bearer <token>` while signed in; before that, the visitor token to the
 * operations of a visit (its events, its picks, and register/sign-in, which move the visit).
 */
const authLink = new ApolloLink((operation, forward) => {
  const token =
    readStorage(TOKEN_KEY) ?? (VISITOR_OPERATIONS.has(operation.operationName ?? "") ? readStorage(VISITOR_KEY) : null);
  if (token) {
    operation.setContext(({ headers = {} }: { headers?: Record<string, string> }) => ({
      headers: { ...headers, authorization: `Bearer ${token}` },
    }));
  }
  return forward(operation);
});

/** `uri` (absolute or relative to the page) as a ws:// or wss:// URL. */
export function websocketUrl(uri: string, base: string = window.location.href): string {
  const url = new URL(uri, base);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  return url.toString();
}

/** The open WebSocket clients (one per Apollo client), for `reconnectLiveUpdates`. */
const liveClients = new Set<WsClient>();
const MAX_RETRY_WAIT_MS = 30_000;

/**
 * Subscriptions over graphql-transport-ws: one lazy socket, opened by the first subscription and
 * closed after the last; the token goes in the `connection_init` payload, read at each
 * (re)connect. Dropped sockets reconnect with capped, jittered back-off (1 s doubling to 30 s)
 * and resubscribe, which pushes a fresh list; a refused token (4403) is not retried.
 */
function createLiveLink(uri: string): ApolloLink {
  const client = createWsClient({
    url: websocketUrl(uri),
    lazy: true,
    connectionParams: () => {
      const token = readStorage(TOKEN_KEY);
      return token ? { authorization: `Bearer ${token}` } : {};
    },
    retryAttempts: Number.POSITIVE_INFINITY,
    shouldRetry: (event) => !(typeof event === "object" && event !== null && "code" in event && event.code === 4403),
    retryWait: async (retries) => {
      const wait = Math.min(1000 * 2 ** retries, MAX_RETRY_WAIT_MS) + Math.random() * 1000;
      await new Promise((resolve) => setTimeout(resolve, wait));
    },
  });
  liveClients.add(client);
  return new GraphQLWsLink(client);
}

/**
 * The token changed (sign in or out, here or in another tab): drop the live socket, so that
 * open subscriptions reconnect as the new customer (or stop being answered, signed out).
 */
export function reconnectLiveUpdates(): void {
  for (const client of liveClients) client.terminate();
}

const documentTexts = new WeakMap<ASTNode, string>();

/**
 * The text sent for a document: normalised (fields sorted, minimal whitespace), the form whose
 * SHA-256 GraphQL Code Generator writes into src/gql/persisted-documents.json, so the hash the
 * server looks up is the hash of what it would be sent.
 */
export function documentText(node: ASTNode): string {
  let text = documentTexts.get(node);
  if (text === undefined) {
    text = printExecutableGraphQLDocument(node as DocumentNode);
    documentTexts.set(node, text);
  }
  return text;
}

/** SHA-256 of the document text, hex (Web Crypto). */
export async function documentHash(document: DocumentNode): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(documentText(document)));
  return Array.from(new Uint8Array(digest), (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/**
 * Automatic persisted queries: a query goes as a short GET with its hash (cacheable by the
 * browser and CDNs); the server answers PERSISTED_QUERY_NOT_FOUND only for a document it was never
 * told (not in the build's manifest), and the link then POSTs the full text once. Mutations stay
 * POSTs. Without Web Crypto (plain http on a non-local host) documents are sent in full.
 */
function persistedQueriesLink(): ApolloLink | null {
  if (typeof crypto === "undefined" || !crypto.subtle) return null;
  return new PersistedQueryLink({ generateHash: documentHash, useGETForHashedQueries: true });
}

export function createClient(uri = "/graphql"): ApolloClient {
  const persisted = persistedQueriesLink();
  const httpLink = new HttpLink({ uri, print: (node) => documentText(node) });
  const http = ApolloLink.from(persisted ? [authLink, persisted, httpLink] : [authLink, httpLink]);
  return new ApolloClient({
    link: ApolloLink.split(({ query }) => isSubscriptionOperation(query), createLiveLink(uri), http),
    cache: createCache(),
    defaultOptions: {
      watchQuery: { fetchPolicy: "cache-first" },
    },
  });
}

/**
 * After an event the customer's next recommendations differ ("events recorded a moment ago
 * already count"): drop what the cache holds so every panel, mounted now or later, asks again.
 */
export function forgetPersonalisedData(cache: ApolloCache, userId?: string | null): void {
  cache.evict({ id: "ROOT_QUERY", fieldName: "recommendations" });
  cache.evict({ id: "ROOT_QUERY", fieldName: "recommendation" });
  if (userId) {
    const id = cache.identify({ __typename: "User", id: userId });
    if (id) cache.evict({ id, fieldName: "interactions" });
  }
  cache.gc();
}
