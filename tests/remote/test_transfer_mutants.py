"""Mutation audit of pushing and fetching one take (storyboard/build/remote_transfer.py and
remote_session.py), second round: each test here fails under a change of the code that every
other test of the remote let pass (tests/remote/test_sync_mutants.py holds the first round).

What each test guards (the change of the code it catches):

- a record of a take pushed with no take name (a cache entry that names none) refused by
  every reader as not a record (kept for good, create-only, and the take paid again by every
  clone); a take pushed without its name recorded with no name though its cache entry has one;
- a medium put under the take's sha256 between the look and the copy of the provider's
  upload taken as the upload's checked bytes (a record would send every reader to them);
- a lock entry with no results fetched as a take of no video, instead of the record's;
- a remote that failed (unreachable) while the lock's media were fetched asked again for
  the record in the same fetch;
- a fetch stopped (cancelled) between two media leaving the first one staged;
- a download not told the recorded size (a larger object hashed through, not refused unread);
- a take whose queue file cannot be written not pushed either (on no remote, in no queue);
- a pushed take left in the queue; a build whose writes were denied still writing; a push
  that failed (a RemoteError, or anything) not said, or not left queued; another build's
  result kept on the remote not said; a take stored twice counted twice as queued;
- a queue file removed after the listing taken as one that cannot be read; a queue entry
  whose take, model or upload is not a string read as an entry; a queue file named
  ``...KEY.json`` read as naming ``results/../KEY.json``;
- a refused list that cannot be listed taken as empty (the plan would count on copies this
  clone refused); a denied write after the remote went down said as a second line.

Everything runs on ``file://`` remotes (a folder in tmp_path); the store is wrapped where a
test needs a remote that fails or races at one exact step.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from storyboard.build.remote_session import Queue, Queued, RemoteSession, Unreadable
from storyboard.build.remote_transfer import fetch_take, parse_record, push_take, record_of
from storyboard.build.state.cache import CacheEntry
from storyboard.build.state.workspace import Workspace
from storyboard.core.events import Event
from storyboard.remote.store import RemoteError, Store, cas_path, checked_path, result_path
from tests.build.test_fetch_locked import cache_of, stored, workspace_at
from tests.remote.test_sync_mutants import (
    KEY,
    NS,
    PLANTED,
    TAKE,
    TASK,
    UPLOAD,
    notes,
    put,
    remote,
    staged,
)


def unnamed(ws: Workspace) -> CacheEntry:
    """A cached take whose entry names no take (as ``storyboard push`` of a bare key)."""
    ws.tree.makedirs(ws.cache_tmp)
    staging = ws.tree.make_temp_dir(ws.cache_tmp, "test-")
    (staging / "0.mp4").write_bytes(TAKE)
    return cache_of(ws).put(
        NS, KEY, [staging / "0.mp4"], results=[{"video_uuid": "v-1", "cost": 0.84}],
        task_uuid="t-1", meta={},
    )  # fmt: skip


# -- remote_transfer: what a push writes -----------------------------------------------------


def test_a_take_pushed_with_no_name_is_fetched_by_another_clone(tmp_path: Path) -> None:
    store, nas = remote(tmp_path)
    done = asyncio.run(push_take(store, unnamed(workspace_at(tmp_path / "a"))))
    assert done.status == "pushed"
    assert json.loads((nas / result_path(NS, KEY)).read_bytes())["take"] == ""
    ws = workspace_at(tmp_path / "b")
    fetched = asyncio.run(fetch_take(store, NS, KEY, cache_of(ws), ws.tree))
    assert fetched.path(0).read_bytes() == TAKE and fetched.cost == 0.84
    assert cache_of(ws).get(NS, KEY) is not None


def test_a_medium_put_there_while_the_upload_is_copied_is_read_back(tmp_path: Path) -> None:
    """Another writer puts other bytes under the take's sha256 between the push's look and
    its copy of the checked upload there: the copy writes nothing (create-only), so what is
    there is read back, found to be other bytes, and no record names it."""
    store, nas = remote(tmp_path)
    entry = stored(workspace_at(tmp_path / "a"))
    medium = cas_path(entry.results[0].sha256)
    put(nas, UPLOAD, TAKE)  # the provider's upload: the very bytes the build downloaded
    copy_new = store.copy_new

    async def racing(source: str, target: str) -> bool | None:
        if target == medium:
            put(nas, medium, PLANTED)
        return await copy_new(source, target)

    store.copy_new = racing  # type: ignore[method-assign]
    with pytest.raises(RemoteError) as caught:
        asyncio.run(push_take(store, entry, take="harbour", upload=UPLOAD))
    assert caught.value.kind == "corrupt" and "holds other bytes" in str(caught.value)
    assert not (nas / result_path(NS, KEY)).exists()
    assert (nas / medium).read_bytes() == PLANTED  # never written over
    assert not (nas / checked_path(UPLOAD)).exists()


# -- remote_transfer: what a fetch takes -----------------------------------------------------


def pushed(tmp_path: Path) -> tuple[Store, Path, Any]:
    store, nas = remote(tmp_path)
    entry = stored(workspace_at(tmp_path / "a"))
    assert asyncio.run(push_take(store, entry, take="harbour")).status == "pushed"
    return store, nas, parse_record(record_of(entry, "harbour"), NS, KEY, "lock")


def test_a_lock_entry_with_no_results_fetches_the_records_media(tmp_path: Path) -> None:
    store, _nas, locked = pushed(tmp_path)
    ws = workspace_at(tmp_path / "b")
    empty = dataclasses.replace(locked, results=())
    fetched = asyncio.run(fetch_take(store, NS, KEY, cache_of(ws), ws.tree, locked=empty))
    assert len(fetched.results) == 1 and fetched.path(0).read_bytes() == TAKE


def test_a_remote_that_failed_fetching_the_locks_media_is_not_asked_for_the_record(
    tmp_path: Path,
) -> None:
    store, _nas, locked = pushed(tmp_path)
    asked: list[str] = []

    async def unreachable(path: str, *args: Any, **kwargs: Any) -> Any:
        asked.append(path)
        raise RemoteError("the remote did not answer", "unreachable")

    store.download = unreachable  # type: ignore[method-assign]
    store.read = unreachable  # type: ignore[method-assign]
    ws = workspace_at(tmp_path / "b")
    with pytest.raises(RemoteError) as caught:
        asyncio.run(fetch_take(store, NS, KEY, cache_of(ws), ws.tree, locked=locked))
    assert caught.value.kind == "unreachable"
    assert asked == [cas_path(locked.results[0].sha256)]  # one request, not the record after
    assert cache_of(ws).get(NS, KEY, verify=False) is None and staged(ws) == []


def test_a_fetch_cancelled_between_two_media_leaves_nothing_staged(tmp_path: Path) -> None:
    """A build stopped (Ctrl-C, a sibling task's failure) while a take's second medium
    streams in: the first, already fetched, is removed from the staging folder too."""
    store, _nas = remote(tmp_path)
    ws = workspace_at(tmp_path / "a")
    ws.tree.makedirs(ws.cache_tmp)
    staging = ws.tree.make_temp_dir(ws.cache_tmp, "test-")
    (staging / "0.mp4").write_bytes(TAKE)
    (staging / "1.mp4").write_bytes(PLANTED)
    entry = cache_of(ws).put(
        NS, KEY, [staging / "0.mp4", staging / "1.mp4"],
        results=[{"video_uuid": "v-1", "cost": 0.5}, {"video_uuid": "v-2", "cost": 0}],
        task_uuid="t-1", meta={"take": "harbour"},
    )  # fmt: skip
    asyncio.run(push_take(store, entry, take="harbour"))
    download = store.download
    calls: list[str] = []

    async def stopped(path: str, *args: Any, **kwargs: Any) -> tuple[str, int]:
        calls.append(path)
        if len(calls) == 2:
            raise asyncio.CancelledError
        return await download(path, *args, **kwargs)

    store.download = stopped  # type: ignore[method-assign]
    other = workspace_at(tmp_path / "b")
    with pytest.raises(asyncio.CancelledError):
        asyncio.run(fetch_take(store, NS, KEY, cache_of(other), other.tree))
    assert len(calls) == 2
    assert staged(other) == []
    assert cache_of(other).get(NS, KEY, verify=False) is None


def test_a_take_pushed_without_its_name_is_recorded_with_the_caches_name_and_model(
    tmp_path: Path,
) -> None:
    """``storyboard push`` of a queue entry it could only read the key of: the record still
    names the take and model the cache entry says, and another clone's fetch gets them."""
    store, nas = remote(tmp_path)
    assert asyncio.run(push_take(store, stored(workspace_at(tmp_path / "a")))).status == "pushed"
    record = json.loads((nas / result_path(NS, KEY)).read_bytes())
    assert (record["take"], record["model"]) == ("harbour", "klingai:kling-video@o3-pro")
    ws = workspace_at(tmp_path / "b")
    fetched = asyncio.run(fetch_take(store, NS, KEY, cache_of(ws), ws.tree))
    assert fetched.meta is not None
    assert (fetched.meta["take"], fetched.meta["model"]) == (
        "harbour",
        "klingai:kling-video@o3-pro",
    )


# -- remote_session: what a build pushes -----------------------------------------------------


def test_a_take_that_cannot_be_queued_is_pushed_all_the_same(tmp_path: Path) -> None:
    """The queue's folder cannot be written (a file in its place): the build says so, and its
    take is still pushed (it would otherwise be on no remote and in no queue)."""
    store, nas = remote(tmp_path)
    ws = workspace_at(tmp_path / "a")
    entry = stored(ws)
    (ws.state / "remote").mkdir(parents=True)
    (ws.state / "remote" / "queue").write_bytes(b"not a folder")
    events: list[Event] = []
    session = RemoteSession(store, ws, events.append)

    async def build() -> None:
        session.stored(entry, take="harbour", model=None, upload=None)
        await session.settle()

    asyncio.run(build())
    assert any("cannot queue take 'harbour'" in n for n in notes(events))
    assert session.pushed == ["harbour"] and session.queued == []
    assert (nas / cas_path(entry.results[0].sha256)).read_bytes() == TAKE
    assert parse_record((nas / result_path(NS, KEY)).read_bytes(), NS, KEY, "r").take == "harbour"
    assert (ws.state / "remote" / "queue").read_bytes() == b"not a folder"


def test_a_medium_replaced_by_a_larger_object_is_refused_by_its_recorded_size(
    tmp_path: Path,
) -> None:
    """The record's size goes with every download: an object of another size is refused
    before a byte of it is read (not hashed through to the end first)."""
    store, nas, locked = pushed(tmp_path)
    medium = nas / cas_path(locked.results[0].sha256)
    medium.chmod(0o644)
    medium.write_bytes(TAKE + b"\x00" * 4096)
    ws = workspace_at(tmp_path / "b")
    for lock in (None, locked):
        with pytest.raises(RemoteError) as caught:
            asyncio.run(fetch_take(store, NS, KEY, cache_of(ws), ws.tree, locked=lock))
        assert caught.value.kind == "corrupt"
        assert f"holds {len(TAKE) + 4096:,} bytes where {len(TAKE):,} were recorded" in str(
            caught.value
        )
        assert cache_of(ws).get(NS, KEY, verify=False) is None and staged(ws) == []


@pytest.mark.parametrize("folder", ["..", "."])
def test_a_queue_file_named_after_a_dot_folder_names_no_record(folder: str) -> None:
    """``...KEY.json`` in the queue names no take: read as one, its record would be
    ``results/../KEY.json``, outside the remote's results."""
    bad = Unreadable(Path("queue") / f"{folder}.{KEY}.json", "cut short")
    assert (bad.folder, bad.key, bad.record) == (None, None, None)
    good = Unreadable(Path("queue") / f"runware_test.{KEY}.json", "cut short")
    assert good.record == f"results/runware_test/{KEY}.json"


def test_a_queue_file_removed_after_the_listing_is_nothing_left_to_push(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another ``storyboard push`` removed a file between this one's listing and its read:
    its take is on the remote, so the file is neither an entry nor one that cannot be read."""
    ws = workspace_at(tmp_path / "a")
    queue = Queue(ws)
    queue.add(Queued(NS, KEY, "harbour"))
    gone = Queued(NS, "ab" * 32, "nets").name
    names = type(ws.tree).names

    def listed(self: Any, folder: Path) -> Any:
        return [*names(self, folder), (gone, False)]

    monkeypatch.setattr(type(ws.tree), "names", listed)
    assert queue.read() == ([Queued(NS, KEY, "harbour")], [])


def built_with(session: RemoteSession, *entries: CacheEntry) -> None:
    """A build storing each of ``entries`` as take 'harbour', then waiting for its pushes."""

    async def build() -> None:
        for entry in entries:
            session.stored(entry, take="harbour", model=None, upload=None)
        await session.settle()

    asyncio.run(build())


def test_a_pushed_take_leaves_the_queue(tmp_path: Path) -> None:
    store, nas = remote(tmp_path)
    ws = workspace_at(tmp_path / "a")
    session = RemoteSession(store, ws)
    built_with(session, stored(ws))
    assert (nas / result_path(NS, KEY)).exists()
    assert session.summary()["pushed"] == ["harbour"] and session.summary()["queued"] == []
    assert Queue(ws).read() == ([], [])


def test_a_build_whose_writes_were_denied_sends_no_more_writes(tmp_path: Path) -> None:
    store, nas = remote(tmp_path)
    ws = workspace_at(tmp_path / "a")
    events: list[Event] = []
    session = RemoteSession(store, ws, events.append)
    session._write_failed(RemoteError("access denied", "denied"))
    built_with(session, stored(ws))
    assert list(nas.iterdir()) == []  # nothing written, nothing tried
    assert session.queued == ["harbour"] and session.pushed == []
    assert Queue(ws).items() == [Queued(NS, KEY, "harbour")]
    assert any("1 takes stay queued" in n and "(harbour)" in n for n in notes(events))


def test_a_take_stored_twice_while_the_remote_is_down_is_one_take_queued(tmp_path: Path) -> None:
    store, _nas = remote(tmp_path)
    ws = workspace_at(tmp_path / "a")
    events: list[Event] = []
    session = RemoteSession(store, ws, events.append)
    session.down = RemoteError("the remote did not answer", "unreachable")
    entry = stored(ws)
    built_with(session, entry, entry)
    said = [n for n in notes(events) if "stay queued" in n]
    assert len(said) == 1 and said[0].startswith("remote: 1 takes stay queued")


def test_a_push_that_failed_says_why_and_the_take_stays_queued(tmp_path: Path) -> None:
    store, nas = remote(tmp_path)

    async def full(path: str, data: Any) -> bool:
        raise RemoteError("the disk of the share is full", "error")

    store.create = full  # type: ignore[method-assign]
    ws = workspace_at(tmp_path / "a")
    events: list[Event] = []
    session = RemoteSession(store, ws, events.append)
    built_with(session, stored(ws))
    said = notes(events)
    assert any("take 'harbour' was not pushed" in n and "full" in n for n in said), said
    assert session.summary()["queued"] == ["harbour"]
    assert Queue(ws).items() == [Queued(NS, KEY, "harbour")]
    assert session.down is None  # not a remote that is down: the next take is pushed
    assert not (nas / "results").exists()


def test_a_push_that_raises_anything_leaves_the_take_queued_and_said(tmp_path: Path) -> None:
    store, _nas = remote(tmp_path)

    async def broken(path: str, data: Any) -> bool:
        raise ValueError("a bug in a library\nsecond line")

    store.create = broken  # type: ignore[method-assign]
    ws = workspace_at(tmp_path / "a")
    events: list[Event] = []
    session = RemoteSession(store, ws, events.append)
    built_with(session, stored(ws))
    said = notes(events)
    assert any(n.endswith("was not pushed: a bug in a library") for n in said), said
    assert any("1 takes stay queued" in n for n in said)
    assert session.summary()["queued"] == ["harbour"] and session.pushed == []
    assert Queue(ws).items() == [Queued(NS, KEY, "harbour")]


def test_a_take_another_build_pushed_first_is_said_and_kept(tmp_path: Path) -> None:
    store, nas = remote(tmp_path)
    theirs = stored(workspace_at(tmp_path / "o"), PLANTED)
    assert asyncio.run(push_take(store, theirs, take="harbour")).status == "pushed"
    record = (nas / result_path(NS, KEY)).read_bytes()
    ws = workspace_at(tmp_path / "a")
    events: list[Event] = []
    session = RemoteSession(store, ws, events.append)
    built_with(session, stored(ws))
    said = notes(events)
    assert any("another build pushed a result of take 'harbour' first" in n for n in said), said
    assert not any("cannot be used" in n for n in said)
    assert (nas / result_path(NS, KEY)).read_bytes() == record  # the first record stays
    assert session.pushed == ["harbour"] and Queue(ws).items() == []


# -- remote_session: the queue and the plan --------------------------------------------------


@pytest.mark.parametrize("field", ["take", "model", "upload"])
def test_a_queue_entry_whose_field_is_not_a_string_cannot_be_read(
    tmp_path: Path, field: str
) -> None:
    ws = workspace_at(tmp_path / "a")
    queue = Queue(ws)
    queue.add(Queued(NS, KEY, "harbour"))
    path = queue.folder / Queued(NS, KEY).name
    data = json.dumps({"namespace": NS, "key": KEY, "take": "harbour", field: 5}).encode()
    path.write_bytes(data)
    found, unreadable = queue.read()
    assert found == [] and [u.path for u in unreadable] == [path]
    assert "not a string" in unreadable[0].why
    assert path.read_bytes() == data  # left in place


def test_a_refused_list_that_cannot_be_read_plans_without_the_remote(tmp_path: Path) -> None:
    """The list of this clone's refused remote copies cannot be listed: which copies it
    refused is not known, so no copy is counted on (and the remote is not asked)."""
    store, _nas = remote(tmp_path)
    asyncio.run(push_take(store, stored(workspace_at(tmp_path / "a")), take="harbour"))
    ws = workspace_at(tmp_path / "b")
    (ws.state / "remote").mkdir(parents=True)
    (ws.state / "remote" / "refused").write_bytes(b"not a folder")
    asked: list[str] = []
    exists = store.exists

    async def counted(path: str) -> bool:
        asked.append(path)
        return await exists(path)

    store.exists = counted  # type: ignore[method-assign]
    events: list[Event] = []
    session = RemoteSession(store, ws, events.append)
    assert asyncio.run(session.lookup(NS, [KEY])) == set()
    assert not session.holds(NS, KEY) and asked == []
    assert any("refused cannot be read" in n and "planned without it" in n for n in notes(events))


def test_a_denied_write_after_the_remote_went_down_says_nothing_more(tmp_path: Path) -> None:
    store, _nas = remote(tmp_path)
    events: list[Event] = []
    session = RemoteSession(store, workspace_at(tmp_path / "a"), events.append)
    session._write_failed(RemoteError("the remote did not answer", "unreachable"))
    session._write_failed(RemoteError("access denied", "denied"))
    assert session.read_only is None and session.down is not None
    assert len(notes(events)) == 1 and "going on without it" in notes(events)[0]


def test_a_remote_whose_probe_failed_is_not_asked_for_the_takes(tmp_path: Path) -> None:
    store, _nas = remote(tmp_path)
    asyncio.run(push_take(store, stored(workspace_at(tmp_path / "a")), take="harbour"))
    asked: list[str] = []

    async def probe() -> None:
        raise RemoteError("the remote did not answer", "error")

    async def exists(path: str) -> bool:
        asked.append(path)
        return True

    store.probe = probe  # type: ignore[method-assign]
    store.exists = exists  # type: ignore[method-assign]
    events: list[Event] = []
    session = RemoteSession(store, workspace_at(tmp_path / "b"), events.append)
    assert asyncio.run(session.lookup(NS, [KEY])) == set()
    assert asked == [] and not session.holds(NS, KEY)
    assert [n for n in notes(events) if "planned without it" in n]


def test_a_fetch_that_found_the_remote_down_is_the_last_request(tmp_path: Path) -> None:
    store, _nas, _locked = pushed(tmp_path)
    asked: list[str] = []

    async def unreachable(path: str, *args: Any, **kwargs: Any) -> Any:
        asked.append(path)
        raise RemoteError("the remote did not answer", "unreachable")

    store.read = unreachable  # type: ignore[method-assign]
    ws = workspace_at(tmp_path / "b")
    session = RemoteSession(store, ws)
    for _ in range(2):
        with pytest.raises(RemoteError) as caught:
            asyncio.run(session.fetch(NS, KEY, cache_of(ws), lambda _: None))
        assert caught.value.kind == "unreachable"
    assert asked == [result_path(NS, KEY)]  # asked once in this build
    assert session.down is not None and session.refused.read() == ([], [])


def test_an_unreadable_refusal_of_another_namespace_refuses_nothing_here(tmp_path: Path) -> None:
    """A damaged file of the refused list names the same key in another namespace: the
    remote's copy in this namespace is still counted on (not paid for again)."""
    store, _nas = remote(tmp_path)
    asyncio.run(push_take(store, stored(workspace_at(tmp_path / "a")), take="harbour"))
    ws = workspace_at(tmp_path / "b")
    session = RemoteSession(store, ws)
    session.refused.add(Queued("runware@elsewhere", KEY))
    bad = session.refused.folder / Queued("runware@elsewhere", KEY).name
    bad.write_bytes(b"{")
    assert asyncio.run(session.lookup(NS, [KEY])) == {KEY}
    assert session.holds(NS, KEY) and bad.read_bytes() == b"{"


def test_a_build_that_found_the_remote_down_claims_nothing(tmp_path: Path) -> None:
    store, nas = remote(tmp_path)
    session = RemoteSession(store, workspace_at(tmp_path / "a"))
    session.down = RemoteError("the remote did not answer", "unreachable")
    assert asyncio.run(session.claim(NS, KEY, "harbour")) == "pay"
    assert list(nas.iterdir()) == [] and session._claims is None


def test_an_unreadable_refusal_is_said_once_per_build(tmp_path: Path) -> None:
    store, _nas = remote(tmp_path)
    ws = workspace_at(tmp_path / "b")
    events: list[Event] = []
    session = RemoteSession(store, ws, events.append)
    session.refused.add(Queued(NS, KEY))
    (session.refused.folder / Queued(NS, KEY).name).write_bytes(b"{")
    for _ in range(2):
        assert asyncio.run(session.lookup(NS, [KEY])) == set()
    assert len([n for n in notes(events) if "not counted on" in n]) == 1


def test_a_build_that_found_the_remote_down_releases_nothing(tmp_path: Path) -> None:
    store, nas = remote(tmp_path)
    session = RemoteSession(store, workspace_at(tmp_path / "a"))
    assert asyncio.run(session.claim(NS, KEY, "harbour")) == "pay"
    claimed = sorted(p for p in nas.rglob("*") if p.is_file())
    assert claimed  # this build's claim, on the remote
    session.down = RemoteError("the remote did not answer", "unreachable")
    asyncio.run(session.release(NS, KEY))
    assert sorted(p for p in nas.rglob("*") if p.is_file()) == claimed  # not asked


def test_a_store_that_signs_no_url_asks_for_no_upload(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, _nas = remote(tmp_path)
    monkeypatch.setattr(Store, "can_sign", property(lambda _: True))
    store.sign_put = lambda path, lifetime=None: None  # type: ignore[method-assign]
    session = RemoteSession(store, workspace_at(tmp_path / "a"))
    assert session.upload_for(TASK) is None
