"""The fixes the fault suite forced, each pinned by a small deterministic test.

- a failed generation is sent again under a new task UUID, once, only when that cannot pay
  twice: the service failed it for good and said a new attempt may pass, and the take asks
  for one result. Refusals, ambiguous failures and takes of several variations are not;
- the journal: a record appended after a torn last line is not lost with it; a short write
  (a full disk) is completed or fails, never leaves half a record passing for a whole one;
  a record that cannot be written stops the request from being sent; a build killed
  between storing a result and journaling it settles the journal on the next build;
- what a killed build leaves (temporary files and folders) is cleared by the next one, by
  the exact names of the places storyboard makes them in, and nothing else;
- a full or read-only disk is a :class:`BuildError` naming the file and the reason.
"""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from storyboard.backends.base import Output, Ticket
from storyboard.backends.runware.errors import (
    RunwareProviderError,
    RunwareSafetyError,
    RunwareTimeoutError,
)
from storyboard.build.pipeline import build
from storyboard.build.state.journal import Journal
from storyboard.build.state.workspace import ProjectLock, Workspace
from storyboard.core.errors import BuildError
from storyboard.core.files import atomic_write_text
from tests.build.fakes import FakePaidBackend

Project = Callable[[dict[str, str | bytes]], Path]

FILM = """\
storyboard: 1
title: State
shots:
  - {id: one, duration: 3, prompt: the only result}
  - {id: many, duration: 3, variations: 2, prompt: two results}
"""


class Scripted(FakePaidBackend):
    """The fake paid backend, whose ``collect`` raises the errors scripted for a take."""

    def __init__(self, failures: dict[str, list[Exception]] | None = None) -> None:
        super().__init__()
        self.failures = failures or {}
        self.sent: list[tuple[str, str, bool]] = []

    async def collect(self, ticket: Ticket, folder: Path) -> list[Output]:
        job = ticket.job
        self.sent.append((job.take, job.task_uuid, job.resumed))
        queue = self.failures.get(job.take)
        if queue:
            raise queue.pop(0)
        return await super().collect(ticket, folder)


def provider_failure() -> RunwareProviderError:
    return RunwareProviderError("timeoutProvider: the provider did not finish in time")


def journal(root: Path) -> list[dict[str, Any]]:
    lines = []
    for path in sorted((root / ".storyboard" / "journal").glob("*.jsonl")):
        lines += [json.loads(line) for line in path.read_text().splitlines() if line]
    return lines


def uuids(backend: Scripted, take: str) -> list[str]:
    return [uuid for name, uuid, _ in backend.sent if name == take]


@pytest.fixture
def film(project: Project) -> Path:
    return project({"film.yaml": FILM}) / "film.yaml"


# -- retrying a failed generation -------------------------------------------------------------


