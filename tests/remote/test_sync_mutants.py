"""Mutation audit of the push and pull of takes (storyboard/build/remote_transfer.py,
remote_sync.py and remote_session.py): each test here fails under a change of the code that
every other test of the remote let pass, and each such change breaks a promise of the shared
cache: a medium is stored under its sha256 only as those very bytes, a take is fetched only
as the bytes its record (or lock) names and only for the key it was asked for, nothing
refused enters the local cache, a failed push stays queued, a queue file that cannot be read
is counted until the remote is known to hold its take, a refused remote copy is not counted
on again, and previews stay home unless asked.

What each test guards (the change of the code it catches):

- a record naming another key, or another namespace, fetched as this take's; a record of
  another version read as one;
- a fetched video that does not play kept; the staged files of a refused take left behind;
- a pulled take of two videos costing its price twice in the local cache;
- a record written before its media (a medium that could not be written, and a record
  there all the same);
- a medium already under its sha256 not read back when the record there names other media,
  or is one storyboard cannot read (the record would send every reader to refused bytes);
  one found put there between the look and the create not read back; one that cannot be
  read back taken as good;
- a record there that cannot be read (a folder in its place) taken as nothing there;
- a record read that failed (unreachable) taken as a record that cannot be used;
- a create of the record that wrote nothing and a record that is then not there, taken as
  pushed (the queue entry would go, the take on no remote);
- a provider's upload copied into ``cas/`` without checking it holds the take's bytes; a
  queue entry's ``upload`` that names another object (a record, a medium) read as an upload
  (the push then fails for good);
- a cached take whose bytes were altered (same size) pushed without verifying them;
- a queued take dropped from the queue when its push fails (``storyboard push`` and a
  build), or its upload lost when the storyboard names the take too;
- a queue file that cannot be read counted as held when the remote could not be asked;
- a pull of a damaged record counted as ``absent`` (exit 0) instead of failed;
- ``storyboard remote`` counting a failed look-up as held;
- a take the lock file names in another namespace not pushed nor pulled there;
- ``push``/``pull`` run while a build holds the project's lock;
- the plan counting on a remote copy this clone refused (by its list, or by a file of that
  list that cannot be read), or on a take whose look-up failed; a look-up with no keys;
- a take whose remote media are gone not refused for the next plan;
- a denied write stopping the reads, or still asking the provider to upload into the
  bucket; a remote that is down asked again (a look-up, a fetch);
- a preview (``preview@SCALE``) queued, pushed, or claimed on the remote unasked;
- a build's take not queued on disk before its push.

Everything runs on ``file://`` remotes (a folder in tmp_path); the store is wrapped where a
test needs a remote that fails or races at one exact step.
"""

from __future__ import annotations

import asyncio
import hashlib
import shutil
from pathlib import Path
from typing import Any

import pytest

from storyboard.build import remote_sync
from storyboard.build.remote_session import Queue, Queued, RemoteSession, is_preview
from storyboard.build.remote_transfer import fetch_take, parse_record, push_take, record_of
from storyboard.build.state.workspace import ProjectLock, Workspace
from storyboard.core.errors import BuildError
from storyboard.core.events import Event, Note
from storyboard.remote.config import RemoteConfig
from storyboard.remote.store import RemoteError, Store, cas_path, result_path
from tests.build.test_fetch_locked import TAKE_BYTES, cache_of, stored, workspace_at

NS = "runware@test"
OTHER_NS = "runware@elsewhere"
PREVIEW = "preview@0.25"
KEY = hashlib.sha256(b"the harbour at dawn").hexdigest()
KEY2 = hashlib.sha256(b"the nets at noon").hexdigest()
TAKE = TAKE_BYTES  # what stored() puts in a cache by default
TAKE2 = b"\x00\x00\x00\x18ftypmp42 another take" * 200
PLANTED = b"\x00\x00\x00\x18ftypmp42 bytes another writer put there" * 64
TASK = "6f0c58a8-58a4-4d4b-9a4e-6f3b7a0c6f11"
UPLOAD = f"uploads/{TASK}"


