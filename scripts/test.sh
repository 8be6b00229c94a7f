#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit and integration tests against
# real nats-server processes the tests start themselves, and the Copr
# conformance check against copr-messaging itself.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/tools.sh --oracle

cargo fmt --check
cargo clippy --workspace --all-targets --locked -- -D warnings
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked --quiet
# Tests that need root (network namespaces) are #[ignore]d with a reason;
# they run here whenever this runs as root, as it does in CI.
if [ "$(id -u)" = 0 ]; then
  cargo test --workspace --locked -- --include-ignored
else
  echo "not root: the tests marked #[ignore = \"needs root ...\"] are skipped" >&2
  cargo test --workspace --locked
fi
# The library must not pull in the binary's, the service's, the relay's or
# the bridge's stack (an HTTP server or client, AMQP, an exporter).
heavy="$(cargo tree -p repobus -e normal --prefix none --locked | grep -E '^(clap|axum|hyper|reqwest|lapin|indicatif|tracing-subscriber|metrics-exporter-prometheus|utoipa|repobus-local|repobus-service|repobus-webhooks|repobus-amqp) ' || true)"
if [ -n "$heavy" ]; then
  echo "the repobus library depends on what only the binary should: $heavy" >&2
  exit 1
fi

echo "conformance: regenerating the expected values with copr-messaging" >&2
fresh="$(mktemp)"
"$REPOBUS_ORACLE_PYTHON" tests/conformance/generate_expected.py --out "$fresh"
diff -u tests/conformance/expected.jsonl "$fresh"
"$REPOBUS_ORACLE_PYTHON" tests/conformance/validate_built.py target/tmp/copr-built-bodies.jsonl
rm -f "$fresh"

# Checks by independent tools (pytest, validators, browsers), one file each
# under scripts/checks.d/, run in name order; each exits non-zero on failure.
for check in scripts/checks.d/*.sh; do
  [ -e "$check" ] || continue
  echo "check: $check" >&2
  bash "$check"
done

# Fuzz every parser a network peer reaches, 30 s per target (about 8 minutes
# from a fresh clone: installing cargo-fuzz, building, 7 targets); a crash
# fails the run and names the input (see scripts/fuzz.sh).
scripts/fuzz.sh 30
echo "all checks passed" >&2
