"""Claims (storyboard.build.remote_claims): two builds of one film at once, in two clones
with one remote, pay for each take once; a claim that lapsed, was released, or is this
clone's own never holds a build back; a claim by a build that is gone holds it back for the
TTL at most.

The real client and backend drive the emulator over loopback; the remote is a ``file://``
folder (the S3 race is in tests/faults/test_remote.py). Every test asserts on the emulator's
ledger and on the objects in the remote.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from storyboard.backends.namespaces import namespace
from storyboard.build.pipeline import BuildResult, build
from storyboard.build.remote_claims import POLL_ENV, TTL_ENV
from storyboard.core.events import Event, Note
from storyboard.emulator.server import EmulatorServer
from storyboard.remote.config import RemoteConfig
from storyboard.remote.store import claim_path, result_path
from tests.e2e.runner import fast_backend

Project = Callable[[dict[str, str | bytes]], Path]

FILM = """\
storyboard: 1
title: Claims
defaults: {duration: 3}
shots:
  - {id: dawn, prompt: '[dawn] a harbour at dawn'}
  - {id: noon, prompt: '[noon] the same harbour at noon'}
"""
ONE = """\
storyboard: 1
title: Claims
shots:
  - {id: dusk, duration: 3, prompt: '[dusk] the harbour at dusk'}
