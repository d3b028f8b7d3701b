"""The remote's store (:mod:`storyboard.remote.store`) against what a share or an environment
can hold besides objects: a named pipe or a link in a ``file://`` remote, and two endpoint
variables that name different S3 servers.

A pipe opened for reading waits for a writer forever, and obstore's folder store opens what it
reads (the request timeouts are HTTP's): every operation here runs with a time limit, and a
test that finds it still running unblocks the pipes (a writer opens and closes them) before
it fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from storyboard.build.remote_transfer import push_take
from storyboard.build.state.cache import Cache, CacheEntry
from storyboard.remote.config import RemoteConfig
from storyboard.remote.store import RemoteError, Store, cas_path, result_path

KEY = "ab" * 32
SHA = hashlib.sha256(b"a take").hexdigest()
LIMIT = 10.0  # seconds: every operation here takes milliseconds


class Files:
    """The project's files as a download writes them (plain ``os`` calls here)."""

    def open(self, path: str | os.PathLike[str], flags: int, mode: int = 0o600) -> int:
        return os.open(path, flags, mode)

    def unlink(self, path: str | os.PathLike[str]) -> None:
        os.unlink(path)


def unblock(pipes: list[Path]) -> None:
    """Open each pipe for writing and close it: a reader waiting on it gets an end of file."""
    for pipe in pipes:
        with contextlib.suppress(OSError):  # no reader waiting
            os.close(os.open(pipe, os.O_WRONLY | os.O_NONBLOCK))


def ended(run: Callable[[], Any], pipes: list[Path], limit: float = LIMIT) -> Any:
    """What ``run()`` returned or raised (an exception is returned), within ``limit``
    seconds; a test failure, once the pipes are unblocked, if it was still running."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = run()
        except BaseException as exc:  # handed back to the test
            box["value"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(limit)
    if thread.is_alive():
        for _ in range(100):
            unblock(pipes)
            thread.join(0.1)
            if not thread.is_alive():
                break
        pytest.fail(f"still running after {limit:.0f} s: it opened a named pipe of the remote")
    return box["value"]


def folder_store(folder: Path) -> Store:
    return Store(RemoteConfig(f"file://{folder}", "test"))


@pytest.fixture
def entry(tmp_path: Path) -> CacheEntry:
    """A take in a local cache, ready to push."""
    from storyboard.media import render_animatic

    video = render_animatic(tmp_path / "in.mp4", width=160, height=90, duration_s=1)
    return Cache(tmp_path / "cache").put("runware", KEY, [video], results=[{}])


# -- a named pipe where an object should be ----------------------------------------------------


@pytest.fixture
def piped(nas: Path) -> Iterator[tuple[Store, list[Path]]]:
    """A folder remote whose record of ``KEY`` and medium ``SHA`` are named pipes."""
    pipes = [nas / result_path("runware", KEY), nas / cas_path(SHA)]
    for pipe in pipes:
        pipe.parent.mkdir(parents=True)
        os.mkfifo(pipe)
    yield folder_store(nas), pipes
    unblock(pipes)


OPERATIONS: dict[str, Callable[[Store, Path], Any]] = {
    "exists": lambda store, _: store.exists(result_path("runware", KEY)),
    "read": lambda store, _: store.read(result_path("runware", KEY)),
    "download": lambda store, tmp: store.download(
        cas_path(SHA), Files(), tmp / "take.mp4", sha256=SHA, size=6
    ),
    "digest": lambda store, _: store.digest(cas_path(SHA)),
    "copy": lambda store, _: store.copy_new(cas_path(SHA), "uploads/copied"),
}


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
def test_a_named_pipe_in_a_folder_remote_is_a_bad_object_said_at_once(
    piped: tuple[Store, list[Path]], operation: str, tmp_path: Path
) -> None:
    store, pipes = piped
    outcome = ended(lambda: asyncio.run(OPERATIONS[operation](store, tmp_path)), pipes)
    assert isinstance(outcome, RemoteError), outcome
    message = str(outcome)
    assert outcome.kind == "corrupt" and "\n" not in message, message
    assert "is not a regular file but a named pipe" in message, message
    assert not (tmp_path / "take.mp4").exists()  # nothing of it kept
    assert not (store._folder and Path(store._folder, "uploads").exists())


def test_listing_a_folder_remote_with_a_named_pipe_in_it_does_not_open_it(
    piped: tuple[Store, list[Path]], nas: Path
) -> None:
    store, pipes = piped
    os.mkfifo(nas / "results" / "stray")
    pipes.append(nas / "results" / "stray")
    assert ended(lambda: asyncio.run(store.probe()), pipes) is None


ONE_TAKE = """\
storyboard: 1
title: One take
shots:
  - {id: harbour, duration: 3, prompt: a small stone harbour at dawn}
