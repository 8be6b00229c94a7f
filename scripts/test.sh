#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit and integration tests against
# real nats-server processes the tests start themselves, and the Copr
# conformance check against copr-messaging itself.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/tools.sh --oracle

cargo fmt --check
cargo clippy --all-targets --all-features --locked -- -D warnings
cargo test --all-features --locked

echo "conformance: regenerating the expected values with copr-messaging" >&2
fresh="$(mktemp)"
"$REPOBUS_ORACLE_PYTHON" tests/conformance/generate_expected.py --out "$fresh"
diff -u tests/conformance/expected.jsonl "$fresh"
"$REPOBUS_ORACLE_PYTHON" tests/conformance/validate_built.py target/tmp/copr-built-bodies.jsonl
rm -f "$fresh"
echo "all checks passed" >&2
