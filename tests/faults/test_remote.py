"""A remote cache that fails: unreachable, refusing writes, holding damaged objects, raced by
two builds, or without its bucket (issue 15, item 5).

Each case builds a small film against the emulator with a real S3 API (moto) on loopback as
the remote, and asserts what really happened: one clear line about the remote, the build's
outcome, the emulator's ledger (nothing paid twice), the local cache (nothing corrupt entered
it) and the objects in the bucket.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
import threading
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from storyboard.build.pipeline import BuildResult, build
from storyboard.build.remote_transfer import push_take
from storyboard.build.state.cache import Cache
from storyboard.core.events import Event, Note
from storyboard.emulator.server import EmulatorServer
from storyboard.remote.config import RemoteConfig
from storyboard.remote.store import Store, cas_path, result_path
from tests.conftest import CliResult
from tests.e2e.runner import fast_backend
from tests.faults.conftest import Figures
from tests.s3 import S3, free_port

FILM = """\
storyboard: 1
title: Remote faults
defaults: {duration: 3}
shots:
  - {id: dawn, prompt: a harbour at dawn}
  - {id: noon, prompt: the same harbour at noon}
"""
TAKES = 2
#: What a reader may do (moto asks for ``s3:HeadObject`` where S3 asks for ``s3:GetObject``).
READ_ACTIONS = ["s3:Get*", "s3:List*", "s3:Head*"]

Project = Callable[[dict[str, str | bytes]], Path]


def charges(emulator: EmulatorServer) -> list[str]:
    return [e.task_uuid for e in emulator.ledger() if not e.dry_run and e.cost > 0]


def run(root: Path, remote: RemoteConfig | None) -> tuple[BuildResult, list[str]]:
    events: list[Event] = []
    result = build(
        root / "film.yaml", backend=fast_backend(), film_scale=1 / 12, keep_going=True,
        remote=remote, emit=events.append,
    )  # fmt: skip
    notes = [e.message for e in events if isinstance(e, Note) and "remote" in e.message]
    return result, notes


def cache_entries(root: Path) -> list[Path]:
    return sorted((root / ".storyboard" / "cache").glob("*/*/*/entry.json"))


def queued(root: Path) -> list[str]:
    folder = root / ".storyboard" / "remote" / "queue"
    return sorted(p.name for p in folder.glob("*.json")) if folder.is_dir() else []


@pytest.fixture
def film(project: Project, emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("RUNWARE_API_KEY", emulator.api_key)
    monkeypatch.setenv("RUNWARE_BASE_URL", emulator.base_url)
    return project({"film.yaml": FILM})


def test_an_unreachable_remote_is_one_line_and_the_takes_wait_in_the_queue(
    film: Path, emulator: EmulatorServer, s3: S3, monkeypatch: pytest.MonkeyPatch,
    run_cli: Callable[..., CliResult], figures: Figures,
) -> None:  # fmt: skip
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")  # nothing there
    result, notes = run(film, RemoteConfig(s3.url, "test"))
    assert result.ok and len(charges(emulator)) == TAKES  # as the plan said: generate
    assert len(notes) == 2, notes  # the remote, once; what stays queued, once
    assert notes[0].startswith(f"remote: the remote {s3.url} cannot be reached")
    assert "\n" not in notes[0] and "going on without it" in notes[0]
    assert "`storyboard push` sends them" in notes[1]
    assert len(queued(film)) == TAKES and s3.keys() == []
    # the remote is back: `storyboard push` sends what the build left queued
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3.endpoint)
    pushed = run_cli("push", "--remote", s3.url, "--json", cwd=film)
    assert pushed.status == 0, pushed.err
    assert json.loads(pushed.out)["moved"] == TAKES
    assert queued(film) == [] and len(s3.keys("results/")) == TAKES
    figures.add("remote lines printed", len(notes))
    figures.add("takes queued, then pushed by `storyboard push`", TAKES)


def test_a_denied_write_is_a_warning_and_never_fails_the_film(
    film: Path, emulator: EmulatorServer, s3: S3, monkeypatch: pytest.MonkeyPatch,
    figures: Figures,
) -> None:  # fmt: skip
    reader = read_only_credentials(s3, monkeypatch)
    for name, value in reader.items():
        monkeypatch.setenv(name, value)
    result, notes = run(film, RemoteConfig(s3.url, "test"))
    assert result.ok and result.film is not None and len(charges(emulator)) == TAKES
    denied = [n for n in notes if "refused to let these credentials write" in n]
    assert len(denied) == 1 and "going on without writing to it" in denied[0], "\n".join(notes)
    assert len(queued(film)) == TAKES
    # the claim before the first payment was the first write refused: no URL the reader
    # signed was given to the provider after it (it would refuse the PUT); nothing written
    assert [d for d in emulator.deliveries() if d["kind"] == "upload"] == []
    import moto.settings

    monkeypatch.setattr(moto.settings, "INITIAL_NO_AUTH_ACTION_COUNT", float("inf"))
    assert s3.keys() == []
    figures.add("films finished with writes denied", 1)


def test_a_reader_who_pays_still_fetches_what_the_remote_holds(
    project: Project, emulator: EmulatorServer, s3: S3, monkeypatch: pytest.MonkeyPatch,
    figures: Figures,
) -> None:  # fmt: skip
    """A denied write (a claim, a push) stops the writes of the build, not its reads: a take
    the remote holds is still fetched, never failed (it was, once a push had been denied)."""
    monkeypatch.setenv("RUNWARE_API_KEY", emulator.api_key)
    monkeypatch.setenv("RUNWARE_BASE_URL", emulator.base_url)
    remote = RemoteConfig(s3.url, "test")
    writer = project({"film.yaml": FILM})
    first, _ = run(writer, remote)  # a writer makes and pushes both takes
    assert first.ok and len(charges(emulator)) == TAKES
    reader = writer.parent / "reader"
    (reader / ".storyboard").mkdir(parents=True)
    more = FILM.replace("shots:\n", "shots:\n  - {id: first, prompt: a new shot paid here}\n")
    (reader / "film.yaml").write_text(more)
    for name, value in read_only_credentials(s3, monkeypatch).items():
        monkeypatch.setenv(name, value)
    events: list[Event] = []
    result = build(
        reader / "film.yaml", backend=fast_backend(), film_scale=1 / 12, keep_going=True,
        remote=remote, emit=events.append, jobs=1,  # 'first' (a denied claim) goes first
    )  # fmt: skip
    notes = [e.message for e in events if isinstance(e, Note) and "remote" in e.message]
    assert result.ok, [o.message for o in result.outcomes.values()]
    statuses = {t: o.status for t, o in result.outcomes.items()}
    assert statuses == {"first": "generated", "dawn": "remote", "noon": "remote"}, statuses
    assert len(charges(emulator)) == TAKES + 1
    denied = [n for n in notes if "refused to let these credentials write" in n]
    assert len(denied) == 1 and "going on without writing to it" in denied[0], notes
    figures.add("takes fetched by a reader after its writes were denied", 2)


def read_only_credentials(s3: S3, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """An IAM user that may only read, and moto told to check every request's rights."""
    import boto3
    import moto.settings

    iam = boto3.client(
        "iam", endpoint_url=s3.endpoint, region_name="us-east-1",
        aws_access_key_id="AKIAROOT", aws_secret_access_key="root",
    )  # fmt: skip
    name = f"reader-{s3.bucket}"
    iam.create_user(UserName=name)
    policy = iam.create_policy(
        PolicyName=name,
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": READ_ACTIONS, "Resource": "*"}],
            }
        ),
    )
    iam.attach_user_policy(UserName=name, PolicyArn=policy["Policy"]["Arn"])
    key = iam.create_access_key(UserName=name)["AccessKey"]
    monkeypatch.setattr(moto.settings, "INITIAL_NO_AUTH_ACTION_COUNT", 0)
    return {
        "AWS_ACCESS_KEY_ID": key["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"],
    }


