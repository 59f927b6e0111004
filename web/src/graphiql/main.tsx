// GraphiQL from npm, built by Vite as its own entry (graphiql.html) and served by the API at
// GET /graphql for browsers: every script and style comes from this origin, so it works offline
// and under the API's `Content-Security-Policy: default-src 'self'`.
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { GraphiQL } from "graphiql";
import { createGraphiQLFetcher } from "@graphiql/toolkit";
import "graphiql/style.css";
import "./graphiql.css";

const endpoint = new URL("/graphql", window.location.href);
const socket = new URL(endpoint);
socket.protocol = endpoint.protocol === "https:" ? "wss:" : "ws:";

const fetcher = createGraphiQLFetcher({ url: endpoint.href, subscriptionUrl: socket.href });

const DEFAULT_QUERY = `# The recommender's GraphQL API. Ctrl-Space completes, Ctrl-Enter runs.
# Signed-in queries (me, recommendations) need a header: {"Authorization": "Bearer <token>"}.
# (Anonymous on purpose: GraphiQL 4 keeps a previous operation name when a named query is
# replaced by an anonymous one, and then refuses to run it.)
{
  trending(first: 5) {
    id
    name
    price
  }
}
`;

createRoot(document.getElementById("graphiql")!).render(
  <StrictMode>
    <GraphiQL fetcher={fetcher} defaultQuery={DEFAULT_QUERY} />
  </StrictMode>,
);