def remote(tmp_path: Path) -> tuple[Store, Path]:
    nas = tmp_path / "nas"
    nas.mkdir()
    return Store(RemoteConfig(f"file://{nas}", "test")), nas


def put(nas: Path, path: str, data: bytes) -> None:
    """An object another writer (or a hand) put on the remote."""
    (nas / path).parent.mkdir(parents=True, exist_ok=True)
    (nas / path).write_bytes(data)


def staged(ws: Workspace) -> list[Path]:
    return sorted(ws.cache_tmp.iterdir()) if ws.cache_tmp.exists() else []


def look_up_fails(store: Store, failing: str) -> None:
    """The remote's look-up of ``failing`` times out from now on; the others answer."""
    exists = store.exists

    async def flaky(path: str) -> bool:
        if path == failing:
            raise RemoteError("the look-up timed out", "error")
        return await exists(path)

    store.exists = flaky  # type: ignore[method-assign]


def notes(events: list[Event]) -> list[str]:
    return [e.message for e in events if isinstance(e, Note)]


# -- remote_transfer: what a pull takes ------------------------------------------------------


def test_a_record_naming_another_take_is_refused_and_nothing_is_kept(tmp_path: Path) -> None:
    store, nas = remote(tmp_path)
    entry = stored(workspace_at(tmp_path / "a"), TAKE, KEY2)
    assert asyncio.run(push_take(store, entry, take="nets")).status == "pushed"
    record = (nas / result_path(NS, KEY2)).read_bytes()
    # the record of KEY2 put where KEY's and where another namespace's record of KEY2 go
    put(nas, result_path(NS, KEY), record)
    put(nas, result_path(OTHER_NS, KEY2), record)
    ws = workspace_at(tmp_path / "b")
    for namespace, key in ((NS, KEY), (OTHER_NS, KEY2)):
        with pytest.raises(RemoteError) as caught:
            asyncio.run(fetch_take(store, namespace, key, cache_of(ws), ws.tree))
        assert caught.value.kind == "corrupt" and "names another take" in str(caught.value)
        assert cache_of(ws).get(namespace, key, verify=False) is None
    assert staged(ws) == []


def test_a_record_of_an_older_version_is_not_read(tmp_path: Path) -> None:
    import json

    entry = stored(workspace_at(tmp_path / "a"))
    record = json.loads(record_of(entry, "harbour"))
    assert parse_record(json.dumps(record).encode(), NS, KEY, "r").key == KEY
    with pytest.raises(RemoteError) as caught:
        parse_record(json.dumps({**record, "version": 0}).encode(), NS, KEY, "r")
    assert caught.value.kind == "corrupt" and "not a record of version 1" in str(caught.value)


def test_a_video_that_does_not_play_is_refused_and_nothing_of_it_stays(tmp_path: Path) -> None:
    store, _nas = remote(tmp_path)
    entry = stored(workspace_at(tmp_path / "a"))
    asyncio.run(push_take(store, entry, take="harbour"))
    ws = workspace_at(tmp_path / "b")
    seen: list[bytes] = []

    def check(path: Path) -> str | None:
        seen.append(path.read_bytes())
        return "no video stream"

    with pytest.raises(RemoteError) as caught:
        asyncio.run(fetch_take(store, NS, KEY, cache_of(ws), ws.tree, check=check))
    assert caught.value.kind == "corrupt" and "not a usable video" in str(caught.value)
    assert seen == [TAKE]  # the check saw the fetched bytes
    assert cache_of(ws).get(NS, KEY, verify=False) is None
    assert staged(ws) == []  # the fetched file is removed, not left in the staging folder


# -- remote_transfer: what a push writes -----------------------------------------------------


