#!/usr/bin/env python3
"""Generate expected.jsonl for the repobus conformance corpus.

The oracle is the Python package copr-messaging 1.3 (PyPI), which pulls in
copr-common and fedora-messaging.  Install it into a virtualenv:

    python3 -m venv /tmp/coprvenv
    /tmp/coprvenv/bin/pip install copr-messaging==1.3

Then run (from any directory):

    /tmp/coprvenv/bin/python tests/conformance/generate_expected.py \
        [--corpus PATH] [--out PATH]

--corpus defaults to corpus.jsonl and --out to expected.jsonl, both next to
this script.

For every line ``{"topic": T, "body": B}`` of the corpus, the message class is
chosen the way copr-messaging does it (fedora.py / stomp.py):

    topic ending "copr.build.start"  -> schema.BuildChrootStartedV1
    topic ending "copr.build.end"    -> schema.BuildChrootEndedV1
    topic ending "copr.chroot.start" -> schema.BuildChrootStartedV1DontUse
    topic ending "build.start"       -> schema.BuildChrootStartedV1Stomp
    topic ending "build.end"         -> schema.BuildChrootEndedV1Stomp

(the copr.* suffixes are tested first, since "build.start" is a suffix of
"copr.build.start").  The message is built with ``cls(body=B)`` -- the
constructor unwraps a ``"msg"`` key -- and ``.validate()`` is called.  One
output line is written per corpus line, in order:

    {"line": i (1-based corpus line number), "topic": T, "valid": bool,
     "validation_error": str | null,   # jsonschema ValidationError.message
     "accessors": {name: value} | null}  # only when valid

An accessor that raises is recorded as ``{"raises": "<ExceptionClassName>"}``.
``status`` is passed through ``str()``; every other value is kept as Python
returns it (None -> null).
"""

import argparse
import json
import logging
import os
import sys

import jsonschema
from copr_messaging import schema

ACCESSORS = [
    "build_id",
    "chroot",
    "package_name",
    "package_epoch",
    "package_version",
    "package_release",
    "package_full_name",
    "project_owner",
    "project_name",
    "project_full_name",
    "status",
    "submitter",
    "agent_name",
    "usernames",
    "summary",
]

# Order matters: "build.start" is a suffix of "copr.build.start".
TOPIC_CLASSES = [
    ("copr.build.start", schema.BuildChrootStartedV1),
    ("copr.build.end", schema.BuildChrootEndedV1),
    ("copr.chroot.start", schema.BuildChrootStartedV1DontUse),
    ("build.start", schema.BuildChrootStartedV1Stomp),
    ("build.end", schema.BuildChrootEndedV1Stomp),
]


def class_for_topic(topic):
    for suffix, cls in TOPIC_CLASSES:
        if topic.endswith(suffix):
            return cls
    raise ValueError("no copr-messaging class for topic %r" % topic)


def accessor_value(message, name):
    try:
        value = getattr(message, name)
    except Exception as exc:  # pylint: disable=broad-except
        return {"raises": type(exc).__name__}
    if name == "status":
        value = str(value)
    return value


def evaluate(index, topic, body):
    cls = class_for_topic(topic)
    message = cls(body=body)
    result = {
        "line": index,
        "topic": topic,
        "valid": True,
        "validation_error": None,
        "accessors": None,
    }
    try:
        message.validate()
    except jsonschema.ValidationError as exc:
        result["valid"] = False
        result["validation_error"] = exc.message
        return result
    result["accessors"] = {name: accessor_value(message, name) for name in ACCESSORS}
    return result


def main(argv=None):
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default=os.path.join(here, "corpus.jsonl"))
    parser.add_argument("--out", default=os.path.join(here, "expected.jsonl"))
    args = parser.parse_args(argv)

    # fedora_messaging logs "Header usernames not found in message" while
    # building headers for malformed bodies; that noise is irrelevant here.
    logging.getLogger("fedora_messaging").setLevel(logging.ERROR)

    out_lines = []
    with open(args.corpus, encoding="utf-8") as corpus:
        for index, raw in enumerate(corpus, start=1):
            entry = json.loads(raw)
            result = evaluate(index, entry["topic"], entry["body"])
            out_lines.append(json.dumps(result, ensure_ascii=False, sort_keys=True))

    with open(args.out, "w", encoding="utf-8") as out:
        for line in out_lines:
            out.write(line + "\n")
    print("wrote %d lines to %s" % (len(out_lines), args.out), file=sys.stderr)


if __name__ == "__main__":
    main()
