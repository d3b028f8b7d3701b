"""A lock entry (or a remote's record, read the same way) names a folder of the cache by its
backend and key: neither may make a path, and an entry may not promise more than a take has
(results, cost). Found by an audit: a lock entry with ``"backend": "../../src"`` made
``storyboard pull`` write and delete outside the cache; a record listing 2,000 results made
one pull write 2,000 files."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from storyboard.build.state.cache import Cache
from storyboard.build.state.lockfile import MAX_RESULTS, read_entry

KEY = "ab" * 32
SHA = "cd" * 32


def entry(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "take": "wide", "key": KEY, "backend": "runware", "model": "klingai:kling-video@o3-pro",
        "task_uuid": "6f0c58a8-58a4-4d4b-9a4e-6f3b7a0c6f11", "cost": 0.336,
        "results": [{"sha256": SHA, "bytes": 10, "url": None, "video_uuid": None}],
    }  # fmt: skip
    data.update(changes)
    return data


@pytest.mark.parametrize(
    "backend", ["runware", "preview@0.25", "runware@127.0.0.1:8787", "runware@[::1]:8787"]
)
def test_namespaces_are_read(backend: str) -> None:
    assert read_entry(entry(backend=backend)).backend == backend


@pytest.mark.parametrize(
    "backend", ["../../src", "..", ".", "a/b", "a\\b", "/etc", "a\x00b", ".hidden", "x" * 300]
)
def test_a_backend_that_is_a_path_is_refused(backend: str) -> None:
    with pytest.raises(ValueError, match="has a backend that is no namespace"):
        read_entry(entry(backend=backend))


def test_an_entry_may_not_list_more_results_than_a_take_has() -> None:
    result = {"sha256": SHA, "bytes": 10, "url": None, "video_uuid": None}
    assert len(read_entry(entry(results=[result] * MAX_RESULTS)).results) == MAX_RESULTS
    with pytest.raises(ValueError, match=f"has 2000 results; a take has at most {MAX_RESULTS}"):
        read_entry(entry(results=[result] * 2000))


@pytest.mark.parametrize("cost", [math.nan, math.inf, -0.5, 1e9])
def test_a_cost_out_of_bounds_is_refused(cost: float) -> None:
    with pytest.raises(ValueError, match="has a cost that is not between 0 and"):
        read_entry(entry(cost=cost))


@pytest.mark.parametrize(
    ("backend", "key"), [("../../src", KEY), ("runware", "../" + KEY[3:]), ("runware", "x")]
)
def test_the_cache_makes_no_path_out_of_a_bad_name(tmp_path: Path, backend: str, key: str) -> None:
    cache = Cache(tmp_path / "cache")
    with pytest.raises(ValueError):
        cache.folder(backend, key)
    assert cache.get(backend, key) is None  # a lookup is a miss, nothing read outside
    source = tmp_path / "staged.mp4"
    source.write_bytes(b"0123456789")
    with pytest.raises(ValueError):
        cache.put(backend, key, [source], results=[{}])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["staged.mp4"]  # nothing written