"""


def charges(emulator: EmulatorServer) -> list[str]:
    return [e.task_uuid for e in emulator.ledger() if not e.dry_run and e.cost > 0]


def clone(tmp_path: Path, name: str, film: str = FILM) -> Path:
    root = tmp_path / name
    (root / ".storyboard").mkdir(parents=True)
    (root / "film.yaml").write_text(film)
    return root


def run(root: Path, remote: RemoteConfig, **options: Any) -> tuple[BuildResult, list[str]]:
    events: list[Event] = []
    result = build(
        root / "film.yaml", backend=fast_backend(), film_scale=1 / 12, keep_going=True,
        remote=remote, emit=events.append, **options,
    )  # fmt: skip
    return result, [e.message for e in events if isinstance(e, Note)]


@pytest.fixture
def fast_claims(monkeypatch: pytest.MonkeyPatch, paid: EmulatorServer) -> EmulatorServer:
    monkeypatch.setenv(POLL_ENV, "0.05")
    return paid


def space(emulator: EmulatorServer) -> str:
    return namespace("runware", base_url=emulator.base_url)


def plant(nas: Path, path: str, body: dict[str, Any] | bytes) -> None:
    target = nas / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(body if isinstance(body, bytes) else json.dumps(body).encode())


def claim(clone_name: str, claimed: float, until: float) -> dict[str, Any]:
    return {"version": 1, "clone": clone_name, "take": "dusk", "claimed": claimed, "until": until}


def key_of(root: Path) -> str:
    from storyboard.build.pipeline import prepare

    return prepare(root / "film.yaml", backend_name="runware").keys["dusk"]


def test_two_clones_building_at_once_pay_for_each_take_once(
    tmp_path: Path, fast_claims: EmulatorServer, nas: Path
) -> None:
    remote = RemoteConfig(f"file://{nas}", "test")
    roots = [clone(tmp_path, "one"), clone(tmp_path, "two")]
    results: dict[str, tuple[BuildResult, list[str]]] = {}
    start = threading.Barrier(2)

    def go(root: Path) -> None:
        start.wait()
        results[root.name] = run(root, remote, jobs=1)

    threads = [threading.Thread(target=go, args=(r,)) for r in roots]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert set(results) == {"one", "two"}
    assert all(r.ok for r, _ in results.values()), [n for _, ns in results.values() for n in ns]
    assert len(charges(fast_claims)) == 2  # one per take (before claims: 4)
    for take in ("dawn", "noon"):
        statuses = sorted(results[n][0].outcomes[take].status for n in ("one", "two"))
        assert statuses == ["generated", "remote"], (take, statuses)
    films = [results[n][0].film for n in ("one", "two")]
    assert films[0] is not None and films[1] is not None
    assert films[0].read_bytes() == films[1].read_bytes()
    waited = [n for _, ns in results.values() for n in ns if "another build claimed" in n]
    assert waited, "the second build said it waited"
    claims = sorted(p.relative_to(nas).as_posix() for p in (nas / "claims").rglob("*.json"))
    assert [c.rsplit("/", 1)[1] for c in claims] == ["1.json", "1.json"]


def test_a_lapsed_or_released_claim_is_followed_by_the_next(
    project: Project, fast_claims: EmulatorServer, nas: Path
) -> None:
    remote = RemoteConfig(f"file://{nas}", "test")
    root = project({"film.yaml": ONE})
    key, ns = key_of(root), space(fast_claims)
    now = time.time()
    plant(nas, claim_path(ns, key, 1), claim("a" * 32, now - 7200, now - 3600))  # lapsed
    plant(nas, claim_path(ns, key, 2), claim("b" * 32, now, now + 3600))  # live, but:
    plant(nas, claim_path(ns, key, 2, released=True), b"{}")  # released
    plant(nas, claim_path(ns, key, 3), b"not a claim")  # taken as lapsed
    started = time.monotonic()
    result, notes = run(root, remote)
    assert result.ok, notes
    assert time.monotonic() - started < 30  # never waited for the TTL (45 minutes)
    assert not [n for n in notes if "another build claimed" in n]
    assert len(charges(fast_claims)) == 1
    mine = json.loads((nas / claim_path(ns, key, 4)).read_text())
    ours = (root / ".storyboard" / "remote" / "clone").read_text().strip()
    assert mine["clone"] == ours and mine["take"] == "dusk"
    assert (nas / result_path(ns, key)).is_file()


def test_a_claim_of_a_build_that_is_gone_holds_the_take_back_for_the_ttl_only(
    project: Project, fast_claims: EmulatorServer, nas: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TTL_ENV, "1.5")
    remote = RemoteConfig(f"file://{nas}", "test")
    root = project({"film.yaml": ONE})
    key, ns = key_of(root), space(fast_claims)
    now = time.time()
    plant(nas, claim_path(ns, key, 1), claim("c" * 32, now, now + 10 * 365 * 86400))
    started = time.monotonic()
    result, notes = run(root, remote)
    waited = time.monotonic() - started
    assert result.ok, notes
    assert 1.5 <= waited < 30, waited  # the TTL after it first saw the claim, not its 'until'
    said = [n for n in notes if "another build claimed this take" in n]
    assert len(said) == 1 and "rather than paying for it again" in said[0]
    assert len(charges(fast_claims)) == 1
    assert json.loads((nas / claim_path(ns, key, 2)).read_text())["take"] == "dusk"


def test_this_clones_own_claim_and_a_failed_take_release(
    project: Project, fast_claims: EmulatorServer, nas: Path
) -> None:
    remote = RemoteConfig(f"file://{nas}", "test")
    root = project({"film.yaml": ONE})
    key, ns = key_of(root), space(fast_claims)
    fast_claims.set_faults("moderation*1")  # the first task fails for good
    failed, _ = run(root, remote)
    assert failed.outcomes["dusk"].status == "failed"
    assert (nas / claim_path(ns, key, 1, released=True)).is_file()  # others need not wait
    # the next build of this clone: its own claim (released or not) never holds it back
    (nas / claim_path(ns, key, 1, released=True)).unlink()
    started = time.monotonic()
    again, notes = run(root, remote)
    assert again.ok, notes
    assert time.monotonic() - started < 30
    assert not [n for n in notes if "another build claimed" in n]
    assert len(charges(fast_claims)) == 1  # the moderated task was never billed
    assert not (nas / claim_path(ns, key, 2)).exists()


def test_without_a_clone_name_it_can_read_claims_are_not_made_and_it_is_said(
    project: Project, fast_claims: EmulatorServer, nas: Path
) -> None:
    remote = RemoteConfig(f"file://{nas}", "test")
    root = project({"film.yaml": ONE})
    name = root / ".storyboard" / "remote" / "clone"
    name.parent.mkdir(parents=True)
    name.write_text("not a name\n")
    result, notes = run(root, remote)
    assert result.ok
    said = [n for n in notes if "without a claim" in n]
    assert len(said) == 1 and "is not a clone's name storyboard wrote" in said[0]
    assert name.read_text() == "not a name\n"  # never replaced
    assert not (nas / "claims").exists()
    assert len(charges(fast_claims)) == 1


def test_a_take_never_sent_releases_its_claim(
    project: Project, fast_claims: EmulatorServer, nas: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.s3 import free_port

    closed = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens: no byte is sent
    monkeypatch.setenv("RUNWARE_BASE_URL", closed)
    remote = RemoteConfig(f"file://{nas}", "test")
    root = project({"film.yaml": ONE})
    key, ns = key_of(root), namespace("runware", base_url=closed)
    result, _ = run(root, remote)
    assert result.outcomes["dusk"].status == "failed"
    assert "nothing was sent" in result.outcomes["dusk"].message
    assert (nas / claim_path(ns, key, 1)).is_file()
    assert (nas / claim_path(ns, key, 1, released=True)).is_file()  # nothing pending there
    assert charges(fast_claims) == []


class ReaderStore:
    """A remote these credentials may only read: every write is refused; the take's record
    appears after ``record_after`` looks (another build pushing it)."""

    def __init__(self, objects: dict[str, bytes], record_after: int) -> None:
        self.objects, self.record_after, self.looks = objects, record_after, 0
        self.writes = 0

    async def create(self, path: str, data: bytes) -> bool:
        from storyboard.remote.store import RemoteError

        self.writes += 1
        raise RemoteError("the remote refused to let these credentials write", "denied")

    async def read(self, path: str, limit: int = 0) -> bytes | None:
        return self.objects.get(path)

    async def exists(self, path: str) -> bool:
        if path.startswith("results/"):
            self.looks += 1
            return self.looks > self.record_after
        return path in self.objects


@pytest.mark.parametrize("held", ["live", "none", "lapsed"])
def test_a_reader_makes_no_claim_but_waits_for_a_writers(
    project: Project, monkeypatch: pytest.MonkeyPatch, held: str
) -> None:
    import asyncio

    from storyboard.build.remote_claims import Claims
    from storyboard.build.state.workspace import Workspace

    monkeypatch.setenv(POLL_ENV, "0.01")
    root = project({"film.yaml": ONE})
    workspace = Workspace.for_storyboard(root / "film.yaml", root)
    ns, key, now = "runware", "ab" * 32, time.time()
    objects = {}
    if held == "live":
        objects[claim_path(ns, key, 1)] = json.dumps(claim("d" * 32, now, now + 60)).encode()
    elif held == "lapsed":
        objects[claim_path(ns, key, 1)] = json.dumps(claim("d" * 32, now - 99, now - 9)).encode()
    store = ReaderStore(objects, record_after=3)
    told: list[str] = []
    notes: list[Event] = []
    claims = Claims(store, workspace, notes.append, lambda exc: told.append(str(exc)))  # type: ignore[arg-type]
    answer = asyncio.run(claims.claim(ns, key, "dusk"))
    assert answer == ("arrived" if held == "live" else "pay")
    assert store.writes == 1 and len(told) == 1  # refused once, said once (by the session)
    assert store.looks == (4 if held == "live" else 0)  # waited for the writer's record
    # the next take of the same build: no claim is tried again, others' are still read
    asyncio.run(claims.claim(ns, "cd" * 32, "other"))
    assert store.writes == 1 and len(told) == 1


def test_abandon_releases_this_clones_claim_and_another_clone_pays_at_once(
    tmp_path: Path, fast_claims: EmulatorServer, nas: Path, monkeypatch: pytest.MonkeyPatch,
    run_cli: Callable[..., Any],
) -> None:  # fmt: skip
    monkeypatch.setenv(TTL_ENV, "120")  # a claim left held would hold the other clone 2 min
    remote = RemoteConfig(f"file://{nas}", "test")
    one, two = clone(tmp_path, "one", ONE), clone(tmp_path, "two", ONE)
    fast_claims.add_fault("corrupt-result", times=1)  # one's take: paid, broken, pending
    first, _ = run(one, remote)
    assert first.outcomes["dusk"].status == "failed"
    key, ns = key_of(one), space(fast_claims)
    assert (nas / claim_path(ns, key, 1)).is_file()
    assert not (nas / claim_path(ns, key, 1, released=True)).exists()  # still pending
    monkeypatch.setenv("STORYBOARD_REMOTE", f"file://{nas}")
    given = run_cli("doctor", str(one / "film.yaml"), "--abandon", "dusk")
    assert given.status == 0, given.err
    assert "released this clone's claim of it on the remote" in given.err
    assert (nas / claim_path(ns, key, 1, released=True)).is_file()
    started = time.monotonic()
    other, notes = run(two, remote)
    assert other.ok, notes
    assert time.monotonic() - started < 60  # not held back by the claim given up
    assert not [n for n in notes if "another build claimed" in n]
    assert len(charges(fast_claims)) == 2
    assert json.loads((nas / claim_path(ns, key, 2)).read_text())["take"] == "dusk"
