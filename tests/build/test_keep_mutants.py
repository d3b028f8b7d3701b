"""Where a kept take's result is found (``storyboard.build.keep``), case by case: the lock
file first, then this project's records with their result in the cache, then the current
request; and what the plan says changed since. Each test names the mistake it catches."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest

from storyboard.build.keep import Kept, _find_one, _locked
from storyboard.build.state.lockfile import LockedTake
from storyboard.compiler.keys import key_of

NS = "runware@test"
OTHER_NS = "preview@test"


def material(prompt: str) -> dict[str, Any]:
    return {"version": 1, "model": "m", "request": {"positivePrompt": prompt}}


CURRENT = material("the lighthouse at dusk")
RECORDED = material("the lighthouse at dawn")
LOCKED = material("the lighthouse at noon")


def locked(take: str, key: str, backend: str = NS) -> LockedTake:
    return LockedTake(key, backend, "m", "task", 0.5, (), take)


@dataclass
class FakeCache:
    """What ``_find_one`` asks a cache: whether it holds ``(namespace, key)``."""

    held: set[tuple[str, str]] = field(default_factory=set)
    asked: list[tuple[str, str, bool]] = field(default_factory=list)

    def get(self, namespace: str, key: str, *, verify: bool = True) -> object | None:
        self.asked.append((namespace, key, verify))
        return object() if (namespace, key) in self.held else None


@dataclass
class FakeLock:
    entries: list[LockedTake] = field(default_factory=list)

    def find(self, key: str, backend: str) -> LockedTake | None:
        return next((e for e in self.entries if (e.key, e.backend) == (key, backend)), None)


TAKE: Any = SimpleNamespace(id="a")


def find(
    cache: FakeCache, lock: FakeLock | None, records: dict[str, Any], current: dict[str, Any]
) -> Kept | None:
    return _find_one(TAKE, key_of(current), current, NS, cache, lock, records)  # type: ignore[arg-type]


def test_the_lock_files_entry_comes_before_the_records() -> None:
    """A clone's lock names the result the film used; the records (this machine's last
    build) may name another one, also in the cache: the lock's wins."""
    cache = FakeCache({(NS, key_of(RECORDED)), (NS, key_of(LOCKED))})
    lock = FakeLock([locked("a", key_of(LOCKED))])
    kept = find(cache, lock, {"a": RECORDED}, CURRENT)
    assert kept is not None
    assert (kept.key, kept.source, kept.locked) == (key_of(LOCKED), "lock", lock.entries[0])
    assert kept.material is None  # the records describe another request


def test_a_lock_entry_the_records_describe_keeps_their_material() -> None:
    lock = FakeLock([locked("a", key_of(RECORDED))])
    kept = find(FakeCache(), lock, {"a": RECORDED}, CURRENT)
    assert kept is not None and kept.source == "lock" and kept.material == RECORDED


def test_the_records_are_used_only_with_their_result_in_the_cache() -> None:
    records = {"a": RECORDED}
    held = FakeCache({(NS, key_of(RECORDED))})
    kept = find(held, FakeLock(), records, CURRENT)
    assert kept == Kept(key_of(RECORDED), RECORDED, "records")
    assert (NS, key_of(RECORDED), False) in held.asked  # not hashed: planning reads no video
    # the record's result is gone: the current request, if that is cached
    current = FakeCache({(NS, key_of(CURRENT))})
    kept = find(current, FakeLock(), records, CURRENT)
    assert kept == Kept(key_of(CURRENT), CURRENT, "current")


def test_the_records_of_another_backend_are_not_a_result_here() -> None:
    cache = FakeCache({(OTHER_NS, key_of(RECORDED))})
    assert find(cache, FakeLock(), {"a": RECORDED}, CURRENT) is None


def test_the_current_request_found_in_the_lock_is_kept_with_its_entry() -> None:
    """A teammate's clone: no cache, no records, and the lock holds the current request's
    result (under another take's name, say): kept, and downloaded, not paid for."""
    entry = locked("another", key_of(CURRENT))
    kept = find(FakeCache(), FakeLock([entry]), {}, CURRENT)
    assert kept == Kept(key_of(CURRENT), CURRENT, "current", entry)


def test_nothing_to_keep() -> None:
    assert find(FakeCache(), FakeLock(), {}, CURRENT) is None
    assert find(FakeCache(), None, {"a": "not a record"}, CURRENT) is None


@pytest.mark.parametrize(
    ("entries", "expected"),
    [
        ([locked("b", "1" * 64), locked("a", "2" * 64)], "2" * 64),  # its take's, not another's
        ([locked("a", "3" * 64, OTHER_NS), locked("a", "4" * 64)], "4" * 64),  # its backend's
        ([locked("a", "5" * 64, OTHER_NS)], None),
    ],
)
def test_the_lock_entry_is_the_takes_in_the_namespace(
    entries: list[LockedTake], expected: str | None
) -> None:
    found = _locked(FakeLock(entries), "a", NS)  # type: ignore[arg-type]
    assert (found.key if found is not None else None) == expected


def test_what_changed_since_in_the_plans_words() -> None:
    take: Any = SimpleNamespace(request={"positivePrompt": "the lighthouse at dusk"})
    assert Kept(key_of(CURRENT), None, "lock").since(CURRENT, take) == "nothing changed since"
    unknown = Kept(key_of(LOCKED), None, "lock").since(CURRENT, take)
    assert "no record of the one it was made from" in unknown
    other_model = {**CURRENT, "model": "another"}  # the same request, another model
    assert Kept(key_of(other_model), other_model, "records").since(CURRENT, take) == (
        "model changed since"
    )
