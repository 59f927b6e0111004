// Accessibility of every page, at desktop (1280 px) and phone (375 px) width: axe-core finds no
// serious or critical violation; on a phone every control is at least 44×44 px, the Account link
// has a name, the "Why?" panel has room to read, product names are not cut off and the search
// box keeps off the screen edge; a failed form submit moves focus to the first invalid field.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { ADMIN as admin, BASE_URL, SHOTS, TIMEOUT, gql, launchBrowser } from "./support.mjs";
import { AxeBuilder } from "@axe-core/playwright";

const TAP = 44; // px, WCAG 2.5.5 (AAA) and the platforms' guidelines

const stamp = Date.now().toString(36);
const WIDTHS = { desktop: { width: 1280, height: 900 }, phone: { width: 375, height: 812 } };

let browser;
const state = {};

/** A browser context at `width` ("desktop" | "phone"), signed in with `token` when given. */
async function open(width, { token, cart } = {}) {
  const phone = width === "phone";
  const context = await browser.newContext({
    baseURL: BASE_URL,
    viewport: WIDTHS[width],
    ...(phone ? { deviceScaleFactor: 2, isMobile: true, hasTouch: true } : {}),
  });
  context.setDefaultTimeout(TIMEOUT);
  await context.addInitScript(
    ({ token, cart }) => {
      if (token && !sessionStorage.getItem("a11y.seeded")) localStorage.setItem("shop.token", token);
      if (cart && !sessionStorage.getItem("a11y.seeded")) localStorage.setItem("shop.cart.v1", JSON.stringify(cart));
      sessionStorage.setItem("a11y.seeded", "1");
    },
    { token, cart },
  );
  const page = await context.newPage();
  page.on("pageerror", (err) => console.error(`page error (${width}):`, err.message));
  return { context, page };
}

const summary = [];

/** Runs axe on the page as it is; fails on serious or critical violations, prints the rest. */
async function checkAxe(page, name, width) {
  const results = await new AxeBuilder({ page }).withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]).analyze();
  const counts = { minor: 0, moderate: 0, serious: 0, critical: 0 };
  for (const v of results.violations) counts[v.impact] = (counts[v.impact] ?? 0) + v.nodes.length;
  summary.push({ page: name, width, ...counts });
  const bad = results.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  const describe = (v) => `${v.impact} ${v.id}: ${v.help} — ${v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(" | ")}`;
  for (const v of results.violations.filter((v) => !bad.includes(v))) console.log(`axe (${name}, ${width}) ${describe(v)}`);
  assert.deepEqual(bad.map(describe), [], `axe: no serious or critical violations on ${name} at ${width} width`);
}

/** Visible controls (links, buttons, inputs) smaller than TAP×TAP px, described. */
async function smallTapTargets(page) {
  return page.evaluate((min) => {
    const selector = "a[href], button, input:not([type=hidden]), select, textarea, [role=button], summary";
    const out = [];
    for (const el of document.querySelectorAll(selector)) {
      const box = el.getBoundingClientRect();
      const style = getComputedStyle(el);
      if (box.width === 0 || box.height === 0 || style.visibility === "hidden") continue;
      if (el.closest("[aria-hidden=true]") || el.classList.contains("skip-link")) continue;
      // A link inside running text is exempt (WCAG 2.5.8 "inline").
      if (el.tagName === "A" && el.closest("p, li.history__item .history__info") && !el.className) continue;
      if (box.width < min - 0.5 || box.height < min - 0.5) {
        const label = (el.getAttribute("aria-label") || el.textContent || el.id || el.tagName).trim().slice(0, 40);
        out.push(`${el.tagName.toLowerCase()}.${el.className || ""} "${label}" ${Math.round(box.width)}×${Math.round(box.height)}`);
      }
    }
    return out;
  }, TAP);
}

