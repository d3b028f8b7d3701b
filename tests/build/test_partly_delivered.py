"""A task of several results that fails after delivering some was billed for those: they are
kept, and only the rest is asked for, in the same build or the next; never paid for twice.

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


def asked(emulator: EmulatorServer, entries: list[Any]) -> list[int]:
    """The numberResults each charged task was sent with, oldest first."""
    from storyboard.emulator.core import key_id

    owner = key_id(emulator.api_key)
    return [
        emulator.emulator.find_job(owner, e.task_uuid, retained=False).request.number_results
        for e in entries
    ]


def cache_entries(root: Path) -> list[Path]:
    return sorted(p.parent for p in (root / ".storyboard" / "cache").rglob("entry.json"))


def test_a_late_failure_in_a_build_keeps_what_was_delivered_and_asks_for_the_rest(
    project: Project, paid: EmulatorServer
) -> None:
    root = project({"film.yaml": FILM})
    film = root / "film.yaml"
    paid.set_faults("late-error*1:count=1")  # timeoutProvider: worth a new attempt

    result = build(film, backend=fast_backend(), jobs=1, film_scale=FILM_SCALE)

    assert result.ok, [f"{o.take}: {o.message}" for o in result.failed]
    first, second = charged(paid)
    assert asked(paid, [first, second]) == [3, 2]  # the rest only
    assert first.cost == pytest.approx(first.per_result)  # 1 delivered, billed
    assert second.cost == pytest.approx(2 * second.per_result)
    entry = result.outcomes["v"].entry
    assert entry is not None and len(entry.results) == 3
    uuids = [r.video_uuid for r in entry.results]
    assert len(set(uuids)) == 3
    # the delivered one first, then the new task's two; every variation a file of the entry
    job = paid.emulator.find_job(_owner(paid), first.task_uuid, retained=False)
    assert uuids[0] == job.results[0].video_uuid
    assert all(entry.path(i).stat().st_size > 0 for i in range(3))
    assert [r["video_uuid"] for r in read_lock(film.with_suffix(".lock"))["v"]["results"]] == uuids
    # what was kept on the way is gone from the cache: only the take's entry is left
    assert cache_entries(root) == [entry.folder]
    assert result.outcomes["v"].cost == pytest.approx(second.cost)  # this attempt's


def test_what_a_failed_build_was_delivered_is_kept_for_the_next_which_pays_only_the_rest(
    project: Project, paid: EmulatorServer
) -> None:
    root = project({"film.yaml": FILM})
    film = root / "film.yaml"
    # both attempts of the first build deliver one result each and then fail
    paid.set_faults("late-error*2:count=1")

    first = build(film, backend=fast_backend(), jobs=1, film_scale=FILM_SCALE)

    assert not first.ok
    message = first.outcomes["v"].message
    assert "2 of its 3 variations were delivered and are kept" in message, message
    assert "the next build asks only for the other 1" in message
    assert asked(paid, charged(paid)) == [3, 2]
    assert sum(e.cost for e in charged(paid)) == pytest.approx(2 * charged(paid)[0].per_result)
    kept = cache_entries(root)
    assert [p.name for p in kept] == [delivered_key(first.prepared.keys["v"])]
    lock = film.with_suffix(".lock")
    assert not lock.exists() or "v" not in read_lock(lock)  # not the take's: 2 of 3

    # the plan prices the one result left, and says why
    (item,) = plan(film, backend="runware").items
    assert item.status == "generate" and item.cost.results == 1
    assert "2 variations kept" in item.reason and "asks for the other 1" in item.reason

    second = build(film, backend=fast_backend(), jobs=1, film_scale=FILM_SCALE)

    assert second.ok, [f"{o.take}: {o.message}" for o in second.failed]
    entries = charged(paid)
    assert asked(paid, entries) == [3, 2, 1]
    per_result = entries[0].per_result
    assert sum(e.cost for e in entries) == pytest.approx(3 * per_result)  # 3 results, 3 paid
    entry = second.outcomes["v"].entry
    assert entry is not None and len({r.video_uuid for r in entry.results}) == 3
    assert cache_entries(root) == [entry.folder]
    assert len(read_lock(film.with_suffix(".lock"))["v"]["results"]) == 3
    # and a third build pays nothing
    third = build(film, backend=fast_backend(), jobs=1, film_scale=FILM_SCALE)
    assert third.ok and len(charged(paid)) == 3


def _owner(emulator: EmulatorServer) -> str:
    from storyboard.emulator.core import key_id

    return key_id(emulator.api_key)
