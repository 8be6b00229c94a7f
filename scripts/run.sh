#!/usr/bin/env bash
# Runs the repobus service on its zero-setup default: HTTP ingest on
# 127.0.0.1:8080, NATS on localhost:4222, or a nats-server it starts itself
# (data under .repobus/) when nothing listens there.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/tools.sh
exec cargo run --release --locked --bin repobus -- serve "$@"
