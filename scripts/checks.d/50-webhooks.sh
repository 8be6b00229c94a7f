#!/usr/bin/env bash
# Requests the webhook relay builds, verified by the Python reference
# implementation of Standard Webhooks (PyPI standardwebhooks), with a
# secret being rotated (two signatures) and in every format.
set -euo pipefail
python="${REPOBUS_ORACLE_PYTHON:-.tools/venv/bin/python}"
if ! "$python" -c 'import standardwebhooks' 2>/dev/null; then
  echo "standardwebhooks is not installed: run '. scripts/tools.sh --oracle'" >&2
  exit 1
fi
cargo run --quiet -p repobus-webhooks --example sign_sample | "$python" -c '
import json, sys
from standardwebhooks import Webhook
n = 0
for line in sys.stdin:
    sample = json.loads(line)
    headers = dict(sample["headers"])
    body = sample["body"].encode()
    for secret in sample["secrets"]:
        Webhook(secret).verify(body, headers)
        n += 1
    try:
        Webhook(sample["secrets"][0]).verify(body + b" ", headers)
    except Exception:
        pass
    else:
        sys.exit("a tampered body verified")
print(f"standardwebhooks (PyPI) verified {n} signatures of repobus webhook requests")
'
