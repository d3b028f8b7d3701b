"""A task of several results that fails after delivering some was billed for those: they are
kept, and the next build asks only for the rest; never paid for twice.

The real client and backend drive the emulator over loopback (its ``late-error`` fault: a job
fails right after its first ``count`` results were delivered and billed); every test asserts
on the emulator's ledger, the requests it was sent, the cache and the lock file.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from storyboard.api import plan
from storyboard.build.execute import delivered_key
from storyboard.build.pipeline import build
from storyboard.emulator.core import key_id
from storyboard.emulator.server import EmulatorServer
from tests.conftest import read_lock
from tests.faults.runner import FILM_SCALE, fast_backend

Project = Callable[[dict[str, str | bytes]], Path]

FILM = """\
storyboard: 1
title: Three tries
shots:
  - {id: v, duration: 3, variations: 3, prompt: '[v] a lighthouse at dusk'}
"""


def charged(emulator: EmulatorServer) -> list[Any]:
    return [e for e in emulator.ledger() if not e.dry_run and e.cost > 0]


def job_of(emulator: EmulatorServer, entry: Any) -> Any:
    return emulator.emulator.find_job(key_id(emulator.api_key), entry.task_uuid, retained=False)


def asked(emulator: EmulatorServer) -> list[int]:
    """The numberResults each charged task was sent with, oldest first."""
    return [job_of(emulator, e).request.number_results for e in charged(emulator)]


def cache_entries(root: Path) -> list[Path]:
    return sorted(p.parent for p in (root / ".storyboard" / "cache").rglob("entry.json"))


def make(film: Path) -> Any:
    return build(film, backend=fast_backend(), jobs=1, film_scale=FILM_SCALE)


def test_what_a_failed_task_delivered_is_kept_and_the_next_build_pays_only_the_rest(
    project: Project, paid: EmulatorServer
) -> None:
    root = project({"film.yaml": FILM})
    film = root / "film.yaml"
    paid.set_faults("late-error*1:count=1")  # one result delivered (billed), then a failure

    first = make(film)

    assert not first.ok
    message = first.outcomes["v"].message
    assert "1 of its 3 variations were delivered and are kept" in message, message
    assert "the next build asks only for the other 2" in message
    assert asked(paid) == [3]
    (failed,) = charged(paid)
    assert failed.cost == pytest.approx(failed.per_result)
    delivered = job_of(paid, failed).results[0].video_uuid
    key = first.prepared.keys["v"]
    assert [p.name for p in cache_entries(root)] == [delivered_key(key)]
    lock = film.with_suffix(".lock")
    assert not lock.exists() or "v" not in read_lock(lock)  # not the take: 1 of 3

    # the plan prices the two results left, and says why
    (item,) = plan(film, backend="runware").items
    assert item.status == "generate" and item.cost.results == 2
    assert "1 variations kept" in item.reason and "asks for the other 2" in item.reason

    second = make(film)

    assert second.ok, [f"{o.take}: {o.message}" for o in second.failed]
    assert asked(paid) == [3, 2]  # the rest only
    assert sum(e.cost for e in charged(paid)) == pytest.approx(3 * failed.per_result)
    entry = second.outcomes["v"].entry
    assert entry is not None and len(entry.results) == 3
    uuids = [r.video_uuid for r in entry.results]
    assert len(set(uuids)) == 3 and uuids[0] == delivered  # the delivered one first
    assert all(entry.path(i).stat().st_size > 0 for i in range(3))
    assert [r["video_uuid"] for r in read_lock(lock)["v"]["results"]] == uuids
    assert cache_entries(root) == [entry.folder]  # what was kept on the way is gone
    assert second.outcomes["v"].cost == pytest.approx(charged(paid)[1].cost)  # this build's

    third = make(film)
    assert third.ok and len(charged(paid)) == 2  # and nothing more


def test_results_kept_from_two_failed_tasks_add_up(project: Project, paid: EmulatorServer) -> None:
    root = project({"film.yaml": FILM})
    film = root / "film.yaml"
    paid.set_faults("late-error*2:count=1")  # two tasks each deliver one, then fail

    assert not make(film).ok
    second = make(film)

    assert not second.ok
    assert "2 of its 3 variations were delivered and are kept" in second.outcomes["v"].message
    (item,) = plan(film, backend="runware").items
    assert item.cost.results == 1

    third = make(film)

    assert third.ok, [f"{o.take}: {o.message}" for o in third.failed]
    assert asked(paid) == [3, 2, 1]
    per_result = charged(paid)[0].per_result
    assert sum(e.cost for e in charged(paid)) == pytest.approx(3 * per_result)
    entry = third.outcomes["v"].entry
    assert entry is not None and len({r.video_uuid for r in entry.results}) == 3
    assert cache_entries(root) == [entry.folder]
