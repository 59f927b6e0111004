// GraphiQL at /graphql is our own build: it opens with every request off 127.0.0.1 blocked (no
// CDN, no network), under the API's strict CSP, runs a query and completes field names.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { BASE_URL, SHOTS, TIMEOUT, launchBrowser } from "./support.mjs";


let browser;

before(async () => {
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
});

test("GraphiQL loads offline under the CSP, runs a query and autocompletes", async () => {
  const context = await browser.newContext({ baseURL: BASE_URL, viewport: { width: 1280, height: 900 } });
  context.setDefaultTimeout(TIMEOUT);
  const blocked = [];
  // Offline but for this server: anything else (a CDN, fonts, analytics) fails.
  await context.route("**/*", (route) => {
    const url = new URL(route.request().url());
    if (url.hostname === "127.0.0.1") return route.continue();
    blocked.push(url.href);
    return route.abort("internetdisconnected");
  });
  const page = await context.newPage();
  const problems = [];
  page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));
  page.on("console", (msg) => {
    if (msg.type() === "error") problems.push(`console: ${msg.text()}`);
  });

  const response = await page.goto("/graphql");
  assert.equal(response.status(), 200);
  assert.match(response.headers()["content-security-policy"] ?? "", /default-src 'self'/);
  const queryEditor = page.locator(".graphiql-query-editor .CodeMirror");
  await queryEditor.waitFor();

  // Run the default query (trending) and see its data.
  await page.getByRole("button", { name: /Execute query/i }).click();
  const result = page.locator(".result-window");
  await page.waitForFunction(() => /"trending"/.test(document.querySelector(".result-window")?.textContent ?? ""));
  assert.match(await result.innerText(), /"name"/, "the result lists products");

  // Type a new query: the schema (from introspection) completes field names.
  await queryEditor.click();
  await page.keyboard.press("Control+A");
  await page.keyboard.press("Delete");
  await page.keyboard.type("query Categories { categ");
  const hints = page.locator(".CodeMirror-hints");
  await hints.waitFor();
  assert.match(await hints.innerText(), /categories/, "autocomplete suggests `categories`");
  await page.keyboard.press("Enter"); // accept the suggestion
  const editorText = () => page.evaluate(() => document.querySelector(".graphiql-query-editor .CodeMirror").CodeMirror.getValue());
  await page.waitForFunction(() => /\bcategories\b/.test(document.querySelector(".graphiql-query-editor .CodeMirror").CodeMirror.getValue()));
  // Close the selection set whether or not the editor closed the bracket itself.
  if (!/}\s*$/.test(await editorText())) await page.keyboard.type(" }");
  // GraphiQL takes the operation name from the edited text (debounced); its tab shows it.
  await page.getByRole("tab", { name: /Categories/ }).waitFor();
  await page.getByRole("button", { name: /Execute query/i }).click();
  try {
    await page.waitForFunction(() => /"categories"/.test(document.querySelector(".result-window")?.textContent ?? ""));
  } catch (error) {
    const shown = await result.innerText();
    assert.fail(`no categories result for ${JSON.stringify(await editorText())}: ${shown.slice(0, 300)} (${error.message})`);
  }
  await page.screenshot({ path: join(SHOTS, "graphiql.png") });

  assert.deepEqual(blocked, [], "GraphiQL asked for nothing outside this server");
  assert.deepEqual(problems.filter((p) => /Content Security Policy|Refused to/i.test(p)), [], "no CSP violations");
  assert.deepEqual(problems.filter((p) => p.startsWith("page error")), [], "no page errors");
  await context.close();
});