@pytest.mark.parametrize("record", ["another result", "unreadable"])
def test_a_medium_planted_under_its_sha256_is_read_back_whatever_record_is_there(
    tmp_path: Path, record: str
) -> None:
    """The record there names other media (another build's result of the same request), or
    cannot be read: the medium already under this take's sha256 is not vouched for by it, so
    it is read back, found to be other bytes, and nothing is recorded as this take's."""
    store, nas = remote(tmp_path)
    entry = stored(workspace_at(tmp_path / "a"))
    other = stored(workspace_at(tmp_path / "o"), TAKE2)
    theirs = record_of(other, "harbour") if record == "another result" else b"not json"
    put(nas, result_path(NS, KEY), theirs)
    put(nas, cas_path(entry.results[0].sha256), PLANTED)
    with pytest.raises(RemoteError) as caught:
        asyncio.run(push_take(store, entry, take="harbour"))
    assert caught.value.kind == "corrupt" and "holds other bytes" in str(caught.value)
    assert (nas / result_path(NS, KEY)).read_bytes() == theirs


def test_no_record_is_written_when_a_medium_could_not_be(tmp_path: Path) -> None:
    store, nas = remote(tmp_path)
    entry = stored(workspace_at(tmp_path / "a"))
    create = store.create

    async def media_refused(path: str, data: Any) -> bool:
        if path.startswith("cas/"):
            raise RemoteError("the disk of the share is full", "error")
        return await create(path, data)

    store.create = media_refused  # type: ignore[method-assign]
    with pytest.raises(RemoteError, match="full"):
        asyncio.run(push_take(store, entry, take="harbour"))
    assert not (nas / "results").exists()  # a reader never finds a record without its media
    store.create = create  # type: ignore[method-assign]
    assert asyncio.run(push_take(store, entry, take="harbour")).status == "pushed"


def test_a_medium_put_there_between_the_look_and_the_write_is_read_back(tmp_path: Path) -> None:
    store, nas = remote(tmp_path)
    entry = stored(workspace_at(tmp_path / "a"))
    target = cas_path(entry.results[0].sha256)
    exists = store.exists

    async def racing(path: str) -> bool:  # another writer puts other bytes right after the look
        found = await exists(path)
        if path == target:
            put(nas, target, PLANTED)
            return False
        return found

    store.exists = racing  # type: ignore[method-assign]
    with pytest.raises(RemoteError) as caught:
        asyncio.run(push_take(store, entry, take="harbour"))
    assert caught.value.kind == "corrupt"
    assert not (nas / result_path(NS, KEY)).exists()  # no record sends readers to those bytes


def test_a_record_that_is_a_folder_is_kept_and_the_media_are_pushed(tmp_path: Path) -> None:
    store, nas = remote(tmp_path)
    entry = stored(workspace_at(tmp_path / "a"))
    (nas / result_path(NS, KEY)).mkdir(parents=True)  # not a record: never replaced
    done = asyncio.run(push_take(store, entry, take="harbour"))
    assert done.status == "other" and done.problem
    assert (nas / cas_path(entry.results[0].sha256)).read_bytes() == TAKE
    assert (nas / result_path(NS, KEY)).is_dir()


def test_a_record_that_could_not_be_read_fails_the_push(tmp_path: Path) -> None:
    store, nas = remote(tmp_path)
    entry = stored(workspace_at(tmp_path / "a"))

    async def unreachable(path: str, limit: int = 0) -> bytes | None:
        raise RemoteError("the remote did not answer", "unreachable")

    store.read = unreachable  # type: ignore[method-assign]
    with pytest.raises(RemoteError) as caught:
        asyncio.run(push_take(store, entry, take="harbour"))
    assert caught.value.kind == "unreachable"
    assert not (nas / "cas").exists()


def test_a_record_neither_written_nor_there_is_not_a_pushed_take(tmp_path: Path) -> None:
    store, nas = remote(tmp_path)
    entry = stored(workspace_at(tmp_path / "a"))
    create = store.create

    async def lost(path: str, data: Any) -> bool:  # the write is said refused, yet none is there
        if path.startswith("results/"):
            return False
        return await create(path, data)

    store.create = lost  # type: ignore[method-assign]
    with pytest.raises(RemoteError, match="could not be written nor read back"):
        asyncio.run(push_take(store, entry, take="harbour"))
    assert not (nas / "results").exists()  # the take is on no remote: it stays queued


