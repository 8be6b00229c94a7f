# The webhook relay's independent signature verifier: PyPI standardwebhooks
# (checked by scripts/checks.d/50-webhooks.sh).
if ! "$venv/bin/python" -c 'import standardwebhooks' 2>/dev/null; then
  echo "installing standardwebhooks from PyPI into .tools/venv" >&2
  "$venv/bin/python" -m pip install --quiet "standardwebhooks>=1.0,<2"
fi
