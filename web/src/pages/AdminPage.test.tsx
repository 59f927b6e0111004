import { screen, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import type { MockLink } from "@apollo/client/testing";
import { GraphQLError } from "graphql";
import {
  ADMIN_TRENDING,
  AdminExperimentsDocument,
  AdminModelInfoDocument,
  AdminOfflineEvaluationDocument,
  AdminPage,
  AdminTrendingDocument,
} from "./AdminPage";
import { Layout } from "../components/Layout";
import { MeDocument } from "../auth";
import { ME, product, renderWithApp } from "../test/utils";

const ADMIN = { ...ME, id: "VXNlcjo5", username: "boss", email: "boss@example.com", role: "ADMIN" as const };

const adminMe = (): MockLink.MockedResponse => ({
  request: { query: MeDocument },
  result: { data: { me: ADMIN } },
  maxUsageCount: Number.POSITIVE_INFINITY,
});

const modelInfo = {
  __typename: "ModelInfo" as const,
  version: 7,
  trainedAt: "2026-01-05T10:20:00",
  trainSeconds: 12.4,
  events: 401604,
  users: 4338,
  products: 3684,
  algorithm: "EASE",
  stage: "RANKER" as const,
  rankerSeconds: 3.2,
  rankerBytes: 11700,
};

const evaluation = {
  __typename: "OfflineEvaluation" as const,
  ranAt: "2026-01-05T09:00:00",
  dataset: "online-retail",
  cutoff: "2011-10-01",
  k: 10,
  evalUsers: 1912,
  default: "default",
  models: [
    { name: "default", precision: 0.0412, recall: 0.0611, ndcg: 0.0734, hitRate: 0.3121, map: 0.031, coverage: 0.41, msPerUser: 0.42 },
    { name: "brief", precision: 0.0398, recall: 0.0587, ndcg: 0.0701, hitRate: 0.3011, map: 0.029, coverage: 0.46, msPerUser: 0.51 },
    { name: "popularity", precision: 0.021, recall: 0.029, ndcg: 0.0322, hitRate: 0.18, map: 0.012, coverage: 0.01, msPerUser: 0.05 },
  ].map((m) => ({ __typename: "OfflineModelMetrics" as const, ...m })),
};

const experiment = {
  __typename: "Experiment" as const,
  id: "blend-2026",
  name: "Brief blend vs default",
  active: true,
  variants: [
    { name: "default", config: "default", weight: 0.5, impressions: 1200, clicks: 60, conversions: 12, clickThroughRate: 0.05, conversionRate: 0.01 },
    { name: "brief", config: "brief", weight: 0.5, impressions: 1180, clicks: 71, conversions: 15, clickThroughRate: 0.0602, conversionRate: 0.0127 },
  ].map((v) => ({ __typename: "ExperimentVariant" as const, ...v })),
  differences: [
    { metric: "clickThroughRate", baseline: "default", variant: "brief", estimate: 0.0102, lower: -0.0081, upper: 0.0285 },
    { metric: "conversionRate", baseline: "default", variant: "brief", estimate: 0.0027, lower: 0.0004, upper: 0.005 },
    { metric: "clickThroughRate", baseline: "default", variant: "late", estimate: 0, lower: -1, upper: 1 },
  ].map((d) => ({ __typename: "ExperimentDifference" as const, ...d })),
};

function dashboardMocks(
  offlineEvaluation: typeof evaluation | null = evaluation,
  model: typeof modelInfo | null = modelInfo,
): MockLink.MockedResponse[] {
  return [
    adminMe(),
    { request: { query: AdminModelInfoDocument }, result: { data: { modelInfo: model } } },
    { request: { query: AdminOfflineEvaluationDocument }, result: { data: { offlineEvaluation } } },
    { request: { query: AdminExperimentsDocument }, result: { data: { experiments: [experiment] } } },
    {
      request: { query: AdminTrendingDocument, variables: { first: ADMIN_TRENDING } },
      result: { data: { trending: [product(1, { purchaseCount: 90 }), product(2, { purchaseCount: 45 })] } },
    },
  ];
}

function signIn() {
  window.localStorage.setItem("shop.token", "admin-token");
}

describe("AdminPage", () => {
  it("shows the model, the offline evaluation table and the experiment charts", async () => {
    signIn();
    renderWithApp(<AdminPage />, { route: "/admin", mocks: dashboardMocks() });

    expect(await screen.findByRole("heading", { level: 1, name: "Recommender dashboard" })).toBeInTheDocument();
    expect(await screen.findByTestId("model-version")).toHaveTextContent("v7");
    const model = screen.getByTestId("model-info");
    expect(within(model).getByText("401,604")).toBeInTheDocument();
    expect(within(model).getByText("4,338")).toBeInTheDocument();
    expect(within(model).getByText("in 12 s")).toBeInTheDocument();
    expect(within(model).getByTestId("model-stage")).toHaveTextContent("Learned ranker");

    const table = await screen.findByTestId("evaluation-table");
    const rows = within(table).getAllByRole("row");
    expect(rows).toHaveLength(4);
    const defaultRow = rows[1]!;
    expect(within(defaultRow).getByRole("rowheader")).toHaveTextContent("defaultserving");
    expect(defaultRow).toHaveClass("is-default");
    expect(rows[2]).not.toHaveClass("is-default");
    expect(within(defaultRow).getByText("0.0734")).toHaveClass("is-best");
    expect(within(table).getByRole("columnheader", { name: "NDCG@10" })).toBeInTheDocument();
    expect(screen.getByText(/1,912 customers scored/)).toBeInTheDocument();

    const card = await screen.findByTestId("experiment");
    expect(within(card).getByRole("heading", { name: "Brief blend vs default" })).toBeInTheDocument();
    expect(within(card).getAllByTestId("variant").map((v) => v.textContent)).toEqual([
      expect.stringContaining("default"),
      expect.stringContaining("brief"),
    ]);
    const ctr = within(card).getByRole("img", { name: /^Click-through rate: default 5\.00%, brief 6\.02%$/ });
    expect(ctr.tagName.toLowerCase()).toBe("svg");
    const bars = ctr.querySelectorAll("rect[data-value]");
    expect(bars).toHaveLength(2);
    // The larger value fills the track; the smaller is proportionally shorter.
    expect(Number(bars[1]!.getAttribute("width"))).toBeGreaterThan(Number(bars[0]!.getAttribute("width")));
    expect(within(card).getByRole("img", { name: /^Impressions: default 1,200, brief 1,180$/ })).toBeInTheDocument();

    const differences = within(card).getAllByTestId("difference");
    expect(differences).toHaveLength(3);
    expect(differences[0]).toHaveClass("interval--unclear");
    expect(within(differences[0]!).getByRole("img")).toHaveAccessibleName(
      "Click-through rate, brief vs default: difference +1.02 pp, 95% confidence interval −0.81 pp to +2.85 pp. No clear difference.",
    );
    expect(differences[1]).toHaveClass("interval--better");
    // [-1, 1]: no impressions on one side yet.
    expect(differences[2]).toHaveClass("interval--empty");
    expect(within(differences[2]!).getByText("Not enough data")).toBeInTheDocument();
    expect(differences[2]!.querySelector("circle")).toBeNull();

    const trending = await screen.findByTestId("admin-trending");
    expect(within(trending).getAllByRole("listitem")).toHaveLength(2);
    expect(within(trending).getByRole("link", { name: "Product Number 1" })).toBeInTheDocument();
  });

  it("says how to run an evaluation when there is none", async () => {
    signIn();
    renderWithApp(<AdminPage />, { route: "/admin", mocks: dashboardMocks(null) });
    expect(await screen.findByText("No evaluation yet")).toBeInTheDocument();
    expect(screen.getByText(/recommender evaluate/)).toBeInTheDocument();
    expect(screen.queryByTestId("evaluation-table")).not.toBeInTheDocument();
  });

  it("says when no model is published yet", async () => {
    signIn();
    renderWithApp(<AdminPage />, { route: "/admin", mocks: dashboardMocks(evaluation, null) });
    expect(await screen.findByTestId("model-none")).toHaveTextContent("No model published yet");
    expect(screen.queryByTestId("model-version")).not.toBeInTheDocument();
  });

  it("tells a customer that the page is for admins only", async () => {
    renderWithApp(<AdminPage />, { route: "/admin", signedIn: true });
    expect(await screen.findByRole("heading", { name: "Admins only" })).toBeInTheDocument();
    expect(screen.getByText(/signed in as/)).toHaveTextContent("You're signed in as alice, which is a customer account.");
    expect(screen.queryByTestId("admin-dashboard")).not.toBeInTheDocument();
  });

  it("shows 'Admins only' when the API answers FORBIDDEN", async () => {
    signIn();
    renderWithApp(<AdminPage />, {
      route: "/admin",
      mocks: [
        adminMe(),
        {
          request: { query: AdminModelInfoDocument },
          result: { errors: [new GraphQLError("Admins only.", { extensions: { code: "FORBIDDEN" } })] },
        },
        ...dashboardMocks().slice(2),
      ],
    });
    expect(await screen.findByRole("heading", { name: "Admins only" })).toBeInTheDocument();
  });

  it("asks a visitor to sign in", async () => {
    renderWithApp(<AdminPage />, { route: "/admin" });
    expect(await screen.findByRole("heading", { name: "Admins only" })).toBeInTheDocument();
    expect(screen.getByRole("link", { name: "Sign in" })).toHaveAttribute("href", "/login?next=/admin");
  });
});

describe("Admin link in the header", () => {
  it("is shown to admins", async () => {
    signIn();
    renderWithApp(<Layout>page</Layout>, { mocks: [adminMe()] });
    expect(await screen.findByRole("link", { name: "Admin" })).toHaveAttribute("href", "/admin");
  });

  it("is not shown to customers", async () => {
    renderWithApp(<Layout>page</Layout>, { signedIn: true });
    expect(await screen.findByTestId("account-link")).toBeInTheDocument();
    expect(screen.queryByRole("link", { name: "Admin" })).not.toBeInTheDocument();
  });
});