"""


def test_pull_ends_with_one_line_when_a_medium_is_a_named_pipe(
    project: Callable[[dict[str, str | bytes]], Path],
    emulator: Any,
    nas: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A build pushes its take to a folder remote; the share's copy is then a named pipe. A
    pull into a clone with an empty cache says so in one line, and ends."""
    from storyboard.build.pipeline import build
    from tests.e2e.runner import fast_backend

    monkeypatch.setenv("RUNWARE_API_KEY", emulator.api_key)
    monkeypatch.setenv("RUNWARE_BASE_URL", emulator.base_url)
    monkeypatch.delenv("STORYBOARD_REMOTE", raising=False)
    root = project({"film.yaml": ONE_TAKE})
    remote = RemoteConfig(f"file://{nas}", "test")
    first = build(root / "film.yaml", backend=fast_backend(), film_scale=1 / 12, remote=remote)
    assert first.ok
    (medium,) = (nas / "cas").rglob("*/*/*")
    medium.unlink()
    os.mkfifo(medium)
    clone = tmp_path / "clone"
    shutil.copytree(root, clone, ignore=shutil.ignore_patterns("build", ".storyboard"))
    (clone / ".storyboard").mkdir()
    command = [sys.executable, "-m", "storyboard", "pull", "film.yaml", "--remote", remote.url]
    process = subprocess.Popen(
        command, cwd=clone, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        out, err = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        pytest.fail("storyboard pull still running after 60 s: it opened the named pipe")
    finally:
        unblock([medium])
    assert process.returncode != 0, (out, err)
    assert f"{remote.url}/cas/sha256/" in err and "is not a regular file but a named pipe" in err
    lines = [line for line in err.splitlines() if "named pipe" in line]
    assert lines and all(len(line) < 400 for line in lines), err
    cached = clone / ".storyboard" / "cache"
    assert not cached.exists() or not [p for p in cached.rglob("*.mp4") if p.is_file()]


# -- links in a folder remote ------------------------------------------------------------------


@pytest.mark.parametrize("linked", ["results", "cas"])
def test_a_folder_of_the_share_that_is_a_link_is_refused_and_nothing_goes_through_it(
    nas: Path, tmp_path: Path, entry: CacheEntry, linked: str
) -> None:
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / linked).mkdir(parents=True)
    (nas / linked).symlink_to(elsewhere / linked, target_is_directory=True)
    store = folder_store(nas)
    with pytest.raises(RemoteError) as caught:
        asyncio.run(push_take(store, entry, take="harbour"))
    message = str(caught.value)
    assert caught.value.kind == "denied" and "\n" not in message, message
    assert f"{store.url}/{linked} is a symbolic link" in message, message
    assert list(elsewhere.rglob("*")) == [elsewhere / linked]  # nothing written through it
    path = {"results": result_path("runware", KEY), "cas": cas_path(entry.results[0].sha256)}
    for look in (store.exists, store.read):
        with pytest.raises(RemoteError, match="is a symbolic link"):
            asyncio.run(look(path[linked]))
    with pytest.raises(RemoteError, match="is a symbolic link"):
        asyncio.run(store.create(f"{linked}/x/y", b"{}"))
    assert list(elsewhere.rglob("*")) == [elsewhere / linked]


def test_reads_through_a_linked_folder_are_refused(
    nas: Path, tmp_path: Path, entry: CacheEntry
) -> None:
    """A remote that held the take, whose cas/sha256/XX and results/ folders are then
    replaced by links to copies elsewhere: no read goes through them."""
    store = folder_store(nas)
    assert asyncio.run(push_take(store, entry, take="harbour")).status == "pushed"
    sha = entry.results[0].sha256
    elsewhere = tmp_path / "elsewhere"
    shutil.move(nas / "cas" / "sha256" / sha[:2], elsewhere / "xx")
    (nas / "cas" / "sha256" / sha[:2]).symlink_to(elsewhere / "xx")
    shutil.move(nas / "results" / "runware", elsewhere / "ns")
    (nas / "results" / "runware").symlink_to(elsewhere / "ns")
    store = folder_store(nas)
    with pytest.raises(RemoteError, match=f"{store.url}/cas/sha256/{sha[:2]} is a symbolic link"):
        asyncio.run(store.download(cas_path(sha), Files(), tmp_path / "t.mp4", sha256=sha))
    assert not (tmp_path / "t.mp4").exists()
    with pytest.raises(RemoteError, match="is a symbolic link"):
        asyncio.run(store.digest(cas_path(sha)))
    with pytest.raises(RemoteError, match=f"{store.url}/results/runware is a symbolic link"):
        asyncio.run(store.read(result_path("runware", KEY)))


