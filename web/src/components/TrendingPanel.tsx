import { useId } from "react";
import { useQuery } from "@apollo/client/react";
import { graphql } from "../gql";
import { ProductCard } from "./ProductCard";
import { EmptyState, ErrorMessage, SkeletonGrid } from "./Status";

export const TrendingDocument = graphql(`
  query Trending($first: Int!) {
    trending(first: $first) {
      ...ProductCard_product
    }
  }
`);

export function TrendingPanel({ first = 8, title = "Trending now" }: { first?: number; title?: string }) {
  const { data, loading, error, refetch } = useQuery(TrendingDocument, { variables: { first } });
  const headingId = useId();
  const items = data?.trending;
  return (
    <section className="panel" aria-labelledby={headingId} aria-busy={loading}>
      <div className="panel__head">
        <h2 id={headingId}>{title}</h2>
      </div>
      {error && !items ? <ErrorMessage error={error} onRetry={() => void refetch().catch(() => undefined)} /> : null}
      {!items && loading ? <SkeletonGrid count={first} label="Loading trending products…" /> : null}
      {items && items.length === 0 ? <EmptyState title="Nothing is trending yet" /> : null}
      {items && items.length > 0 ? (
        <ul className="product-grid" data-testid="trending">
          {items.map((product, i) => (
            <li key={product.id} className="product-grid__item">
              <ProductCard product={product} badge={i < 3 ? `#${i + 1} trending` : undefined} markInCart />
            </li>
          ))}
        </ul>
      ) : null}
    </section>
  );
}
