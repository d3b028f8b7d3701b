"""A provider's upload (``uploads/TASK``, written through a presigned URL that stays valid for
hours) is copied into ``cas/`` only as the very bytes the build downloaded: bytes put there
after storyboard checked the upload never reach the take's sha256 in ``cas/``, where
create-only writes would keep them for good (against a real S3 API, moto)."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

from storyboard.build.remote_transfer import push_take
from storyboard.build.state.cache import Cache, CacheEntry
from storyboard.build.state.safe import Tree
from storyboard.remote.config import RemoteConfig
from storyboard.remote.store import Store, cas_path, checked_path, result_path
from tests.s3 import S3

TASK = "6f0c58a8-58a4-4d4b-9a4e-6f3b7a0c6f11"
UPLOAD = f"uploads/{TASK}"
TAKE = b"\x00\x00\x00\x18ftypmp42 the paid take's bytes" * 64
OTHER = b"\x00\x00\x00\x18ftypmp42 bytes put in its place" * 64


def cached(tmp_path: Path) -> CacheEntry:
    root = tmp_path / "project"
    (root / ".storyboard" / "tmp").mkdir(parents=True)
    tree = Tree.at(root)
    cache = Cache(root / ".storyboard" / "cache", tree=tree, staging=root / ".storyboard" / "tmp")
    video = root / ".storyboard" / "tmp" / "take.mp4"
    video.write_bytes(TAKE)
    key = hashlib.sha256(b"the take").hexdigest()
    return cache.put("runware", key, [video], results=[{"video_uuid": "v", "cost": 0.5}])


def swapping(store: Store, s3: S3) -> None:
    """Make ``store`` overwrite the upload right after each object it checks (as a holder of
    the presigned URL could at that moment, before the copy into ``cas/``)."""
    digest = store.digest

    async def then_swap(path: str) -> tuple[str, int] | None:
        found = await digest(path)
        s3.put(UPLOAD, OTHER)
        return found

    store.digest = then_swap  # type: ignore[method-assign]


def test_an_upload_swapped_after_its_check_never_reaches_cas(s3: S3, tmp_path: Path) -> None:
    entry = cached(tmp_path)
    sha = entry.results[0].sha256
    assert sha == hashlib.sha256(TAKE).hexdigest()
    s3.put(UPLOAD, TAKE)  # what the provider wrote: the bytes the build downloaded
    store = Store(RemoteConfig(s3.url, "test"))
    swapping(store, s3)
    pushed = asyncio.run(push_take(store, entry, take="a", upload=UPLOAD))
    assert s3.get(cas_path(sha)) == TAKE  # the bytes checked, not the ones put after
    assert pushed.status == "pushed" and pushed.adopted and pushed.bytes == 0
    assert s3.keys("uploads/") == []  # the upload and its checked copy removed
    assert s3.keys("results/") == [result_path("runware", entry.key)]


def test_an_upload_of_other_bytes_is_not_copied(s3: S3, tmp_path: Path) -> None:
    entry = cached(tmp_path)
    sha = entry.results[0].sha256
    s3.put(UPLOAD, OTHER)  # not what the build downloaded
    store = Store(RemoteConfig(s3.url, "test"))
    pushed = asyncio.run(push_take(store, entry, take="a", upload=UPLOAD))
    assert s3.get(cas_path(sha)) == TAKE  # sent from the cache
    assert pushed.status == "pushed" and not pushed.adopted and pushed.bytes == len(TAKE)
    assert s3.keys("uploads/") == []


def test_a_checked_copy_left_by_a_killed_push_is_checked_too(s3: S3, tmp_path: Path) -> None:
    entry = cached(tmp_path)
    sha = entry.results[0].sha256
    s3.put(UPLOAD, TAKE)
    s3.put(checked_path(UPLOAD), OTHER)  # left behind, then (say) written over by hand
    store = Store(RemoteConfig(s3.url, "test"))
    pushed = asyncio.run(push_take(store, entry, take="a", upload=UPLOAD))
    assert s3.get(cas_path(sha)) == TAKE
    assert not pushed.adopted and s3.keys("uploads/") == []