def test_an_object_that_is_a_link_is_a_bad_object(nas: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside.json"
    outside.write_text("{}")
    record = nas / result_path("runware", KEY)
    record.parent.mkdir(parents=True)
    record.symlink_to(outside)
    store = folder_store(nas)
    with pytest.raises(RemoteError) as caught:
        asyncio.run(store.read(result_path("runware", KEY)))
    assert caught.value.kind == "corrupt"
    assert "is not a regular file but a symbolic link" in str(caught.value)


def test_a_probe_of_a_share_whose_results_folder_is_a_link_is_refused(
    nas: Path, tmp_path: Path
) -> None:
    (tmp_path / "elsewhere").mkdir()
    (nas / "results").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(RemoteError) as caught:
        asyncio.run(folder_store(nas).probe())
    assert caught.value.kind == "denied" and "results is a symbolic link" in str(caught.value)


def test_the_remote_folder_itself_may_be_a_link(
    nas: Path, tmp_path: Path, entry: CacheEntry
) -> None:
    link = tmp_path / "mnt-films"
    link.symlink_to(nas, target_is_directory=True)
    store = folder_store(link)
    assert asyncio.run(push_take(store, entry, take="harbour")).status == "pushed"
    assert (nas / result_path("runware", KEY)).is_file()
    assert asyncio.run(store.exists(result_path("runware", KEY))) is True
    assert asyncio.run(store.read(result_path("runware", "cd" * 32))) is None


def test_a_remote_folder_that_is_not_there_is_said_so_by_a_look_up(tmp_path: Path) -> None:
    with pytest.raises(RemoteError) as caught:
        asyncio.run(folder_store(tmp_path / "not-mounted").exists(result_path("runware", KEY)))
    assert caught.value.kind == "no-bucket"


# -- the endpoint of an S3 store ---------------------------------------------------------------


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """Fake keys in the environment and no endpoint variable (each test sets its own, in
    the order it needs)."""
    for name in ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "AWS_ENDPOINT", "AWS_PROFILE",
                 "AWS_SESSION_TOKEN", "AWS_ALLOW_HTTP"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAHARDENINGTEST")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-a-secret")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return monkeypatch


def test_the_store_is_given_the_endpoint_plain_http_was_allowed_for(
    aws: pytest.MonkeyPatch,
) -> None:
    """AWS_ENDPOINT_URL names this machine, AWS_ENDPOINT (set after it: obstore alone takes
    the last) another over plain http. Nothing is sent: the opened store's settings are read."""
    aws.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    aws.setenv("AWS_ENDPOINT", "http://192.0.2.7:9")  # TEST-NET-1: never contacted
    store = Store(RemoteConfig("s3://team-films/storyboard", "test"))
    assert store.endpoint() == "http://127.0.0.1:9"
    opened: Any = store.store
    assert opened.config.get("endpoint") == "http://127.0.0.1:9", opened.config
    assert opened.client_options["allow_http"] == "true"


def test_plain_http_is_not_allowed_when_a_farther_endpoint_is_chosen(
    aws: pytest.MonkeyPatch,
) -> None:
    aws.setenv("AWS_ENDPOINT_URL", "http://192.0.2.7:9")
    aws.setenv("AWS_ENDPOINT", "http://127.0.0.1:9")
    opened: Any = Store(RemoteConfig("s3://team-films/storyboard", "test")).store
    assert opened.config.get("endpoint") == "http://192.0.2.7:9"
    assert opened.client_options["allow_http"] == "false"


def test_an_s3_endpoint_variable_of_the_process_that_obstore_would_prefer_forbids_http(
    aws: pytest.MonkeyPatch,
) -> None:
    """obstore reads AWS_ENDPOINT_URL_S3 itself and lets it win over the endpoint it is
    given: a store given another environment allows plain http only if they agree."""
    aws.setenv("AWS_ENDPOINT_URL_S3", "http://192.0.2.7:9")
    env = {"AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_ACCESS_KEY_ID": "AKIAHARDENINGTEST"}
    opened: Any = Store(RemoteConfig("s3://team-films/storyboard", "test"), env=env).store
    assert opened.client_options["allow_http"] == "false"


def listener() -> tuple[str, list[str], socket.socket]:
    """A loopback HTTP server answering 404 to everything; its URL and the requests it got."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    got: list[str] = []

    def serve() -> None:
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return
            with client:
                got.append(client.recv(65536).decode("latin-1").split("\r\n", 1)[0])
                client.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n"
                               b"Connection: close\r\n\r\n")  # fmt: skip

    threading.Thread(target=serve, daemon=True).start()
    return f"http://127.0.0.1:{server.getsockname()[1]}", got, server


def test_requests_go_to_the_endpoint_the_plain_http_decision_looked_at(
    aws: pytest.MonkeyPatch,
) -> None:
    """Both endpoints on loopback: the requests go to AWS_ENDPOINT_URL's, not to the one
    obstore alone would take (AWS_ENDPOINT, set last)."""
    first, to_first, a = listener()
    last, to_last, b = listener()
    try:
        aws.setenv("AWS_ENDPOINT_URL", first)
        aws.setenv("AWS_ENDPOINT", last)
        store = Store(RemoteConfig("s3://team-films/storyboard", "test"))
        assert ended(lambda: asyncio.run(store.exists("results/x.json")), []) is False
    finally:
        a.close()
        b.close()
    assert to_last == [] and len(to_first) == 1, (to_first, to_last)
    assert to_first[0].startswith("HEAD /team-films/storyboard/results/x.json ")
