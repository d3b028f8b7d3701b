"""The remote in a build (:mod:`storyboard.build.remote_session`,
:mod:`storyboard.build.remote_transfer`), against the emulator and a real S3 API (moto) over
loopback, or a ``file://`` remote.

Clone A builds *The Keeper of Skerry Point* with a remote and pushes every take; the emulator
then forgets every result (``POST /_emulator/reset``), so the lock's URLs are gone; clone B,
with an empty cache, gets every take from the remote, pays nothing and cuts the same film.
A build with nothing to do never asks the remote; a take whose push failed stays queued on
disk for ``storyboard push``.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from storyboard.build.pipeline import BuildResult, build, prepare
from storyboard.core.events import Event, Note, TakeCached
from storyboard.emulator.server import EmulatorServer
from storyboard.remote.config import RemoteConfig
from storyboard.remote.store import Store
from tests.e2e.runner import fast_backend
from tests.s3 import S3

FILM_SCALE = 1 / 12
Project = Callable[[dict[str, str | bytes]], Path]


def charges(emulator: EmulatorServer) -> list[str]:
    return [e.task_uuid for e in emulator.ledger() if not e.dry_run and e.cost > 0]


def built(
    root: Path, remote: RemoteConfig | None, events: list[Event] | None = None
) -> BuildResult:
    sink = events.append if events is not None else (lambda _e: None)
    result = build(
        root / "lighthouse.yaml", backend=fast_backend(), film_scale=FILM_SCALE,
        remote=remote, emit=sink,
    )  # fmt: skip
    assert result.ok, [(o.take, o.message) for o in result.outcomes.values()]
    return result


def test_a_second_clone_gets_every_take_from_the_remote_and_pays_nothing(
    example: Callable[[str], Path], paid: EmulatorServer, s3: S3, tmp_path: Path
) -> None:
    remote = RemoteConfig(s3.url, "test")
    a = example("lighthouse")
    first = built(a, remote)
    takes = len(first.outcomes)
    assert takes == 7 and {o.status for o in first.outcomes.values()} == {"generated"}
    paid_for = charges(paid)
    assert len(paid_for) == takes
    # every take pushed before the build returned: a record per take, media by content
    records = s3.keys("results/")
    assert len(records) == takes, records
    for o in first.outcomes.values():
        assert o.entry is not None
        sha = o.entry.results[0].sha256
        assert s3.get(f"cas/sha256/{sha[:2]}/{sha}") == o.entry.path(0).read_bytes()
    assert first.remote is not None and sorted(first.remote["pushed"]) == sorted(first.outcomes)
    assert first.remote["queued"] == []
    assert s3.keys("uploads/") == []  # the provider's uploads were moved into place

    # the provider forgets: the lock's URLs are gone
    httpx.post(paid.url("/_emulator/reset")).raise_for_status()
    paid.configure(api_keys=frozenset({paid.api_key}))
    b = tmp_path / "clone-b"
    shutil.copytree(a, b, ignore=shutil.ignore_patterns("build", ".storyboard"))
    (b / ".storyboard").mkdir()
    plan = prepare(b / "lighthouse.yaml", backend_name=first.prepared.plan.pricing.namespace,
                   remote=remote).plan  # fmt: skip
    assert {i.status for i in plan.items} == {"remote"}
    assert plan.total == 0 and plan.chargeable == 0
    events: list[Event] = []
    second = built(b, remote, events)
    assert {o.status for o in second.outcomes.values()} == {"remote"}
    assert sorted(e.take for e in events if isinstance(e, TakeCached) and e.source == "remote") \
        == sorted(second.outcomes)  # fmt: skip
    assert charges(paid) == [] and second.spent == 0
    assert second.film is not None and first.film is not None
    assert (
        hashlib.sha256(second.film.read_bytes()).digest()
        == hashlib.sha256(first.film.read_bytes()).digest()
    )
    assert (b / "lighthouse.lock").read_bytes() == (a / "lighthouse.lock").read_bytes()
    notes = [e.message for e in events if isinstance(e, Note) and "remote" in e.message]
    assert notes == [], notes
    assert json.loads(json.dumps(second.to_json()))["remote"]["pushed"] == []


ONE_TAKE = """\
storyboard: 1
title: One take
shots:
  - {id: harbour, duration: 3, prompt: A small stone harbour at dawn}
