"""Publish messages with fedora-messaging's real api.publish.

Usage: fm_publish.py AMQP_URL TOPIC_PREFIX < lines

Each stdin line is {"topic": T, "body": B, "id": optional message_id,
"class": "copr" (default: copr-messaging's class for T) | "base"
(fedora_messaging.message.Message, which accepts any body: a poison
message for repobus)}. For each message, one JSON line is printed: its id
and what copr-messaging's accessors answer.
"""

import json
import os
import sys
import tempfile

url, prefix = sys.argv[1], sys.argv[2]
conf = tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False)
conf.write(f'amqp_url = "{url}"\ntopic_prefix = "{prefix}"\npublish_exchange = "amq.topic"\n')
conf.close()
os.environ["FEDORA_MESSAGING_CONF"] = conf.name

from fedora_messaging import api, message  # noqa: E402
from copr_messaging import schema  # noqa: E402


def copr_class(topic):
    for suffix, cls in (
        ("copr.build.start", schema.BuildChrootStartedV1),
        ("copr.build.end", schema.BuildChrootEndedV1),
        ("copr.chroot.start", schema.BuildChrootStartedV1DontUse),
    ):
        if topic.endswith(suffix):
            return cls
    raise SystemExit(f"no copr-messaging class for topic {topic}")


for line in sys.stdin:
    if not line.strip():
        continue
    item = json.loads(line)
    if item.get("class") == "base":
        msg = message.Message(topic=item["topic"], body=item["body"])
    else:
        msg = copr_class(item["topic"])(topic=item["topic"], body=item["body"])
    if item.get("id"):
        msg.id = item["id"]
    api.publish(msg)
    out = {"id": msg.id}
    if item.get("class") != "base":
        out.update(
            summary=msg.summary,
            text=str(msg),
            usernames=msg.usernames,
            packages=msg.packages,
            url=msg.url,
            agent_name=msg.agent_name,
        )
    print(json.dumps(out), flush=True)
os.unlink(conf.name)
