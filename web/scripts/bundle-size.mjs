// Prints the gzipped size of the built JavaScript and fails over the budget.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

const BUDGET = 300 * 1024;
const dir = new URL("../dist/assets/", import.meta.url).pathname;
let raw = 0;
let gzip = 0;
const files = readdirSync(dir).filter((f) => f.endsWith(".js"));
for (const file of files) {
  const data = readFileSync(join(dir, file));
  raw += data.length;
  gzip += gzipSync(data, { level: 9 }).length;
}
const kb = (n) => Math.round((n / 1024) * 10) / 10;
console.log(JSON.stringify({ metric: "bundle_js", files: files.length, raw_kb: kb(raw), gzip_kb: kb(gzip), budget_kb: BUDGET / 1024 }));
if (gzip > BUDGET) {
  console.error(`JavaScript bundle is ${kb(gzip)} kB gzipped, over the ${BUDGET / 1024} kB budget`);
  process.exit(1);
}
