#!/usr/bin/env bash
# Property-based fuzzing of the HTTP API from openapi/openapi.json with Schemathesis.
#
# Starts Funnel on 127.0.0.1 (ephemeral port, temp data dir, the tiny fixture embedder), seeds a
# collection the fuzzer is steered towards, then runs `schemathesis run` with two checks:
# not_a_server_error (no 5xx) and response_schema_conformance (every answer matches the document).
# Prints the number of cases and failures; exits non-zero on any failure.
#
# Not part of `npm test`. Usage: scripts/fuzz/schemathesis.sh
# Settings (environment): FUZZ_MAX_EXAMPLES (50 per operation), FUZZ_MAX_TIME (seconds, 600: the
# whole schemathesis run is stopped and counted as a failure past it),
# FUZZ_SEED (fixed seed, for a reproducible run), FUZZ_WORKERS (1), FUZZ_CHECKS (comma-separated
# schemathesis checks; default not_a_server_error,response_schema_conformance), SCHEMATHESIS_VENV
# (default: $TMPDIR/funnel-schemathesis-venv), FUZZ_KEEP=1 keeps the work dir with the server log and
# reports. Needs python3 >= 3.10 with venv, and node with the project's dev dependencies installed.
set -euo pipefail
# shellcheck source=../lib/wait-for-server.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/wait-for-server.sh"

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TMP=${TMPDIR:-/tmp}
SHARED=${FUNNEL_SHARED_DIR:-$ROOT/../shared}
VENV=${SCHEMATHESIS_VENV:-$TMP/funnel-schemathesis-venv}
MAX_EXAMPLES=${FUZZ_MAX_EXAMPLES:-50}
MAX_TIME=${FUZZ_MAX_TIME:-600}
WORKERS=${FUZZ_WORKERS:-1}
CHECKS=${FUZZ_CHECKS:-not_a_server_error,response_schema_conformance}
SCHEMATHESIS_SPEC=${SCHEMATHESIS_SPEC:-schemathesis>=4.3,<5}
COLLECTION=fuzz

if [[ ! -x "$VENV/bin/schemathesis" ]]; then
  echo "fuzz: installing Schemathesis into $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "$SCHEMATHESIS_SPEC"
fi
echo "fuzz: $("$VENV/bin/schemathesis" --version)"

