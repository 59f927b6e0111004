import type { ReactElement } from "react";
import { render } from "@testing-library/react";
import { MockedProvider } from "@apollo/client/testing/react";
import type { MockLink } from "@apollo/client/testing";
import { MemoryRouter } from "react-router";
import { createCache, TOKEN_KEY } from "../apollo";
import { AuthProvider, MeDocument, useAuth } from "../auth";
import { CartProvider } from "../cart";

export const ME = {
  __typename: "User" as const,
  id: "VXNlcjox",
  username: "alice",
  email: "alice@example.com",
  role: "CUSTOMER" as const,
  createdAt: "2025-01-02T03:04:05",
};

export const meMock = (): MockLink.MockedResponse => ({
  request: { query: MeDocument },
  result: { data: { me: ME } },
  maxUsageCount: Number.POSITIVE_INFINITY,
});

export function product(n: number, overrides: Record<string, unknown> = {}) {
  return {
    __typename: "Product" as const,
    id: `UHJvZHVjdDo${n}`,
    sku: `SKU${n}`,
    name: `PRODUCT NUMBER ${n}`,
    price: n + 0.5,
    category: null,
    imageUrl: null,
    purchaseCount: n,
    ...overrides,
  };
}

interface Options {
  mocks?: ReadonlyArray<MockLink.MockedResponse>;
  route?: string;
  signedIn?: boolean;
}

/** Renders with the app's own cache policies, a router, auth and cart. */
export function renderWithApp(ui: ReactElement, { mocks = [], route = "/", signedIn = false }: Options = {}) {
  if (signedIn) window.localStorage.setItem(TOKEN_KEY, "test-token");
  const all = signedIn ? [meMock(), ...mocks] : mocks;
  return render(
    <MockedProvider mocks={all} cache={createCache()}>
      <MemoryRouter initialEntries={[route]}>
        <AuthProvider>
          <CartProvider>{ui}</CartProvider>
        </AuthProvider>
      </MemoryRouter>
    </MockedProvider>,
  );
}

/** Renders a marker once the mocked customer is signed in. */
export function SignedInProbe() {
  const { status } = useAuth();
  return status === "signedIn" ? <span data-testid="signed-in" /> : null;
}
