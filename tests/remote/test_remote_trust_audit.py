"""The remote's trust promises against a hostile or broken remote (an audit's reproductions).

A writer with write access to the bucket (or the share) can plant objects before storyboard
writes its own, and swap files of a share between storyboard's look at them and its read;
a remote can hold records of any shape and objects of any size. Whatever it holds:
storyboard pays once, loses no take, writes nothing through a link, never waits on a pipe,
never fails a film over a push, and says what is wrong in one line. These run against moto's
S3 server on loopback, ``file://`` folders in tmp, and the emulator.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

import storyboard.remote.store as store_module
from storyboard.backends.namespaces import namespace
from storyboard.build.pipeline import BuildResult, build, prepare
from storyboard.build.remote_transfer import fetch_take, parse_record, push_take
from storyboard.build.state.cache import Cache, CacheEntry
from storyboard.build.state.lockfile import locked_take
from storyboard.build.state.safe import Tree
from storyboard.core.events import Event, Note
from storyboard.emulator.server import EmulatorServer
from storyboard.remote.config import RemoteConfig
from storyboard.remote.store import RemoteError, Store, cas_path, result_path
from tests.conftest import CliResult
from tests.e2e.runner import fast_backend
from tests.remote.test_store_hardening import ended, unblock
from tests.s3 import S3

FILM = """\
storyboard: 1
title: Audit
shots:
  - {id: harbour, duration: 3, prompt: a small stone harbour at dawn}
"""
KEY = "ab" * 32
Project = Callable[[dict[str, str | bytes]], Path]
Cli = Callable[..., CliResult]

#: Records a hostile writer may plant where a take's record will be.
PLANTED = {
    "garbage": b"not json at all",
    "future": json.dumps({"version": 2, "take": "harbour", "results": []}).encode(),
    "nested": b"[" * 300_000,
}


def charges(emulator: EmulatorServer) -> list[str]:
    return [e.task_uuid for e in emulator.ledger() if not e.dry_run and e.cost > 0]


def take_key(root: Path) -> tuple[str, str]:
    """The namespace and key of the film's one take (against the emulator)."""
    prepared = prepare(str(root / "film.yaml"), backend_name=namespace("runware"))
    return namespace("runware"), prepared.keys["harbour"]


def run(root: Path, url: str) -> tuple[BuildResult, list[str]]:
    events: list[Event] = []
    result = build(
        root / "film.yaml", backend=fast_backend(), film_scale=1 / 12, keep_going=True,
        remote=RemoteConfig(url, "test"), emit=events.append,
    )  # fmt: skip
    return result, [e.message for e in events if isinstance(e, Note)]


def clone_of(root: Path, tmp_path: Path) -> Path:
    """The project as a teammate checks it out: its files and lock, an empty cache."""
    clone = tmp_path / "clone"
    shutil.copytree(root, clone, ignore=shutil.ignore_patterns("build", ".storyboard"))
    (clone / ".storyboard").mkdir()
    return clone


def cached_videos(root: Path) -> list[Path]:
    folder = root / ".storyboard" / "cache"
    return sorted(p for p in folder.rglob("*.mp4") if ".tmp" not in p.parts)


def cached_entry(tmp_path: Path, data: bytes = b"\x00\x00\x00\x18ftypmp42 take" * 64) -> CacheEntry:
    root = tmp_path / "project"
    (root / ".storyboard" / "tmp").mkdir(parents=True, exist_ok=True)
    cache = Cache(
        root / ".storyboard" / "cache", tree=Tree.at(root), staging=root / ".storyboard" / "tmp"
    )
    video = root / ".storyboard" / "tmp" / "take.mp4"
    video.write_bytes(data)
    return cache.put("runware", KEY, [video], results=[{"video_uuid": "v", "cost": 0.5}])


def fresh_cache(tmp_path: Path, name: str) -> tuple[Cache, Tree]:
    root = tmp_path / name
    (root / ".storyboard" / "tmp").mkdir(parents=True)
    tree = Tree.at(root)
    return Cache(
        root / ".storyboard" / "cache", tree=tree, staging=root / ".storyboard" / "tmp"
    ), tree


# -- a record planted before the take is pushed: its media still go up --------------------------


