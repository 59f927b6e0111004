import { useId, useState } from "react";
import type { ReactNode } from "react";
import { useLazyQuery, useQuery, useSubscription } from "@apollo/client/react";
import { graphql } from "../gql";
import type { ReasonKind, RecommendationItem_RecommendationFragment } from "../gql/graphql";
import { useAuth } from "../auth";
import { useRecordInteraction } from "../interactions";
import { displayName } from "../lib/format";
import { ProductCard } from "./ProductCard";
import { EmptyState, ErrorMessage, SkeletonGrid } from "./Status";

export const RecommendationItemFragment = graphql(`
  fragment RecommendationItem_recommendation on Recommendation {
    rank
    score
    collaborativeScore
    contentScore
    product {
      ...ProductCard_product
    }
    reasons {
      kind
      weight
      detail
      category
      products {
        id
        name
      }
    }
  }
`);

export const RecommendationsDocument = graphql(`
  query Recommendations($first: Int!, $category: String) {
    recommendations(first: $first, category: $category) {
      ...RecommendationItem_recommendation
    }
  }
`);

/** The same list, pushed by the server at once and after each of the customer's events (any tab). */
export const RecommendationsUpdatedDocument = graphql(`
  subscription RecommendationsUpdated($first: Int!) {
    recommendationsUpdated(first: $first) {
      ...RecommendationItem_recommendation
    }
  }
`);

/** One item's explanation, asked for only when the shopper wants it (it may wait for an LLM). */
export const RecommendationExplanationDocument = graphql(`
  query RecommendationExplanation($productId: ID!) {
    recommendation(productId: $productId) {
      rank
      explanation {
        text
        source
      }
    }
  }
`);

/** Server sentences quote catalogue names in capitals; show them as the cards do. */
export function tidyCaps(text: string): string {
  return text.replace(/\b[A-Z0-9][A-Z0-9'&.\-\/]*(?:\s+[A-Z0-9][A-Z0-9'&.\-\/]*)+\b/g, (run) =>
    /[A-Z]{2}/.test(run) ? displayName(run) : run,
  );
}

export const REASON_LABELS: Record<ReasonKind, string> = {
  SIMILAR_CUSTOMERS: "Shoppers like you",
  SIMILAR_TO_PURCHASED: "Goes with your picks",
  CONTENT_MATCH: "Matches your taste",
  PREFERRED_CATEGORY: "A favourite category",
  TRENDING: "Trending",
};

export function ReasonChips({ reasons }: { reasons: RecommendationItem_RecommendationFragment["reasons"] }) {
  if (reasons.length === 0) return null;
  return (
    <ul className="chips" aria-label="Why it's here">
      {reasons.map((reason, i) => (
        <li key={`${reason.kind}-${i}`} className={`chip chip--${reason.kind.toLowerCase()}`} title={reason.detail}>
          {REASON_LABELS[reason.kind] ?? reason.kind}
        </li>
      ))}
    </ul>
  );
}

function WhyControl({ recommendation }: { recommendation: RecommendationItem_RecommendationFragment }) {
  const [open, setOpen] = useState(false);
  const regionId = useId();
  const [load, { data, loading, error, called }] = useLazyQuery(RecommendationExplanationDocument);
  const productId = recommendation.product.id;

  const toggle = () => {
    const next = !open;
    setOpen(next);
    if (next && !called) void load({ variables: { productId } }).catch(() => undefined);
  };

  const explanation = data?.recommendation?.explanation;
  const details = recommendation.reasons.filter((r) => r.detail);
  return (
    <div className="why">
      <button
        type="button"
        className="link-button why__toggle"
        aria-expanded={open}
        aria-controls={regionId}
        onClick={toggle}
      >
        {open ? "Hide why" : "Why?"}
        <span className="visually-hidden"> {displayName(recommendation.product.name)} is recommended</span>
      </button>
      {open ? (
        <div id={regionId} className="why__panel" role="region" aria-live="polite" aria-label="Why this is recommended">
          {loading ? <p className="why__loading">Asking our assistant…</p> : null}
          {error ? (
            <ErrorMessage error={error} onRetry={() => void load({ variables: { productId } }).catch(() => undefined)} />
          ) : null}
          {!loading && !error && data ? (
            explanation?.text ? (
              <p className="why__text" data-testid="why-text">
                {tidyCaps(explanation.text)}
              </p>
            ) : (
              <p className="why__text why__text--muted">
                {data.recommendation
                  ? "We picked it from your recent activity."
                  : "This isn't among your top picks any more."}
              </p>
            )
          ) : null}
          {details.length > 0 ? (
            <ul className="why__reasons" aria-label="What it's based on">
              {details.map((r, i) => (
                <li key={`${r.kind}-${i}`}>
                  {tidyCaps(r.detail)}
                  <span className="why__weight"> · {Math.round(r.weight * 100)}%</span>
                </li>
              ))}
            </ul>
          ) : null}
          {explanation?.source === "LLM" ? <p className="why__source">Written by our shopping assistant</p> : null}
        </div>
      ) : null}
    </div>
  );
}

