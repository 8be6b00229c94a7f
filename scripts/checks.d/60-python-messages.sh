#!/usr/bin/env bash
# The repobus-messages Python package (issue 11): its classes answer what the
# Rust accessors answer (expected.jsonl, kept current by
# `cargo test -p repobus-amqp --test python_conformance`), validate, and carry
# the generated schemas unchanged.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
python="${REPOBUS_ORACLE_PYTHON:-$root/.tools/venv/bin/python}"
if ! "$python" -c 'import pytest, fedora_messaging, repobus_messages' 2>/dev/null; then
  echo "pytest, fedora-messaging or repobus-messages missing from $python: run \`. scripts/tools.sh --oracle\`" >&2
  exit 1
fi
cd "$root/python/repobus-messages"
"$python" -m pytest -q -p no:cacheprovider tests