def test_a_provider_failure_is_sent_again_once_under_a_new_uuid(
    film: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journaled: list[tuple[str, str]] = []
    for name in ("submit", "failed", "done"):
        original = getattr(Journal, name)

        def spy(self: Journal, *args: str, name: str = name, original: Any = original) -> None:
            journaled.append((name, args[2] if name == "submit" else args[1]))
            original(self, *args)

        monkeypatch.setattr(Journal, name, spy)
    backend = Scripted({"one": [provider_failure()]})
    result = build(film, backend=backend, select=["one"])
    assert result.outcomes["one"].status == "generated"
    first, second = uuids(backend, "one")
    assert first != second
    # each UUID written down before it was sent; the failed one closed before the next
    assert journaled == [("submit", first), ("failed", first), ("submit", second),
                         ("done", second)]  # fmt: skip
    entry = result.outcomes["one"].entry
    assert entry is not None and entry.task_uuid == second


def test_retries_stop_after_one_new_attempt(film: Path) -> None:
    backend = Scripted({"one": [provider_failure(), provider_failure(), provider_failure()]})
    result = build(film, backend=backend, select=["one"])
    assert result.outcomes["one"].status == "failed"
    assert len(uuids(backend, "one")) == 2


@pytest.mark.parametrize(
    "error",
    [
        RunwareSafetyError("providerContentPolicyViolation: the prompt was flagged"),
        RunwareProviderError("a provider failure it says will fail again", retryable=False),
    ],
)
def test_refusals_are_not_sent_again(film: Path, error: Exception) -> None:
    backend = Scripted({"one": [error]})
    result = build(film, backend=backend, select=["one"])
    assert result.outcomes["one"].status == "failed"
    assert len(uuids(backend, "one")) == 1


def test_an_ambiguous_failure_stays_pending_and_is_resumed_not_sent_anew(film: Path) -> None:
    lost = RunwareTimeoutError("no answer in time; it may still run", may_be_running=True)
    backend = Scripted({"one": [lost]})
    assert build(film, backend=backend, select=["one"]).outcomes["one"].status == "failed"
    (uuid,) = uuids(backend, "one")
    again = Scripted()
    assert build(film, backend=again, select=["one"]).outcomes["one"].status == "generated"
    assert again.sent == [("one", uuid, True)]  # the same task, resumed


def test_a_take_of_several_results_is_not_sent_again(film: Path) -> None:
    backend = Scripted({"many": [provider_failure()]})
    result = build(film, backend=backend, select=["many"])
    assert result.outcomes["many"].status == "failed"
    assert len(uuids(backend, "many")) == 1


# -- the journal ------------------------------------------------------------------------------


def test_a_record_after_a_torn_line_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    first = Journal(path, backend="fake", endpoint="x")
    first.submit("a", "key-a", "uuid-a")
    with path.open("ab") as handle:
        handle.write(b'{"event": "done", "key": "key-a", "task_u')  # a crash mid-write
    Journal(path, backend="fake", endpoint="x").submit("b", "key-b", "uuid-b")
    reread = Journal(path, backend="fake", endpoint="x")
    pending_a, pending_b = reread.pending("key-a"), reread.pending("key-b")
    assert pending_a is not None and pending_a.task_uuid == "uuid-a"
    assert pending_b is not None and pending_b.task_uuid == "uuid-b"


def test_short_writes_still_make_whole_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write = os.write
    monkeypatch.setattr(os, "write", lambda fd, data: write(fd, bytes(data[:3])))
    path = tmp_path / "journal.jsonl"
    Journal(path, backend="fake", endpoint="x").submit("a", "key-a", "uuid-a")
    monkeypatch.undo()
    pending = Journal(path, backend="fake", endpoint="x").pending("key-a")
    assert pending is not None and pending.task_uuid == "uuid-a"


def test_nothing_is_sent_when_the_journal_cannot_be_written(
    film: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(fd: int, data: bytes) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    backend = Scripted()
    monkeypatch.setattr("storyboard.build.state.journal.write_all", full)
    result = build(film, backend=backend, select=["one"])
    monkeypatch.undo()
    assert result.outcomes["one"].status == "failed"
    assert "No space left on device" in result.outcomes["one"].message
    assert "journal" in result.outcomes["one"].message
    assert backend.submitted == []


def test_a_result_cached_but_not_journaled_settles_the_journal(
    film: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def killed(self: Journal, key: str, task_uuid: str) -> None:
        raise RuntimeError("killed between the cache and the journal")

    monkeypatch.setattr(Journal, "done", killed)
    backend = Scripted()
    assert build(film, backend=backend, select=["one"]).outcomes["one"].status == "failed"
    monkeypatch.undo()
    (uuid,) = uuids(backend, "one")
    assert [(e["event"], e["task_uuid"]) for e in journal(film.parent)] == [
        ("submit", uuid),
        ("accepted", uuid),
    ]
    again = Scripted()
    assert build(film, backend=again, select=["one"]).outcomes["one"].status == "cached"
    assert again.sent == []
    assert journal(film.parent) == []  # settled, then compacted: nothing left pending


# -- leftovers and disk errors ----------------------------------------------------------------


def test_the_project_lock_clears_what_a_killed_build_left(film: Path) -> None:
    root = film.parent
    workspace = Workspace.for_storyboard(film, root)
    workspace.outputs.open()  # a build folder storyboard made (and marked)
    left = [
        root / ".storyboard" / "tmp" / "frame-abc" / "a.png",
        root / ".storyboard" / "tmp" / ".records.json.x1.tmp",
        root / ".storyboard" / "cache" / ".tmp" / "incoming-abc" / "one-0.mp4",
        root / ".storyboard" / "cache" / ".tmp" / "entry-abc" / "0.mp4",
        root / "build" / "film" / ".storyboard-tmp" / "cut-x2" / "part.mp4",
        root / ".film.lock.storyboard-tmp",
    ]
    kept = [
        root / ".storyboard" / ".gitignore",
        root / "build" / "film" / ".cut.json",
        root / ".other.lock.storyboard-tmp",  # another storyboard's
        root / "build" / "film" / "takes" / "one.mp4",
        # hidden names that merely look temporary are not storyboard's to remove
        root / "build" / "film" / "takes" / ".one.mp4.tmp",
        root / "build" / "film" / "notes" / ".draft.part",
        root / ".storyboard" / "cache" / "fake" / "ab" / ".abcdef123456.xyz" / "0.mp4",
    ]
    for path in left + kept:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    with ProjectLock(workspace):
        pass
    assert [p for p in left if p.exists()] == []
    assert [p for p in kept if not p.exists()] == []
    assert (root / ".storyboard" / "tmp").is_dir()  # emptied, by its exact name


def test_a_write_on_a_full_disk_is_a_clear_build_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr("storyboard.core.files.os.fsync", full)
    with pytest.raises(BuildError, match=r"cannot write .*film.lock: No space left on device; "):
        atomic_write_text(tmp_path / "film.lock", "{}")
    assert list(tmp_path.iterdir()) == []  # no temporary file left
