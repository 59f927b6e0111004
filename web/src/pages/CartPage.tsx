import { useId, useState } from "react";
import { Link } from "react-router";
import { useAuth } from "../auth";
import { MAX_QUANTITY, useCart } from "../cart";
import type { CartLine } from "../cart";
import { useRecordInteraction } from "../interactions";
import { ProductImage } from "../components/ProductImage";
import { productPath } from "../components/ProductCard";
import { EmptyState } from "../components/Status";
import { displayName, formatPrice } from "../lib/format";
import { useTitle } from "../lib/useTitle";

function CartRow({ line }: { line: CartLine }) {
  const { setQuantity, remove } = useCart();
  const qtyId = useId();
  const name = displayName(line.name);
  return (
    <li className="cart-line" data-testid="cart-line">
      <Link to={productPath(line.productId)} className="cart-line__media" tabIndex={-1} aria-hidden="true">
        <ProductImage sku={line.sku} name={line.name} size="sm" />
      </Link>
      <div className="cart-line__info">
        <Link to={productPath(line.productId)} className="cart-line__name">
          {name}
        </Link>
        <span className="cart-line__unit">{formatPrice(line.price)} each</span>
      </div>
      <div className="cart-line__qty field field--inline">
        <label htmlFor={qtyId}>Qty</label>
        <input
          id={qtyId}
          type="number"
          inputMode="numeric"
          min={1}
          max={MAX_QUANTITY}
          value={line.quantity}
          onChange={(e) => setQuantity(line.productId, Number(e.target.value))}
        />
      </div>
      <span className="cart-line__total price">{formatPrice(line.price * line.quantity)}</span>
      <button type="button" className="link-button cart-line__remove" onClick={() => remove(line.productId)} aria-label={`Remove ${name}`}>
        Remove
      </button>
    </li>
  );
}

interface Receipt {
  lines: CartLine[];
  total: number;
}

export function CartPage() {
  const { lines, subtotal, count, clear } = useCart();
  const { status } = useAuth();
  const record = useRecordInteraction();
  const [placing, setPlacing] = useState(false);
  const [failure, setFailure] = useState<string | null>(null);
  const [receipt, setReceipt] = useState<Receipt | null>(null);
  useTitle(receipt ? "Order confirmed" : "Your cart");

  const checkout = async () => {
    setPlacing(true);
    setFailure(null);
    const failed: string[] = [];
    // One PURCHASE per line, with its quantity.
    for (const line of lines) {
      const result = await record(line.productId, "PURCHASE", line.quantity);
      if (!result.ok) failed.push(`${displayName(line.name)}: ${result.message ?? "could not be ordered"}`);
    }
    setPlacing(false);
    if (failed.length > 0) {
      setFailure(`Some items could not be ordered. ${failed.join(" ")}`);
      return;
    }
    setReceipt({ lines, total: subtotal });
    clear();
  };

  if (receipt) {
    return (
      <section className="confirmation" aria-labelledby="confirmation-title" data-testid="order-confirmation">
        <div className="confirmation__icon" aria-hidden="true">
          ✓
        </div>
        <h1 id="confirmation-title" tabIndex={-1}>
          Thank you — your order is confirmed
        </h1>
        <p>
          {receipt.lines.reduce((n, l) => n + l.quantity, 0)} items, {formatPrice(receipt.total)}. Your recommendations
          have been updated.
        </p>
        <ul className="receipt">
          {receipt.lines.map((l) => (
            <li key={l.productId}>
              <span>
                {l.quantity} × {displayName(l.name)}
              </span>
              <span className="price">{formatPrice(l.price * l.quantity)}</span>
            </li>
          ))}
        </ul>
        <div className="hero__actions">
          <Link to="/" className="button">
            See your new picks
          </Link>
          <Link to="/account" className="button button--ghost">
            Order history
          </Link>
        </div>
      </section>
    );
  }

  if (lines.length === 0) {
    return (
      <div className="stack">
        <h1>Your cart</h1>
        <EmptyState title="Your cart is empty">
          <p>
            <Link to="/shop">Browse the shop</Link> or see <Link to="/">what we picked for you</Link>.
          </p>
        </EmptyState>
      </div>
    );
  }

  return (
    <div className="cart">
      <h1>Your cart</h1>
      <div className="cart__layout">
        <ul className="cart__lines" aria-label="Items in your cart">
          {lines.map((line) => (
            <CartRow key={line.productId} line={line} />
          ))}
        </ul>
        <aside className="summary" aria-label="Order summary">
          <h2>Summary</h2>
          <dl>
            <div>
              <dt>Items</dt>
              <dd>{count}</dd>
            </div>
            <div className="summary__total">
              <dt>Total</dt>
              <dd className="price" data-testid="cart-total">
                {formatPrice(subtotal)}
              </dd>
            </div>
          </dl>
          {failure ? (
            <p className="field-error" role="alert">
              {failure}
            </p>
          ) : null}
          {status === "signedIn" ? (
            <button type="button" className="button button--large button--block" onClick={() => void checkout()} disabled={placing}>
              {placing ? "Placing your order…" : "Place order"}
            </button>
          ) : (
            <Link to="/login?next=/cart" className="button button--large button--block">
              Sign in to check out
            </Link>
          )}
          <p className="summary__note">No payment is taken in this demo shop.</p>
        </aside>
      </div>
    </div>
  );
}