"""


@pytest.fixture
def one_take(project: Project, paid: EmulatorServer) -> Path:
    return project({"film.yaml": ONE_TAKE}) / "film.yaml"


def test_the_provider_puts_the_result_into_the_bucket_before_the_build_downloads_it(
    one_take: Path, paid: EmulatorServer, s3: S3, monkeypatch: pytest.MonkeyPatch
) -> None:
    from storyboard.backends.runware.client import RunwareClient

    seen: list[list[str]] = []
    download = RunwareClient.download

    async def watched(self: RunwareClient, video: object, dest: Path, **kw: object) -> object:
        seen.append(s3.keys())  # what the bucket holds when the first byte is asked for
        return await download(self, video, dest, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(RunwareClient, "download", watched)
    result = build(one_take, backend=fast_backend(), film_scale=FILM_SCALE,
                   remote=RemoteConfig(s3.url, "test"))  # fmt: skip
    assert result.ok
    outcome = result.outcomes["harbour"]
    assert outcome.status == "generated" and outcome.entry is not None
    task = outcome.entry.task_uuid
    # the emulator PUT the result through the presigned URL, before the build downloaded it
    uploads = [d for d in paid.deliveries() if d["kind"] == "upload"]
    assert [d["ok"] for d in uploads] == [True]
    assert uploads[0]["url"] == f"{s3.endpoint}/{s3.bucket}/films/uploads/{task}"
    claim = f"claims/{_folder(paid)}/{outcome.entry.key}/1.json"  # made before paying
    assert seen == [[claim, f"uploads/{task}"]]
    # then verified against the downloaded bytes and copied into place, not sent again
    sha = outcome.entry.results[0].sha256
    record = f"results/{_folder(paid)}/{outcome.entry.key}.json"
    assert s3.keys() == [f"cas/sha256/{sha[:2]}/{sha}", claim, record]
    assert s3.get(f"cas/sha256/{sha[:2]}/{sha}") == outcome.entry.path(0).read_bytes()
    assert len(charges(paid)) == 1


def test_a_result_whose_url_is_gone_is_fetched_from_the_bucket(
    one_take: Path, paid: EmulatorServer, s3: S3, monkeypatch: pytest.MonkeyPatch
) -> None:
    from storyboard.backends.runware.client import RunwareClient
    from storyboard.backends.runware.errors import RunwareDownloadError

    async def gone(self: RunwareClient, video: object, dest: Path, **kw: object) -> object:
        raise RunwareDownloadError("the result URL answered 404", status_code=404)

    monkeypatch.setattr(RunwareClient, "download", gone)
    result = build(one_take, backend=fast_backend(), film_scale=FILM_SCALE,
                   remote=RemoteConfig(s3.url, "test"))  # fmt: skip
    assert result.ok, [o.message for o in result.outcomes.values()]
    entry = result.outcomes["harbour"].entry
    assert entry is not None
    sha = entry.results[0].sha256
    assert s3.get(f"cas/sha256/{sha[:2]}/{sha}") == entry.path(0).read_bytes()
    assert len(charges(paid)) == 1


def _folder(emulator: EmulatorServer) -> str:
    from storyboard.backends.namespaces import namespace

    return namespace("runware", base_url=emulator.base_url).replace(":", "-").replace("@", "-")


TWO_TAKES = """\
storyboard: 1
title: Harbour
shots:
  - {id: harbour, duration: 3, prompt: a small stone harbour at dawn}
  - {id: nets, duration: 3, prompt: an old fisherman mends a net}
