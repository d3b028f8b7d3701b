"""The build driver's decisions, from a mutation audit of ``storyboard/build/pipeline.py``.

Each test pins a decision that a plausible change broke without any other test failing. A
fake paid backend (:mod:`tests.build.fakes`) counts what is sent; the remote is a ``file://``
folder; the films are a few seconds at a twelfth of their size.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from storyboard.api import plan
from storyboard.backends.base import Job, Ticket
from storyboard.backends.factory import pricing_of
from storyboard.build.pipeline import RESUME_ACCEPTED, UNSENT, build, prepare
from storyboard.build.state.journal import Journal
from storyboard.core.errors import BuildError, InputError
from storyboard.emulator.server import EmulatorServer
from storyboard.remote.config import RemoteConfig
from storyboard.remote.store import Store
from tests.build.fakes import FakePaidBackend
from tests.conftest import read_lock
from tests.faults.runner import FILM_SCALE, fast_backend

Project = Callable[[dict[str, str | bytes]], Path]

FILM = """\
storyboard: 1
title: Pipeline mutants
shots:
  - {id: a, duration: 3, prompt: first shot}
  - {id: b, duration: 3, prompt: second shot}
"""
A = "6f0c58a8-58a4-4d4b-9a4e-6f3b7a0c6f11"


@pytest.fixture
def film(project: Project) -> Path:
    return project({"film.yaml": FILM}) / "film.yaml"


def test_the_remote_is_asked_only_of_the_takes_the_cache_lacks(
    film: Path, nas: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    remote = RemoteConfig(f"file://{nas}", "test")
    first = build(film, backend=FakePaidBackend(), remote=remote)
    assert first.ok
    key_a, key_b = first.prepared.keys["a"], first.prepared.keys["b"]
    film.write_text(FILM.replace("second shot", "second shot at night"), encoding="utf-8")
    asked: list[str] = []
    exists = Store.exists

    async def watched(self: Store, path: str) -> bool:
        asked.append(path)
        return await exists(self, path)

    monkeypatch.setattr(Store, "exists", watched)
    backend = FakePaidBackend()
    second = build(film, backend=backend, remote=remote)
    assert second.ok and second.outcomes["a"].status == "cached"
    assert [j.take for j in backend.submitted] == ["b"]
    new_b = second.prepared.keys["b"]
    assert new_b != key_b and second.prepared.keys["a"] == key_a
    # a's result is in the cache: its key never leaves this machine for a look-up
    assert [p for p in asked if key_a in p] == [], asked
    assert any(new_b in p for p in asked), asked


def test_a_request_never_sent_from_another_endpoint_is_planned_as_new(film: Path) -> None:
    before = prepare(film, backend_name="fake")
    journal = Journal(before.workspace.journal, backend="fake", endpoint="http://127.0.0.1:9/v2")
    journal.submit("a", before.keys["a"], A)
    journal.unsent(before.keys["a"], A, "connection refused")
    backend = FakePaidBackend()
    backend.endpoint = "http://127.0.0.1:9/v1"
    plan = prepare(film, backend_name="fake", pricing=pricing_of(backend)).plan
    (a,) = [item for item in plan.items if item.take.id == "a"]
    # no byte of it left this machine: a new charge here, not one to resume elsewhere
    assert (a.status, a.reason, a.accepted) == ("generate", UNSENT, False)
    assert plan.chargeable == plan.total > 0


def test_a_plan_that_knows_no_endpoint_resumes_what_any_endpoint_accepted(film: Path) -> None:
    before = prepare(film, backend_name="fake")
    journal = Journal(before.workspace.journal, backend="fake", endpoint="http://127.0.0.1:9/v2")
    journal.submit("a", before.keys["a"], A)
    journal.accepted(before.keys["a"], A)
    (a,) = [i for i in prepare(film, backend_name="fake").plan.items if i.take.id == "a"]
    assert (a.status, a.reason, a.accepted) == ("resume", RESUME_ACCEPTED, True)


def test_a_take_removed_from_the_storyboard_leaves_the_lock(film: Path) -> None:
    assert build(film, backend=FakePaidBackend()).ok
    lock = film.with_suffix(".lock")
    assert set(read_lock(lock)) == {"a", "b"}
    film.write_text(FILM.replace("  - {id: b, duration: 3, prompt: second shot}\n", ""))
    backend = FakePaidBackend()
    assert build(film, backend=backend).ok and backend.submitted == []
    assert set(read_lock(lock)) == {"a"}


class Closing(FakePaidBackend):
    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.closed = 0

    async def aclose(self) -> None:
        self.closed += 1


def test_the_backends_client_is_closed_after_the_takes_even_when_one_fails(film: Path) -> None:
    backend = Closing(fail={"a"})
    result = build(film, backend=backend, keep_going=True)
    assert not result.ok and result.outcomes["a"].status == "failed"
    assert backend.closed == 1


def test_a_request_file_is_written_again_only_when_it_changed(film: Path) -> None:
    assert build(film, backend=FakePaidBackend()).ok
    requests = film.parent / "build" / "film" / "fake" / "requests"
    a, b = requests / "a.json", requests / "b.json"
    before = (a.stat().st_ino, a.stat().st_mtime_ns)
    film.write_text(FILM.replace("second shot", "second shot at night"), encoding="utf-8")
    assert build(film, backend=FakePaidBackend()).ok
    assert (a.stat().st_ino, a.stat().st_mtime_ns) == before  # a's request is as it was
    assert "second shot at night" in b.read_text(encoding="utf-8")


CHAIN = """\
storyboard: 1
title: Chain
shots:
  - {id: a, duration: 3, prompt: first shot}
  - {id: b, start: a.last, duration: 3, prompt: second shot}
