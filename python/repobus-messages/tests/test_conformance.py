"""The repobus_messages classes answer what repobus's Rust accessors answer
(expected.jsonl, written by `cargo test -p repobus-amqp --test
python_conformance`), validate the bodies, and their schemas are repobus's
generated ones."""

import json
import pathlib

import pytest
from fedora_messaging import message as fm_message

import repobus_messages

HERE = pathlib.Path(__file__).parent
ROOT = HERE.parent.parent.parent
EXPECTED = [json.loads(line) for line in (HERE / "expected.jsonl").read_text().splitlines() if line.strip()]


def test_corpus_covers_every_class():
    topics = {item["topic"] for item in EXPECTED}
    assert topics == {
        "pulp.repo.sync.start",
        "pulp.repo.sync.finish",
        "pulp.repo.publish.start",
        "pulp.repo.publish.finish",
        "pulp.repo.sync.progress",
        "pulp.repo.publish.progress",
    }


@pytest.mark.parametrize("item", EXPECTED, ids=lambda i: f'{i["topic"]}:{i["body"].get("result", "")}')
def test_accessors_equal_rust(item):
    cls = fm_message.get_class(item["topic"])
    assert cls.__module__ == "repobus_messages"
    msg = cls(body=item["body"])
    msg.validate()
    expected = item["accessors"]
    assert msg.summary == expected["summary"]
    assert str(msg) == expected["str"]
    assert msg.usernames == expected["usernames"]
    assert msg.packages == expected["packages"]
    assert msg.url == expected["url"]
    assert msg.agent_name == expected["agent_name"]
    assert msg.severity == expected["severity"]
    assert msg._headers["fedora_messaging_severity"] == expected["severity"]


@pytest.mark.parametrize("event_type", [
    "repo-sync-started", "repo-sync-finished", "repo-publish-started", "repo-publish-finished",
    "repo-sync-progress", "repo-publish-progress",
])
def test_packaged_schemas_are_the_generated_ones(event_type):
    packaged = repobus_messages.load_schema(event_type)
    generated = json.loads((ROOT / "schemas" / f"{event_type}.schema.json").read_text())
    assert packaged == generated, f"copy schemas/{event_type}.schema.json into python/repobus-messages/repobus_messages/schemas/"


def test_invalid_body_is_refused():
    import jsonschema

    msg = repobus_messages.RepoSyncStartedV1(body={"repo_id": "has space"})
    with pytest.raises(jsonschema.ValidationError):
        msg.validate()


# What repobus's progress::describe makes of reports the corpus (the schema
# examples) does not cover, worked out from its Rust: a missing or non-string
# message is "in progress" and is cut to 200 characters; (done/total) needs
# both as non-negative integers (serde_json's as_u64: no floats, no bools);
# the suffix needs them too, must be a string and is cut to 40 characters.
@pytest.mark.parametrize("progress, described", [
    ({}, "in progress"),
    ({"message": 5, "done": 1, "total": 2}, "in progress (1/2)"),
    ({"message": "m" * 250}, "m" * 200),
    ({"message": "é" * 201}, "é" * 200),
    ({"message": "Copying", "done": 3}, "Copying"),
    ({"message": "Copying", "done": 3, "total": 4.0}, "Copying"),
    ({"message": "Copying", "done": True, "total": 4}, "Copying"),
    ({"message": "Copying", "done": -1, "total": 4}, "Copying"),
    ({"message": "Copying", "done": 2**64, "total": 4}, "Copying"),
    ({"message": "Copying", "done": 0, "total": 2**64 - 1}, f"Copying (0/{2**64 - 1})"),
    ({"message": "Copying", "suffix": "units"}, "Copying"),
    ({"message": "Copying", "done": 3, "total": 4, "suffix": 7}, "Copying (3/4)"),
    ({"message": "Copying", "done": 3, "total": 4, "suffix": "u" * 50}, "Copying (3/4 " + "u" * 40 + ")"),
    ({"message": "", "done": 3, "total": 4, "suffix": ""}, " (3/4 )"),
])
def test_progress_summaries(progress, described):
    sync = repobus_messages.RepoSyncProgressV1(
        body={"repo_id": "r", "operation_id": "op", "progress": progress})
    publish = repobus_messages.RepoPublishProgressV1(
        body={"repo_id": "r", "distributor_id": "d", "operation_id": "op", "progress": progress})
    for msg in (sync, publish):
        msg.validate()
        assert msg.severity == fm_message.INFO
    assert sync.summary == f'Pulp repository "r": sync in progress: {described}.'
    assert str(publish) == f'Pulp repository "r": publish by distributor "d" in progress: {described}.'