before(async () => {
  browser = await launchBrowser();
  // A customer with a purchase, a cart add and a view (history, personal picks), and the admin.
  const reg = await gql(
    `mutation($u: String!, $e: String!, $p: String!) { register(username: $u, email: $e, password: $p) { token } }`,
    { u: `a11y_${stamp}`, e: `a11y_${stamp}@example.com`, p: "correct-horse-battery" },
  );
  state.token = reg.register.token;
  const { products } = await gql(`{ products(first: 3, search: "heart") { edges { node { id sku name price } } } }`);
  const [bought, added, viewed] = products.edges.map((e) => e.node);
  state.product = bought;
  for (const [p, type] of [[bought, "PURCHASE"], [added, "CART_ADD"], [viewed, "VIEW"]]) {
    await gql(`mutation($id: ID!, $t: InteractionType!) { recordInteraction(productId: $id, type: $t) { interaction { id } } }`, { id: p.id, t: type }, state.token);
  }
  state.cart = [{ productId: added.id, sku: added.sku, name: added.name, price: added.price, quantity: 1 }];
  const login = await gql(`mutation($u: String!, $p: String!) { login(username: $u, password: $p) { token } }`, { u: admin.username, p: admin.password });
  state.adminToken = login.login.token;
});

after(async () => {
  console.log(JSON.stringify({ metric: "axe_violations", pages: summary }));
  await browser?.close();
});

