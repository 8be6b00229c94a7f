"""fedora-messaging's own publisher, timed: what bench_fedora.rs compares
repobus's typed JetStream publish with.

Usage: bench_fedora.py AMQP_URL TOPIC_PREFIX MESSAGES BODY_JSON

Publishes MESSAGES copies of BODY_JSON with `fedora_messaging.api.publish`
as copr-messaging's `BuildChrootEndedV1` (topic `copr.build.end`), one call
a message, as Copr's backend does; each call returns after the broker's
publisher confirm. A few warm-up messages (connection setup) are not timed.
Prints one JSON line: the rate and the versions used.
"""

import json
import os
import sys
import tempfile
import time
from importlib.metadata import version

url, prefix, n, body = sys.argv[1], sys.argv[2], int(sys.argv[3]), json.loads(sys.argv[4])
conf = tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False)
conf.write(f'amqp_url = "{url}"\ntopic_prefix = "{prefix}"\npublish_exchange = "amq.topic"\n')
conf.close()
os.environ["FEDORA_MESSAGING_CONF"] = conf.name

from fedora_messaging import api  # noqa: E402
from copr_messaging import schema  # noqa: E402

for _ in range(20):
    api.publish(schema.BuildChrootEndedV1(topic="copr.build.end", body=body))
start = time.monotonic()
for _ in range(n):
    api.publish(schema.BuildChrootEndedV1(topic="copr.build.end", body=body))
elapsed = time.monotonic() - start
os.unlink(conf.name)
print(
    json.dumps(
        {
            "messages": n,
            "seconds": elapsed,
            "per_s": n / elapsed,
            "fedora_messaging": version("fedora-messaging"),
            "copr_messaging": version("copr-messaging"),
            "python": sys.version.split()[0],
        }
    )
)
