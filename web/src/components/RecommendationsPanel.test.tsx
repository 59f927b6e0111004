import { screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import {
  RecommendationExplanationDocument,
  RecommendationsDocument,
  RecommendationsPanel,
  RecommendationsUpdatedDocument,
  tidyCaps,
  visitTitle,
} from "./RecommendationsPanel";
import { AddToCartButton } from "./AddToCartButton";
import { RecordInteractionDocument } from "../interactions";
import { product, renderWithApp, SignedInProbe } from "../test/utils";

function rec(n: number, rank: number, reasons: Array<{ kind: string; detail: string; weight?: number }>) {
  return {
    __typename: "Recommendation" as const,
    rank,
    score: 1 / rank,
    collaborativeScore: 0.5,
    contentScore: 0.25,
    product: product(n),
    reasons: reasons.map((r) => ({
      __typename: "Reason" as const,
      kind: r.kind,
      weight: r.weight ?? 0.5,
      detail: r.detail,
      category: null,
      products: [],
    })),
  };
}

const first = [
  rec(1, 1, [
    { kind: "SIMILAR_TO_PURCHASED", detail: "Similar to RED HEART MUG, which you bought" },
    { kind: "TRENDING", detail: "Popular in the shop right now" },
  ]),
  rec(2, 2, [{ kind: "CONTENT_MATCH", detail: "Matches your products" }]),
];

describe("RecommendationsPanel", () => {
  it("shows each item's reasons as chips and fetches 'Why?' on click only", async () => {
    let explanationAsked = 0;
    renderWithApp(<RecommendationsPanel first={2} />, {
      signedIn: true,
      mocks: [
        { request: { query: RecommendationsDocument, variables: { first: 2 } }, result: { data: { recommendations: first } } },
        {
          request: { query: RecommendationExplanationDocument, variables: { productId: product(1).id } },
          result: () => {
            explanationAsked += 1;
            return {
              data: {
                recommendation: {
                  __typename: "Recommendation",
                  rank: 1,
                  explanation: { __typename: "Explanation", text: "You bought the RED HEART MUG, and this goes with it.", source: "TEMPLATE" },
                },
              },
            };
          },
        },
      ],
    });

    const items = await screen.findAllByTestId("recommendation");
    expect(items).toHaveLength(2);
    const firstItem = within(items[0]!);
    expect(firstItem.getByText("Goes with your picks")).toBeInTheDocument();
    expect(firstItem.getByText("Trending")).toBeInTheDocument();
    expect(within(items[1]!).getByText("Matches your taste")).toBeInTheDocument();
    expect(firstItem.getByRole("link", { name: "Product Number 1" })).toBeInTheDocument();
    expect(explanationAsked).toBe(0);

    const why = firstItem.getByRole("button", { name: /Why\?/ });
    expect(why).toHaveAttribute("aria-expanded", "false");
    await userEvent.click(why);
    expect(await firstItem.findByTestId("why-text")).toHaveTextContent("You bought the Red Heart Mug, and this goes with it.");
    expect(firstItem.getByRole("button", { name: /Hide why/ })).toHaveAttribute("aria-expanded", "true");
    expect(explanationAsked).toBe(1);
  });

  it("says so when there are no picks, and shows a friendly error", async () => {
    renderWithApp(<RecommendationsPanel first={3} />, {
      signedIn: true,
      mocks: [{ request: { query: RecommendationsDocument, variables: { first: 3 } }, result: { data: { recommendations: [] } } }],
    });
    expect(await screen.findByText("No picks for you yet")).toBeInTheDocument();
  });

  it("asks the visitor to sign in on UNAUTHENTICATED", async () => {
    renderWithApp(<RecommendationsPanel first={4} />, {
      mocks: [
        {
          request: { query: RecommendationsDocument, variables: { first: 4 } },
          result: { errors: [{ message: "Sign in to do this", extensions: { code: "UNAUTHENTICATED" } }] },
        },
      ],
    });
    expect(await screen.findByRole("alert")).toHaveTextContent("Please sign in to see this.");
    expect(screen.getByRole("link", { name: "Sign in" })).toBeInTheDocument();
  });

  it("refreshes after a cart add", async () => {
    const second = [rec(3, 1, [{ kind: "SIMILAR_CUSTOMERS", detail: "Customers like you chose it" }]), first[1]!];
    renderWithApp(
      <>
        <SignedInProbe />
        <AddToCartButton product={product(9)} />
        <RecommendationsPanel first={2} />
      </>,
      {
        signedIn: true,
        mocks: [
          { request: { query: RecommendationsDocument, variables: { first: 2 } }, result: { data: { recommendations: first } } },
          {
            request: { query: RecordInteractionDocument, variables: { productId: product(9).id, type: "CART_ADD", quantity: 1 } },
            result: {
              data: {
                recordInteraction: {
                  __typename: "RecordInteractionPayload",
                  interaction: { __typename: "Interaction", id: "SW50OjE=", type: "CART_ADD", quantity: 1 },
                  errors: [],
                },
              },
            },
          },
          { request: { query: RecommendationsDocument, variables: { first: 2 } }, result: { data: { recommendations: second } } },
        ],
      },
    );
    expect(await screen.findByRole("link", { name: "Product Number 1" })).toBeInTheDocument();
    // Wait until signed in, so the cart add is recorded.
    await screen.findByTestId("signed-in");
    await userEvent.click(screen.getByRole("button", { name: "Add to cart" }));
    expect(await screen.findByRole("link", { name: "Product Number 3" })).toBeInTheDocument();
    expect(screen.queryByRole("link", { name: "Product Number 1" })).not.toBeInTheDocument();
    expect(JSON.parse(window.localStorage.getItem("shop.cart.v1") ?? "[]")).toHaveLength(1);
  });

  it("replaces its items with each list the server pushes (another tab's event), without asking again", async () => {
    const pushed = [rec(4, 1, [{ kind: "SIMILAR_TO_PURCHASED", detail: "Goes with what you just added" }]), first[0]!];
    let queried = 0;
    renderWithApp(<RecommendationsPanel first={2} />, {
      signedIn: true,
      mocks: [
        {
          request: { query: RecommendationsDocument, variables: { first: 2 } },
          result: () => {
            queried += 1;
            return { data: { recommendations: first } };
          },
        },
        {
          request: { query: RecommendationsUpdatedDocument, variables: { first: 2 } },
          result: { data: { recommendationsUpdated: pushed } },
          delay: 50,
        },
      ],
    });
    expect(await screen.findByRole("link", { name: "Product Number 2" })).toBeInTheDocument();
    expect(await screen.findByRole("link", { name: "Product Number 4" })).toBeInTheDocument();
    expect(screen.queryByRole("link", { name: "Product Number 2" })).not.toBeInTheDocument();
    const items = screen.getAllByTestId("recommendation");
    expect(items.map((item) => item.dataset["productId"])).toEqual([product(4).id, product(1).id]);
    expect(queried).toBe(1);
  });
});

describe("tidyCaps", () => {
  it("title-cases quoted catalogue names only", () => {
    expect(tidyCaps("Similar to RED HEART MUG and TAPE, which you bought")).toBe("Similar to Red Heart Mug and TAPE, which you bought");
  });
});

describe("visitTitle", () => {
  it("names the viewed product a visitor's pick comes from", () => {
    const viewed = rec(1, 1, [{ kind: "SIMILAR_TO_PURCHASED", detail: "Similar to RED MUG, which you viewed" }]);
    viewed.reasons[0]!.products = [{ __typename: "Product", id: "UHJvZHVjdDo5", name: "RED MUG" }] as never;
    expect(visitTitle([viewed] as never)).toBe("Because you viewed Red Mug");
    expect(visitTitle([rec(2, 1, [{ kind: "TRENDING", detail: "Popular lately" }])] as never)).toBe("Picked for your visit");
    expect(visitTitle(undefined)).toBe("Picked for your visit");
  });
});
