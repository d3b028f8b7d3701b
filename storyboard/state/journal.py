"""The journal: a write-ahead log of requests sent, so a killed build never pays twice.

Before a request is sent, its task UUID and take key are appended to
``.storyboard/journal/NAME.jsonl`` and synced to disk; when the result is safely in the
cache, a ``done`` line follows. A build that finds a ``submit`` without an outcome re-uses
that task UUID: the client re-sends it, the service answers ``conflictTaskUUID`` if it had
accepted it, and the build polls for the result it already paid for. Only a definitive
refusal or failure from the service (``failed``) lets a later build mint a new UUID.
A torn last line (a crash mid-write) is ignored, and the next record starts on a line of
its own.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from storyboard.state.files import disk_error, write_all


@dataclass(frozen=True)
class Pending:
    """A request that was (or may have been) sent and has no outcome yet."""

    key: str
    task_uuid: str
    take: str


def read_pending(path: Path, *, backend: str, endpoint: str | None = None) -> dict[str, Pending]:
    """The requests of ``backend`` (at ``endpoint``, if given) that a journal records as
    sent, or about to be, with no outcome yet, by take key."""
    pending: dict[str, Pending] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return pending
    for line in lines:
        try:
            event = json.loads(line)
        except ValueError:
            continue  # a torn line from a crash mid-write
        if not isinstance(event, dict) or event.get("backend") != backend:
            continue
        if endpoint is not None and event.get("endpoint") != endpoint:
            continue
        key = event.get("key")
        if not isinstance(key, str):
            continue
        if event.get("event") == "submit":
            pending[key] = Pending(key, str(event["task_uuid"]), str(event["take"]))
        elif event.get("event") in ("done", "failed"):
            found = pending.get(key)
            if found is not None and found.task_uuid == event.get("task_uuid"):
                del pending[key]
    return pending


class Journal:
    """Append-only, fsync'd JSON lines, scoped to one backend endpoint."""

    def __init__(self, path: Path, *, backend: str, endpoint: str) -> None:
        self.path = path
        self.backend = backend
        self.endpoint = endpoint
        self._pending = read_pending(path, backend=backend, endpoint=endpoint)

    def pending(self, key: str) -> Pending | None:
        """The request already sent for ``key`` with no outcome yet, if any."""
        return self._pending.get(key)

    def submit(self, take: str, key: str, task_uuid: str) -> None:
        """Record a request about to be sent (durably, before it is sent)."""
        self._append({"event": "submit", "take": take, "key": key, "task_uuid": task_uuid})
        self._pending[key] = Pending(key, task_uuid, take)

    def done(self, key: str, task_uuid: str) -> None:
        self._append({"event": "done", "key": key, "task_uuid": task_uuid})
        self._pending.pop(key, None)

    def failed(self, key: str, task_uuid: str, reason: str) -> None:
        """The service refused or failed the request for good: a new UUID may be used."""
        self._append({"event": "failed", "key": key, "task_uuid": task_uuid, "reason": reason})
        self._pending.pop(key, None)

    def compact(self) -> None:
        """Rewrite the journal with only the requests still pending (all backends kept)."""
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return
        keep: dict[tuple[Any, Any, Any], str] = {}
        for line in lines:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if not isinstance(event, dict):
                continue
            scope = (event.get("backend"), event.get("endpoint"), event.get("key"))
            if event.get("event") == "submit":
                keep[scope] = line
            else:
                keep.pop(scope, None)
        from storyboard.state.files import atomic_write_text

        atomic_write_text(self.path, "".join(f"{line}\n" for line in keep.values()))

    def _append(self, event: dict[str, Any]) -> None:
        """Append one record and sync it; it is on disk, whole, when this returns.

        Raises:
            BuildError: it could not be written (full or read-only disk): nothing that
                depends on it may go ahead (a request is not sent).
        """
        record = {**event, "backend": self.backend, "endpoint": self.endpoint, "time": time.time()}
        data = (json.dumps(record, sort_keys=True) + "\n").encode()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                size = os.fstat(fd).st_size
                if size and os.pread(fd, 1, size - 1) != b"\n":
                    data = b"\n" + data  # end a torn last line, or this record is lost with it
                write_all(fd, data)  # a short write on a full disk must not pass for a record
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise disk_error(exc, f"write the journal {self.path}") from exc
