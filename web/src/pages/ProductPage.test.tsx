import { screen } from "@testing-library/react";
import { Route, Routes } from "react-router";
import { describe, expect, it } from "vitest";
import { ProductDocument, ProductPage } from "./ProductPage";
import { renderWithApp } from "../test/utils";

function renderProduct(id: string, result: object) {
  renderWithApp(
    <Routes>
      <Route path="/product/:id" element={<ProductPage />} />
    </Routes>,
    { route: `/product/${id}`, mocks: [{ request: { query: ProductDocument, variables: { id } }, result }] },
  );
}

describe("ProductPage", () => {
  it("answers a malformed id (BAD_USER_INPUT on `id`) with a not-found page, no retry", async () => {
    renderProduct("garbage", {
      data: { product: null },
      errors: [{ message: "`id` is not the id of a Product", path: ["product"], extensions: { code: "BAD_USER_INPUT", field: "id" } }],
    });
    expect(await screen.findByRole("heading", { level: 1, name: "We couldn't find that product" })).toBeInTheDocument();
    expect(screen.getByRole("link", { name: "Go to the home page" })).toHaveAttribute("href", "/");
    expect(screen.queryByRole("button", { name: "Try again" })).not.toBeInTheDocument();
    expect(screen.queryByText(/is not the id of/)).not.toBeInTheDocument();
  });

  it("answers an unknown id (null) with the same not-found page", async () => {
    renderProduct("UHJvZHVjdDo5OTk5", { data: { product: null } });
    expect(await screen.findByRole("heading", { level: 1, name: "We couldn't find that product" })).toBeInTheDocument();
  });

  it("keeps 'Try again' for failures a retry can fix", async () => {
    renderProduct("UHJvZHVjdDox", {
      data: { product: null },
      errors: [{ message: "The database is unavailable", path: ["product"], extensions: { code: "SERVICE_UNAVAILABLE" } }],
    });
    expect(await screen.findByRole("button", { name: "Try again" })).toBeInTheDocument();
    expect(screen.queryByRole("heading", { name: /couldn't find/ })).not.toBeInTheDocument();
  });
});
