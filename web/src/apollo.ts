import { ApolloClient, ApolloLink, HttpLink, InMemoryCache } from "@apollo/client";
import type { ApolloCache } from "@apollo/client";
import { relayStylePagination } from "@apollo/client/utilities";
import { readStorage } from "./lib/storage";

export const TOKEN_KEY = "shop.token";

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
    },
  });
}

/** Adds `Authorization: Bearer <token>` while signed in. */
const authLink = new ApolloLink((operation, forward) => {
  const token = readStorage(TOKEN_KEY);
  if (token) {
    operation.setContext(({ headers = {} }: { headers?: Record<string, string> }) => ({
      headers: { ...headers, authorization: `Bearer ${token}` },
    }));
  }
  return forward(operation);
});

export function createClient(uri = "/graphql"): ApolloClient {
  return new ApolloClient({
    link: ApolloLink.from([authLink, new HttpLink({ uri })]),
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