def test_a_providers_upload_of_other_bytes_is_never_copied_into_cas(tmp_path: Path) -> None:
    store, nas = remote(tmp_path)
    entry = stored(workspace_at(tmp_path / "a"))
    put(nas, UPLOAD, PLANTED)  # not the bytes the build downloaded
    done = asyncio.run(push_take(store, entry, take="harbour", upload=UPLOAD))
    assert done.status == "pushed" and not done.adopted and done.bytes == len(TAKE)
    assert (nas / cas_path(entry.results[0].sha256)).read_bytes() == TAKE


def test_a_medium_that_cannot_be_read_back_is_never_recorded(tmp_path: Path) -> None:
    store, nas = remote(tmp_path)
    entry = stored(workspace_at(tmp_path / "a"))
    put(nas, cas_path(entry.results[0].sha256), PLANTED)

    async def gone(path: str) -> tuple[str, int] | None:  # removed since the look
        return None

    store.digest = gone  # type: ignore[method-assign]
    with pytest.raises(RemoteError) as caught:
        asyncio.run(push_take(store, entry, take="harbour"))
    assert caught.value.kind == "missing"
    assert not (nas / result_path(NS, KEY)).exists()


@pytest.mark.parametrize("named", ["record", "medium"])
def test_a_queue_entry_naming_no_upload_sends_the_take_from_the_cache(
    tmp_path: Path, named: str
) -> None:
    """A queue entry whose ``upload`` is another object (hand-edited, another version's) is
    not an upload: the take's bytes are sent from the cache, and that object is left as it
    is, never copied nor removed."""
    store, nas = remote(tmp_path)
    entry = stored(workspace_at(tmp_path / "a"))
    other = result_path(NS, KEY2) if named == "record" else cas_path("cd" * 32)
    put(nas, other, PLANTED)
    done = asyncio.run(push_take(store, entry, take="harbour", upload=other))
    assert done.status == "pushed" and not done.adopted and done.bytes == len(TAKE)
    assert (nas / cas_path(entry.results[0].sha256)).read_bytes() == TAKE
    assert (nas / other).read_bytes() == PLANTED


def test_a_pulled_take_of_two_videos_costs_what_was_paid_once(tmp_path: Path) -> None:
    store, _nas = remote(tmp_path)
    ws = workspace_at(tmp_path / "a")
    ws.tree.makedirs(ws.cache_tmp)
    staging = ws.tree.make_temp_dir(ws.cache_tmp, "test-")
    (staging / "0.mp4").write_bytes(TAKE)
    (staging / "1.mp4").write_bytes(TAKE2)
    entry = cache_of(ws).put(
        NS, KEY, [staging / "0.mp4", staging / "1.mp4"],
        results=[{"video_uuid": "v-1", "cost": 0.5}, {"video_uuid": "v-2", "cost": 0.34}],
        task_uuid="t-1", meta={"take": "harbour"},
    )  # fmt: skip
    assert entry.cost == 0.84
    asyncio.run(push_take(store, entry, take="harbour"))
    other = workspace_at(tmp_path / "b")
    pulled = asyncio.run(fetch_take(store, NS, KEY, cache_of(other), other.tree))
    assert [p.read_bytes() for p in (pulled.path(0), pulled.path(1))] == [TAKE, TAKE2]
    assert pulled.cost == 0.84  # not 0.84 for each video


# -- remote_sync: storyboard push / pull / remote --------------------------------------------


def test_push_never_sends_a_cached_take_whose_bytes_were_altered(tmp_path: Path) -> None:
    store, nas = remote(tmp_path)
    ws = workspace_at(tmp_path / "a")
    entry = stored(ws)
    video = entry.path(0)
    video.chmod(0o644)
    video.write_bytes(TAKE[:-1] + b"!")  # same size, one byte altered
    summary = asyncio.run(remote_sync.push(store, ws, [remote_sync.Want(NS, KEY, "harbour")]))
    assert [m.status for m in summary.moved] == ["absent"]
    assert not (nas / "cas").exists() and not (nas / "results").exists()


def failing_writes(store: Store) -> None:
    async def denied(path: str, data: Any) -> bool:
        raise RemoteError("the remote refused the write", "error")

    store.create = denied  # type: ignore[method-assign]


