import { screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { CatalogDocument, CategoriesDocument, CatalogPage, PAGE_SIZE, ProductList } from "./CatalogPage";
import { product, renderWithApp } from "../test/utils";

function page(from: number, count: number, hasNextPage: boolean, totalCount: number) {
  const nodes = Array.from({ length: count }, (_, i) => product(from + i));
  return {
    data: {
      products: {
        __typename: "ProductConnection",
        totalCount,
        edges: nodes.map((node) => ({ __typename: "ProductEdge", cursor: `c${node.sku}`, node })),
        pageInfo: { __typename: "PageInfo", hasNextPage, endCursor: `c${nodes[nodes.length - 1]?.sku}` },
      },
    },
  };
}

const base = { first: PAGE_SIZE, search: "heart", category: null, minPrice: null, maxPrice: null };

describe("ProductList", () => {
  it("loads the next page with the end cursor and appends it", async () => {
    renderWithApp(<ProductList search="heart" category={null} minPrice={null} maxPrice={null} />, {
      mocks: [
        { request: { query: CatalogDocument, variables: base }, result: page(1, 3, true, 5) },
        { request: { query: CatalogDocument, variables: { ...base, after: "cSKU3" } }, result: page(4, 2, false, 5) },
      ],
    });
    const list = await screen.findByTestId("product-list");
    expect(within(list).getAllByRole("article")).toHaveLength(3);
    expect(screen.getByTestId("result-count")).toHaveTextContent("5 products for “heart”");
    expect(screen.getByText("Showing 3 of 5")).toBeInTheDocument();

    await userEvent.click(screen.getByRole("button", { name: "Load more" }));
    expect(await screen.findByText("Showing 5 of 5")).toBeInTheDocument();
    const names = within(screen.getByTestId("product-list"))
      .getAllByRole("heading", { level: 3 })
      .map((h) => h.textContent);
    expect(names).toEqual(["Product Number 1", "Product Number 2", "Product Number 3", "Product Number 4", "Product Number 5"]);
    expect(screen.queryByRole("button", { name: "Load more" })).not.toBeInTheDocument();
  });

  it("shows an empty state", async () => {
    renderWithApp(<ProductList search="heart" category={null} minPrice={null} maxPrice={null} />, {
      mocks: [{ request: { query: CatalogDocument, variables: base }, result: page(1, 0, false, 0) }],
    });
    expect(await screen.findByText("Nothing matches those filters")).toBeInTheDocument();
  });

  it("shows a friendly message when the shop can't be reached", async () => {
    renderWithApp(<ProductList search="heart" category={null} minPrice={null} maxPrice={null} />, {
      mocks: [{ request: { query: CatalogDocument, variables: base }, error: new TypeError("Failed to fetch") }],
    });
    expect(await screen.findByRole("alert")).toHaveTextContent("We can't reach the shop");
    expect(screen.getByRole("button", { name: "Try again" })).toBeInTheDocument();
  });
});

describe("CatalogPage filters", () => {
  it("rejects a price range whose minimum is above its maximum", async () => {
    renderWithApp(<CatalogPage />, {
      route: "/shop",
      mocks: [
        { request: { query: CategoriesDocument }, result: { data: { categories: ["Kitchen", "Garden"] } } },
        {
          request: { query: CatalogDocument, variables: { first: PAGE_SIZE, search: null, category: null, minPrice: null, maxPrice: null } },
          result: page(1, 2, false, 2),
        },
      ],
    });
    expect(await screen.findByLabelText("Category")).toBeInTheDocument();
    await userEvent.type(screen.getByLabelText("Min price (£)"), "10");
    await userEvent.type(screen.getByLabelText("Max price (£)"), "5");
    await userEvent.click(screen.getByRole("button", { name: "Apply" }));
    expect(screen.getByText("Must be at least the lowest price.")).toBeInTheDocument();
    expect(screen.getByLabelText("Max price (£)")).toHaveAttribute("aria-invalid", "true");
  });
});
