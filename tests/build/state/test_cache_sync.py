"""What the cache syncs when it stores a take, and in what order: every file of the entry is
on the disk, and so is the folder that names them, before that folder is renamed into the
cache; the rename itself is made durable after it. A crash at any point leaves either the
whole entry or none of it. Each is synced once: a sync is a wait for the disk (the cache's
folder syncs are most of what a pull pays beyond its transfers and hashing, P8)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from storyboard.build.state.cache import Cache
from storyboard.build.state.workspace import Workspace

NS = "preview@test"
KEY = hashlib.sha256(b"the lighthouse at dusk").hexdigest()
DATA = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8


def _events(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Every fsync (of the path its descriptor names) and every rename (to its new name),
    in order, from now on. A file synced under a temporary name (``*.tmp``) is named by the
    name it was renamed to."""
    events: list[tuple[str, str]] = []
    fsync, replace = os.fsync, os.replace

    def recording_fsync(fd: int) -> None:
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        fsync(fd)

    def at(name: str, folder: int | None) -> str:
        return os.path.join(os.readlink(f"/proc/self/fd/{folder}"), name) if folder else name

    def recording_replace(src: str, dst: str, **dirs: int) -> None:
        replace(src, dst, **dirs)
        old, new = at(src, dirs.get("src_dir_fd")), at(dst, dirs.get("dst_dir_fd"))
        if old.endswith(".tmp"):  # a file written under a temporary name
            events[:] = [(kind, new if (kind, path) == ("fsync", old) else path)
                         for kind, path in events]  # fmt: skip
        events.append(("rename", new))

    monkeypatch.setattr(os, "fsync", recording_fsync)
    monkeypatch.setattr(os, "replace", recording_replace)
    return events


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc/self/fd")
@pytest.mark.parametrize("digested", [False, True], ids=["hashed-by-the-cache", "digested"])
def test_a_stored_take_is_synced_whole_before_it_is_renamed_in_and_each_once(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch, digested: bool
) -> None:
    cache = Cache(workspace.cache, tree=workspace.tree, staging=workspace.cache_tmp)
    made = workspace.tree.make_temp_dir(workspace.cache_tmp, "test-")
    (made / "take.mp4").write_bytes(DATA)
    digests = [(hashlib.sha256(DATA).hexdigest(), len(DATA))] if digested else None
    events = _events(monkeypatch)

    entry = cache.put(NS, KEY, [made / "take.mp4"], results=[{"cost": 0.5}], digests=digests)

    final = str(entry.folder)
    into_cache = events.index(("rename", final))
    before, after = events[:into_cache], events[into_cache + 1 :]
    synced_before = [path for kind, path in before if kind == "fsync"]
    staging = os.path.dirname(next(p for p in synced_before if p.endswith(".mp4")))
    # the video and entry.json, each synced once, then the folder naming both, once
    assert sorted(synced_before) == sorted(
        [f"{staging}/0.mp4", f"{staging}/entry.json", staging]
    ), before
    assert synced_before[-1] == staging, before
    # entry.json is written whole (and synced) before the folder that names it is
    entry_json_synced = events.index(("fsync", f"{staging}/entry.json"))
    assert events.index(("fsync", staging)) > entry_json_synced
    # the rename into the cache is made durable: the cache's folder of the entry, synced
    assert [e for e in after if e[0] == "fsync"] == [("fsync", os.path.dirname(final))]
    assert (entry.folder / "0.mp4").read_bytes() == DATA