def test_push_keeps_a_queued_take_whose_push_failed(tmp_path: Path) -> None:
    store, _nas = remote(tmp_path)
    ws = workspace_at(tmp_path / "a")
    entry = stored(ws)
    queue = Queue(ws)
    queue.add(Queued(NS, KEY, "harbour"))
    failing_writes(store)
    summary = asyncio.run(remote_sync.push(store, ws, []))
    assert [(m.take, m.status) for m in summary.failed] == [("harbour", "failed")]
    assert queue.items() == [Queued(NS, KEY, "harbour")]  # still queued, for the next push
    assert entry.path(0).read_bytes() == TAKE


def test_push_keeps_a_queued_upload_when_the_lock_names_the_take_too(tmp_path: Path) -> None:
    """A take both queued (with the provider's upload) and named by the storyboard: the queue
    entry is what is pushed, so the upload is adopted and then removed from the remote."""
    store, nas = remote(tmp_path)
    ws = workspace_at(tmp_path / "a")
    stored(ws)
    put(nas, UPLOAD, TAKE)
    Queue(ws).add(Queued(NS, KEY, "harbour", None, UPLOAD))
    summary = asyncio.run(remote_sync.push(store, ws, [remote_sync.Want(NS, KEY, "harbour")]))
    assert [m.status for m in summary.moved] == ["pushed"]
    assert not (nas / UPLOAD).exists()
    assert summary.bytes == 0  # adopted in place, not sent again


def test_a_damaged_queue_file_is_a_failure_when_the_remote_cannot_be_asked(
    tmp_path: Path,
) -> None:
    store, _nas = remote(tmp_path)
    ws = workspace_at(tmp_path / "a")
    queue = Queue(ws)
    queue.add(Queued(NS, KEY2, "nets"))
    bad = queue.folder / Queued(NS, KEY, "harbour").name
    bad.write_bytes(b'{"namespace": "runw')  # cut short
    look_up_fails(store, result_path(NS, KEY))
    summary = asyncio.run(remote_sync.push(store, ws, []))
    assert [d.on_remote for d in summary.damaged] == [None]
    assert "may be deleted" not in summary.damaged[0].message
    assert "was not pushed" in summary.damaged[0].message
    assert [m.take for m in summary.failed] == [KEY[:12]]  # push exits 1
    assert bad.read_bytes() == b'{"namespace": "runw'


def test_pull_of_a_damaged_record_is_a_failure_not_an_absent_take(tmp_path: Path) -> None:
    store, nas = remote(tmp_path)
    put(nas, result_path(NS, KEY), b"not json")
    ws = workspace_at(tmp_path / "b")
    wants = [remote_sync.Want(NS, KEY, "harbour"), remote_sync.Want(NS, KEY2, "nets")]
    summary = asyncio.run(remote_sync.pull(store, ws, wants))
    status = {m.take: m.status for m in summary.moved}
    assert status == {"harbour": "failed", "nets": "absent"}  # pull exits 1, for harbour only
    assert cache_of(ws).get(NS, KEY, verify=False) is None


def test_remote_status_never_counts_a_failed_look_up_as_held(tmp_path: Path) -> None:
    store, _nas = remote(tmp_path)
    entry = stored(workspace_at(tmp_path / "a"))
    asyncio.run(push_take(store, entry, take="harbour"))
    look_up_fails(store, result_path(NS, KEY2))
    found = asyncio.run(remote_sync.status(store, [(NS, KEY), (NS, KEY2)], write=False))
    assert (found.held, found.failed_lookups) == (1, 1)
    assert found.to_json()["held"] == 1


def test_a_take_is_wanted_in_the_namespace_its_lock_entry_names_too() -> None:
    wants = remote_sync.wanted(
        [("harbour", KEY, "m"), ("nets", KEY2, None)], [(KEY, OTHER_NS), ("ff" * 32, NS)], [NS]
    )
    assert sorted((w.namespace, w.key, w.take) for w in wants) == sorted(
        [(NS, KEY, "harbour"), (OTHER_NS, KEY, "harbour"), (NS, KEY2, "nets")]
    )