/** Each page, how to tell it has loaded, and who looks at it. */
const PAGES = [
  { name: "home (visitor)", path: "/", ready: (p) => p.getByTestId("trending").locator("article").first().waitFor() },
  { name: "home", path: "/", who: "customer", ready: (p) => p.getByTestId("recommendation").first().waitFor() },
  { name: "product", path: () => `/product/${encodeURIComponent(state.product.id)}`, who: "customer", ready: (p) => p.getByTestId("similar-products").locator("article").first().waitFor() },
  { name: "search", path: "/shop?q=heart", ready: (p) => p.getByTestId("product-list").locator("article").first().waitFor() },
  { name: "category", path: "/shop?q=lantern&min=1&max=10", ready: (p) => p.getByTestId("result-count").waitFor() },
  { name: "cart", path: "/cart", who: "customer", ready: (p) => p.getByTestId("cart-line").first().waitFor() },
  { name: "account", path: "/account", who: "customer", ready: (p) => p.getByTestId("history").locator("li").first().waitFor() },
  { name: "login", path: "/login", ready: (p) => p.getByRole("heading", { name: "Sign in" }).waitFor() },
  { name: "register", path: "/register", ready: (p) => p.getByRole("heading", { name: "Create an account" }).waitFor() },
  { name: "admin", path: "/admin", who: "admin", ready: (p) => p.getByTestId("admin-trending").locator("li").first().waitFor() },
  { name: "not found", path: "/no-such-page", ready: (p) => p.getByRole("heading", { name: /couldn't find/i }).waitFor() },
  { name: "product not found", path: "/product/garbage", ready: (p) => p.getByRole("heading", { name: /couldn't find/i }).waitFor() },
];

for (const width of ["desktop", "phone"]) {
  for (const spec of PAGES) {
    test(`${spec.name} at ${width} width: axe finds nothing serious${width === "phone" ? ", tap targets ≥ 44 px" : ""}`, async () => {
      const token = spec.who === "admin" ? state.adminToken : spec.who === "customer" ? state.token : undefined;
      const { context, page } = await open(width, { token, cart: spec.who === "customer" ? state.cart : undefined });
      try {
        await page.goto(typeof spec.path === "function" ? spec.path() : spec.path);
        await spec.ready(page);
        await page.waitForLoadState("networkidle");
        await checkAxe(page, spec.name, width);
        if (width === "phone") {
          assert.deepEqual(await smallTapTargets(page), [], `controls of at least ${TAP}×${TAP} px on ${spec.name}`);
          const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
          assert.ok(overflow <= 0, `no horizontal scrolling on ${spec.name} (overflow ${overflow}px)`);
          const search = await page.getByRole("search").boundingBox();
          assert.ok(search.x >= 8 && search.x + search.width <= WIDTHS.phone.width - 8, `the search box keeps off the edges: ${JSON.stringify(search)}`);
          if (spec.who) {
            const account = page.getByRole("link", { name: "Account", exact: true });
            assert.ok(await account.isVisible(), "the Account link (an avatar on a phone) has a name");
          }
        }
        await page.screenshot({ path: join(SHOTS, `a11y-${spec.name.replace(/\W+/g, "-")}-${width}.png`), fullPage: true });
      } finally {
        await context.close();
      }
    });
  }
}

test("a failed submit moves focus to the first invalid field or the error summary", async () => {
  for (const width of ["desktop", "phone"]) {
    const { context, page } = await open(width);
    try {
      const focused = () => page.evaluate(() => document.activeElement?.id && document.querySelector(`label[for="${document.activeElement.id}"]`)?.textContent);
      await page.goto("/login");
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.getByTestId("username-error").waitFor();
      assert.equal(await focused(), "Username", `${width}: empty sign-in focuses Username`);

      await page.getByLabel("Username").fill(`nobody_${stamp}`);
      await page.getByLabel("Password").fill("not-the-password");
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.getByTestId("password-error").waitFor();
      await page.waitForFunction(() => document.activeElement?.getAttribute("aria-invalid") === "true");
      assert.equal(await focused(), "Password", `${width}: the server's password error focuses Password`);

      await page.goto("/register");
      await page.getByLabel("Username").fill(`reg_${stamp}`);
      await page.getByLabel("Email").fill("not-an-email");
      await page.getByLabel("Password").fill("short");
      await page.getByRole("button", { name: "Create account" }).click();
      await page.getByTestId("email-error").waitFor();
      assert.equal(await focused(), "Email", `${width}: register focuses the first invalid field`);

      await page.goto("/shop");
      await page.getByLabel("Min price (£)").fill("-1");
      await page.getByRole("button", { name: "Apply" }).click();
      await page.getByText("Enter a price of 0 or more.").waitFor();
      assert.equal(await focused(), "Min price (£)", `${width}: a bad filter focuses its field`);
    } finally {
      await context.close();
    }
  }
});

test("on a phone the 'Why?' panel spans the row and the account history shows names in full", async () => {
  const { context, page } = await open("phone", { token: state.token });
  try {
    await page.goto("/");
    const first = page.getByTestId("recommendation").first();
    const toggle = first.getByRole("button", { name: /^Why\?/ });
    const box = await toggle.boundingBox();
    assert.ok(box.width >= TAP && box.height >= TAP, `"Why?" is ${box.width}×${box.height}`);
    await toggle.click();
    const panel = first.locator(".why__panel");
    await panel.waitFor();
    const panelBox = await panel.boundingBox();
    assert.ok(panelBox.width >= WIDTHS.phone.width * 0.75, `the "Why?" panel is ${Math.round(panelBox.width)} px wide on a 375 px screen`);
    await page.screenshot({ path: join(SHOTS, "a11y-why-phone.png") });

    await page.goto("/account");
    const links = page.getByTestId("history").locator("li a");
    await links.first().waitFor();
    const cut = await links.evaluateAll((els) => els.filter((e) => e.scrollWidth > e.clientWidth + 1).map((e) => e.textContent));
    assert.deepEqual(cut, [], "no product name is cut off");
  } finally {
    await context.close();
  }
});

test("similar and trending lists mark a product in the cart 'In your cart' instead of offering it again", async () => {
  const { trending } = await gql(`{ trending(first: 1) { id sku name price } }`);
  const top = trending[0];
  const cart = [{ productId: top.id, sku: top.sku, name: top.name, price: top.price, quantity: 1 }];
  const { context, page } = await open("desktop", { cart });
  try {
    await page.goto("/");
    const card = page.getByTestId("trending").getByRole("article").first();
    await card.getByTestId("in-cart").waitFor();
    assert.equal(await card.getByRole("button", { name: /^Add .* to cart$/ }).count(), 0, "no second 'Add to cart'");
    assert.ok(await page.getByTestId("trending").getByRole("button", { name: /^Add .* to cart$/ }).count() > 0, "other products can be added");

    await page.goto(`/product/${encodeURIComponent(state.product.id)}`);
    const similar = page.getByTestId("similar-products").getByRole("article").first();
    await similar.getByRole("button", { name: /^Add .* to cart$/ }).click();
    const mark = similar.getByTestId("in-cart");
    await mark.waitFor();
    assert.equal(await mark.evaluate((el) => el === document.activeElement), true, "focus stays on the card's control");
    assert.match(await mark.innerText(), /In your cart/);
  } finally {
    await context.close();
  }
});
