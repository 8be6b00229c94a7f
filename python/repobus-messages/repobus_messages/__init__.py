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
    "RepoSyncProgressV1",
    "RepoPublishProgressV1",
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


_U64_MAX = 2**64 - 1


def _as_u64(value):
    # serde_json's Value::as_u64: a non-negative integer that fits in a u64
    # (not a bool, not a float such as 3.0).
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= _U64_MAX:
        return value
    return None


def _as_str(value):
    # serde_json's Value::as_str.
    return value if isinstance(value, str) else None


def _describe(progress):
    # repobus's progress::describe: ``message (done/total suffix)`` out of a
    # report, as far as it has them.
    if not isinstance(progress, dict):
        progress = {}
    message_text = _as_str(progress.get("message"))
    out = (message_text if message_text is not None else "in progress")[:200]
    done = _as_u64(progress.get("done"))
    total = _as_u64(progress.get("total"))
    if done is not None and total is not None:
        out += f" ({done}/{total}"
        suffix = _as_str(progress.get("suffix"))
        if suffix is not None:
            out += " " + suffix[:40]
        out += ")"
    return out


class _PulpMessage(message.Message):
    """What the Pulp event classes share: Pulp's bodies name no user,
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


class _Progress(_PulpMessage):
    """A progress report of a running operation (Pulp 2's ``set_progress``):
    its severity is always info, like repobus's."""

    @property
    def operation_id(self):
        """The operation (as ``repobus operations`` lists it)."""
        return self.body.get("operation_id")

    @property
    def progress(self):
        """The free-form report: ``message``, ``code``, ``state``, ``total``,
        ``done``, ``suffix`` as far as the sender filled them in."""
        return self.body.get("progress")

    @property
    def severity(self):
        return message.INFO

    @severity.setter
    def severity(self, value):
        # fedora-messaging's Message.__init__ may set a severity; progress is
        # always info.
        pass


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


class RepoSyncProgressV1(_Progress):
    """The latest progress report of a running repository sync (repobus
    ``repo-sync-progress``); the last one comes before ``repo-sync-finished``."""

    topic = "pulp.repo.sync.progress"
    event_type = "repo-sync-progress"
    body_schema = load_schema(event_type)

    @property
    def summary(self):
        return f'Pulp repository "{self.repo_id}": sync in progress: {_describe(self.progress)}.'


class RepoPublishProgressV1(_Progress):
    """The latest progress report of a running repository publish (repobus
    ``repo-publish-progress``); the last one comes before
    ``repo-publish-finished``."""

    topic = "pulp.repo.publish.progress"
    event_type = "repo-publish-progress"
    body_schema = load_schema(event_type)

    @property
    def summary(self):
        return (
            f'Pulp repository "{self.repo_id}": publish by distributor '
            f'"{self.body.get("distributor_id")}" in progress: {_describe(self.progress)}.'
        )