def test_previews_are_kept_home_unless_asked() -> None:
    wants = [remote_sync.Want(n, KEY, n) for n in (NS, "preview", PREVIEW)]
    assert [w.namespace for w in remote_sync.keep_paid(wants, False)] == [NS]
    assert remote_sync.keep_paid(wants, True) == wants
    assert is_preview(PREVIEW) and is_preview("preview") and not is_preview(NS)


def test_push_and_pull_wait_for_a_build_that_holds_the_project(tmp_path: Path) -> None:
    ws = workspace_at(tmp_path / "a")
    ran: list[str] = []
    with (
        ProjectLock(ws),
        pytest.raises(BuildError, match="another build"),
        remote_sync.locked_project(ws, 0.0),
    ):
        ran.append("push")
    assert ran == []


# -- remote_session: what a build asks -------------------------------------------------------


def session_of(store: Store, ws: Workspace, events: list[Event]) -> RemoteSession:
    return RemoteSession(store, ws, events.append)


def pushed_two(tmp_path: Path) -> Store:
    store, _nas = remote(tmp_path)
    ws = workspace_at(tmp_path / "a")
    for data, key in ((TAKE, KEY), (TAKE2, KEY2)):
        asyncio.run(push_take(store, stored(ws, data, key), take="t"))
    return store


def test_the_plan_never_counts_on_a_remote_copy_this_clone_refused(tmp_path: Path) -> None:
    store = pushed_two(tmp_path)
    ws = workspace_at(tmp_path / "b")
    events: list[Event] = []
    session = session_of(store, ws, events)
    session.refused.add(Queued(NS, KEY))
    # a file of the refused list that cannot be read refuses the take its name says
    bad = session.refused.folder / Queued(NS, KEY2).name
    bad.write_bytes(b"{")
    assert asyncio.run(session.lookup(NS, [KEY, KEY2])) == set()
    assert not session.holds(NS, KEY) and not session.holds(NS, KEY2)
    assert bad.read_bytes() == b"{"
    assert any(bad.name in n and "not counted on" in n for n in notes(events))


def test_the_plan_never_counts_on_a_take_whose_look_up_failed(tmp_path: Path) -> None:
    store = pushed_two(tmp_path)
    look_up_fails(store, result_path(NS, KEY2))
    events: list[Event] = []
    session = session_of(store, workspace_at(tmp_path / "b"), events)
    assert asyncio.run(session.lookup(NS, [KEY, KEY2])) == {KEY}
    assert any("1 look-ups failed" in n for n in notes(events))


def test_a_take_whose_remote_media_are_gone_is_refused_for_the_next_plan(tmp_path: Path) -> None:
    store = pushed_two(tmp_path)
    nas = tmp_path / "nas"
    shutil.rmtree(nas / "cas")  # the records stay, their media are gone
    ws = workspace_at(tmp_path / "b")
    session = session_of(store, ws, [])
    assert asyncio.run(session.lookup(NS, [KEY])) == {KEY}
    with pytest.raises(RemoteError) as caught:
        asyncio.run(session.fetch(NS, KEY, cache_of(ws), lambda _: None))
    assert caught.value.kind == "missing"
    assert session.refused.items() == [Queued(NS, KEY)]
    assert asyncio.run(session_of(store, ws, []).lookup(NS, [KEY])) == set()


def test_no_keys_no_request(tmp_path: Path) -> None:
    store, _nas = remote(tmp_path)
    asked: list[str] = []

    async def probe() -> None:
        asked.append("probe")

    store.probe = probe  # type: ignore[method-assign]
    session = session_of(store, workspace_at(tmp_path / "b"), [])
    assert asyncio.run(session.lookup(NS, [])) == set()
    assert asked == []


def test_a_remote_that_is_down_is_not_asked_again(tmp_path: Path) -> None:
    store = Store(RemoteConfig(f"file://{tmp_path / 'not-there'}", "test"))
    probes: list[str] = []
    probe = store.probe

    async def counted() -> None:
        probes.append("probe")
        await probe()

    store.probe = counted  # type: ignore[method-assign]
    events: list[Event] = []
    session = session_of(store, workspace_at(tmp_path / "b"), events)
    assert asyncio.run(session.lookup(NS, [KEY])) == set()
    assert asyncio.run(session.lookup(NS, [KEY2])) == set()
    assert probes == ["probe"] and session.down is not None
    assert len([n for n in notes(events) if "going on without it" in n]) == 1


