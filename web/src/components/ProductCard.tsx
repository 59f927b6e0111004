import type { ReactNode } from "react";
import { Link } from "react-router";
import { graphql } from "../gql";
import type { ProductCard_ProductFragment } from "../gql/graphql";
import { displayName, formatPrice } from "../lib/format";
import { ProductImage } from "./ProductImage";
import { AddToCartButton } from "./AddToCartButton";

export const ProductCardFragment = graphql(`
  fragment ProductCard_product on Product {
    id
    sku
    name
    price
    category
    imageUrl
    purchaseCount
  }
`);

export function productPath(id: string): string {
  return `/product/${encodeURIComponent(id)}`;
}

interface Props {
  product: ProductCard_ProductFragment;
  /** Called before following the link (e.g. to record a CLICK). */
  onOpen?: () => void;
  /** Extra content under the price, e.g. reasons. */
  children?: ReactNode;
  badge?: ReactNode;
  showAddToCart?: boolean;
  /** A product already in the cart shows "In your cart" instead of "Add to cart". */
  markInCart?: boolean;
}

export function ProductCard({ product, onOpen, children, badge, showAddToCart = true, markInCart = false }: Props) {
  const name = displayName(product.name);
  return (
    <article className="card" aria-label={name}>
      <Link to={productPath(product.id)} className="card__media" onClick={onOpen} tabIndex={-1} aria-hidden="true">
        <ProductImage sku={product.sku} name={product.name} imageUrl={product.imageUrl} />
        {badge ? <span className="card__badge">{badge}</span> : null}
      </Link>
      <div className="card__body">
        <h3 className="card__title">
          <Link to={productPath(product.id)} onClick={onOpen}>
            {name}
          </Link>
        </h3>
        <p className="card__meta">
          <span className="price">{formatPrice(product.price)}</span>
          {product.category ? <span className="card__category">{product.category}</span> : null}
        </p>
        {children}
      </div>
      {showAddToCart ? (
        <div className="card__actions">
          <AddToCartButton product={product} compact markInCart={markInCart} />
        </div>
      ) : null}
    </article>
  );
}
