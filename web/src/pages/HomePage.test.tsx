import { screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { HomePage } from "./HomePage";
import { RecommendationsDocument } from "../components/RecommendationsPanel";
import { TrendingDocument } from "../components/TrendingPanel";
import { product, renderWithApp } from "../test/utils";

function rec(n: number, kinds: string[]) {
  return {
    __typename: "Recommendation" as const,
    rank: n,
    score: 1 / n,
    collaborativeScore: 0.5,
    contentScore: 0.25,
    product: product(n),
    reasons: kinds.map((kind) => ({
      __typename: "Reason" as const,
      kind,
      weight: 1,
      detail: kind === "TRENDING" ? "Popular in the shop right now" : "Similar to RED MUG, which you bought",
      category: null,
      products: [],
    })),
  };
}

function renderHome(recommendations: ReturnType<typeof rec>[]) {
  let trendingAsked = 0;
  renderWithApp(<HomePage />, {
    signedIn: true,
    mocks: [
      { request: { query: RecommendationsDocument, variables: { first: 10 } }, result: { data: { recommendations } } },
      {
        request: { query: TrendingDocument, variables: { first: 5 } },
        result: () => {
          trendingAsked += 1;
          return { data: { trending: [product(7)] } };
        },
      },
    ],
  });
  return { trendingAsked: () => trendingAsked };
}

describe("HomePage for a signed-in customer", () => {
  it("greets a customer without personal picks as new, with one 'Popular right now' list", async () => {
    const home = renderHome([rec(1, ["TRENDING"]), rec(2, ["TRENDING"])]);
    expect(await screen.findByRole("heading", { name: "Popular right now" })).toBeInTheDocument();
    expect(screen.getByRole("heading", { level: 1 })).toHaveTextContent("Welcome, alice");
    expect(screen.queryByText(/Welcome back/)).not.toBeInTheDocument();
    expect(screen.queryByRole("heading", { name: "Popular in the shop" })).not.toBeInTheDocument();
    expect(screen.getByRole("link", { name: "Browse the shop" })).toHaveAttribute("href", "/shop");
    expect(screen.getAllByTestId("recommendation")).toHaveLength(2);
    expect(home.trendingAsked()).toBe(0);
  });

  it("welcomes back a customer with personal picks, and shows what is popular below", async () => {
    renderHome([rec(1, ["SIMILAR_TO_PURCHASED", "TRENDING"]), rec(2, ["TRENDING"])]);
    expect(await screen.findByRole("heading", { level: 1, name: "Welcome back, alice" })).toBeInTheDocument();
    expect(screen.getByRole("heading", { name: "Recommended for you" })).toBeInTheDocument();
    expect(await screen.findByRole("heading", { name: "Popular in the shop" })).toBeInTheDocument();
    expect(screen.queryByRole("heading", { name: "Popular right now" })).not.toBeInTheDocument();
  });
});
