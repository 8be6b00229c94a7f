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
