"""Nothing is paid for that the plan did not count: a take the plan counted free (cached,
locked, remote, kept) whose result turns out unusable during the build fails, unpaid, and
the next plan prices it (``generate``); the free preview makes it again, as it costs
nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from storyboard.backends.preview import PreviewBackend
from storyboard.build.pipeline import build, prepare
from storyboard.build.state.cache import Cache
from storyboard.build.state.lockfile import LockFile
from storyboard.core.errors import BuildError
from tests.build.fakes import FakePaidBackend

Project = Callable[[dict[str, str | bytes]], Path]

FILM = """\
storyboard: 1
title: Unplanned
shots:
  - {id: a, duration: 3, prompt: first shot}
  - {id: b, start: a.last, duration: 3, prompt: second shot}
  - {id: c, duration: 4, prompt: third shot}
"""


@pytest.fixture
def film(project: Project) -> Path:
    return project({"film.yaml": FILM}) / "film.yaml"


def damage(film: Path, namespace: str, take: str) -> Path:
    """Flip bytes of the cached video of ``take`` (its size kept); return its entry's folder."""
    prepared = prepare(film, backend_name=namespace)
    cache = Cache(prepared.workspace.cache)
    entry = cache.get(namespace, prepared.keys[take])
    assert entry is not None
    video = entry.path(0)
    data = bytearray(video.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 16] = bytes(b ^ 0xFF for b in data[middle : middle + 16])
    video.chmod(0o600)
    video.write_bytes(bytes(data))
    assert cache.get(namespace, prepared.keys[take]) is None  # damaged: a miss when verified
    assert cache.get(namespace, prepared.keys[take], verify=False) is not None
    return entry.folder


def unlock(film: Path, take: str) -> None:
    """Drop ``take``'s entry from the lock file (as a build killed before writing it)."""
    prepared = prepare(film, backend_name="fake")
    workspace = prepared.workspace
    lock = LockFile.read(workspace.lockfile, workspace.storyboard.name, tree=workspace.tree)
    assert lock.find(prepared.keys[take], "fake") is not None
    lock.drop(prepared.keys[take], "fake")
    lock.write()


def standing(film: Path, namespace: str) -> dict[str, str]:
    return {i.take.id: i.status for i in prepare(film, backend_name=namespace).plan.items}


def test_a_damaged_cached_take_the_plan_counted_free_is_not_paid_for(film: Path) -> None:
    first = build(film, backend=FakePaidBackend())
    assert first.ok
    folder = damage(film, "fake", "a")
    unlock(film, "a")
    assert standing(film, "fake") == {"a": "cached", "b": "cached", "c": "cached"}

    backend = FakePaidBackend()
    result = build(film, backend=backend, max_cost=0.0, keep_going=True)  # the plan: $0
    assert backend.submitted == []  # nothing sent, nothing paid
    assert result.spent == 0
    outcome = result.outcomes["a"]
    assert outcome.status == "failed"
    assert "the cached result of take 'a' does not match its sha256" in outcome.message
    assert "its entry left the cache" in outcome.message
    assert "It was not sent, and nothing was paid for it" in outcome.message
    assert "The next build generates this take again (see `storyboard plan`" in outcome.message
    skipped = result.outcomes["b"]  # its own result is whole, but it needs a's
    assert skipped.status == "skipped" and "needs a" in skipped.message
    assert result.outcomes["c"].status == "cached"
    assert not folder.exists()  # the damaged entry left the cache
    journal = film.parent / ".storyboard" / "journal" / "film.jsonl"
    sent = journal.read_text() if journal.exists() else ""
    assert result.prepared.keys["a"] not in sent  # no request journaled: none sent

    after = prepare(film, backend_name="fake").plan
    items = {i.take.id: i for i in after.items}
    assert items["a"].status == "generate"
    assert items["a"].cost.amount == pytest.approx(3 * 0.112)
    assert after.chargeable == pytest.approx(3 * 0.112)


def test_the_next_build_pays_for_it_as_its_plan_says(film: Path) -> None:
    assert build(film, backend=FakePaidBackend()).ok
    damage(film, "fake", "a")
    prepare(film, backend_name="fake").workspace.lockfile.unlink()  # the whole lock file gone
    backend = FakePaidBackend()
    result = build(film, backend=backend, max_cost=0.5, keep_going=True)
    assert backend.submitted == []
    assert result.outcomes["a"].status == "failed"
    assert "does not match its sha256" in result.outcomes["a"].message
    assert result.outcomes["c"].status == "cached"
    plan = prepare(film, backend_name="fake").plan
    assert {i.take.id: i.status for i in plan.items}["a"] == "generate"
    assert plan.chargeable == pytest.approx(3 * 0.112)

    with pytest.raises(BuildError, match="over --max-cost"):  # now the budget counts it
        build(film, backend=FakePaidBackend(), max_cost=0.1)
    again = FakePaidBackend()
    assert build(film, backend=again, max_cost=0.5).ok
    assert [job.take for job in again.submitted] == ["a"]


def test_without_keep_going_the_build_stops_unpaid(film: Path) -> None:
    assert build(film, backend=FakePaidBackend()).ok
    damage(film, "fake", "c")
    unlock(film, "c")
    backend = FakePaidBackend()
    result = build(film, backend=backend, max_cost=0.0)
    assert backend.submitted == []
    assert not result.ok
    assert result.outcomes["c"].status == "failed"


def test_a_damaged_cached_take_with_a_lock_entry_is_downloaded_free(film: Path) -> None:
    backend = FakePaidBackend()  # it serves the URLs the lock names
    assert build(film, backend=backend).ok
    damage(film, "fake", "a")
    backend.submitted.clear()
    result = build(film, backend=backend, max_cost=0.0)
    assert result.ok and backend.submitted == []
    assert result.outcomes["a"].status == "locked"
    assert standing(film, "fake") == {"a": "cached", "b": "cached", "c": "cached"}


def test_the_preview_makes_a_damaged_cached_take_again(film: Path) -> None:
    namespace = PreviewBackend(scale=1 / 12).namespace
    assert build(film, backend=PreviewBackend(scale=1 / 12)).ok
    damage(film, namespace, "a")
    assert standing(film, namespace)["a"] == "cached"
    result = build(film, backend=PreviewBackend(scale=1 / 12))
    assert result.ok
    assert result.outcomes["a"].status == "generated"
    assert standing(film, namespace) == {"a": "cached", "b": "cached", "c": "cached"}


def test_a_damaged_entry_whose_url_still_serves_is_downloaded_again_free(film: Path) -> None:
    """The lock lacks the take, but the damaged entry names where the provider served it:
    fetched again, verified by its sha256, and nothing paid."""
    backend = FakePaidBackend()  # it still serves what it made
    assert build(film, backend=backend).ok
    damage(film, "fake", "a")
    unlock(film, "a")
    backend.submitted.clear()
    result = build(film, backend=backend, max_cost=0.0)
    assert result.ok and backend.submitted == []
    assert result.outcomes["a"].status == "locked"
    assert any("/0.mp4" in url for url in backend.fetched)
    assert standing(film, "fake")["a"] == "cached"  # whole again in the cache
