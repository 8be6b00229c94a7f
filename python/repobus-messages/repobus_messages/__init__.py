"""fedora-messaging classes for repobus's Pulp repository events.

Each class's ``body_schema`` is repobus's generated JSON Schema for the
event type (``schemas/<type>.schema.json``, shipped as package data), and
its accessors answer what repobus's Rust accessors answer
(``repobus::Event::summary`` and friends).
"""

import json
from importlib import resources

from fedora_messaging import message

__all__ = [
    "RepoSyncStartedV1",
    "RepoSyncFinishedV1",
    "RepoPublishStartedV1",
    "RepoPublishFinishedV1",
    "load_schema",
]


def load_schema(event_type):
    """The JSON Schema of a repobus event type, e.g. ``repo-sync-started``."""
    text = resources.files(__name__).joinpath("schemas", f"{event_type}.schema.json").read_text("utf-8")
    return json.loads(text)


def _first_line(text):
    # repobus: s.lines().next().unwrap_or("").trim_end()
    line = text.split("\n", 1)[0]
    if line.endswith("\r"):
        line = line[:-1]
    return line.rstrip()


class _PulpMessage(message.Message):
    """What the four Pulp event classes share: Pulp's bodies name no user,
    package or page, so those accessors answer nothing."""

    event_type = None

    @property
    def app_name(self):
        return "pulp"

    @property
    def repo_id(self):
        """The repository the event is about."""
        return self.body.get("repo_id")

    @property
    def usernames(self):
        return []

    @property
    def packages(self):
        return []

    @property
    def url(self):
        return None

    @property
    def agent_name(self):
        return None

    def __str__(self):
        return self.summary


class _Finished(_PulpMessage):
    """A finished operation: Pulp 2's result document."""

    def _tail(self):
        result = self.body.get("result")
        error = self.body.get("error_message")
        if error is not None:
            first = _first_line(error).rstrip(".")
            if first:
                return f'finished as "{result}": {first}'
        return f'finished as "{result}"'

    @property
    def severity(self):
        return {
            "success": message.INFO,
            "canceled": message.WARNING,
            "failed": message.ERROR,
            "error": message.ERROR,
        }.get(self.body.get("result"), message.INFO)

    @severity.setter
    def severity(self, value):
        # fedora-messaging's Message.__init__ may set a severity; the body
        # decides it.
        pass


class RepoSyncStartedV1(_PulpMessage):
    """A repository sync started (repobus ``repo-sync-started``)."""

    topic = "pulp.repo.sync.start"
    event_type = "repo-sync-started"
    body_schema = load_schema(event_type)

    @property
    def summary(self):
        return f'Pulp repository "{self.repo_id}": sync started.'


class RepoPublishStartedV1(_PulpMessage):
    """A repository publish started (repobus ``repo-publish-started``)."""

    topic = "pulp.repo.publish.start"
    event_type = "repo-publish-started"
    body_schema = load_schema(event_type)

    @property
    def summary(self):
        return (
            f'Pulp repository "{self.repo_id}": publish by distributor '
            f'"{self.body.get("distributor_id")}" started.'
        )


class RepoSyncFinishedV1(_Finished):
    """A repository sync finished (repobus ``repo-sync-finished``)."""

    topic = "pulp.repo.sync.finish"
    event_type = "repo-sync-finished"
    body_schema = load_schema(event_type)

    @property
    def summary(self):
        b = self.body
        return (
            f'Pulp repository "{self.repo_id}": sync {self._tail()} '
            f'({b.get("added_count")} added, {b.get("updated_count")} updated, '
            f'{b.get("removed_count")} removed).'
        )


class RepoPublishFinishedV1(_Finished):
    """A repository publish finished (repobus ``repo-publish-finished``)."""

    topic = "pulp.repo.publish.finish"
    event_type = "repo-publish-finished"
    body_schema = load_schema(event_type)

    @property
    def summary(self):
        return (
            f'Pulp repository "{self.repo_id}": publish by distributor '
            f'"{self.body.get("distributor_id")}" {self._tail()}.'
        )