@pytest.mark.parametrize("planted", sorted(PLANTED))
def test_a_push_over_a_record_it_cannot_use_still_pushes_the_media(
    s3: S3, tmp_path: Path, planted: str
) -> None:
    entry = cached_entry(tmp_path)
    sha = entry.results[0].sha256
    s3.put(result_path("runware", KEY), PLANTED[planted])
    store = Store(RemoteConfig(s3.url, "test"))
    pushed = asyncio.run(push_take(store, entry, take="harbour", model="m"))
    assert pushed.status == "other" and pushed.problem, pushed
    assert "\n" not in pushed.problem and len(pushed.problem) < 400
    assert s3.get(cas_path(sha)) == entry.path(0).read_bytes()  # the media are there
    assert s3.get(result_path("runware", KEY)) == PLANTED[planted]  # never written over
    # a teammate holding the lock's entry of the take gets it, by its sha256s
    cache, tree = fresh_cache(tmp_path, "teammate")
    locked = locked_take(entry, "harbour", "m")
    got = asyncio.run(fetch_take(store, "runware", KEY, cache, tree, locked=locked))
    assert got.path(0).read_bytes() == entry.path(0).read_bytes()


def test_a_planted_record_never_makes_the_team_pay_twice(
    project: Project, paid: EmulatorServer, nas: Path, tmp_path: Path, run_cli: Cli
) -> None:
    """A writer plants a damaged record where the take's will be. The first build counts on
    it, refuses it and pays nothing; the next pays once and pushes its media; a teammate with
    the lock, once the provider's URLs are gone, gets the take from the remote at no cost."""
    root = project({"film.yaml": FILM})
    space, key = take_key(root)
    record = nas / result_path(space, key)
    record.parent.mkdir(parents=True)
    record.write_bytes(PLANTED["garbage"])
    url = f"file://{nas}"
    first, _ = run(root, url)
    assert not first.ok and charges(paid) == []  # counted free, refused, nothing paid
    second, notes = run(root, url)
    assert second.ok and len(charges(paid)) == 1
    said = [n for n in notes if "keeps a record of take 'harbour' that cannot be used" in n]
    assert len(said) == 1 and "\n" not in said[0], notes
    assert record.read_bytes() == PLANTED["garbage"]
    # the provider forgets every result (the lock's URLs are gone) and its ledger
    httpx.post(paid.url("/_emulator/reset")).raise_for_status()
    clone = clone_of(root, tmp_path)
    third, notes = run(clone, url)
    assert third.ok, notes
    assert {o.status for o in third.outcomes.values()} == {"remote"}
    assert charges(paid) == []  # paid once, for the whole team
    # `storyboard push` says the same of it, in one line, and exits 0
    pushed = run_cli("push", "film.yaml", "--remote", url, cwd=root)
    assert pushed.status == 0, pushed.err
    assert "harbour: present" not in pushed.err
    assert "harbour: other: the remote keeps a record of it that cannot be used" in pushed.err


# -- a record nested too deeply to parse -----------------------------------------------------------


def test_a_deeply_nested_record_is_one_line_never_a_crash(
    project: Project, paid: EmulatorServer, nas: Path, run_cli: Cli
) -> None:
    root = project({"film.yaml": FILM})
    space, key = take_key(root)
    record = nas / result_path(space, key)
    record.parent.mkdir(parents=True)
    record.write_bytes(PLANTED["nested"])
    url = f"file://{nas}"
    pulled = run_cli("pull", "film.yaml", "--remote", url, cwd=root)
    assert pulled.status == 1, pulled.err
    assert "Traceback" not in pulled.err and "internal error" not in pulled.err
    assert "is not a record storyboard wrote: nested too deeply" in pulled.err
    assert cached_videos(root) == []
    # a build counts on it, refuses it in one line, remembers it, pays nothing
    first, notes = run(root, url)
    assert not first.ok and charges(paid) == []
    refused = [n for n in notes if "not fetched from the remote" in n]
    assert len(refused) == 1 and "nested too deeply" in refused[0], notes
    assert list((root / ".storyboard" / "remote" / "refused").glob("*.json"))
    # the next plan prices it: paid once, pushed beside the record, the film is made
    second, notes = run(root, url)
    assert second.ok and len(charges(paid)) == 1, notes
    assert len(list((nas / "cas").rglob("*/*/*"))) == 1
    assert record.read_bytes() == PLANTED["nested"]


