import { act, renderHook } from "@testing-library/react";
import type { ReactNode } from "react";
import { describe, expect, it } from "vitest";
import { CART_KEY, CartProvider, loadCart, useCart } from "./cart";
import { displayName, formatPrice, initials } from "./lib/format";

const wrapper = ({ children }: { children: ReactNode }) => <CartProvider>{children}</CartProvider>;
const mug = { id: "UHJvZHVjdDox", sku: "85123A", name: "WHITE HANGING HEART T-LIGHT HOLDER", price: 2.95 };

describe("cart", () => {
  it("adds, merges, changes and removes lines and persists them", () => {
    const { result } = renderHook(() => useCart(), { wrapper });
    act(() => result.current.add(mug, 2));
    act(() => result.current.add(mug));
    expect(result.current.lines).toHaveLength(1);
    expect(result.current.count).toBe(3);
    expect(result.current.subtotal).toBe(8.85);
    expect(loadCart(window.localStorage.getItem(CART_KEY))).toEqual([{ productId: mug.id, sku: mug.sku, name: mug.name, price: 2.95, quantity: 3 }]);
    act(() => result.current.setQuantity(mug.id, 500));
    expect(result.current.lines[0]?.quantity).toBe(99);
    act(() => result.current.remove(mug.id));
    expect(result.current.count).toBe(0);
  });

  it("survives a reload and ignores damaged storage", () => {
    window.localStorage.setItem(CART_KEY, JSON.stringify([{ productId: "x", sku: "s", name: "n", price: 1, quantity: 2 }, { bad: true }]));
    const { result } = renderHook(() => useCart(), { wrapper });
    expect(result.current.count).toBe(2);
    expect(loadCart("{not json")).toEqual([]);
  });
});

describe("format", () => {
  it("title-cases shouting names and makes initials", () => {
    expect(displayName("WHITE HANGING HEART T-LIGHT HOLDER")).toBe("White Hanging Heart T-Light Holder");
    expect(displayName("Already Nice")).toBe("Already Nice");
    expect(initials("SET OF 3 CAKE TINS PANTRY DESIGN")).toBe("SD");
    expect(formatPrice(2.5)).toBe("£2.50");
  });
});
