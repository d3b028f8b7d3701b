"""Tests found by a mutation audit of ``storyboard/build/state/lockfile.py`` (2026-12-07),
going on from ``test_cache_lock_mutants.py``: each one fails when a decision of the lock file
is changed (a check taken out, a filter loosened, an error swallowed), and that decision
stands between a clone and paying again, a lock it cannot read being read as empty, a paid
result lost by ``storyboard doctor --fix``, or a file written that storyboard did not make."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from storyboard.build.state.cache import CacheEntry, StoredResult
from storyboard.build.state.lockfile import (
    MAX_COST,
    MAX_RESULTS,
    LockedResult,
    LockedTake,
    LockFile,
    locked_take,
    parse,
    read_entry,
    repair,
)
from storyboard.build.state.safe import Tree
from storyboard.core.errors import BuildError, InputError
from tests.build.state.test_entry_bounds import KEY, SHA, entry

HEADER = '{"storyboard": "film.yaml", "version": 2}'


def locked(take: str, digit: str, backend: str = "fake") -> LockedTake:
    return LockedTake(
        key=digit * 64, backend=backend, model="klingai:kling-video@o3-pro", task_uuid=None,
        cost=0.5, results=(LockedResult(None, None, "cd" * 32, 10),), take=take,
    )  # fmt: skip


A, B, C = locked("a", "1"), locked("b", "2"), locked("c", "3")


def line(entry: LockedTake) -> str:
    return json.dumps(entry.to_json(), ensure_ascii=False)


def v2(*entries: LockedTake) -> str:
    lines = [HEADER, ""]
    for locked in entries:
        lines += [f"# {locked.take}", line(locked), ""]
    return "\n".join(lines) + "\n"


def result(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"sha256": SHA, "bytes": 10, "url": None, "video_uuid": None}
    data.update(changes)
    return data


@pytest.fixture
def lock_path(tmp_path: Path) -> Path:
    return tmp_path / "film.lock"


def refused(path: Path, text: str | bytes) -> str:
    """The diagnostics of reading the lock ``text``: it must be an error, never a lock."""
    if isinstance(text, str):
        path.write_text(text)
    else:
        path.write_bytes(text)
    with pytest.raises(InputError) as error:
        LockFile.read(path, "film.yaml")
    return str(error.value)


# -- reading: what cannot be read is an error, never an empty lock -----------------------------


def test_a_lock_that_is_not_utf8_is_an_error_where_its_bad_byte_is(lock_path: Path) -> None:
    message = refused(lock_path, v2(A).encode("utf-8") + b"\xff\n")
    assert "film.lock:6:1: error: the lock file is" in message and "nothing was sent" in message


def test_a_lock_the_system_refuses_to_read_is_an_error(
    lock_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lock_path.write_text(v2(A))

    def denied(self: Tree, path: object, limit: int = 0) -> bytes:
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(Tree, "read_bytes", denied)
    with pytest.raises(InputError, match=r"film.lock:1:1: error: the lock file .*nothing was sent"):
        LockFile.read(lock_path, "film.yaml")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"storyboard": "film.yaml", "version": 3}\n', "a lock file of version 3"),
        (
            '{"storyboard": "film.yaml", "version": 2, "takes": {"a": {}}}\n',
            "holds 'takes' besides 'storyboard' and 'version'",
        ),
        (HEADER + "\n" + line(A)[:-20] + "\n", "2:1: error: not a lock entry"),
        (line(A) + "\n" + line(B) + "\n", "1:1: error: the lock file has no header line"),
        (HEADER + "\n[1, 2]\n", "2:1: error: not a lock entry: not a JSON object"),
        (HEADER + "\n" + json.dumps(entry(take="")) + "\n", "an entry has no take id"),
        (
            HEADER + "\n" + json.dumps(entry(key=KEY + "0")) + "\n",
            "has no key (64 hex digits)",
        ),
        ('{"storyboard": "x", "version": 1, "takes": []}', "'takes' is not an object"),
        (
            '{"storyboard": "x", "version": 1, "takes": {"a": 5}}',
            "the entry of take 'a' is not an object",
        ),
        ("=======\n" + v2(A), "1:1: error: a git merge conflict marker ('=======')"),
    ],
    ids=[
        "newer-version", "takes-in-header", "cut-short-entry", "no-header", "not-an-object",
        "no-take-id", "long-key", "v1-takes-list", "v1-entry-number", "lone-marker",
    ],
)  # fmt: skip
def test_a_lock_it_cannot_read_is_an_error_at_its_place(
    lock_path: Path, text: str, message: str
) -> None:
    assert message in refused(lock_path, text)


def test_a_damaged_entry_of_a_version_1_lock_is_an_error_at_its_line(lock_path: Path) -> None:
    data = {"storyboard": "film.yaml", "version": 1, "takes": {"a": A.to_json(), "b": entry()}}
    del data["takes"]["b"]["results"][0]["sha256"]  # type: ignore[index]
    text = json.dumps(data, indent=2)
    at = text.split("\n").index('    "b": {') + 1
    assert f"film.lock:{at}:1: error: the entry of take 'b' has no sha256" in refused(
        lock_path, text
    )


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"backend": ""}, "has no backend"),
        ({"model": None}, "has no model"),
        ({"cost": MAX_COST + 0.01}, "has a cost that is not between 0 and"),
        ({"results": [result()] * (MAX_RESULTS + 1)}, f"has {MAX_RESULTS + 1} results"),
        ({"task_uuid": 5}, "has a task_uuid that is not a string"),
        ({"cost": True}, "has a cost that is not a number"),
        ({"results": []}, "has no results"),
        ({"results": [5]}, "has a result 1 that is not an object"),
        ({"results": [result(sha256=SHA + "0")]}, "has no sha256 for its result 1"),
        ({"results": [result(bytes=-1)]}, "has no size (bytes) for its result 1"),
        ({"results": [result(bytes=True)]}, "has no size (bytes) for its result 1"),
        ({"results": [result(url=5)]}, "has a url that is not a string in its result 1"),
        ({"results": [result(video_uuid=5)]}, "has a video_uuid that is not a string"),
    ],
    ids=lambda value: str(value)[:30],
)
def test_an_entry_that_promises_what_it_does_not_hold_is_refused(
    changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_entry(entry(**changes))


def test_an_entry_of_no_cost_and_an_entry_of_a_whole_cost_are_read() -> None:
    assert read_entry(entry(cost=0)).cost == 0.0  # a free result is still a result
    assert read_entry(entry(cost=MAX_COST)).cost == MAX_COST
    whole = read_entry(entry(cost=1)).cost
    assert whole == 1.0 and type(whole) is float  # written back as 1.0, as it was read


def test_a_line_is_a_comment_only_when_it_begins_with_a_hash(lock_path: Path) -> None:
    hashed = LockedTake(**{**A.__dict__, "model": "vendor:model#2"})
    lock_path.write_text(v2(hashed))
    assert LockFile.read(lock_path, "film.yaml").entries == [hashed]


def test_a_conflict_says_how_doctor_resolves_it(lock_path: Path) -> None:
    lock_path.write_text(f"<<<<<<< HEAD\n{HEADER}\n=======\n{HEADER}\n>>>>>>> theirs\n")
    with pytest.raises(InputError) as error:
        LockFile.read(lock_path, "film.yaml", doctor="storyboard doctor film.yaml")
    assert (
        "film.lock:1:1: error: a git merge conflict ('<<<<<<<'): resolve the merge conflict, or "
        "run `storyboard doctor film.yaml --fix`, which keeps the paid results of both sides"
    ) in str(error.value)


# -- finding and changing entries ---------------------------------------------------------


def test_a_result_is_found_in_its_namespace_only(lock_path: Path) -> None:
    lock_path.write_text(v2(A))
    lock = LockFile.read(lock_path, "film.yaml")
    assert lock.find(A.key, "fake") == A
    assert lock.find(A.key, "runware") is None  # another provider's request: paid there
    assert lock.find(B.key, "fake") is None


def test_put_replaces_the_entry_of_its_take(lock_path: Path) -> None:
    lock = LockFile(lock_path, "film.yaml")
    lock.put(A)
    again = locked("a", "9")
    lock.put(again)
    assert lock.entries == [again]
    assert lock.write()
    assert lock_path.read_text() == v2(again)


def test_drop_drops_a_result_of_its_namespace_only(lock_path: Path) -> None:
    other = locked("b", "1", backend="runware")  # the same key in another namespace
    lock = LockFile(lock_path, "film.yaml", entries=[A, other])
    lock.drop(A.key, "fake")
    assert lock.entries == [other]


def test_locked_take_redacts_urls_and_takes_the_namespace_given(tmp_path: Path) -> None:
    cached = CacheEntry(
        key=KEY, backend="runware", folder=tmp_path, task_uuid="t",
        results=(StoredResult("0.mp4", SHA, 10, "v", "https://cdn.test/v.mp4?token=s3cr3t", 0.5),),
    )  # fmt: skip
    taken = locked_take(cached, "wide", "model", backend="runware@127.0.0.1:8787")
    assert taken.backend == "runware@127.0.0.1:8787"
    assert taken.results[0].url is not None and "s3cr3t" not in taken.results[0].url
    assert taken.results[0].url.startswith("https://cdn.test/v.mp4")
    assert locked_take(cached, "wide", "model").backend == "runware"


# -- writing ------------------------------------------------------------------------------


def test_a_lock_is_written_anew_never_through_another_link_to_it(
    lock_path: Path, tmp_path: Path
) -> None:
    lock_path.write_text(v2(A))
    elsewhere = tmp_path / "not-ours.txt"
    os.link(lock_path, elsewhere)  # a hard link: a file storyboard did not make
    lock = LockFile.read(lock_path, "film.yaml")
    lock.put(B)
    assert lock.write()
    assert lock_path.read_text() == v2(A, B)
    assert elsewhere.read_text() == v2(A)


def test_a_lock_without_entries_is_not_written(lock_path: Path) -> None:
    assert LockFile(lock_path, "film.yaml").write() is False  # a free preview build locks none
    assert not lock_path.exists()


def test_an_entry_read_twice_is_written_once(lock_path: Path) -> None:
    lock_path.write_text(v2(A, A))
    lock = LockFile.read(lock_path, "film.yaml")
    lock.put(B)
    assert lock.write()
    assert lock_path.read_text() == v2(A, B)


def test_a_lock_written_once_is_not_written_again(lock_path: Path) -> None:
    lock = LockFile(lock_path, "film.yaml")
    lock.put(A)
    assert lock.write()
    assert lock.write() is False


def test_a_change_another_writer_already_made_is_not_written_again(lock_path: Path) -> None:
    lock_path.write_text(v2(A))
    mine = LockFile.read(lock_path, "film.yaml")
    # another writer (an older storyboard) locked the same take, as version 1
    theirs = json.dumps({"storyboard": "film.yaml", "version": 1,
                         "takes": {"a": A.to_json(), "b": B.to_json()}})  # fmt: skip
    lock_path.write_text(theirs)
    mine.put(B)
    assert mine.write() is False
    assert lock_path.read_text() == theirs


def test_a_lock_that_cannot_be_read_when_written_is_not_written_over(
    lock_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lock_path.write_text(v2(A))
    mine = LockFile.read(lock_path, "film.yaml")

    def denied(self: Tree, path: object, limit: int = 0) -> bytes:
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(Tree, "read_bytes", denied)
    mine.put(B)
    with pytest.raises(BuildError, match="changed while this build ran, and cannot be read now"):
        mine.write()
    assert lock_path.read_text() == v2(A)


# -- repairing: never a paid result lost ---------------------------------------------------


def test_repair_leaves_an_entry_it_cannot_restore_unresolved(lock_path: Path) -> None:
    damaged = entry(take="b", results=[result(sha256=None)])
    text = HEADER + "\n" + line(A) + "\n" + json.dumps(damaged) + "\n"
    repaired = repair(text, lock_path, "film.yaml", restore=lambda key, backend, take: None)
    assert [p.take for p in repaired.unresolved] == ["b"]
    assert repaired.fixed == []


def test_repair_restores_only_an_entry_whose_key_and_backend_it_read(lock_path: Path) -> None:
    asked: list[tuple[str, str, str]] = []

    def restore(key: str, backend: str, take: str) -> LockedTake:
        asked.append((key, backend, take))
        return B

    text = v2(A) + line(B)[:-20] + "\n"  # cut short: neither its key nor its backend is known
    repaired = repair(text, lock_path, "film.yaml", restore=restore)
    assert asked == []
    assert [p.line for p in repaired.unresolved] == [6] and repaired.fixed == []


def test_repair_of_a_conflict_leaves_a_damaged_side_unresolved(lock_path: Path) -> None:
    damaged = json.dumps(entry(take="b", results=[result(bytes=None)]))
    text = v2(A) + f"<<<<<<< HEAD\n{line(B)}\n=======\n{damaged}\n>>>>>>> theirs\n"
    repaired = repair(text, lock_path, "film.yaml", restore=None)
    assert [p.take for p in repaired.unresolved] == ["b"]


def test_repair_of_a_diff3_conflict_keeps_both_sides_and_not_the_base(lock_path: Path) -> None:
    base = locked("b", "5")
    text = (
        v2(A)
        + f"<<<<<<< HEAD\n{line(B)}\n||||||| base\n{line(base)}\n=======\n{line(C)}\n"
        + ">>>>>>> theirs\n"
    )
    repaired = repair(text, lock_path, "film.yaml")
    assert repaired.unresolved == []
    assert sorted(repaired.lock.entries, key=LockedTake.sort_key) == [A, B, C]
    lock, problems = parse(repaired.lock.text(), lock_path, "film.yaml")
    assert problems == [] and set(lock.entries) == {A, B, C}
