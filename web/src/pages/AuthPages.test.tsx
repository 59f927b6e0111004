import { screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { Route, Routes } from "react-router";
import { describe, expect, it } from "vitest";
import { LoginDocument, LoginPage, RegisterDocument, RegisterPage } from "./AuthPages";
import { renderWithApp } from "../test/utils";
import { MeDocument } from "../auth";
import type { ErrorCode } from "../gql/graphql";

const failed = (errors: Array<{ field: string | null; message: string; code: ErrorCode }>) => ({
  __typename: "AuthPayload",
  token: null,
  user: null,
  errors: errors.map((e) => ({ __typename: "UserError", ...e })),
});

describe("LoginPage", () => {
  it("shows the server's error next to the field it names", async () => {
    const login = failed([{ field: "password", message: "Wrong username or password", code: "UNAUTHENTICATED" }]);
    renderWithApp(<LoginPage />, {
      route: "/login",
      mocks: [{ request: { query: LoginDocument, variables: { username: "alice", password: "not-it-at-all" } }, result: { data: { login } } }],
    });
    await userEvent.type(screen.getByLabelText("Username"), "alice");
    await userEvent.type(screen.getByLabelText("Password"), "not-it-at-all");
    await userEvent.click(screen.getByRole("button", { name: "Sign in" }));
    const error = await screen.findByTestId("password-error");
    expect(error).toHaveTextContent("Wrong username or password");
    expect(screen.getByLabelText("Password")).toHaveAttribute("aria-invalid", "true");
    expect(screen.getByLabelText("Password")).toHaveAccessibleDescription("Wrong username or password");
  });

  it("checks empty fields before asking the server, and moves focus to the first", async () => {
    renderWithApp(<LoginPage />, { route: "/login" });
    await userEvent.click(screen.getByRole("button", { name: "Sign in" }));
    expect(screen.getByTestId("username-error")).toHaveTextContent("Enter your username.");
    expect(screen.getByTestId("password-error")).toHaveTextContent("Enter your password.");
    expect(screen.getByLabelText("Username")).toHaveFocus();
  });

  it("moves focus to the field the server's error names, or to the error summary", async () => {
    const login = failed([{ field: "password", message: "Wrong username or password", code: "UNAUTHENTICATED" }]);
    renderWithApp(<LoginPage />, {
      route: "/login",
      mocks: [
        { request: { query: LoginDocument, variables: { username: "alice", password: "not-it-at-all" } }, result: { data: { login } } },
        { request: { query: LoginDocument, variables: { username: "alice", password: "second-try-pw" } }, error: new TypeError("Failed to fetch") },
      ],
    });
    await userEvent.type(screen.getByLabelText("Username"), "alice");
    await userEvent.type(screen.getByLabelText("Password"), "not-it-at-all");
    await userEvent.click(screen.getByRole("button", { name: "Sign in" }));
    await screen.findByTestId("password-error");
    expect(screen.getByLabelText("Password")).toHaveFocus();

    await userEvent.clear(screen.getByLabelText("Password"));
    await userEvent.type(screen.getByLabelText("Password"), "second-try-pw");
    await userEvent.click(screen.getByRole("button", { name: "Sign in" }));
    const summary = await screen.findByTestId("form-error");
    expect(summary).toHaveTextContent("We can't reach the shop");
    expect(summary).toHaveFocus();
  });
});

describe("RegisterPage", () => {
  it("validates locally, then shows a server conflict on the username", async () => {
    const register = failed([{ field: "username", message: "This username is taken", code: "CONFLICT" }]);
    renderWithApp(<RegisterPage />, {
      route: "/register",
      mocks: [
        {
          request: { query: RegisterDocument, variables: { username: "alice", email: "alice@example.com", password: "long-enough-pw" } },
          result: { data: { register } },
        },
      ],
    });
    await userEvent.type(screen.getByLabelText("Username"), "al");
    await userEvent.type(screen.getByLabelText("Email"), "alice@example.com");
    await userEvent.type(screen.getByLabelText("Password"), "short");
    await userEvent.click(screen.getByRole("button", { name: "Create account" }));
    expect(screen.getByTestId("username-error")).toHaveTextContent("3 to 64");
    expect(screen.getByTestId("password-error")).toHaveTextContent("at least 10 characters");

    await userEvent.type(screen.getByLabelText("Username"), "ice");
    await userEvent.clear(screen.getByLabelText("Password"));
    await userEvent.type(screen.getByLabelText("Password"), "long-enough-pw");
    await userEvent.click(screen.getByRole("button", { name: "Create account" }));
    expect(await screen.findByTestId("username-error")).toHaveTextContent("This username is taken");
    expect(screen.queryByTestId("password-error")).not.toBeInTheDocument();
  });

  it("signs the new customer in and goes to the page they came from", async () => {
    renderWithApp(
      <Routes>
        <Route path="/register" element={<RegisterPage />} />
        <Route path="/cart" element={<p>cart page</p>} />
      </Routes>,
      {
        route: "/register?next=/cart",
        mocks: [
          {
            request: { query: RegisterDocument, variables: { username: "bob", email: "bob@example.com", password: "long-enough-pw" } },
            result: {
              data: {
                register: {
                  __typename: "AuthPayload",
                  token: "new-token",
                  user: { __typename: "User", id: "VXNlcjoy", username: "bob" },
                  errors: [],
                },
              },
            },
          },
          {
            request: { query: MeDocument },
            result: {
              data: {
                me: { __typename: "User", id: "VXNlcjoy", username: "bob", email: "bob@example.com", role: "CUSTOMER", createdAt: "2025-01-01T00:00:00" },
              },
            },
            maxUsageCount: Number.POSITIVE_INFINITY,
          },
        ],
      },
    );
    await userEvent.type(screen.getByLabelText("Username"), "bob");
    await userEvent.type(screen.getByLabelText("Email"), "bob@example.com");
    await userEvent.type(screen.getByLabelText("Password"), "long-enough-pw");
    await userEvent.click(screen.getByRole("button", { name: "Create account" }));
    expect(await screen.findByText("cart page")).toBeInTheDocument();
    expect(window.localStorage.getItem("shop.token")).toBe("new-token");
  });
});