WORK=$(mktemp -d "$TMP/funnel-fuzz-XXXXXX")
SERVER_PID=
cleanup() {
  if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  if [[ "${FUZZ_KEEP:-0}" == 1 ]]; then echo "fuzz: kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

# The fixture embedder, laid out as the server expects: <models dir>/test/tiny-bert-mean.
MODEL_DIR="$WORK/models/test/tiny-bert-mean"
mkdir -p "$MODEL_DIR" "$WORK/data"
cp -R "$ROOT/test/fixtures/models/tiny-bert-mean/." "$MODEL_DIR/"
cp "$SHARED"/tokenizers/bert-base-uncased/*.json "$MODEL_DIR/"
cp "$SHARED"/tokenizers/bert-base-uncased/vocab.txt "$MODEL_DIR/" 2>/dev/null || true
chmod -R u+w "$MODEL_DIR"

# Load shedding and rate limiting are off: a 503 `overloaded` under fuzz load would be noise here.
(
  cd "$ROOT"
  HOST=127.0.0.1 PORT=0 LOG_LEVEL=info \
    FUNNEL_DATA_DIR="$WORK/data" FUNNEL_MODELS_DIR="$WORK/models" \
    FUNNEL_EMBEDDING_MODEL=test/tiny-bert-mean FUNNEL_BUILD_DEFAULT_MODEL=false \
    FUNNEL_SHED_MAX_EVENT_LOOP_DELAY_MS=0 FUNNEL_RATE_LIMIT_RPS=0 \
    exec node --import tsx src/server.ts
) >"$WORK/server.log" 2>&1 &
SERVER_PID=$!

wait_for_server "$WORK/server.log" "$SERVER_PID" fuzz
echo "fuzz: server at $URL (log: $WORK/server.log)"

# A collection with documents and metadata, so generated searches, fetches and upserts reach the
# pipeline instead of stopping at 404.
post() { curl -fsS -X "$1" "$URL$2" -H 'content-type: application/json' -d "$3" >/dev/null; }
post POST /v1/collections "{\"name\":\"$COLLECTION\",\"index\":{\"dims\":8}}"
post PUT "/v1/collections/$COLLECTION/documents" '{"documents":[
  {"id":"doc-1","text":"the king ruled the castle","metadata":{"lang":"en","n":1,"ok":true,"none":null}},
  {"id":"doc-2","text":"a river runs through the valley","metadata":{"lang":"en","n":2}},
  {"id":"doc-3","text":"un rio cruza el valle","metadata":{"lang":"es","n":3,"nested":{"a":[1,2]}}}]}'

# Path parameters are steered to the seeded collection and ids most of the time; DELETE of the
# collection gets its own names so one generated request cannot empty the run.
cat >"$WORK/schemathesis.toml" <<EOF
[dictionaries.collections]
values = ["$COLLECTION"]

[dictionaries.documents]
values = ["doc-1", "doc-2", "doc-3"]

[dictionaries.doomed]
values = ["doomed"]

[parameters]
"path.name" = { dictionary = "collections", probability = 0.8 }
"path.id" = { dictionary = "documents", probability = 0.5 }

[[operations]]
include-path = "/v1/collections/{name}"
include-method = "DELETE"
parameters = { "path.name" = { dictionary = "doomed", probability = 1.0 } }
EOF

# --max-time would make fuzzing repeat until the budget is spent; `timeout` bounds the run instead, so
# it ends as soon as every operation has its examples. Run from the work dir: Schemathesis keeps its
# crash cache in ./.schemathesis.
cd "$WORK"
set +e
timeout --signal=INT --kill-after=30 "$MAX_TIME" "$VENV/bin/schemathesis" --config-file "$WORK/schemathesis.toml" run "$ROOT/openapi/openapi.json" \
  --url "$URL" \
  --checks "$CHECKS" \
  --max-examples "$MAX_EXAMPLES" \
  --workers "$WORKERS" \
  --request-timeout 60 \
  --continue-on-failure \
  --suppress-health-check too_slow,data_too_large,filter_too_much \
  --generation-database none \
  ${FUZZ_SEED:+--seed "$FUZZ_SEED"} \
  --report junit,ndjson --report-dir "$WORK/report" \
  --no-color >"$WORK/schemathesis.out" 2>&1
STATUS=$?
set -e
# Schemathesis closes with a pytest-style "=== N warnings in Xs ===" banner; CI log readers take that
# for a pytest run that executed nothing. Show its report without the banners (the file keeps them).
grep -vE '^=+( .* )?=+$' "$WORK/schemathesis.out" || true

SUMMARY=$(grep -E '^ *[0-9]+ generated' "$WORK/schemathesis.out" | tail -n1 | sed 's/^ *//')
UNHANDLED=$(grep -c '"msg":"unhandled error"' "$WORK/server.log" || true)
echo "fuzz: test cases: ${SUMMARY:-unknown}; unhandled 5xx in the server log: $UNHANDLED"

if [[ $STATUS -eq 124 || $STATUS -eq 130 ]]; then
  echo "fuzz: FAILED: time limit of ${MAX_TIME}s reached before every operation had its examples"
  FUZZ_KEEP=1
  exit 3
fi
if [[ $STATUS -ne 0 || $UNHANDLED -ne 0 ]]; then
  echo "fuzz: FAILED (schemathesis exit $STATUS); 5xx causes in the server log:"
  grep '"msg":"unhandled error"' "$WORK/server.log" | grep -o '"err":{"type":"[A-Za-z]*","message":"[^"]*' | sort | uniq -c | sort -rn | head -20 || true
  FUZZ_KEEP=1
  exit 1
fi
echo "fuzz: passed"
