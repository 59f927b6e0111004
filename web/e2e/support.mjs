// What every end-to-end file needs: where the server and the browser are, the admin that run.sh
// creates, a GraphQL call, and a headless Chromium.
import { mkdirSync } from "node:fs";
import { chromium } from "playwright-core";

export const BASE_URL = (process.env.BASE_URL ?? "http://127.0.0.1:8000").replace(/\/$/, "");
export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
export const SHOTS = new URL("./screenshots/", import.meta.url).pathname;
export const TIMEOUT = 30_000;
/** Created by run.sh (`recommender create-admin`). */
export const ADMIN = { username: "e2e-admin", password: "admin-password-123" };

/** POST `query` to the server; its `data`, or an Error carrying the GraphQL errors. */
export async function gql(query, variables = {}, token) {
  const res = await fetch(`${BASE_URL}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  const body = await res.json();
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data;
}

/** Debian's Chromium, headless, with a fresh temporary profile (removed on close); makes SHOTS. */
export async function launchBrowser() {
  mkdirSync(SHOTS, { recursive: true });
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless=new",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
      "--disable-quic",
    ],
  });
}
