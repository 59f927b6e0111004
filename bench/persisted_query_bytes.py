"""Request bytes of the web app's home page queries, sent in full (POST with the document) and as
automatic persisted queries (GET with the document's hash), and their latency on a real server.

The home page of a signed-in customer runs `Me`, `Recommendations(first: 10)` and
`Trending(first: 5)`; their documents are read from the manifest that `npm run codegen` writes
(web/src/gql/persisted-documents.json, generated first when missing), as the app sends them.
Counted per request: the request line, the headers the app sets (content-type, accept,
authorization) and the body.
Prints one JSON line.

    python -m bench.persisted_query_bytes [--requests 100] [--dataset DIR]
"""

import argparse
import hashlib
import json
import re
import secrets
import subprocess
import sys
import tempfile
import time
from typing import Any
from urllib.parse import urlencode

import httpx

from app.settings import PROJECT_ROOT
from bench._support import customer_tokens, run_cli, server, summary_ms, temporary_database

MANIFEST = PROJECT_ROOT / "web" / "src" / "gql" / "persisted-documents.json"
HOME_PAGE = {"Me": {}, "Recommendations": {"first": 10}, "Trending": {"first": 5}}
ACCEPT = "application/graphql-response+json,application/json;q=0.9"


def home_documents() -> dict[str, str]:
    """Operation name -> document text, from the web app's manifest."""
    if not MANIFEST.exists():  # generated: `npm run codegen` writes it (needs web/node_modules)
        print("writing the web app's manifest (npm run codegen)", file=sys.stderr)
        subprocess.run(["npm", "run", "codegen"], cwd=PROJECT_ROOT / "web", check=True)
    documents = json.loads(MANIFEST.read_text())
    found = {}
    for document in documents.values():
        match = re.search(r"\bquery (\w+)", document)
        if match and match.group(1) in HOME_PAGE:
            found[match.group(1)] = document
    return found


def full_request(name: str, document: str, token: str) -> tuple[str, dict[str, str], bytes]:
    body = json.dumps({"operationName": name, "variables": HOME_PAGE[name], "query": document})
    headers = {"content-type": "application/json", "accept": ACCEPT}
    headers["authorization"] = f"Bearer {token}"
    return "/graphql", headers, body.encode()


def persisted_request(name: str, document: str, token: str) -> tuple[str, dict[str, str], bytes]:
    extensions = extensions_of(document)
    query = urlencode(
        {
            "operationName": name,
            "variables": json.dumps(HOME_PAGE[name], separators=(",", ":")),
            "extensions": json.dumps(extensions, separators=(",", ":")),
        }
    )
    return f"/graphql?{query}", {"accept": ACCEPT, "authorization": f"Bearer {token}"}, b""


def size(method: str, target: str, headers: dict[str, str], body: bytes) -> int:
    lines = [f"{method} {target} HTTP/1.1", *(f"{k}: {v}" for k, v in headers.items())]
    if body:
        lines.append(f"content-length: {len(body)}")
    return len("\r\n".join(lines).encode()) + 4 + len(body)


def send(client: httpx.Client, method: str, request: tuple[str, dict[str, str], bytes]) -> Any:
    target, headers, body = request
    response = client.request(method, target, headers=headers, content=body or None)
    return response.json()


def extensions_of(document: str) -> dict[str, Any]:
    digest = hashlib.sha256(document.encode()).hexdigest()
    return {"persistedQuery": {"version": 1, "sha256Hash": digest}}


def register(client: httpx.Client, name: str, document: str, token: str) -> None:
    """The second step of the APQ protocol: the document with its hash, by POST."""
    target, headers, body = full_request(name, document, token)
    payload = {**json.loads(body), "extensions": extensions_of(document)}
    assert "errors" not in send(client, "POST", (target, headers, json.dumps(payload).encode()))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=100, help="home page loads per mode")
    parser.add_argument("--dataset", default=str(PROJECT_ROOT / "app" / "sample_data"))
    args = parser.parse_args()
    documents = home_documents()
    secret = secrets.token_urlsafe(32)
    with temporary_database("sqlite") as url, tempfile.TemporaryDirectory() as models:
        env = {
            "JWT_SECRET": secret,
            "MODEL_DIR": models,
            "TRAINER": "external",
            "RATE_LIMIT_POINTS_PER_MINUTE": "0",
            "RESPONSE_CACHE_TTL_SECONDS": "0",  # both modes execute: only the transfer differs
        }
        run_cli(url, "db", "upgrade", extra_env=env)
        run_cli(url, "import", args.dataset, extra_env=env)
        run_cli(url, "train", extra_env=env)
        token = customer_tokens(url, 1, secret)[0]
        modes = {"full_post": ("POST", full_request), "persisted_get": ("GET", persisted_request)}
        sizes: dict[str, int] = {}
        untokened: dict[str, int] = {}
        latency: dict[str, dict[str, float]] = {}
        with server(url, extra_env=env) as base, httpx.Client(base_url=base, timeout=60) as client:
            for mode, (method, build) in modes.items():
                requests = {name: build(name, doc, token) for name, doc in documents.items()}
                sizes[mode] = sum(size(method, *request) for request in requests.values())
                untokened[mode] = sum(
                    size(
                        method,
                        target,
                        {k: v for k, v in headers.items() if k != "authorization"},
                        body,
                    )
                    for target, headers, body in requests.values()
                )
                for name, request in requests.items():  # warm up; APQ registers once if needed
                    answer = send(client, method, request)
                    if "errors" in answer:  # not in the manifest: send the document once
                        assert answer["errors"][0]["extensions"]["code"] == (
                            "PERSISTED_QUERY_NOT_FOUND"
                        )
                        register(client, name, documents[name], token)
                samples = []
                for _ in range(args.requests):
                    started = time.perf_counter()
                    for request in requests.values():
                        answer = send(client, method, request)
                        assert "errors" not in answer, answer
                    samples.append(time.perf_counter() - started)
                latency[mode] = {**summary_ms(samples), "max_ms": round(max(samples) * 1000, 2)}
    print(
        json.dumps(
            {
                "bench": "persisted_query_bytes",
                "home_page_operations": sorted(documents),
                "request_bytes": sizes,
                "persisted_over_full": round(sizes["persisted_get"] / sizes["full_post"], 3),
                "request_bytes_without_authorization": untokened,
                "page_load_latency": latency,
                "page_loads": args.requests,
            }
        )
    )


if __name__ == "__main__":
    main()
