// Prints the gzipped size of the JavaScript each entry loads (from Vite's manifest) and fails
// when the shop is over its budget. GraphiQL is its own entry (graphiql.html, loaded only at
// /graphql) and is measured apart, so it never eats into the shop's budget.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

const BUDGETS = { "index.html": 300 * 1024, "graphiql.html": 450 * 1024 };
const dist = new URL("../dist/", import.meta.url).pathname;
const manifest = JSON.parse(readFileSync(join(dist, ".vite/manifest.json"), "utf8"));

/** Every JavaScript file the entry `key` loads: its chunk, static and dynamic imports. */
function files(key, seen = new Set()) {
  const chunk = manifest[key];
  if (!chunk || seen.has(chunk.file)) return seen;
  if (chunk.file.endsWith(".js")) seen.add(chunk.file);
  for (const next of [...(chunk.imports ?? []), ...(chunk.dynamicImports ?? [])]) files(next, seen);
  return seen;
}

const kb = (n) => Math.round((n / 1024) * 10) / 10;
let failed = false;
for (const [entry, budget] of Object.entries(BUDGETS)) {
  let raw = 0;
  let gzip = 0;
  const list = [...files(entry)];
  for (const file of list) {
    const data = readFileSync(join(dist, file));
    raw += data.length;
    gzip += gzipSync(data, { level: 9 }).length;
  }
  const metric = entry === "index.html" ? "bundle_js" : "graphiql_bundle_js";
  console.log(JSON.stringify({ metric, files: list.length, raw_kb: kb(raw), gzip_kb: kb(gzip), budget_kb: budget / 1024 }));
  if (list.length === 0) {
    console.error(`${entry} is not in dist/.vite/manifest.json`);
    failed = true;
  } else if (gzip > budget) {
    console.error(`${entry} loads ${kb(gzip)} kB of gzipped JavaScript, over its ${budget / 1024} kB budget`);
    failed = true;
  }
}
if (failed) process.exit(1);
