import { useId, useState } from "react";
import { useQuery } from "@apollo/client/react";
import { Link, Navigate, useNavigate } from "react-router";
import { graphql } from "../gql";
import type { InteractionType } from "../gql/graphql";
import { useAuth } from "../auth";
import { ProductImage } from "../components/ProductImage";
import { productPath } from "../components/ProductCard";
import { EmptyState, ErrorMessage, Spinner } from "../components/Status";
import { displayName, formatDateTime, formatPrice } from "../lib/format";
import { useTitle } from "../lib/useTitle";

export const HISTORY_PAGE = 20;

export const HistoryItemFragment = graphql(`
  fragment HistoryItem_interaction on Interaction {
    id
    type
    quantity
    occurredAt
    product {
      id
      sku
      name
      price
    }
  }
`);

export const MyHistoryDocument = graphql(`
  query MyHistory($first: Int!, $after: String, $type: InteractionType) {
    me {
      id
      interactions(first: $first, after: $after, type: $type) {
        edges {
          cursor
          node {
            ...HistoryItem_interaction
          }
        }
        pageInfo {
          hasNextPage
          endCursor
        }
      }
    }
  }
`);

export const TYPE_LABELS: Partial<Record<InteractionType, string>> = {
  VIEW: "Viewed",
  CLICK: "Opened from your picks",
  CART_ADD: "Added to cart",
  PURCHASE: "Bought",
};

/** The label of an event type; a type added to the API later reads as its name ("WISHLIST_ADD" → "Wishlist add"). */
export function typeLabel(type: InteractionType): string {
  const words = type.toLowerCase().replace(/_/g, " ");
  return TYPE_LABELS[type] ?? words.charAt(0).toUpperCase() + words.slice(1);
}

const FILTERS: Array<{ value: InteractionType | ""; label: string }> = [
  { value: "", label: "All activity" },
  { value: "PURCHASE", label: "Purchases" },
  { value: "CART_ADD", label: "Cart adds" },
  { value: "VIEW", label: "Views" },
  { value: "CLICK", label: "Clicks on picks" },
];

function History() {
  const [type, setType] = useState<InteractionType | "">("");
  const selectId = useId();
  const { data, previousData, loading, error, fetchMore, refetch } = useQuery(MyHistoryDocument, {
    variables: { first: HISTORY_PAGE, type: type || null },
    fetchPolicy: "cache-and-network",
  });
  const [more, setMore] = useState(false);
  // While another filter loads, keep showing the last list (dimmed) instead of a spinner.
  const connection = data?.me?.interactions ?? (loading ? previousData?.me?.interactions : undefined);
  const stale = !data && Boolean(connection);

  const loadMore = async () => {
    if (!connection) return;
    setMore(true);
    try {
      await fetchMore({ variables: { after: connection.pageInfo.endCursor } });
    } finally {
      setMore(false);
    }
  };

  return (
    <section className="panel" aria-labelledby="history-title">
      <div className="panel__head">
        <h2 id="history-title">Your activity</h2>
        <div className="field field--inline">
          <label htmlFor={selectId}>Show</label>
          <select id={selectId} value={type} onChange={(e) => setType(e.target.value as InteractionType | "")}>
            {FILTERS.map((f) => (
              <option key={f.value} value={f.value}>
                {f.label}
              </option>
            ))}
          </select>
        </div>
      </div>
      {error && !connection ? <ErrorMessage error={error} onRetry={() => void refetch().catch(() => undefined)} /> : null}
      {!connection && loading ? <Spinner label="Loading your history…" /> : null}
      {connection && connection.edges.length === 0 ? (
        <EmptyState title={type ? "Nothing of this kind yet" : "No activity yet"}>
          <p>
            Products you view, add to your cart and buy show up here. <Link to="/shop">Start browsing</Link>.
          </p>
        </EmptyState>
      ) : null}
      {connection && connection.edges.length > 0 ? (
        <>
          <ol className={`history${stale ? " history--stale" : ""}`} data-testid="history" aria-busy={stale}>
            {connection.edges.map(({ node }) => (
              <li key={node.id} className="history__item" data-type={node.type}>
                <ProductImage sku={node.product.sku} name={node.product.name} size="sm" />
                <div className="history__info">
                  <Link to={productPath(node.product.id)}>{displayName(node.product.name)}</Link>
                  <span className="history__meta">
                    <span className={`tag tag--${node.type.toLowerCase()}`}>{typeLabel(node.type)}</span>
                    {node.quantity > 1 || node.type === "PURCHASE" || node.type === "CART_ADD" ? ` × ${node.quantity}` : ""}
                    {" · "}
                    <time dateTime={node.occurredAt}>{formatDateTime(node.occurredAt)}</time>
                  </span>
                </div>
                <span className="price history__price">
                  {node.type === "PURCHASE" ? formatPrice(node.product.price * node.quantity) : formatPrice(node.product.price)}
                </span>
              </li>
            ))}
          </ol>
          {connection.pageInfo.hasNextPage ? (
            <div className="load-more">
              <button type="button" className="button button--ghost" onClick={() => void loadMore()} disabled={more}>
                {more ? "Loading…" : "Load more"}
              </button>
            </div>
          ) : null}
        </>
      ) : null}
    </section>
  );
}

export function AccountPage() {
  const { status, user, signOut } = useAuth();
  const navigate = useNavigate();
  useTitle("Your account");
  if (status === "loading") return <Spinner label="Loading your account…" />;
  if (status !== "signedIn" || !user) return <Navigate to="/login?next=/account" replace />;

  return (
    <div className="stack">
      <section className="account-head">
        <div className="account-head__avatar" aria-hidden="true">
          {(user.username ?? "?").charAt(0).toUpperCase()}
        </div>
        <div>
          <h1>{user.username ?? "Visitor"}</h1>
          <p className="muted">
            {user.email ?? "Customer from the shop's records"} · member since{" "}
            {formatDateTime(user.createdAt).split(",")[0]}
          </p>
        </div>
        <button
          type="button"
          className="button button--ghost account-head__signout"
          onClick={() => {
            void signOut().then(() => navigate("/"));
          }}
        >
          Sign out
        </button>
      </section>
      <History />
    </div>
  );
}
