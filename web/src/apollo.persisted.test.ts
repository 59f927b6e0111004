import { afterEach, describe, expect, it, vi } from "vitest";
import { createClient, documentHash, documentText } from "./apollo";
import { RecommendationsDocument } from "./components/RecommendationsPanel";
import { TrendingDocument } from "./components/TrendingPanel";
import manifest from "./gql/persisted-documents.json";

interface Sent {
  method: string;
  url: URL;
  body: Record<string, unknown> | null;
}

/** A fetch that records requests and answers with `answers` in turn. */
function recordingFetch(answers: unknown[]): Sent[] {
  const sent: Sent[] = [];
  vi.stubGlobal("fetch", async (input: string, init: RequestInit = {}) => {
    const method = init.method ?? "GET";
    sent.push({
      method,
      url: new URL(input, "http://shop.test/"),
      body: typeof init.body === "string" ? (JSON.parse(init.body) as Record<string, unknown>) : null,
    });
    const answer = answers[Math.min(sent.length - 1, answers.length - 1)];
    return new Response(JSON.stringify(answer), { headers: { "content-type": "application/json" } });
  });
  return sent;
}

const trending = { data: { trending: [] } };

describe("persisted queries", () => {
  afterEach(() => {
    vi.unstubAllGlobals();
  });

  it("sends home page queries as GETs with a hash that is in the build's manifest", async () => {
    const sent = recordingFetch([trending]);
    await createClient("/graphql").query({ query: TrendingDocument, variables: { first: 8 } });
    expect(sent).toHaveLength(1);
    const [request] = sent;
    expect(request!.method).toBe("GET");
    expect(request!.url.searchParams.has("query")).toBe(false);
    const extensions = JSON.parse(request!.url.searchParams.get("extensions") ?? "{}");
    const hash: string = extensions.persistedQuery.sha256Hash;
    expect(Object.keys(manifest)).toContain(hash);
    expect(hash).toBe(await documentHash(TrendingDocument));
  });

  it("every hash the app computes for its operations is a manifest entry of the same text", async () => {
    for (const document of [TrendingDocument, RecommendationsDocument]) {
      // Apollo adds __typename before the link; codegen's manifest has them already.
      const hash = await documentHash(document);
      expect((manifest as Record<string, string>)[hash]).toBe(documentText(document));
    }
  });

  it("sends the full document once, by POST, when the server does not know the hash", async () => {
    const notFound = { errors: [{ message: "PersistedQueryNotFound", extensions: { code: "PERSISTED_QUERY_NOT_FOUND" } }] };
    const sent = recordingFetch([notFound, trending]);
    const result = await createClient("/graphql").query({ query: TrendingDocument, variables: { first: 8 } });
    expect(result.data).toEqual(trending.data);
    expect(sent.map((request) => request.method)).toEqual(["GET", "POST"]);
    const body = sent[1]!.body!;
    const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(body["query"] as string));
    const hex = Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
    expect((body["extensions"] as { persistedQuery: { sha256Hash: string } }).persistedQuery.sha256Hash).toBe(hex);
  });
});
