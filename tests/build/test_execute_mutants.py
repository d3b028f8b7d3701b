"""The executor's decisions, from a mutation audit of ``storyboard/build/execute.py``.

Each test pins a decision that a plausible change broke without any other test failing: an
error that does not say it is final leaves its task pending (it may be running, billed), and
a take whose upstream was skipped is skipped, not sent or failed. A scripted fake backend
counts the requests; the journal is read back as the next build would read it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from storyboard.backends.base import Job, Output, Ticket
from storyboard.build.pipeline import build, prepare
from storyboard.build.state.journal import Journal
from storyboard.core.errors import ProviderError
from tests.build.fakes import FakePaidBackend

Project = Callable[[dict[str, str | bytes]], Path]

FILM = """\
storyboard: 1
title: Execute mutants
shots:
  - {id: a, duration: 3, prompt: first shot}
  - {id: b, start: a.last, duration: 3, prompt: second shot}
  - {id: c, start: b.last, duration: 3, prompt: third shot}
"""


class Refusal(ProviderError):
    """The service refused the request for good: sent again unchanged, refused again."""

    definitive = True
    retryable = False


class ScriptedBackend(FakePaidBackend):
    """A paid fake whose ``submit`` and ``collect`` raise, take by take, what it is told to."""

    def __init__(self) -> None:
        super().__init__()
        self.on_submit: dict[str, list[Exception]] = {}
        self.on_collect: dict[str, list[Exception]] = {}

    async def submit(self, job: Job) -> Ticket:
        self.submitted.append(job)
        errors = self.on_submit.get(job.take)
        if errors:
            raise errors.pop(0)
        return Ticket(job)

    async def collect(self, ticket: Ticket, folder: Path) -> list[Output]:
        errors = self.on_collect.get(ticket.job.take)
        if errors:
            raise errors.pop(0)
        return await super().collect(ticket, folder)


def journal_of(path: Path) -> Journal:
    return Journal(path, backend="fake", endpoint="fake://")


def uuids(backend: FakePaidBackend, take: str) -> list[str]:
    return [j.task_uuid for j in backend.submitted if j.take == take]


@pytest.fixture
def film(project: Project) -> Path:
    return project({"film.yaml": FILM}) / "film.yaml"


def test_an_error_that_does_not_say_it_is_final_leaves_the_task_pending(film: Path) -> None:
    prepared = prepare(film, backend_name="fake")
    backend = ScriptedBackend()
    # a ProviderError saying neither `definitive` nor `may_be_running`: the task may be
    # running, and billed; journaled as failed, the next build would pay for a new one
    backend.on_collect["a"] = [ProviderError("the connection dropped while waiting")]
    result = build(film, backend=backend, jobs=1, keep_going=True)
    assert result.outcomes["a"].status == "failed"
    (sent,) = uuids(backend, "a")  # not sent again in this build either
    pending = journal_of(prepared.workspace.journal).pending(prepared.keys["a"])
    assert pending is not None and pending.task_uuid == sent and pending.accepted
    again = ScriptedBackend()
    assert build(film, backend=again, jobs=1).ok
    first = again.submitted[0]
    assert first.take == "a" and first.task_uuid == sent and first.resumed
    assert [j.take for j in again.submitted] == ["a", "b", "c"]


def test_a_take_after_a_skipped_one_is_skipped_and_not_sent(film: Path) -> None:
    backend = ScriptedBackend()
    backend.on_submit["a"] = [Refusal("the request was refused")]
    result = build(film, backend=backend, jobs=1, keep_going=True)
    status = {k: o.status for k, o in result.outcomes.items()}
    # c needs b, which did not finish: skipped like b, not failed for a missing hand-off
    assert status == {"a": "failed", "b": "skipped", "c": "skipped"}
    assert "needs b" in (result.outcomes["c"].message or "")
    assert [j.take for j in backend.submitted] == ["a"]
