import { useEffect, useId, useRef, useState } from "react";
import type { FormEvent } from "react";
import { useQuery } from "@apollo/client/react";
import { useSearchParams } from "react-router";
import { graphql } from "../gql";
import { ProductCard } from "../components/ProductCard";
import { EmptyState, ErrorMessage, SkeletonGrid } from "../components/Status";
import { useFocusFirstError } from "../lib/useFocusFirstError";
import { useTitle } from "../lib/useTitle";

export const PAGE_SIZE = 20;

export const CatalogDocument = graphql(`
  query Catalog(
    $first: Int!
    $after: String
    $category: String
    $search: String
    $minPrice: Float
    $maxPrice: Float
  ) {
    products(
      first: $first
      after: $after
      category: $category
      search: $search
      minPrice: $minPrice
      maxPrice: $maxPrice
    ) {
      totalCount
      edges {
        cursor
        node {
          ...ProductCard_product
        }
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`);

export const CategoriesDocument = graphql(`
  query Categories {
    categories
  }
`);

function parsePrice(value: string | null): number | null {
  if (value === null || value.trim() === "") return null;
  const n = Number(value);
  return Number.isFinite(n) && n >= 0 ? n : null;
}

export function ProductList({
  search,
  category,
  minPrice,
  maxPrice,
}: {
  search: string | null;
  category: string | null;
  minPrice: number | null;
  maxPrice: number | null;
}) {
  const variables = { first: PAGE_SIZE, search, category, minPrice, maxPrice };
  const { data, loading, error, fetchMore, refetch } = useQuery(CatalogDocument, { variables });
  const [loadingMore, setLoadingMore] = useState(false);
  const [moreError, setMoreError] = useState<unknown>(null);
  const connection = data?.products;

  if (error && !connection) return <ErrorMessage error={error} onRetry={() => void refetch().catch(() => undefined)} />;
  if (!connection) return <SkeletonGrid count={8} />;

  const shown = connection.edges.length;
  const loadMore = async () => {
    setLoadingMore(true);
    setMoreError(null);
    try {
      await fetchMore({ variables: { after: connection.pageInfo.endCursor } });
    } catch (e) {
      setMoreError(e);
    } finally {
      setLoadingMore(false);
    }
  };

  return (
    <div aria-busy={loading}>
      <h2 className="visually-hidden">Products</h2>
      <p className="result-count" role="status" data-testid="result-count">
        {connection.totalCount === 0
          ? "No products found"
          : `${connection.totalCount.toLocaleString("en-GB")} ${connection.totalCount === 1 ? "product" : "products"}${
              search ? ` for “${search}”` : ""
            }`}
      </p>
      {shown === 0 ? (
        <EmptyState title="Nothing matches those filters">
          <p>Try fewer words, another category or a wider price range.</p>
        </EmptyState>
      ) : (
        <ul className="product-grid" data-testid="product-list">
          {connection.edges.map(({ node }) => (
            <li key={node.id} className="product-grid__item">
              <ProductCard product={node} />
            </li>
          ))}
        </ul>
      )}
      {moreError ? <ErrorMessage error={moreError} onRetry={() => void loadMore()} /> : null}
      {shown > 0 ? (
        <div className="load-more">
          <p className="load-more__count">
            Showing {shown.toLocaleString("en-GB")} of {connection.totalCount.toLocaleString("en-GB")}
          </p>
          {connection.pageInfo.hasNextPage ? (
            <button type="button" className="button button--ghost" onClick={() => void loadMore()} disabled={loadingMore}>
              {loadingMore ? "Loading…" : "Load more"}
            </button>
          ) : null}
        </div>
      ) : null}
    </div>
  );
}

