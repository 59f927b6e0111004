import { createContext, useCallback, useContext, useEffect, useMemo, useState } from "react";
import type { ReactNode } from "react";
import { readStorage, writeStorage } from "./lib/storage";

export const CART_KEY = "shop.cart.v1";
export const MAX_QUANTITY = 99;

export interface CartLine {
  productId: string;
  sku: string;
  name: string;
  price: number;
  quantity: number;
}

export interface CartProduct {
  id: string;
  sku: string;
  name: string;
  price: number;
}

interface CartValue {
  lines: CartLine[];
  count: number;
  subtotal: number;
  add(product: CartProduct, quantity?: number): void;
  setQuantity(productId: string, quantity: number): void;
  remove(productId: string): void;
  clear(): void;
}

const CartContext = createContext<CartValue | null>(null);

function isLine(value: unknown): value is CartLine {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v["productId"] === "string" &&
    typeof v["sku"] === "string" &&
    typeof v["name"] === "string" &&
    typeof v["price"] === "number" &&
    typeof v["quantity"] === "number"
  );
}

export function loadCart(raw: string | null = readStorage(CART_KEY)): CartLine[] {
  if (!raw) return [];
  try {
    const parsed: unknown = JSON.parse(raw);
    return Array.isArray(parsed) ? parsed.filter(isLine) : [];
  } catch {
    return [];
  }
}

const clamp = (n: number) => Math.max(1, Math.min(MAX_QUANTITY, Math.round(n)));

export function CartProvider({ children }: { children: ReactNode }) {
  const [lines, setLines] = useState<CartLine[]>(() => loadCart());

  useEffect(() => {
    writeStorage(CART_KEY, JSON.stringify(lines));
  }, [lines]);

  // Keep tabs in step.
  useEffect(() => {
    const onStorage = (event: StorageEvent) => {
      if (event.key === CART_KEY) setLines(loadCart(event.newValue));
    };
    window.addEventListener("storage", onStorage);
    return () => window.removeEventListener("storage", onStorage);
  }, []);

  const add = useCallback((product: CartProduct, quantity = 1) => {
    setLines((current) => {
      const found = current.find((l) => l.productId === product.id);
      if (found) {
        return current.map((l) =>
          l.productId === product.id ? { ...l, quantity: clamp(l.quantity + quantity) } : l,
        );
      }
      return [
        ...current,
        { productId: product.id, sku: product.sku, name: product.name, price: product.price, quantity: clamp(quantity) },
      ];
    });
  }, []);

  const setQuantity = useCallback((productId: string, quantity: number) => {
    if (!Number.isFinite(quantity)) return;
    setLines((current) => current.map((l) => (l.productId === productId ? { ...l, quantity: clamp(quantity) } : l)));
  }, []);

  const remove = useCallback((productId: string) => {
    setLines((current) => current.filter((l) => l.productId !== productId));
  }, []);

  const clear = useCallback(() => setLines([]), []);

  const value = useMemo<CartValue>(
    () => ({
      lines,
      count: lines.reduce((n, l) => n + l.quantity, 0),
      subtotal: Math.round(lines.reduce((s, l) => s + l.price * l.quantity, 0) * 100) / 100,
      add,
      setQuantity,
      remove,
      clear,
    }),
    [lines, add, setQuantity, remove, clear],
  );

  return <CartContext.Provider value={value}>{children}</CartContext.Provider>;
}

export function useCart(): CartValue {
  const value = useContext(CartContext);
  if (!value) throw new Error("useCart must be used inside <CartProvider>");
  return value;
}
