"""Receive messages as a fedora-messaging consumer does.

Usage: fm_consume.py AMQP_URL QUEUE BINDING COUNT TIMEOUT_SECONDS

Declares QUEUE (durable) bound to amq.topic with BINDING, prints "ready",
then takes messages until COUNT distinct message ids have arrived (a
redelivery after a crash may repeat one). Each goes through fedora-messaging's own
``get_message`` (the consumer's decoding: the class from the
``fedora_messaging_schema`` header via the ``fedora.messages`` entry points,
then ``validate()``), and one JSON line is printed per message with the
class and what its accessors answer. Exits 1 if COUNT messages do not
arrive in time.
"""

import json
import sys
import time

import pika
from fedora_messaging import message as fm_message

url, queue, binding, count, timeout = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
connection = pika.BlockingConnection(pika.URLParameters(url))
channel = connection.channel()
channel.queue_declare(queue=queue, durable=True)
channel.queue_bind(queue=queue, exchange="amq.topic", routing_key=binding)
print("ready", flush=True)

deadline = time.monotonic() + timeout
received = 0
seen = set()
while len(seen) < count:
    if time.monotonic() > deadline:
        print(f"timed out after {received} of {count} messages", file=sys.stderr)
        sys.exit(1)
    method, properties, body = channel.basic_get(queue=queue, auto_ack=False)
    if method is None:
        time.sleep(0.05)
        continue
    msg = fm_message.get_message(method.routing_key, properties, body)
    msg.validate()
    cls = type(msg)
    print(
        json.dumps(
            {
                "id": msg.id,
                "routing_key": method.routing_key,
                "class": f"{cls.__module__}.{cls.__name__}",
                "summary": msg.summary,
                "text": str(msg),
                "usernames": msg.usernames,
                "packages": msg.packages,
                "url": msg.url,
                "agent_name": msg.agent_name,
                "severity": msg.severity,
                "headers": properties.headers,
                "content_type": properties.content_type,
                "content_encoding": properties.content_encoding,
                "delivery_mode": properties.delivery_mode,
                "body": msg.body,
            }
        ),
        flush=True,
    )
    channel.basic_ack(method.delivery_tag)
    received += 1
    seen.add(msg.id)
connection.close()
