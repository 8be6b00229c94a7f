# Metrics and API descriptions (issue 9): the independent checkers.
# - prometheus_client (PyPI): its text parser reads GET /metrics in
#   crates/repobus-service/tests/metrics.rs;
# - schemathesis (PyPI): fuzzes a live `repobus serve` with docs/openapi.json
#   (scripts/checks.d/50-observability.sh);
# - @asyncapi/parser (npm, under .tools/node): validates schemas/asyncapi.json
#   (tests/asyncapi/validate.mjs).
# Sourced by scripts/tools.sh --oracle with $root and $venv set; installs only
# what is missing.
if ! "$venv/bin/python" -c 'import prometheus_client.parser' 2>/dev/null; then
  echo "installing prometheus_client from PyPI into .tools/venv" >&2
  "$venv/bin/python" -m pip install --quiet prometheus_client
fi
if [ ! -x "$venv/bin/schemathesis" ]; then
  echo "installing schemathesis from PyPI into .tools/venv" >&2
  "$venv/bin/python" -m pip install --quiet 'schemathesis>=4,<5'
fi
export REPOBUS_SCHEMATHESIS="$venv/bin/schemathesis"
if [ ! -f "$root/.tools/node/node_modules/@asyncapi/parser/package.json" ]; then
  command -v npm >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null; }
  echo "installing @asyncapi/parser from npm into .tools/node" >&2
  mkdir -p "$root/.tools/node"
  (cd "$root/.tools/node" && { [ -f package.json ] || echo '{"private":true}' > package.json; } \
    && npm install --silent --no-audit --no-fund '@asyncapi/parser@^3' >/dev/null)
fi
export REPOBUS_NODE_MODULES="$root/.tools/node/node_modules"