"""


def test_a_selected_take_may_start_from_a_take_only_the_lock_holds(project: Project) -> None:
    root = project({"film.yaml": CHAIN})
    film = root / "film.yaml"
    first = FakePaidBackend()
    assert build(film, backend=first).ok
    shutil.rmtree(root / ".storyboard" / "cache")  # a clone: the lock file, no cache
    film.write_text(CHAIN.replace("second shot", "second shot at night"), encoding="utf-8")
    backend = FakePaidBackend()
    backend.served = first.served  # the provider still serves a's result
    result = build(film, backend=backend, select=["b"])
    assert result.ok, [(o.take, o.message) for o in result.outcomes.values()]
    assert result.outcomes["a"].status == "locked"
    assert [j.take for j in backend.submitted] == ["b"]


def test_records_that_cannot_be_read_stop_the_build_before_anything_is_sent(
    film: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from storyboard.build.state import records

    def failing(*args: object, **kw: object) -> object:
        raise OSError(5, "Input/output error")

    assert build(film, backend=FakePaidBackend()).ok
    film.write_text(FILM.replace("second shot", "second shot at night"), encoding="utf-8")
    monkeypatch.setattr(records, "read", failing)  # the disk fails to read them
    backend = FakePaidBackend()
    with pytest.raises(InputError, match=r"cannot read .*Input/output error.*nothing was sent"):
        build(film, backend=backend)
    assert backend.submitted == []


def test_a_gitignore_that_cannot_be_written_is_said_and_the_build_goes_on(
    film: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from storyboard.build.state import gitignore

    def refused(*args: object, **kw: object) -> object:
        raise BuildError("the disk is read-only")

    monkeypatch.setattr(gitignore, "ensure_ignored", refused)
    shutil.rmtree(film.parent / ".storyboard")  # the project's first build
    notes: list[str] = []
    result = build(film, backend=FakePaidBackend(), emit=lambda e: notes.append(str(e)))
    assert result.ok
    assert any("left .gitignore as it is: the disk is read-only" in n for n in notes), notes


def test_a_writers_file_where_an_unselected_take_would_go_is_left_and_the_build_runs(
    film: Path,
) -> None:
    assert build(film, backend=FakePaidBackend(), select=["a"]).outcomes["b"].status == "unselected"
    mine = film.parent / "build" / "film" / "fake" / "takes" / "b.mp4"
    mine.write_bytes(b"the writer's own")  # where b's video would go, had it been built
    film.write_text(FILM.replace("first shot", "first shot at night"), encoding="utf-8")
    backend = FakePaidBackend()
    result = build(film, backend=backend, select=["a"])
    assert result.outcomes["a"].status == "generated"
    assert [j.take for j in backend.submitted] == ["a"]
    assert mine.read_bytes() == b"the writer's own"


def test_a_build_that_made_takes_leaves_no_note_of_nothing_to_do(film: Path) -> None:
    note = film.parent / "build" / "film" / "fake" / ".build.json"
    assert build(film, backend=FakePaidBackend()).ok
    assert not note.exists()  # it made both takes: the next build checks everything
    backend = FakePaidBackend()
    assert build(film, backend=backend).ok and backend.submitted == []
    assert note.is_file()  # it found both in the cache


TWO_TRIES = """\
storyboard: 1
title: Two tries
shots:
  - {id: v, duration: 3, variations: 2, prompt: '[v] a lighthouse at dusk'}
