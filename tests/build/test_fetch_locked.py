"""Fetching a take the lock file names (:func:`storyboard.build.remote_transfer.fetch_take` with
``locked``): its media are fetched by the sha256s the lock records, without the remote's
record; the record is read when the remote does not hold them; a medium that is not what the
lock says is refused and nothing of it is kept. A ``file://`` remote (a NAS folder).
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import shutil
from pathlib import Path

import pytest

from storyboard.build.remote_transfer import fetch_take, parse_record, push_take, record_of
from storyboard.build.state.cache import Cache, CacheEntry
from storyboard.build.state.lockfile import LockedResult, LockedTake
from storyboard.build.state.workspace import Workspace
from storyboard.remote.config import RemoteConfig
from storyboard.remote.store import RemoteError, Store, cas_path

NS = "runware@test"
KEY = hashlib.sha256(b"the harbour at dawn").hexdigest()
TAKE_BYTES = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40


def workspace_at(root: Path) -> Workspace:
    (root / ".storyboard").mkdir(parents=True)
    (root / "film.yaml").write_text("storyboard: 1\n")
    return Workspace.for_storyboard(root / "film.yaml", root)


def cache_of(ws: Workspace) -> Cache:
    return Cache(ws.cache, tree=ws.tree, staging=ws.cache_tmp)


def stored(ws: Workspace, data: bytes = TAKE_BYTES, key: str = KEY, ns: str = NS) -> CacheEntry:
    """``data`` put into ``ws``'s cache as the one result of ``key``, paid $0.84."""
    ws.tree.makedirs(ws.cache_tmp)
    staging = ws.tree.make_temp_dir(ws.cache_tmp, "test-")
    (staging / "0.mp4").write_bytes(data)
    return cache_of(ws).put(
        ns, key, [staging / "0.mp4"], results=[{"video_uuid": "v-1", "cost": 0.84}],
        task_uuid="t-1", meta={"take": "harbour", "model": "klingai:kling-video@o3-pro"},
    )  # fmt: skip


@pytest.fixture
def pushed(tmp_path: Path) -> tuple[Store, Path, LockedTake]:
    """A remote holding the take, and the lock entry the build that paid for it wrote."""
    nas = tmp_path / "nas"
    nas.mkdir()
    store = Store(RemoteConfig(f"file://{nas}", "test"))
    entry = stored(workspace_at(tmp_path / "a"), TAKE_BYTES)
    assert asyncio.run(push_take(store, entry, take="harbour")).status == "pushed"
    locked = parse_record(record_of(entry, "harbour"), NS, KEY, "lock")
    return store, nas, locked


def fetch(store: Store, ws: Workspace, locked: LockedTake | None) -> CacheEntry:
    return asyncio.run(fetch_take(store, NS, KEY, cache_of(ws), ws.tree, locked=locked))


def test_a_take_the_lock_names_is_fetched_by_its_sha256_without_the_record(
    pushed: tuple[Store, Path, LockedTake], tmp_path: Path
) -> None:
    store, nas, locked = pushed
    shutil.rmtree(nas / "results")  # no record: only the lock says what the take is
    ws = workspace_at(tmp_path / "b")
    with pytest.raises(RemoteError) as caught:
        fetch(store, ws, None)
    assert caught.value.kind == "missing"
    entry = fetch(store, ws, locked)
    assert entry.path(0).read_bytes() == TAKE_BYTES
    assert entry.results[0].sha256 == hashlib.sha256(TAKE_BYTES).hexdigest()
    assert entry.task_uuid == "t-1" and entry.cost == 0.84
    assert entry.meta["from"] == "remote" and entry.meta["take"] == "harbour"
    assert cache_of(ws).get(NS, KEY) is not None  # verified: every byte hashed again


def test_the_record_is_read_when_the_remote_holds_another_result(
    pushed: tuple[Store, Path, LockedTake], tmp_path: Path
) -> None:
    store, _nas, locked = pushed
    elsewhere = b"another result of the same request" * 50
    other = dataclasses.replace(
        locked,
        results=(LockedResult("v-2", None, hashlib.sha256(elsewhere).hexdigest(), len(elsewhere)),),
    )
    entry = fetch(store, workspace_at(tmp_path / "b"), other)
    assert entry.path(0).read_bytes() == TAKE_BYTES  # the remote's record, its media
    assert entry.results[0].video_uuid == "v-1"


def test_a_medium_that_is_not_what_the_lock_says_is_refused_and_nothing_is_kept(
    pushed: tuple[Store, Path, LockedTake], tmp_path: Path
) -> None:
    store, nas, locked = pushed
    medium = nas / cas_path(locked.results[0].sha256)
    medium.chmod(0o644)
    medium.write_bytes(TAKE_BYTES[:-1] + b"!")  # same size, one byte altered
    ws = workspace_at(tmp_path / "b")
    with pytest.raises(RemoteError) as caught:
        fetch(store, ws, locked)
    assert caught.value.kind == "corrupt" and "does not match its sha256" in str(caught.value)
    assert cache_of(ws).get(NS, KEY, verify=False) is None
    assert list(ws.cache_tmp.iterdir()) == []  # no part of it left in the staging folder