export function RecommendationItem({ recommendation }: { recommendation: RecommendationItem_RecommendationFragment }) {
  const record = useRecordInteraction();
  const onOpen = () => {
    void record(recommendation.product.id, "CLICK");
  };
  return (
    <li className="product-grid__item" data-testid="recommendation" data-product-id={recommendation.product.id}>
      <ProductCard product={recommendation.product} onOpen={onOpen} badge={recommendation.rank <= 3 ? `Top pick #${recommendation.rank}` : undefined}>
        <ReasonChips reasons={recommendation.reasons} />
        <WhyControl recommendation={recommendation} />
      </ProductCard>
    </li>
  );
}

/** A list with nothing personal in it: every pick is there only because it is popular (the
 * cold-start fallback for a customer without events), or the list is empty. */
export function isColdStart(items: readonly Pick<RecommendationItem_RecommendationFragment, "reasons">[]): boolean {
  return items.every((item) => item.reasons.every((reason) => reason.kind === "TRENDING"));
}

/** "Because you viewed X" for a visitor's list, from the first reason that names a viewed product. */
export function visitTitle(items: readonly RecommendationItem_RecommendationFragment[] | undefined): string {
  for (const item of items ?? []) {
    for (const reason of item.reasons) {
      const viewed = reason.products[0];
      if (viewed && /you viewed/i.test(reason.detail)) return `Because you viewed ${displayName(viewed.name)}`;
    }
  }
  return "Picked for your visit";
}

export function RecommendationsPanel({
  first = 8,
  title = "Recommended for you",
  intro = null,
  visit = false,
}: {
  first?: number;
  title?: string;
  /** Shown under the heading (e.g. a prompt to browse). */
  intro?: ReactNode;
  /** A visitor's picks: titled after what they viewed, each with its reason in words. */
  visit?: boolean;
}) {
  const { data, loading, error, refetch } = useQuery(RecommendationsDocument, {
    variables: { first },
    fetchPolicy: "cache-and-network",
  });
  // Live: each pushed list replaces the cached one, so every tab of the customer stays in sync.
  const { status } = useAuth();
  useSubscription(RecommendationsUpdatedDocument, {
    variables: { first },
    skip: status !== "signedIn",
    ignoreResults: true,
    onData: ({ client, data: pushed }) => {
      const recommendations = pushed.data?.recommendationsUpdated;
      if (recommendations) {
        client.cache.writeQuery({ query: RecommendationsDocument, variables: { first }, data: { __typename: "Query", recommendations } });
      }
    },
  });
  const headingId = useId();
  const items = data?.recommendations;
  const heading = visit ? visitTitle(items) : title;

  return (
    <section className="panel" aria-labelledby={headingId} aria-busy={loading}>
      <div className="panel__head">
        <h2 id={headingId} data-testid="recommendations-title">{heading}</h2>
        {loading && items ? <span className="panel__updating" role="status">Updating…</span> : null}
      </div>
      {intro}
      {error && !items ? <ErrorMessage error={error} onRetry={() => void refetch().catch(() => undefined)} /> : null}
      {!items && loading ? <SkeletonGrid count={first} label="Loading your recommendations…" /> : null}
      {items && items.length === 0 ? (
        <EmptyState title="No picks for you yet">
          <p>Browse the shop and add a few things to your cart — we'll learn what you like.</p>
        </EmptyState>
      ) : null}
      {items && items.length > 0 ? (
        <ul className="product-grid" data-testid="recommendations">
          {items.map((rec) => (
            <RecommendationItem key={rec.product.id} recommendation={rec} />
          ))}
        </ul>
      ) : null}
    </section>
  );
}
