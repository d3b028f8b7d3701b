"""Tests found by a mutation audit of the cache and the lock file (2026-12-07): each one
fails when a check of ``storyboard/build/state/cache.py`` or ``lockfile.py`` is taken out,
and that check stands between a build and paying twice, reading a damaged result as whole,
or reading a lock it cannot read as empty."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from storyboard.build.pipeline import build, prepare
from storyboard.build.state.cache import Cache
from storyboard.build.state.lockfile import LockedResult, LockedTake, LockFile
from storyboard.build.state.workspace import Workspace
from storyboard.core.errors import BuildError, InputError
from tests.build.fakes import FakePaidBackend

Project = Callable[[dict[str, str | bytes]], Path]

NS = "preview@test"
KEY = hashlib.sha256(b"the lighthouse at dusk").hexdigest()
DATA = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8

FILM = """\
storyboard: 1
title: Mutants
shots:
  - {id: a, duration: 3, prompt: first shot}
"""


def cache_of(workspace: Workspace) -> Cache:
    return Cache(workspace.cache, tree=workspace.tree, staging=workspace.cache_tmp)


def stored(workspace: Workspace, key: str = KEY, data: bytes = DATA) -> Path:
    """Put one take of ``data`` into the cache; return its entry's folder."""
    made = workspace.tree.make_temp_dir(workspace.cache_tmp, "test-")
    (made / "take.mp4").write_bytes(data)
    entry = cache_of(workspace).put(NS, key, [made / "take.mp4"], results=[{"cost": 0.5}])
    return entry.folder


def edit_entry(folder: Path, **changes: object) -> None:
    data = json.loads((folder / "entry.json").read_text())
    data.update(changes)
    (folder / "entry.json").write_text(json.dumps(data))


# -- the cache --------------------------------------------------------------------------------


def test_a_cut_short_video_is_a_miss_even_unverified_and_the_plan_prices_it(
    project: Project,
) -> None:
    film = project({"film.yaml": FILM}) / "film.yaml"
    assert build(film, backend=FakePaidBackend()).ok
    prepared = prepare(film, backend_name="fake")
    prepared.workspace.lockfile.unlink()  # the cache holds the only copy
    cache = Cache(prepared.workspace.cache)
    entry = cache.get("fake", prepared.keys["a"])
    assert entry is not None
    video = entry.path(0)
    video.chmod(0o600)
    with video.open("r+b") as stream:
        stream.truncate(entry.results[0].bytes - 100)
    # the plan reads entries unverified (sizes only): a cut-short video is no cached take
    assert cache.get("fake", prepared.keys["a"], verify=False) is None
    plan = prepare(film, backend_name="fake").plan
    assert [i.status for i in plan.items] == ["generate"]
    assert plan.chargeable == pytest.approx(3 * 0.112)


def test_an_entry_that_names_another_key_is_a_miss(workspace: Workspace) -> None:
    folder = stored(workspace)
    edit_entry(folder, key="ef" * 32)  # moved or copied into the folder of another request
    assert cache_of(workspace).get(NS, KEY) is None
    assert cache_of(workspace).get(NS, KEY, verify=False) is None


def test_a_digest_of_another_size_is_not_trusted_the_file_is_hashed(workspace: Workspace) -> None:
    made = workspace.tree.make_temp_dir(workspace.cache_tmp, "test-")
    (made / "take.mp4").write_bytes(DATA)
    stale = [("00" * 32, len(DATA) + 1)]  # its writer's digest, of another file
    cache = cache_of(workspace)
    entry = cache.put(NS, KEY, [made / "take.mp4"], results=[{}], digests=stale)
    assert entry.results[0].sha256 == hashlib.sha256(DATA).hexdigest()
    assert entry.results[0].bytes == len(DATA)
    found = cache.get(NS, KEY)  # verified: the entry says what its file is
    assert found is not None and found.path(0).read_bytes() == DATA


def test_a_damaged_entry_is_replaced_by_the_next_put(workspace: Workspace) -> None:
    folder = stored(workspace, data=b"old" * 100)
    (folder / "0.mp4").unlink()  # damaged: a miss
    cache = cache_of(workspace)
    assert cache.get(NS, KEY) is None
    assert stored(workspace) == folder
    found = cache.get(NS, KEY)
    assert found is not None and found.path(0).read_bytes() == DATA
    assert sorted(p.name for p in folder.iterdir()) == ["0.mp4", "entry.json"]


# -- the lock file ----------------------------------------------------------------------------


def locked(take: str, digit: str) -> LockedTake:
    return LockedTake(
        key=digit * 64, backend="fake", model="klingai:kling-video@o3-pro", task_uuid=None,
        cost=0.5, results=(LockedResult(None, None, "cd" * 32, 10),), take=take,
    )  # fmt: skip


A, B, C, D = locked("a", "1"), locked("b", "2"), locked("c", "3"), locked("d", "4")


@pytest.fixture
def lock_path(tmp_path: Path) -> Path:
    path = tmp_path / "film.lock"
    first = LockFile(path, "film.yaml")
    first.put(A)
    first.put(B)
    assert first.write()
    return path


def test_a_lock_changed_by_another_writer_keeps_its_entries_and_this_builds_changes(
    lock_path: Path,
) -> None:
    mine = LockFile.read(lock_path, "film.yaml")
    theirs = LockFile.read(lock_path, "film.yaml")  # a git pull while the build ran
    theirs.put(C)
    assert theirs.write()
    mine.drop(B.key, "fake")
    mine.put(D)
    assert mine.write()
    assert set(LockFile.read(lock_path, "film.yaml").entries) == {A, C, D}


@pytest.mark.parametrize(
    "now",
    [b"<<<<<<< ours\n=======\n>>>>>>> theirs\n", b"\xff\xfe not text\n"],
    ids=["conflict", "not-utf8"],
)
def test_a_lock_another_writer_left_unreadable_is_not_written_over(
    lock_path: Path, now: bytes
) -> None:
    mine = LockFile.read(lock_path, "film.yaml")
    damaged = lock_path.read_bytes() + now
    lock_path.write_bytes(damaged)
    mine.put(D)
    with pytest.raises(BuildError, match="changed while this build ran, and cannot be read now"):
        mine.write()
    assert lock_path.read_bytes() == damaged


def test_an_empty_lock_file_is_an_error_not_an_empty_lock(tmp_path: Path) -> None:
    path = tmp_path / "film.lock"
    path.write_text("")
    with pytest.raises(InputError, match="the lock file is empty"):
        LockFile.read(path, "film.yaml")
