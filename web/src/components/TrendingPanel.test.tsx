import { screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { TrendingDocument, TrendingPanel } from "./TrendingPanel";
import { CART_KEY } from "../cart";
import { product, renderWithApp } from "../test/utils";

describe("TrendingPanel", () => {
  it("marks a product in the cart 'In your cart' instead of offering it again", async () => {
    const inCart = product(1);
    window.localStorage.setItem(
      CART_KEY,
      JSON.stringify([{ productId: inCart.id, sku: inCart.sku, name: inCart.name, price: inCart.price, quantity: 1 }]),
    );
    renderWithApp(<TrendingPanel first={2} />, {
      mocks: [{ request: { query: TrendingDocument, variables: { first: 2 } }, result: { data: { trending: [inCart, product(2)] } } }],
    });
    const [first, second] = await screen.findAllByRole("article");
    const mark = within(first!).getByRole("link", { name: /In your cart/ });
    expect(mark).toHaveAttribute("href", "/cart");
    expect(within(first!).queryByRole("button", { name: /to cart/ })).not.toBeInTheDocument();

    // Adding the other one turns its button into the mark, and keyboard focus stays on it.
    await userEvent.click(within(second!).getByRole("button", { name: "Add Product Number 2 to cart" }));
    const added = await within(second!).findByRole("link", { name: /In your cart/ });
    expect(added).toHaveFocus();
  });
});