"""


def test_one_of_two_variations_delivered_is_not_priced_again(
    project: Project, paid: EmulatorServer
) -> None:
    film = project({"film.yaml": TWO_TRIES}) / "film.yaml"
    paid.set_faults("late-error*1:count=1")  # one result delivered (billed), then a failure
    first = build(film, backend=fast_backend(), jobs=1, film_scale=FILM_SCALE)
    assert not first.ok
    (item,) = plan(film, backend="runware").items
    # the plan (and --max-cost) counts the one result left, as the build asks for it
    assert item.status == "generate" and item.cost.results == 1
    assert "1 variations kept" in item.reason and "asks for the other 1" in item.reason


def test_a_locked_result_the_provider_no_longer_serves_leaves_the_lock(film: Path) -> None:
    assert build(film, backend=FakePaidBackend()).ok
    lock = film.with_suffix(".lock")
    shutil.rmtree(film.parent / ".storyboard" / "cache")  # a clone: the lock file, no cache
    forgot = FakePaidBackend()  # serves nothing: every locked URL answers 404
    result = build(film, backend=forgot, keep_going=True)
    assert {o.status for o in result.outcomes.values()} == {"failed"}
    assert forgot.submitted == []  # nothing paid for: the plan counted both free
    assert not lock.exists() or read_lock(lock) == {}
    # so the next build prices them, and makes them
    backend = FakePaidBackend()
    assert build(film, backend=backend).ok
    assert sorted(j.take for j in backend.submitted) == ["a", "b"]


class DamagingRecords(FakePaidBackend):
    """Damages the records file when it is sent its first request (another program's write)."""

    def __init__(self, records: Path, **kw: Any) -> None:
        super().__init__(**kw)
        self.records = records

    async def submit(self, job: Job) -> Ticket:
        self.records.write_text("{not json")
        return await super().submit(job)


def test_records_damaged_during_a_build_keep_what_the_plan_read(film: Path) -> None:
    assert build(film, backend=FakePaidBackend()).ok
    path = film.parent / ".storyboard" / "records" / "film.fake.json"
    b_before = json.loads(path.read_text())["b"]
    film.write_text(FILM.replace("t shot", "t shot at night").replace("d shot", "d shot at night"))
    backend = DamagingRecords(path, fail={"b"})
    result = build(film, backend=backend, keep_going=True)
    assert result.outcomes["a"].status == "generated" and result.outcomes["b"].status == "failed"
    records = json.loads(path.read_text())
    assert records["a"] == result.prepared.materials["a"]
    assert records["b"] == b_before  # b's last record, as the plan read it: still there


def test_a_build_writes_no_report_unless_one_was_written_before(film: Path) -> None:
    assert build(film, backend=FakePaidBackend()).ok
    folder = film.parent / "build" / "film" / "fake"
    assert (folder / "build.json").is_file() and not (folder / "report.html").exists()


def test_a_writers_file_where_the_film_goes_is_refused_before_anything_is_paid(
    film: Path,
) -> None:
    assert build(film, backend=FakePaidBackend(), select=["a"]).ok
    mine = film.parent / "build" / "film" / "fake" / "film.mp4"
    assert not mine.exists()  # not cut: b was left out
    mine.write_bytes(b"the writer's own")
    backend = FakePaidBackend()
    with pytest.raises((InputError, BuildError), match=r"film\.mp4"):
        build(film, backend=backend)
    assert backend.submitted == [] and mine.read_bytes() == b"the writer's own"
