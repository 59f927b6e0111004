import { useEffect, useId, useRef, useState } from "react";
import { useQuery } from "@apollo/client/react";
import { Link, useParams } from "react-router";
import { graphql } from "../gql";
import { useAuth } from "../auth";
import { MAX_QUANTITY } from "../cart";
import { useRecordInteraction } from "../interactions";
import { AddToCartButton } from "../components/AddToCartButton";
import { ProductCard } from "../components/ProductCard";
import { ProductImage } from "../components/ProductImage";
import { EmptyState, ErrorMessage, SkeletonGrid, Spinner } from "../components/Status";
import { isNotFound } from "../lib/errors";
import { displayName, formatPrice } from "../lib/format";
import { useTitle } from "../lib/useTitle";
import { NotFoundPage } from "./NotFoundPage";

export const ProductDocument = graphql(`
  query Product($id: ID!) {
    product(id: $id) {
      ...ProductCard_product
      description
      tags
      createdAt
    }
  }
`);

export const SimilarProductsDocument = graphql(`
  query SimilarProducts($id: ID!, $first: Int!) {
    product(id: $id) {
      id
      similar(first: $first) {
        ...ProductCard_product
      }
    }
  }
`);

function SimilarProducts({ id }: { id: string }) {
  const { data, loading, error, refetch } = useQuery(SimilarProductsDocument, { variables: { id, first: 8 } });
  const headingId = useId();
  const items = data?.product?.similar;
  return (
    <section className="panel" aria-labelledby={headingId}>
      <div className="panel__head">
        <h2 id={headingId}>Customers also chose</h2>
      </div>
      {error && !items ? <ErrorMessage error={error} onRetry={() => void refetch().catch(() => undefined)} /> : null}
      {!items && loading ? <SkeletonGrid count={4} label="Loading similar products…" /> : null}
      {items && items.length === 0 ? <EmptyState title="No similar products yet" /> : null}
      {items && items.length > 0 ? (
        <ul className="product-grid" data-testid="similar-products">
          {items.map((p) => (
            <li key={p.id} className="product-grid__item">
              <ProductCard product={p} markInCart />
            </li>
          ))}
        </ul>
      ) : null}
    </section>
  );
}

/** Records one VIEW per product page visit, for a signed-in customer or a visitor. */
function useRecordView(productId: string | undefined, ready: boolean) {
  const { status } = useAuth();
  const record = useRecordInteraction();
  const recorded = useRef<string | null>(null);
  useEffect(() => {
    if (!productId || !ready || status === "loading" || recorded.current === productId) return;
    recorded.current = productId;
    void record(productId, "VIEW");
  }, [productId, ready, status, record]);
}

export function ProductPage() {
  const { id = "" } = useParams();
  const { data, loading, error, refetch } = useQuery(ProductDocument, { variables: { id } });
  const product = data?.product;
  const [quantity, setQuantity] = useState(1);
  const qtyId = useId();
  useRecordView(product?.id, Boolean(product));
  const notFound = (!product && !loading && !error) || (!product && isNotFound(error));
  useTitle(product ? displayName(product.name) : loading ? "Loading…" : notFound ? "Product not found" : "Product");
  useEffect(() => setQuantity(1), [id]);

  // An unknown or malformed id: a not-found page, no retry (asking again cannot help).
  if (notFound) return <NotFoundPage what="product" />;
  if (error && !product) return <ErrorMessage error={error} onRetry={() => void refetch().catch(() => undefined)} />;
  if (!product) return <Spinner label="Loading product…" />;

  const name = displayName(product.name);
  return (
    <div className="stack">
      <nav aria-label="Breadcrumb" className="breadcrumb">
        <Link to="/">Home</Link>
        <span aria-hidden="true">›</span>
        <Link to={product.category ? `/shop?category=${encodeURIComponent(product.category)}` : "/shop"}>
          {product.category ?? "Shop"}
        </Link>
        <span aria-hidden="true">›</span>
        <span aria-current="page">{name}</span>
      </nav>
      <article className="product-detail" data-testid="product-detail">
        <div className="product-detail__media">
          <ProductImage sku={product.sku} name={product.name} imageUrl={product.imageUrl} size="lg" />
        </div>
        <div className="product-detail__info">
          <h1>{name}</h1>
          <p className="product-detail__price price">{formatPrice(product.price)}</p>
          <p className="product-detail__meta">
            <span>Item {product.sku}</span>
            {product.purchaseCount > 0 ? (
              <span>
                Bought {product.purchaseCount.toLocaleString("en-GB")} {product.purchaseCount === 1 ? "time" : "times"}
              </span>
            ) : null}
            {product.category ? <span>{product.category}</span> : null}
          </p>
          {product.description ? <p className="product-detail__description">{product.description}</p> : null}
          {product.tags.length > 0 ? (
            <ul className="chips" aria-label="Tags">
              {product.tags.map((t) => (
                <li key={t} className="chip">
                  {t}
                </li>
              ))}
            </ul>
          ) : null}
          <div className="buy-box">
            <div className="field field--qty">
              <label htmlFor={qtyId}>Quantity</label>
              <div className="stepper">
                <button
                  type="button"
                  className="stepper__button"
                  onClick={() => setQuantity((q) => Math.max(1, q - 1))}
                  aria-label="Decrease quantity"
                  disabled={quantity <= 1}
                >
                  −
                </button>
                <input
                  id={qtyId}
                  type="number"
                  inputMode="numeric"
                  min={1}
                  max={MAX_QUANTITY}
                  value={quantity}
                  onChange={(e) => {
                    const n = Number(e.target.value);
                    if (Number.isFinite(n)) setQuantity(Math.max(1, Math.min(MAX_QUANTITY, Math.round(n))));
                  }}
                />
                <button
                  type="button"
                  className="stepper__button"
                  onClick={() => setQuantity((q) => Math.min(MAX_QUANTITY, q + 1))}
                  aria-label="Increase quantity"
                  disabled={quantity >= MAX_QUANTITY}
                >
                  +
                </button>
              </div>
            </div>
            <AddToCartButton product={product} quantity={quantity} />
          </div>
          <p className="product-detail__note">
            <Link to="/cart">View your cart</Link>
          </p>
        </div>
      </article>
      <SimilarProducts id={product.id} />
    </div>
  );
}