export function CatalogPage() {
  const [params, setParams] = useSearchParams();
  const search = params.get("q")?.trim() || null;
  const category = params.get("category") || null;
  const minPrice = parsePrice(params.get("min"));
  const maxPrice = parsePrice(params.get("max"));
  const categories = useQuery(CategoriesDocument);
  const formId = useId();

  const [draft, setDraft] = useState({ q: search ?? "", category: category ?? "", min: params.get("min") ?? "", max: params.get("max") ?? "" });
  const [errors, setErrors] = useState<{ min?: string; max?: string }>({});
  const formRef = useRef<HTMLFormElement>(null);
  useFocusFirstError(errors, formRef);
  useEffect(() => {
    setDraft({ q: search ?? "", category: category ?? "", min: params.get("min") ?? "", max: params.get("max") ?? "" });
  }, [search, category, params]);

  useTitle(search ? `“${search}”` : "Shop");

  const apply = (event: FormEvent) => {
    event.preventDefault();
    const next: { min?: string; max?: string } = {};
    const min = draft.min.trim() === "" ? null : Number(draft.min);
    const max = draft.max.trim() === "" ? null : Number(draft.max);
    if (min !== null && (!Number.isFinite(min) || min < 0)) next.min = "Enter a price of 0 or more.";
    if (max !== null && (!Number.isFinite(max) || max < 0)) next.max = "Enter a price of 0 or more.";
    if (min !== null && max !== null && !next.min && !next.max && min > max) next.max = "Must be at least the lowest price.";
    setErrors(next);
    if (next.min || next.max) return;
    const out = new URLSearchParams();
    if (draft.q.trim()) out.set("q", draft.q.trim());
    if (draft.category) out.set("category", draft.category);
    if (min !== null) out.set("min", String(min));
    if (max !== null) out.set("max", String(max));
    setParams(out);
  };

  const clear = () => {
    setErrors({});
    setParams(new URLSearchParams());
  };

  const categoryList = categories.data?.categories ?? [];
  const filtered = Boolean(search || category || minPrice !== null || maxPrice !== null);

  return (
    <div className="catalog">
      <div className="page-head">
        <h1>{search ? `Results for “${search}”` : category ?? "All products"}</h1>
      </div>
      <form ref={formRef} className="filters" onSubmit={apply} aria-label="Filter products" noValidate>
        <div className="field filters__search">
          <label htmlFor={`${formId}-q`}>Search</label>
          <input
            id={`${formId}-q`}
            type="search"
            value={draft.q}
            onChange={(e) => setDraft({ ...draft, q: e.target.value })}
            placeholder="e.g. heart"
          />
        </div>
        {categoryList.length > 0 ? (
          <div className="field">
            <label htmlFor={`${formId}-category`}>Category</label>
            <select
              id={`${formId}-category`}
              value={draft.category}
              onChange={(e) => setDraft({ ...draft, category: e.target.value })}
            >
              <option value="">All categories</option>
              {categoryList.map((c) => (
                <option key={c} value={c}>
                  {c}
                </option>
              ))}
            </select>
          </div>
        ) : null}
        <div className="field field--price">
          <label htmlFor={`${formId}-min`}>Min price (£)</label>
          <input
            id={`${formId}-min`}
            type="number"
            inputMode="decimal"
            min="0"
            step="0.01"
            value={draft.min}
            onChange={(e) => setDraft({ ...draft, min: e.target.value })}
            aria-invalid={Boolean(errors.min)}
            aria-describedby={errors.min ? `${formId}-min-error` : undefined}
          />
          {errors.min ? (
            <p className="field-error" id={`${formId}-min-error`}>
              {errors.min}
            </p>
          ) : null}
        </div>
        <div className="field field--price">
          <label htmlFor={`${formId}-max`}>Max price (£)</label>
          <input
            id={`${formId}-max`}
            type="number"
            inputMode="decimal"
            min="0"
            step="0.01"
            value={draft.max}
            onChange={(e) => setDraft({ ...draft, max: e.target.value })}
            aria-invalid={Boolean(errors.max)}
            aria-describedby={errors.max ? `${formId}-max-error` : undefined}
          />
          {errors.max ? (
            <p className="field-error" id={`${formId}-max-error`}>
              {errors.max}
            </p>
          ) : null}
        </div>
        <div className="filters__actions">
          <button type="submit" className="button">
            Apply
          </button>
          {filtered ? (
            <button type="button" className="button button--ghost" onClick={clear}>
              Clear
            </button>
          ) : null}
        </div>
      </form>
      <ProductList search={search} category={category} minPrice={minPrice} maxPrice={maxPrice} />
    </div>
  );
}
