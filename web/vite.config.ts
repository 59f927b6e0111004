/// <reference types="vitest/config" />
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

const api = process.env.API_URL ?? "http://127.0.0.1:8000";

export default defineConfig({
  plugins: [react()],
  server: {
    proxy: {
      "/graphql": { target: api, changeOrigin: true, ws: true },
      "/readyz": { target: api },
    },
  },
  build: {
    target: "es2022",
    sourcemap: false,
    chunkSizeWarningLimit: 800, // GraphiQL's entry is ~770 kB (its own page only)
    // dist/.vite/manifest.json: scripts/bundle-size.mjs measures each entry from it.
    manifest: true,
    rollupOptions: {
      // The shop, and GraphiQL (served by the API at GET /graphql; the shop never loads it).
      input: { shop: "index.html", graphiql: "graphiql.html" },
    },
  },
  test: {
    environment: "jsdom",
    globals: true,
    setupFiles: ["./src/test/setup.ts"],
    include: ["src/**/*.test.{ts,tsx}"],
    css: false,
  },
});
