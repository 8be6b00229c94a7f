#!/usr/bin/env python3
"""Validate bodies built by repobus's typed builder with copr-messaging itself.

tests/conformance.rs writes one line per built body, {"topic": T, "body": B},
to the file given as the only argument (target/tmp/copr-built-bodies.jsonl).
Each body must pass copr-messaging 1.3's own body_schema for its topic, and
its summary must be readable. Exit 1 names every body that fails.
"""
import json
import sys

from copr_messaging import schema

CLASSES = {
    "copr.build.start": schema.BuildChrootStartedV1,
    "copr.build.end": schema.BuildChrootEndedV1,
}


def main(path):
    failures = 0
    count = 0
    with open(path, encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            item = json.loads(line)
            message = CLASSES[item["topic"]](body=item["body"])
            try:
                message.validate()
                message.summary  # noqa: B018 -- must not raise
                count += 1
            except Exception as error:  # pylint: disable=broad-except
                failures += 1
                print(f"{path}:{number}: copr-messaging rejects the body: {error}")
    print(f"copr-messaging accepted {count} of {count + failures} bodies built by repobus")
    return 1 if failures or count == 0 else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