"""


def test_a_build_with_nothing_to_do_never_asks_the_remote(
    project: Project, paid: EmulatorServer, nas: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = project({"film.yaml": TWO_TAKES})
    remote = RemoteConfig(f"file://{nas}", "test")
    first = build(root / "film.yaml", backend=fast_backend(), film_scale=1 / 12, remote=remote)
    assert first.ok and len(list((nas / "results").rglob("*.json"))) == 2
    second = build(root / "film.yaml", backend=fast_backend(), film_scale=1 / 12, remote=remote)
    assert second.ok and {o.status for o in second.outcomes.values()} == {"cached"}
    opened: list[str] = []

    def refuse(self: Store) -> None:
        opened.append(self.url)
        raise AssertionError("a no-op build asked the remote")

    monkeypatch.setattr(Store, "_open", refuse)
    third = build(root / "film.yaml", backend=fast_backend(), film_scale=1 / 12, remote=remote)
    assert third.ok and opened == [] and third.remote is None  # the no-op shortcut


def test_a_paid_take_made_without_the_remote_is_pushed_by_the_next_build_that_stores_one(
    project: Project, paid: EmulatorServer, nas: Path
) -> None:
    """The queue is on disk: a build whose push failed leaves it, and it survives the
    process (here: a remote folder that is missing, then made)."""
    root = project({"film.yaml": TWO_TAKES})
    gone = nas.parent / "later"
    remote = RemoteConfig(f"file://{gone}", "test")
    first = build(root / "film.yaml", backend=fast_backend(), film_scale=1 / 12, remote=remote)
    assert first.ok and first.remote is not None
    assert sorted(first.remote["queued"]) == ["harbour", "nets"]
    queue = sorted((root / ".storyboard" / "remote" / "queue").iterdir())
    assert len(queue) == 2
    gone.mkdir()
    from storyboard.cli.main import main

    assert main(["push", str(root / "film.yaml"), "--remote", f"file://{gone}"]) == 0
    assert list((root / ".storyboard" / "remote" / "queue").iterdir()) == []
    assert len(list((gone / "results").rglob("*.json"))) == 2


def test_a_record_is_written_only_after_its_media(
    tmp_path: Path, nas: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Create-only writes in the order readers rely on: every medium, then the record (a
    record never names a medium the remote does not hold)."""
    import asyncio

    from storyboard.build.remote_transfer import push_take
    from storyboard.build.state.cache import Cache
    from storyboard.media import render_animatic
    from storyboard.remote.store import RemoteError

    video = render_animatic(tmp_path / "in.mp4", width=160, height=90, duration_s=1)
    entry = Cache(tmp_path / "cache").put("runware", "cd" * 32, [video], results=[{}])
    store = Store(RemoteConfig(f"file://{nas}", "test"))
    written: list[str] = []
    create = Store.create

    async def media_refused(self: Store, path: str, data: bytes | Path) -> bool:
        written.append(path)
        if path.startswith("cas/"):
            raise RemoteError("the remote refused to let these credentials write", "denied")
        return await create(self, path, data)

    monkeypatch.setattr(Store, "create", media_refused)
    with pytest.raises(RemoteError):
        asyncio.run(push_take(store, entry, take="harbour"))
    sha = entry.results[0].sha256
    assert written == [f"cas/sha256/{sha[:2]}/{sha}"]  # the record was never tried
    assert not (nas / "results").exists()
    monkeypatch.setattr(Store, "create", create)
    written.clear()

    async def watched(self: Store, path: str, data: bytes | Path) -> bool:
        written.append(path)
        return await create(self, path, data)

    monkeypatch.setattr(Store, "create", watched)
    assert asyncio.run(push_take(store, entry, take="harbour")).status == "pushed"
    assert written == [f"cas/sha256/{sha[:2]}/{sha}", "results/runware/" + "cd" * 32 + ".json"]
    assert (nas / written[0]).read_bytes() == entry.path(0).read_bytes()
