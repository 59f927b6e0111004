#!/usr/bin/env bash
# End-to-end tests of the built web app (run `npm run build` first) against a real server on a
# freshly imported temporary database. Usage: web/e2e/run.sh   (exits non-zero on failure)
set -euo pipefail
WEB="$(cd "$(dirname "$0")/.." && pwd)"
ROOT="$(cd "$WEB/.." && pwd)"
RECOMMENDER="${RECOMMENDER:-$ROOT/.venv/bin/recommender}"

if [[ ! -f "$WEB/dist/index.html" ]]; then
  echo "web/dist is missing: run 'npm run build' in web/ first" >&2
  exit 2
fi
if [[ -z "${CHROMIUM_PATH:-}" ]]; then
  CHROMIUM_PATH="$(command -v chromium || command -v chromium-browser || echo /usr/bin/chromium)"
fi
export CHROMIUM_PATH

TMP="$(mktemp -d)"
SERVER_PID=""
cleanup() {
  if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

export DATABASE_URL="sqlite+aiosqlite:///$TMP/e2e.sqlite"
# The full Online Retail data when present, else the small slice shipped with the app;
# E2E_DATASET picks another directory.
DATA="${E2E_DATASET:-$ROOT/../shared/datasets/online-retail}"
[[ -d "$DATA" ]] || DATA="$ROOT/app/sample_data"
echo "e2e: importing $DATA into $TMP/e2e.sqlite"
"$RECOMMENDER" db upgrade
"$RECOMMENDER" import "$DATA"
# The admin of the admin view's test, and an offline evaluation for it to show (kept in the DB).
"$RECOMMENDER" create-admin --username e2e-admin --email admin@example.com --password admin-password-123
echo "e2e: offline evaluation (recommender evaluate)"
"$RECOMMENDER" evaluate "$DATA" --cutoff 2011-10-01 >/dev/null
# An active A/B experiment, so that customers' recommendations count as impressions.
E2E_EXPERIMENTS='[{"id":"blend-2026","name":"Brief blend vs default","active":true,"variants":[{"name":"default","weight":0.5,"config":"default"},{"name":"brief","weight":0.5,"config":"brief"}]}]'
# One training round before serving, as a deployment publishes a model before taking traffic; the
# server's embedded trainer then retrains as events arrive.
export MODEL_DIR="$TMP/models"
echo "e2e: training the first models (recommender train)"
EXPERIMENTS="$E2E_EXPERIMENTS" "$RECOMMENDER" train >/dev/null

PORT="${E2E_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')}"
(cd "$ROOT" && export EXPERIMENTS="$E2E_EXPERIMENTS" && exec "$RECOMMENDER" serve --host 127.0.0.1 --port "$PORT") >"$TMP/server.log" 2>&1 &
SERVER_PID=$!
BASE_URL="http://127.0.0.1:$PORT"
for _ in $(seq 1 120); do
  if curl -fsS "$BASE_URL/readyz" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then cat "$TMP/server.log" >&2; echo "server died" >&2; exit 1; fi
  sleep 0.5
done
curl -fsS "$BASE_URL/readyz" >/dev/null || { cat "$TMP/server.log" >&2; echo "server not ready" >&2; exit 1; }
curl -fsS "$BASE_URL/" | grep -q '<div id="root">' || { echo "server does not serve web/dist at /" >&2; exit 1; }
echo "e2e: server ready at $BASE_URL"

node "$WEB/scripts/bundle-size.mjs"
status=0
# The shop flow, then GraphiQL offline, then axe on every page (one file at a time).
BASE_URL="$BASE_URL" node --test --test-concurrency=1 --test-reporter=spec \
  "$WEB/e2e/shop.e2e.mjs" "$WEB/e2e/graphiql.e2e.mjs" "$WEB/e2e/a11y.e2e.mjs" || status=$?
if [[ $status -ne 0 ]]; then
  echo "---- server log (tail) ----" >&2
  tail -n 40 "$TMP/server.log" >&2
fi
exit $status