@pytest.mark.parametrize("lock_urls", ["served", "gone"])
def test_damaged_objects_never_enter_the_cache_and_nothing_is_paid_twice(
    film: Path, emulator: EmulatorServer, s3: S3, tmp_path: Path, lock_urls: str,
    figures: Figures,
) -> None:  # fmt: skip
    remote = RemoteConfig(s3.url, "test")
    first, _ = run(film, remote)
    assert first.ok
    media = {t: o.entry.results[0] for t, o in first.outcomes.items() if o.entry is not None}
    # dawn's video truncated; noon's replaced by other bytes of the same size
    truncated = cas_path(media["dawn"].sha256)
    s3.put(truncated, s3.get(truncated)[: media["dawn"].bytes // 2])
    altered = cas_path(media["noon"].sha256)
    s3.put(altered, bytes(media["noon"].bytes))
    if lock_urls == "gone":
        httpx.post(emulator.url("/_emulator/reset")).raise_for_status()
    paid_before = len(charges(emulator))
    clone = tmp_path / "clone"
    shutil.copytree(film, clone, ignore=shutil.ignore_patterns("build", ".storyboard"))
    (clone / ".storyboard").mkdir()
    second, notes = run(clone, remote)
    refused = [n for n in notes if "not fetched from the remote" in n]
    assert len(refused) == TAKES, notes
    assert "does not match its sha256" in " ".join(refused)
    assert len(charges(emulator)) == paid_before  # nothing paid: the plan said "remote"
    if lock_urls == "served":  # on to the lock file, as the executor's order says
        assert second.ok and {o.status for o in second.outcomes.values()} == {"locked"}
        assert len(cache_entries(clone)) == TAKES
        for take, result in media.items():
            entry = second.outcomes[take].entry
            assert entry is not None and entry.results[0].sha256 == result.sha256
    else:  # nothing left to fetch: failed, unpaid; the next plan prices them, once
        assert {o.status for o in second.outcomes.values()} == {"failed"}
        assert cache_entries(clone) == []  # nothing corrupt entered the cache
        third, _ = run(clone, remote)
        assert third.ok and {o.status for o in third.outcomes.values()} == {"generated"}
        assert len(charges(emulator)) == paid_before + TAKES
        fourth, _ = run(clone, remote)
        assert fourth.ok and len(charges(emulator)) == paid_before + TAKES
    # the damaged objects were never replaced by anyone: create-only
    assert len(s3.get(truncated)) == media["dawn"].bytes // 2
    figures.add(f"damaged objects refused (lock URLs {lock_urls})", len(refused))


def test_a_record_that_names_a_non_video_is_refused_though_its_sha256_matches(
    film: Path, emulator: EmulatorServer, s3: S3, tmp_path: Path,
    run_cli: Callable[..., CliResult], figures: Figures,
) -> None:  # fmt: skip
    """A writer that is not storyboard (or a broken one) replaced a take's record by one
    whose medium agrees with it, and is not a video: the hash cannot tell, the headers do
    (a clone without the lock file, which reads the record). A clone with the lock fetches
    the media its lock names, and the replaced record does not matter."""
    remote = RemoteConfig(s3.url, "test")
    first, _ = run(film, remote)
    assert first.ok
    dawn = first.outcomes["dawn"].entry
    assert dawn is not None
    junk = b"\x00\x00\x00\x18ftypisom" + bytes(dawn.results[0].bytes)
    sha = hashlib.sha256(junk).hexdigest()
    s3.put(cas_path(sha), junk)
    record_at = result_path(dawn.backend, dawn.key)
    record = json.loads(s3.get(record_at))
    record["results"][0].update(sha256=sha, bytes=len(junk))
    s3.put(record_at, json.dumps(record).encode())
    httpx.post(emulator.url("/_emulator/reset")).raise_for_status()  # the lock's URLs gone
    paid_before = len(charges(emulator))
    clone = tmp_path / "clone"
    shutil.copytree(film, clone, ignore=shutil.ignore_patterns("build", ".storyboard"))
    (clone / ".storyboard").mkdir()
    locked = tmp_path / "locked"
    shutil.copytree(clone, locked)
    (clone / "film.lock").unlink()
    pulled = run_cli("pull", "film.yaml", "--remote", s3.url, "--json", cwd=clone)
    takes = {t["take"]: t for t in json.loads(pulled.out)["takes"]}
    assert takes["noon"]["status"] == "pulled" and takes["dawn"]["status"] == "failed"
    assert "is not a usable video" in takes["dawn"]["message"], takes["dawn"]
    assert len(cache_entries(clone)) == 1  # noon only
    second, notes = run(clone, remote)
    assert second.outcomes["noon"].status == "cached"
    assert second.outcomes["dawn"].status == "failed"  # planned free: never paid here
    assert any("dawn: not fetched from the remote" in n and "not a usable video" in n
               for n in notes), notes  # fmt: skip
    assert len(charges(emulator)) == paid_before and len(cache_entries(clone)) == 1
    figures.add("non-video records refused (pull and build)", 2)
    by_lock = run_cli("pull", "film.yaml", "--remote", s3.url, "--json", cwd=locked)
    assert json.loads(by_lock.out)["moved"] == 2, by_lock.out
    fetched = [json.loads(e.read_text()) for e in cache_entries(locked)]
    assert dawn.results[0].sha256 in {e["results"][0]["sha256"] for e in fetched}


def test_two_builds_pushing_the_same_take_at_once_keep_one_result(
    project: Project, emulator: EmulatorServer, s3: S3, monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path, figures: Figures,
) -> None:  # fmt: skip
    monkeypatch.setenv("RUNWARE_API_KEY", emulator.api_key)
    monkeypatch.setenv("RUNWARE_BASE_URL", emulator.base_url)
    monkeypatch.setenv("STORYBOARD_CLAIM_POLL", "0.1")
    roots = []
    for name in ("one", "two"):
        root = tmp_path / name
        root.mkdir()
        (root / ".storyboard").mkdir()
        (root / "film.yaml").write_text(FILM)
        roots.append(root)
    remote = RemoteConfig(s3.url, "test")
    results: dict[str, tuple[BuildResult, list[str]]] = {}
    start = threading.Barrier(2)

    def go(root: Path) -> None:
        start.wait()
        results[root.name] = run(root, remote)

    threads = [threading.Thread(target=go, args=(r,)) for r in roots]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert all(r.ok for r, _ in results.values())
    assert len(s3.keys("results/")) == TAKES  # one record per take
    assert len(charges(emulator)) == TAKES  # each take claimed, paid once (before claims: 4)
    for result, _ in results.values():
        for outcome in result.outcomes.values():
            assert outcome.entry is not None
            sha = outcome.entry.results[0].sha256
            assert s3.get(cas_path(sha)) == outcome.entry.path(0).read_bytes()
    # at the level of one take: two different results of one key pushed at the same moment
    dawn = results["one"][0].outcomes["dawn"].entry
    assert dawn is not None
    video = dawn.path(0).read_bytes()
    key, space = "ab" * 32, "runware@race:1"
    entries = []
    for index, data in enumerate((video, video + b"\0")):
        folder = tmp_path / f"cache{index}"
        folder.mkdir()
        (folder / "in.mp4").write_bytes(data)
        cache = Cache(folder / "cache")
        entries.append(cache.put(space, key, [folder / "in.mp4"], results=[{}], task_uuid="t"))
    store = Store(remote)

    async def both() -> list[str]:
        done = await asyncio.gather(*(push_take(store, e) for e in entries))
        return sorted(d.status for d in done)

    assert asyncio.run(both()) == ["other", "pushed"]
    record = json.loads(s3.get(result_path(space, key)))
    winner = record["results"][0]["sha256"]
    assert winner in {e.results[0].sha256 for e in entries}
    assert s3.get(cas_path(winner)) in (video, video + b"\0")
    figures.add("records per take after a race", 1)


def test_a_bucket_that_does_not_exist_is_said_and_the_build_goes_on(
    film: Path, emulator: EmulatorServer, s3: S3, figures: Figures
) -> None:
    result, notes = run(film, RemoteConfig("s3://no-such-bucket-here/films", "test"))
    assert result.ok and len(charges(emulator)) == TAKES
    assert notes[0] == (
        "remote: the bucket 'no-such-bucket-here' of the remote s3://no-such-bucket-here/films "
        "does not exist; going on without it"
    )
    assert len(queued(film)) == TAKES
    figures.add("missing bucket: films finished", 1)
