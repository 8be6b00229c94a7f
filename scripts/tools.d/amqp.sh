# The AMQP bridge's tools (issue 11): a RabbitMQ the tests start privately,
# fedora-messaging (the reference publisher and consumer), pytest, and the
# repobus-messages Python package installed editable. Only what is missing.
if ! command -v rabbitmq-server >/dev/null 2>&1 && [ ! -x /usr/sbin/rabbitmq-server ]; then
  echo "installing rabbitmq-server (Debian) for the AMQP bridge tests" >&2
  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rabbitmq-server >/dev/null
  # The package starts the machine's own node; the tests never use it.
fi
if [ -x /usr/lib/rabbitmq/bin/rabbitmq-server ]; then export REPOBUS_RABBITMQ_SERVER=/usr/lib/rabbitmq/bin/rabbitmq-server; fi
if ! "$venv/bin/python" -c 'import fedora_messaging, sys; sys.exit(0 if fedora_messaging.__version__.startswith("3.") else 1)' 2>/dev/null; then
  echo "installing fedora-messaging 3.9 from PyPI into .tools/venv" >&2
  "$venv/bin/python" -m pip install --quiet "fedora-messaging==3.9.*"
fi
if ! "$venv/bin/python" -c 'import pytest' 2>/dev/null; then
  echo "installing pytest from PyPI into .tools/venv" >&2
  "$venv/bin/python" -m pip install --quiet pytest
fi
if [ -f "$root/python/repobus-messages/pyproject.toml" ] \
  && ! "$venv/bin/python" -c 'import repobus_messages' 2>/dev/null; then
  echo "installing python/repobus-messages (editable) into .tools/venv" >&2
  "$venv/bin/python" -m pip install --quiet -e "$root/python/repobus-messages"
fi
