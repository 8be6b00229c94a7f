#!/usr/bin/env bash
# Independent checkers of the API descriptions (issue 9):
# 1. @asyncapi/parser validates schemas/asyncapi.json (no error diagnostics);
# 2. schemathesis fuzzes a live `repobus serve` (private nats-server on a free
#    port, temp store) with docs/openapi.json: no 5xx and no response that
#    contradicts the document, on every operation.
# Needs `. scripts/tools.sh --oracle` (scripts/tools.d/observability.sh).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
fail() { echo "50-observability: $*" >&2; exit 1; }
[ -n "${REPOBUS_SCHEMATHESIS:-}" ] && [ -x "$REPOBUS_SCHEMATHESIS" ] \
  || fail "schemathesis missing: run '. scripts/tools.sh --oracle' first"
[ -n "${REPOBUS_NODE_MODULES:-}" ] && [ -d "$REPOBUS_NODE_MODULES/@asyncapi/parser" ] \
  || fail "@asyncapi/parser missing: run '. scripts/tools.sh --oracle' first"
[ -n "${REPOBUS_NATS_SERVER:-}" ] || fail "no nats-server: run '. scripts/tools.sh --oracle' first"

echo "== AsyncAPI: @asyncapi/parser on schemas/asyncapi.json"
NODE_PATH="$REPOBUS_NODE_MODULES" node tests/asyncapi/validate.mjs schemas/asyncapi.json

echo "== OpenAPI: schemathesis against a live repobus serve"
cargo build -q -p repobus-cli
bin="${CARGO_TARGET_DIR:-$root/target}/debug/repobus"
work="$(mktemp -d)"
pids=()
cleanup() {
  # SIGKILL: on a failure path nothing here is worth waiting for.
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
nats_port="$(free_port)"
"$REPOBUS_NATS_SERVER" -js -a 127.0.0.1 -p "$nats_port" -sd "$work/nats" >"$work/nats.log" 2>&1 &
pids+=($!)
http_port="$(free_port)"
# With credentials, so that schemathesis's ignored_auth check proves every
# protected operation refuses requests without them.
token="st-bearer-token"
read_token="st-read-token"
pulp2_password="st-pulp2-password"
"$bin" serve --listen "127.0.0.1:$http_port" --nats-url "nats://127.0.0.1:$nats_port" \
  --bearer-token "$token" --read-token "$read_token" --pulp2-user pulp --pulp2-password "$pulp2_password" \
  --data-dir "$work/data" >"$work/serve.log" 2>&1 &
serve_pid=$!
pids+=("$serve_pid")
base="http://127.0.0.1:$http_port"
for _ in $(seq 1 100); do
  curl -fsS "$base/readyz" >/dev/null 2>&1 && break
  sleep 0.2
done
curl -fsS "$base/readyz" >/dev/null || { cat "$work/serve.log" >&2; fail "repobus serve did not become ready"; }

# positive_data_acceptance is left out: the criteria language of GET
# /v1/events (filters, sort) and Pulp 2's notifier document are richer than a
# JSON Schema can say, so a string the schema allows may rightly be a 400.
# Every other check runs, including negative_data_rejection (what the
# document forbids must be refused with a 4xx). One run per security scheme.
st() {
  (cd "$work" && "$REPOBUS_SCHEMATHESIS" run "$root/docs/openapi.json" --url "$base" \
    --checks all --exclude-checks positive_data_acceptance \
    --max-examples "${REPOBUS_SCHEMATHESIS_EXAMPLES:-40}" --seed 1 \
    --request-timeout 10 --no-color "$@") \
    || { tail -50 "$work/serve.log" >&2; fail "schemathesis found responses that contradict docs/openapi.json ($*)"; }
}
# The tags group the operations by the credentials they need (see
# crates/repobus-service/src/openapi.rs). /v1/stream is left out: a live
# server-sent event stream never ends, so every request to it would time out;
# tests/sse.rs covers it.
st --include-tag bearer -H "Authorization: Bearer $token"
st --include-tag read --exclude-path /v1/stream -H "Authorization: Bearer $read_token"
st --include-tag pulp2 --auth "pulp:$pulp2_password"
st --include-tag public

# After all that, serve must still stop cleanly on SIGTERM, and soon.
kill -TERM "$serve_pid"
for _ in $(seq 1 100); do
  kill -0 "$serve_pid" 2>/dev/null || break
  sleep 0.2
done
if kill -0 "$serve_pid" 2>/dev/null; then
  tail -50 "$work/serve.log" >&2
  fail "repobus serve did not stop within 20 s of SIGTERM after the schemathesis runs"
fi