def test_a_build_that_found_the_remote_down_fetches_nothing_from_it(tmp_path: Path) -> None:
    store = pushed_two(tmp_path)
    ws = workspace_at(tmp_path / "b")
    session = session_of(store, ws, [])
    down = RemoteError("the remote did not answer", "unreachable")
    session.down = down
    with pytest.raises(RemoteError) as caught:
        asyncio.run(session.fetch(NS, KEY, cache_of(ws), lambda _: None))
    assert caught.value is down  # not asked again in this build
    assert cache_of(ws).get(NS, KEY, verify=False) is None


def test_a_denied_write_stops_the_writes_not_the_reads(tmp_path: Path) -> None:
    store = pushed_two(tmp_path)
    ws = workspace_at(tmp_path / "b")
    session = session_of(store, ws, [])
    session._write_failed(RemoteError("access denied", "denied"))
    assert session.down is None and session.read_only is not None
    assert asyncio.run(session.lookup(NS, [KEY])) == {KEY}
    entry = asyncio.run(session.fetch(NS, KEY, cache_of(ws), lambda _: None))
    assert entry.path(0).read_bytes() == TAKE


def test_a_build_queues_its_take_on_disk_and_a_failed_push_leaves_it_queued(
    tmp_path: Path,
) -> None:
    store, nas = remote(tmp_path)
    failing_writes(store)
    ws = workspace_at(tmp_path / "a")
    entry = stored(ws)
    events: list[Event] = []
    session = session_of(store, ws, events)

    async def build() -> None:
        session.stored(entry, take="harbour", model=None, upload=None)
        await session.settle()

    asyncio.run(build())
    assert Queue(ws).items() == [Queued(NS, KEY, "harbour")]
    assert session.summary()["queued"] == ["harbour"] and session.pushed == []
    assert any("stay queued" in n for n in notes(events))
    assert not (nas / "results").exists()


def test_a_build_whose_remote_is_down_still_queues_its_take(tmp_path: Path) -> None:
    store, _nas = remote(tmp_path)
    ws = workspace_at(tmp_path / "a")
    entry = stored(ws)
    session = session_of(store, ws, [])
    session.down = RemoteError("unreachable", "unreachable")
    session.stored(entry, take="harbour", model=None, upload=None)
    assert Queue(ws).items() == [Queued(NS, KEY, "harbour")]


def test_a_build_never_queues_nor_pushes_nor_claims_a_preview_unasked(tmp_path: Path) -> None:
    store, nas = remote(tmp_path)
    ws = workspace_at(tmp_path / "a")
    entry = stored(ws, ns=PREVIEW)
    session = session_of(store, ws, [])

    async def build() -> str:
        answer = await session.claim(PREVIEW, KEY, "harbour")
        session.stored(entry, take="harbour", model=None, upload=None)
        await session.settle()
        return answer

    assert asyncio.run(build()) == "pay"
    assert Queue(ws).items() == [] and session.pushed == []
    assert list(nas.iterdir()) == []  # no claim, no media, no record


def test_a_build_whose_writes_were_denied_asks_for_no_upload(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The provider would PUT the take into a bucket this build may not write: the take
    would then be neither adopted nor pushed, and its upload left behind. (A folder remote
    made to sign, as a bucket's store does.)"""
    store, _nas = remote(tmp_path)
    monkeypatch.setattr(Store, "can_sign", property(lambda _: True))
    signed: list[str] = []

    def sign_put(path: str, lifetime: Any = None) -> str:
        signed.append(path)
        return f"http://127.0.0.1:9/{path}?signature=x"

    store.sign_put = sign_put  # type: ignore[method-assign]
    session = session_of(store, workspace_at(tmp_path / "a"), [])
    assert session.upload_for(TASK) is not None  # this store can sign
    session._write_failed(RemoteError("access denied", "denied"))
    assert session.upload_for(TASK) is None
    assert signed == [UPLOAD]  # signed once, before the denial