# -- a push that fails in any way never fails the film ---------------------------------------------


def test_a_push_that_raises_anything_leaves_the_take_queued_and_the_film_made(
    project: Project, paid: EmulatorServer, nas: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import storyboard.build.remote_session as session

    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("something no one foresaw\nsecond line")

    monkeypatch.setattr(session, "push_take", broken)
    root = project({"film.yaml": FILM})
    result, notes = run(root, f"file://{nas}")
    assert result.ok and result.film is not None and len(charges(paid)) == 1
    said = [n for n in notes if "was not pushed" in n]
    assert said == ["remote: take 'harbour' was not pushed: something no one foresaw"], notes
    assert len(list((root / ".storyboard" / "remote" / "queue").glob("*.json"))) == 1
    assert (root / "film.lock").is_file()


# -- a record of a newer storyboard, or of the wrong shape ----------------------------------------


def test_a_record_of_a_newer_storyboard_says_so(
    project: Project, paid: EmulatorServer, nas: Path, run_cli: Cli
) -> None:
    root = project({"film.yaml": FILM})
    space, key = take_key(root)
    record = nas / result_path(space, key)
    record.parent.mkdir(parents=True)
    record.write_bytes(PLANTED["future"])
    pulled = run_cli("pull", "film.yaml", "--remote", f"file://{nas}", cwd=root)
    assert pulled.status == 1
    line = next(x for x in pulled.err.splitlines() if "FAILED" in x)
    assert "is a record of version 2, written by a newer storyboard" in line, pulled.err
    assert "upgrade storyboard" in line


def test_a_record_whose_version_is_true_is_not_version_1() -> None:
    record = {
        "version": True, "take": "t", "key": KEY, "backend": "runware", "model": "m",
        "task_uuid": None, "cost": 0.1, "results": [{"sha256": "cd" * 32, "bytes": 1}],
    }  # fmt: skip
    parse_record(json.dumps({**record, "version": 1}).encode(), "runware", KEY, "here")
    with pytest.raises(RemoteError, match="not a record storyboard wrote"):
        parse_record(json.dumps(record).encode(), "runware", KEY, "here")


# -- a medium larger than a medium may be ------------------------------------------------------


def test_a_medium_recorded_larger_than_a_medium_may_be_is_never_written_to_disk(
    s3: S3, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Scaled down: a medium may be 10 MB here (2 GB in use), and the remote holds one of
    20 MB whose record says so. Not a byte of it reaches the local disk."""
    monkeypatch.setattr(store_module, "MAX_MEDIA_BYTES", 10 << 20)
    written: list[int] = []
    consume = store_module._consume

    def counted(fd: int, digest: Any, chunk: Any) -> None:
        written.append(len(chunk))
        consume(fd, digest, chunk)

    monkeypatch.setattr(store_module, "_consume", counted)
    sha = "ef" * 32
    s3.put(cas_path(sha), bytes(20 << 20))
    store = Store(RemoteConfig(s3.url, "test"))
    dest = tmp_path / "take.mp4"
    with pytest.raises(RemoteError) as caught:
        asyncio.run(
            store.download(cas_path(sha), Tree.at(tmp_path), dest, sha256=sha, size=20 << 20)
        )
    assert caught.value.kind == "corrupt" and "a medium is at most" in str(caught.value)
    assert written == [] and not dest.exists()


# -- a share whose files change between storyboard's look and its read -----------------------------


def swapping(store: Store, after: Callable[[str, bool], None]) -> None:
    """Run ``after(path, leaf)`` right after each of ``store``'s looks at a folder's object:
    a writer of the share changing it at that moment."""
    look = store._look

    def then(root: str, path: str, leaf: bool) -> bool:
        found = look(root, path, leaf)
        after(path, leaf)
        return found

    store._look = then  # type: ignore[method-assign]


@pytest.mark.parametrize("operation", ["read", "download", "digest"])
def test_an_object_swapped_for_a_pipe_after_its_look_is_refused_at_once(
    nas: Path, tmp_path: Path, operation: str
) -> None:
    path = {"read": result_path("runware", KEY), "download": cas_path("cd" * 32),
            "digest": cas_path("cd" * 32)}[operation]  # fmt: skip
    target = nas / path
    target.parent.mkdir(parents=True)
    target.write_bytes(b"{}")
    store = Store(RemoteConfig(f"file://{nas}", "test"))

    def to_pipe(looked: str, leaf: bool) -> None:
        if looked == path and target.is_file() and not target.is_symlink():
            target.unlink()
            os.mkfifo(target)

    swapping(store, to_pipe)
    dest = tmp_path / "take.mp4"
    calls = {
        "read": lambda: store.read(path),
        "download": lambda: store.download(path, Tree.at(tmp_path), dest, sha256="cd" * 32, size=2),
        "digest": lambda: store.digest(path),
    }
    try:
        outcome = ended(lambda: asyncio.run(calls[operation]()), [target], limit=5)
    finally:
        unblock([target])
    assert isinstance(outcome, RemoteError), outcome
    assert outcome.kind == "corrupt" and "is not a regular file but a named pipe" in str(outcome)
    assert not dest.exists()


def test_an_object_swapped_for_a_link_after_its_look_is_not_followed(
    nas: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside.json"
    outside.write_text('{"secret": "of the machine"}')
    path = result_path("runware", KEY)
    target = nas / path
    target.parent.mkdir(parents=True)
    target.write_bytes(b"{}")
    store = Store(RemoteConfig(f"file://{nas}", "test"))

    def to_link(looked: str, leaf: bool) -> None:
        if looked == path and not target.is_symlink():
            target.unlink()
            target.symlink_to(outside)

    swapping(store, to_link)
    with pytest.raises(RemoteError, match="is not a regular file but a symbolic link"):
        asyncio.run(store.read(path))


def test_a_folder_swapped_for_a_link_after_its_look_is_not_written_through(
    nas: Path, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    folder = nas / "results" / "runware"
    folder.mkdir(parents=True)
    store = Store(RemoteConfig(f"file://{nas}", "test"))
    path = result_path("runware", KEY)

    def to_link(looked: str, leaf: bool) -> None:
        if looked == path and not folder.is_symlink():
            folder.rmdir()
            folder.symlink_to(elsewhere, target_is_directory=True)

    swapping(store, to_link)
    with pytest.raises(RemoteError) as caught:
        asyncio.run(store.create(path, b"{}"))
    assert caught.value.kind == "denied" and "results/runware is a symbolic link" in str(
        caught.value
    )
    assert list(elsewhere.iterdir()) == []  # nothing written through the link


def test_a_folder_remote_still_writes_create_only(nas: Path) -> None:
    store = Store(RemoteConfig(f"file://{nas}", "test"))
    path = result_path("runware", KEY)
    assert asyncio.run(store.create(path, b"one")) is True
    assert asyncio.run(store.create(path, b"two")) is False
    assert (nas / path).read_bytes() == b"one"
    assert sorted(p.name for p in (nas / path).parent.iterdir()) == [f"{KEY}.json"]
    assert asyncio.run(store.read(path)) == b"one"


# -- a folder remote inside the project's state --------------------------------------------------


@pytest.mark.parametrize("how", ["inside", "through a link"])
def test_a_folder_remote_inside_dot_storyboard_is_refused_before_anything_is_paid(
    project: Project, paid: EmulatorServer, run_cli: Cli, how: str
) -> None:
    """``.storyboard/tmp`` is emptied by every build: a remote there loses its objects."""
    root = project({"film.yaml": FILM})
    folder = root / ".storyboard" / "tmp"
    folder.mkdir()
    if how == "through a link":
        (root / "share").symlink_to(folder, target_is_directory=True)
        folder = root / "share"
    built = run_cli("build", "film.yaml", "--backend", "runware", "--remote", f"file://{folder}",
                    cwd=root)  # fmt: skip
    assert built.status == 2, built.err
    lines = built.err.splitlines()
    assert "is inside the project's .storyboard/" in lines[0] and lines[1:] == ["1 error"]
    assert charges(paid) == []
    toml = f'[remote]\nurl = "file://{folder}"\n'
    (root / "storyboard.toml").write_text(toml)
    pushed = run_cli("push", cwd=root)
    assert pushed.status == 2 and "storyboard.toml" in pushed.err, pushed.err


# -- the probe is one request, whatever the remote holds -------------------------------------------


class _Requests(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def test_the_probe_is_one_request_however_many_namespaces_a_writer_made(s3: S3) -> None:
    from moto.s3.models import s3_backends

    backend = s3_backends["123456789012"]["global"]
    for index in range(1100):  # a writer's folders under results/: more than a page
        backend.put_object(s3.bucket, s3.key(f"results/ns{index:05d}/x.json"), b"{}")
    log = logging.getLogger("werkzeug")
    seen, level = _Requests(), log.level
    log.addHandler(seen)
    log.setLevel(logging.INFO)
    try:
        asyncio.run(Store(RemoteConfig(s3.url, "test")).probe())
    finally:
        log.removeHandler(seen)
        log.setLevel(level)
    lists = [line for line in seen.lines if "list-type=2" in line]
    assert len(lists) == 1, lists


# -- a medium squatted under a sha256 a lock file names -----------------------------------------


def test_a_medium_put_first_under_its_sha256_by_another_writer_is_never_recorded(
    s3: S3, tmp_path: Path
) -> None:
    """The lock file (committed) names a take's sha256s before its media are on the remote;
    a writer puts other bytes there first. The push refuses to write a record sending every
    reader to bytes they would refuse, and says what to do."""
    entry = cached_entry(tmp_path)
    sha, size = entry.results[0].sha256, entry.results[0].bytes
    s3.put(cas_path(sha), bytes(size))  # the same size, other bytes
    store = Store(RemoteConfig(s3.url, "test"))
    with pytest.raises(RemoteError) as caught:
        asyncio.run(push_take(store, entry, take="harbour", model="m"))
    message = str(caught.value)
    assert caught.value.kind == "corrupt" and "\n" not in message
    assert "holds other bytes than its name says" in message and "never written over" in message
    assert s3.keys("results/") == []  # no record naming them
    assert s3.get(cas_path(sha)) == bytes(size)  # and nothing written over


def test_a_medium_a_killed_push_left_is_read_back_and_recorded(s3: S3, tmp_path: Path) -> None:
    entry = cached_entry(tmp_path)
    sha = entry.results[0].sha256
    s3.put(cas_path(sha), entry.path(0).read_bytes())  # the media went up, the record did not
    pushed = asyncio.run(push_take(Store(RemoteConfig(s3.url, "test")), entry, take="harbour"))
    assert pushed.status == "pushed" and pushed.bytes == 0
    assert s3.keys("results/") == [result_path("runware", KEY)]


# -- bounds a record cannot lift -------------------------------------------------------------------


def test_a_record_of_a_thousand_media_is_refused_before_any_is_fetched(
    nas: Path, tmp_path: Path
) -> None:
    record = {
        "version": 1, "take": "t", "key": KEY, "backend": "runware", "model": "m",
        "task_uuid": None, "cost": 0.1,
        "results": [{"sha256": f"{i:064x}", "bytes": 1 << 30} for i in range(1000)],
    }  # fmt: skip
    path = nas / result_path("runware", KEY)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(record))
    cache, tree = fresh_cache(tmp_path, "reader")
    store = Store(RemoteConfig(f"file://{nas}", "test"))
    with pytest.raises(RemoteError, match="has 1000 results; a take has at most 20"):
        asyncio.run(fetch_take(store, "runware", KEY, cache, tree))
    assert not list((tmp_path / "reader").rglob("remote-*"))


def test_an_object_far_larger_than_its_record_is_refused_unread(nas: Path, tmp_path: Path) -> None:
    sha = "cd" * 32
    medium = nas / cas_path(sha)
    medium.parent.mkdir(parents=True)
    with open(medium, "wb") as sparse:
        sparse.truncate(4 << 30)  # 4 GB, holes: nothing on disk
    store = Store(RemoteConfig(f"file://{nas}", "test"))
    dest = tmp_path / "take.mp4"
    with pytest.raises(RemoteError) as caught:
        asyncio.run(store.download(cas_path(sha), Tree.at(tmp_path), dest, sha256=sha, size=100))
    assert "holds 4,294,967,296 bytes where 100 were recorded" in str(caught.value)
    assert not dest.exists()
