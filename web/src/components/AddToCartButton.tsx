import { useEffect, useRef, useState } from "react";
import { Link } from "react-router";
import { useCart } from "../cart";
import type { CartProduct } from "../cart";
import { useRecordInteraction } from "../interactions";
import { displayName } from "../lib/format";

interface Props {
  product: CartProduct;
  quantity?: number;
  compact?: boolean;
  /** Once the product is in the cart, show "In your cart" (a link to it) instead of the button. */
  markInCart?: boolean;
}

/** Adds to the client-side cart and records CART_ADD for a signed-in customer. */
export function AddToCartButton({ product, quantity = 1, compact = false, markInCart = false }: Props) {
  const cart = useCart();
  const record = useRecordInteraction();
  const [state, setState] = useState<"idle" | "added" | "error">("idle");
  const [message, setMessage] = useState<string | null>(null);
  const timer = useRef<number | undefined>(undefined);
  const mark = useRef<HTMLAnchorElement>(null);
  const clicked = useRef(false);
  const inCart = markInCart && cart.lines.some((line) => line.productId === product.id);

  useEffect(() => () => window.clearTimeout(timer.current), []);
  // The button became the mark under the shopper's finger: keep keyboard focus on it.
  useEffect(() => {
    if (inCart && clicked.current) mark.current?.focus();
    clicked.current = false;
  }, [inCart]);

  const onClick = async () => {
    clicked.current = true;
    cart.add(product, quantity);
    setState("added");
    setMessage(null);
    window.clearTimeout(timer.current);
    timer.current = window.setTimeout(() => setState("idle"), 2000);
    const result = await record(product.id, "CART_ADD", quantity);
    if (!result.ok) {
      setState("error");
      setMessage("Added to your cart, but we couldn't update your recommendations.");
    }
  };

  const name = displayName(product.name);
  return (
    <div className="add-to-cart">
      {inCart ? (
        <Link ref={mark} to="/cart" className="in-cart" data-testid="in-cart">
          <span aria-hidden="true">✓</span> In your cart
          <span className="visually-hidden">: {name}. View your cart</span>
        </Link>
      ) : (
        <button
          type="button"
          className={`button ${compact ? "button--small button--block" : "button--large"} ${state === "added" ? "button--success" : ""}`}
          onClick={onClick}
          aria-label={compact ? `Add ${name} to cart` : undefined}
        >
          {state === "added" ? "Added ✓" : "Add to cart"}
        </button>
      )}
      <span className="visually-hidden" role="status" aria-live="polite">
        {state === "added" ? `${name} added to your cart` : ""}
      </span>
      {message ? <p className="field-error">{message}</p> : null}
    </div>
  );
}
