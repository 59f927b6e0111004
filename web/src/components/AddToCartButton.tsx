import { useEffect, useRef, useState } from "react";
import { useCart } from "../cart";
import type { CartProduct } from "../cart";
import { useRecordInteraction } from "../interactions";
import { displayName } from "../lib/format";

interface Props {
  product: CartProduct;
  quantity?: number;
  compact?: boolean;
}

/** Adds to the client-side cart and records CART_ADD for a signed-in customer. */
export function AddToCartButton({ product, quantity = 1, compact = false }: Props) {
  const cart = useCart();
  const record = useRecordInteraction();
  const [state, setState] = useState<"idle" | "added" | "error">("idle");
  const [message, setMessage] = useState<string | null>(null);
  const timer = useRef<number | undefined>(undefined);

  useEffect(() => () => window.clearTimeout(timer.current), []);

  const onClick = async () => {
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
      <button
        type="button"
        className={`button ${compact ? "button--small button--block" : "button--large"} ${state === "added" ? "button--success" : ""}`}
        onClick={onClick}
        aria-label={compact ? `Add ${name} to cart` : undefined}
      >
        {state === "added" ? "Added ✓" : "Add to cart"}
      </button>
      <span className="visually-hidden" role="status" aria-live="polite">
        {state === "added" ? `${name} added to your cart` : ""}
      </span>
      {message ? <p className="field-error">{message}</p> : null}
    </div>
  );
}
