"""Tests found by a second mutation audit of the cache (2026-12-07): each one fails when a
decision of ``storyboard/build/state/cache.py`` is changed, and that decision stands between a
build and reading a damaged or foreign result as whole, following a link out of the entry,
reading an entry it cannot read as a miss (paid again), or losing what a put was given."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import threading
from pathlib import Path
from typing import Any

import pytest

import storyboard.build.state.cache as cache_module
from storyboard.build.state.cache import Cache
from storyboard.build.state.safe import UnsafePath
from storyboard.build.state.workspace import Workspace
from storyboard.core.errors import BuildError
from storyboard.core.files import new_file_mode
from tests.build.state.test_cache_lock_mutants import (
    DATA,
    KEY,
    NS,
    cache_of,
    edit_entry,
    stored,
)

OTHER = hashlib.sha256(b"the harbour at dawn").hexdigest()


def staged(workspace: Workspace, *datas: bytes) -> list[Path]:
    made = workspace.tree.make_temp_dir(workspace.cache_tmp, "test-")
    files = []
    for index, data in enumerate(datas):
        (made / f"take{index}.mp4").write_bytes(data)
        files.append(made / f"take{index}.mp4")
    return files


def edit_result(folder: Path, **changes: object) -> None:
    data = json.loads((folder / "entry.json").read_text())
    data["results"][0].update(changes)
    (folder / "entry.json").write_text(json.dumps(data))


# -- what an entry holds ----------------------------------------------------------------------


def test_every_variation_its_metadata_and_the_task_come_back_as_stored(
    workspace: Workspace,
) -> None:
    cache = cache_of(workspace)
    second = DATA[::-1]
    results = [
        {"cost": 0.5, "video_uuid": "v-0", "url": "https://x.test/0.mp4", "seed": 7},
        {"cost": 0.25, "video_uuid": "v-1", "url": None, "seed": 8},
    ]
    files = staged(workspace, DATA, second)
    cache.put(NS, KEY, files, results=results, task_uuid="task-1", meta={"model": "m"})
    found = cache.get(NS, KEY)
    assert found is not None
    assert [found.path(i).read_bytes() for i in (0, 1)] == [DATA, second]
    assert [(r.cost, r.video_uuid, r.url, r.seed) for r in found.results] == [
        (0.5, "v-0", "https://x.test/0.mp4", 7),
        (0.25, "v-1", None, 8),
    ]
    assert found.cost == 0.75
    assert found.task_uuid == "task-1" and found.meta == {"model": "m"}


def test_a_take_of_unknown_cost_in_part_has_no_cost(workspace: Workspace) -> None:
    cache = cache_of(workspace)
    files = staged(workspace, DATA, DATA[::-1])
    entry = cache.put(NS, KEY, files, results=[{"cost": 0.5}, {}])
    assert entry.cost is None


def test_an_entry_of_another_namespace_is_a_miss(workspace: Workspace) -> None:
    stored(workspace)  # a free preview's take
    assert cache_of(workspace).get("fake", KEY) is None  # never a paid take
    assert cache_of(workspace).get("fake", KEY, verify=False) is None


def test_a_stored_video_has_the_mode_of_a_new_file_not_its_writers(workspace: Workspace) -> None:
    (source,) = staged(workspace, DATA)
    source.chmod(0o600)  # made private by mkstemp
    entry = cache_of(workspace).put(NS, KEY, [source], results=[{}])
    assert entry.path(0).stat().st_mode & 0o777 == new_file_mode()


def test_the_default_staging_folder_is_the_caches_tmp(tmp_path: Path) -> None:
    root = tmp_path / "cache"
    source = tmp_path / "take.mp4"
    source.write_bytes(DATA)
    Cache(root).put(NS, KEY, [source], results=[{}])
    assert sorted(p.name for p in root.iterdir()) == [".tmp", NS]
    assert list((root / ".tmp").iterdir()) == []


# -- a damaged entry is a miss ----------------------------------------------------------------


def test_a_video_changed_past_its_first_mebibyte_is_a_miss(workspace: Workspace) -> None:
    data = bytes(range(256)) * (6 << 10)  # 1.5 MiB: read in more than one chunk
    folder = stored(workspace, data=data)
    entry = cache_of(workspace).get(NS, KEY)
    assert entry is not None and entry.results[0].sha256 == hashlib.sha256(data).hexdigest()
    video = folder / "0.mp4"
    video.chmod(0o600)
    with video.open("r+b") as stream:
        stream.seek(1_300_000)
        stream.write(b"\xff\xfe")  # same size, other bytes
    assert cache_of(workspace).get(NS, KEY) is None


@pytest.mark.parametrize(
    "damage",
    [
        {"results": []},
        {"version": 0},
        {"results": [{"file": "0.mp4", "sha256": "00", "bytes": 1, "colour": "red"}]},
    ],
    ids=["no-results", "older-version", "unknown-field"],
)
def test_an_entry_storyboard_did_not_write_is_a_miss(
    workspace: Workspace, damage: dict[str, object]
) -> None:
    edit_entry(stored(workspace), **damage)
    assert cache_of(workspace).get(NS, KEY) is None
    assert cache_of(workspace).get(NS, KEY, verify=False) is None


def test_an_entry_without_results_is_a_miss(workspace: Workspace) -> None:
    folder = stored(workspace)
    data = json.loads((folder / "entry.json").read_text())
    del data["results"]
    (folder / "entry.json").write_text(json.dumps(data))
    assert cache_of(workspace).get(NS, KEY) is None


def test_an_entry_json_of_exactly_the_limit_is_read_one_byte_more_is_not(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = stored(workspace)
    text = (folder / "entry.json").read_bytes()
    monkeypatch.setattr(cache_module, "MAX_STATE_BYTES", len(text) + 10)
    (folder / "entry.json").write_bytes(text + b" " * 10)
    assert cache_of(workspace).get(NS, KEY) is not None
    (folder / "entry.json").write_bytes(text + b" " * 11)
    assert cache_of(workspace).get(NS, KEY) is None


# -- no link is followed out of an entry -------------------------------------------------------


def test_an_entry_json_that_is_a_link_is_not_followed(workspace: Workspace, tmp_path: Path) -> None:
    folder = stored(workspace)
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_bytes((folder / "entry.json").read_bytes())  # a good entry, elsewhere
    (folder / "entry.json").unlink()
    (folder / "entry.json").symlink_to(elsewhere)
    assert cache_of(workspace).get(NS, KEY) is None
    assert cache_of(workspace).get(NS, KEY, verify=False) is None


def test_a_video_that_is_a_link_is_a_miss_even_unverified(
    workspace: Workspace, tmp_path: Path
) -> None:
    folder = stored(workspace)
    outside = tmp_path / "elsewhere.mp4"
    outside.write_bytes(DATA)  # the same bytes, but not the entry's file
    (folder / "0.mp4").unlink()
    (folder / "0.mp4").symlink_to(outside)
    assert cache_of(workspace).get(NS, KEY, verify=False) is None
    assert cache_of(workspace).get(NS, KEY) is None


def test_a_link_of_the_videos_size_is_no_video(workspace: Workspace) -> None:
    folder = stored(workspace)
    (folder / "0.mp4").unlink()
    target = ("x" * 199 + "/") * (len(DATA) // 200)
    target += "y" * (len(DATA) - len(target))
    (folder / "0.mp4").symlink_to(target)  # lstat: the size of the link, the video's
    assert os.lstat(folder / "0.mp4").st_size == len(DATA)
    assert cache_of(workspace).get(NS, KEY, verify=False) is None


def test_an_entry_naming_a_file_of_another_entry_is_a_miss(workspace: Workspace) -> None:
    stored(workspace, key=OTHER)
    folder = stored(workspace)
    (folder / "0.mp4").unlink()
    edit_result(folder, file=f"../../{OTHER[:2]}/{OTHER}/0.mp4")  # whole, but another entry's
    assert cache_of(workspace).get(NS, KEY) is None
    assert cache_of(workspace).get(NS, KEY, verify=False) is None


# -- an entry that cannot be read is not a miss ------------------------------------------------


@pytest.mark.parametrize("number", [errno.EPERM, errno.EACCES, errno.EIO])
@pytest.mark.parametrize("what", ["entry.json", "0.mp4"])
def test_an_entry_that_cannot_be_read_is_an_error_not_a_miss(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch, number: int, what: str
) -> None:
    stored(workspace)
    real_open = os.open

    def refusing_open(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if path == what and "dir_fd" in kwargs:
            raise OSError(number, os.strerror(number), path)
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", refusing_open)
    with pytest.raises(BuildError, match="cannot read the cache entry"):
        cache_of(workspace).get(NS, KEY)


# -- a failed put leaves the cache as it was ---------------------------------------------------


@pytest.mark.parametrize("failure", [OSError(errno.ENOSPC, "No space left"), KeyboardInterrupt()])
def test_a_put_that_fails_leaves_no_entry_and_no_half_entry(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch, failure: BaseException
) -> None:
    cache = cache_of(workspace)
    (source,) = staged(workspace, DATA)
    before = set(workspace.cache_tmp.iterdir())

    def failing(*args: object, **kwargs: object) -> None:
        raise failure

    monkeypatch.setattr(cache_module, "write_all", failing)  # entry.json cannot be written
    with pytest.raises(BuildError if isinstance(failure, OSError) else KeyboardInterrupt):
        cache.put(NS, KEY, [source], results=[{}])
    monkeypatch.undo()
    assert cache.get(NS, KEY) is None
    assert not cache.folder(NS, KEY).exists()
    assert set(workspace.cache_tmp.iterdir()) == before  # the half entry removed


def test_a_video_grown_since_it_was_stored_is_a_miss_even_unverified(
    workspace: Workspace,
) -> None:
    folder = stored(workspace)
    video = folder / "0.mp4"
    video.chmod(0o600)
    with video.open("ab") as stream:
        stream.write(b"more")
    assert cache_of(workspace).get(NS, KEY, verify=False) is None


def test_each_variation_keeps_its_own_digest(workspace: Workspace) -> None:
    datas = (DATA, DATA[::-1])  # the same size, other bytes
    files = staged(workspace, *datas)
    digests = [(hashlib.sha256(d).hexdigest(), len(d)) for d in datas]
    cache = cache_of(workspace)
    cache.put(NS, KEY, files, results=[{}, {}], digests=digests)
    found = cache.get(NS, KEY)
    assert found is not None
    assert [r.sha256 for r in found.results] == [d for d, _ in digests]
    assert [found.path(i).read_bytes() for i in (0, 1)] == list(datas)


@pytest.mark.parametrize(
    ("backend", "key"),
    [(NS, KEY + "/../../../escape"), (f"{NS}/../../../escape", KEY)],
    ids=["key", "backend"],
)
def test_a_name_that_only_begins_well_makes_no_path(tmp_path: Path, backend: str, key: str) -> None:
    cache = Cache(tmp_path / "cache")
    with pytest.raises(ValueError):
        cache.folder(backend, key)
    assert cache.get(backend, key) is None
    source = tmp_path / "staged.mp4"
    source.write_bytes(DATA)
    with pytest.raises(ValueError):
        cache.put(backend, key, [source], results=[{}])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["staged.mp4"]


def test_an_entry_of_a_newer_version_is_an_error_not_a_miss(workspace: Workspace) -> None:
    folder = stored(workspace)
    edit_entry(folder, version=2)
    for verify in (True, False):
        with pytest.raises(BuildError, match="written by a newer storyboard"):
            cache_of(workspace).get(NS, KEY, verify=verify)
    assert (folder / "0.mp4").read_bytes() == DATA  # nothing of it removed


def test_an_entry_stored_without_meta_reads_back_an_empty_meta(workspace: Workspace) -> None:
    stored(workspace)
    found = cache_of(workspace).get(NS, KEY)
    assert found is not None and found.meta == {}


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_an_entry_json_that_is_a_fifo_is_a_miss_and_no_wait(workspace: Workspace) -> None:
    folder = stored(workspace)
    (folder / "entry.json").unlink()
    os.mkfifo(folder / "entry.json")
    found: list[object] = []
    reader = threading.Thread(target=lambda: found.append(cache_of(workspace).get(NS, KEY)))
    reader.start()
    reader.join(5)
    waited = reader.is_alive()
    if waited:  # waiting for a writer that never comes: let it go, then fail
        os.close(os.open(folder / "entry.json", os.O_WRONLY | os.O_NONBLOCK))
        reader.join(5)
    assert not waited
    assert found == [None]


@pytest.mark.parametrize(
    ("kind", "said"),
    [("file", "is a file where storyboard needs a folder"), ("link", "is a symlink")],
)
def test_what_is_not_a_folder_where_an_entry_belongs_is_refused_and_left(
    workspace: Workspace, tmp_path: Path, kind: str, said: str
) -> None:
    """A damaged entry (a folder) is replaced by the next put; a file or a link standing
    where the entry's folder belongs is not storyboard's: refused, left as it is, and the
    half-made entry is removed."""
    cache = cache_of(workspace)
    (source,) = staged(workspace, DATA)
    before = set(workspace.cache_tmp.iterdir())
    folder = cache.folder(NS, KEY)
    folder.parent.mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    if kind == "file":
        folder.write_bytes(b"not storyboard's")
    else:
        folder.symlink_to(outside, target_is_directory=True)
    with pytest.raises(UnsafePath, match=said):
        cache.put(NS, KEY, [source], results=[{}])
    if kind == "file":
        assert folder.read_bytes() == b"not storyboard's"
    else:
        assert folder.is_symlink() and list(outside.iterdir()) == []
    assert set(workspace.cache_tmp.iterdir()) == before
