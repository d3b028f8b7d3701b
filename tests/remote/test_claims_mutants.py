"""Mutation audit of the claims on the remote (storyboard.build.remote_claims,
storyboard.build.remote_session): each test fails under a change of the claims' code that the
tests of test_claims.py and test_claims_audit.py let pass (or caught only after waiting out
a TTL of 2 to 45 minutes), and passes on the code as it is.

The real client and backend drive the emulator over loopback; the remote is a ``file://``
folder. Where another clone makes a take, it is built against a folder of its own first, and
its record and media are copied to the shared remote the moment the build under test says it
waits for that clone's claim (the other clone pushing it then). The helpers are those of
tests/remote/test_claims.py.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from storyboard.build.pipeline import BuildResult, build, prepare
from storyboard.build.remote_claims import POLL_ENV, TTL_ENV, Claims
from storyboard.build.state.workspace import Workspace
from storyboard.core.events import Event, Note
from storyboard.emulator.server import EmulatorServer
from storyboard.remote.config import RemoteConfig
from storyboard.remote.store import RemoteError, Store, claim_path, result_path
from tests.e2e.runner import fast_backend
from tests.remote.test_claims import (
    FILM,
    ONE,
    Project,
    ReaderStore,
    charges,
    claim,
    clone,
    key_of,
    plant,
    run,
    space,
)

OURS = "a1" * 16  # the name given to the clone under test
OTHER = "d" * 32  # another clone's
WAITED = "another build claimed this take"


@pytest.fixture
def fast(monkeypatch: pytest.MonkeyPatch, paid: EmulatorServer) -> EmulatorServer:
    monkeypatch.setenv(POLL_ENV, "0.05")
    return paid


def named(root: Path) -> str:
    """Give the clone ``root`` a known name for its claims (as a first build would)."""
    path = root / ".storyboard" / "remote" / "clone"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(OURS + "\n")
    return OURS


def keys(root: Path) -> dict[str, str]:
    return dict(prepare(root / "film.yaml", backend_name="runware").keys)


def building(
    root: Path, remote: RemoteConfig, on_note: Callable[[str], None], **options: Any
) -> tuple[BuildResult, list[str]]:
    """:func:`run`, with ``on_note`` told of each note as the build says it."""
    notes: list[str] = []

    def emit(event: Event) -> None:
        if isinstance(event, Note):
            notes.append(event.message)
            on_note(event.message)

    result = build(
        root / "film.yaml", backend=fast_backend(), film_scale=1 / 12, keep_going=True,
        remote=remote, emit=emit, **options,
    )  # fmt: skip
    return result, notes


def made_elsewhere(tmp_path: Path, film: str) -> Path:
    """Another clone's build of ``film``, pushed to a folder of its own (returned)."""
    folder = tmp_path / "elsewhere" / "films"
    folder.mkdir(parents=True)
    maker = clone(tmp_path, "maker", film)
    result, notes = run(maker, RemoteConfig(f"file://{folder}", "test"))
    assert result.ok, notes
    return folder


def pushed_once_waited(source: Path, nas: Path) -> Callable[[str], None]:
    """Copies the media, then the records, of ``source`` to ``nas`` when a build first says it
    waits for another build's claim: that build pushing its takes then."""
    done: list[str] = []

    def on_note(message: str) -> None:
        if WAITED in message and not done:
            done.append(message)
            for part in ("cas", "results"):  # the media before the record, as a push does
                shutil.copytree(source / part, nas / part, dirs_exist_ok=True)

    return on_note


def workspace(project: Project) -> Workspace:
    root = project({"film.yaml": ONE})
    return Workspace.for_storyboard(root / "film.yaml", root)


# -- a build never pays beside another clone's claim ------------------------------------------


def test_its_own_stale_claim_followed_by_another_clones_never_lets_it_pay_beside_it(
    tmp_path: Path, fast: EmulatorServer, nas: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An earlier build of this clone claimed the take (1) and was killed; its claim lapsed and
    another clone claimed the take next (2) and is making it. This clone's next build must
    wait for that clone's result and fetch it, not resume its own claim 1 and pay again
    (mutant: ``_superseded`` not looking at the next generation)."""
    monkeypatch.setenv(TTL_ENV, "10")
    source = made_elsewhere(tmp_path, ONE)
    assert len(charges(fast)) == 1  # the other clone's payment
    remote = RemoteConfig(f"file://{nas}", "test")
    root = clone(tmp_path, "one", ONE)
    ours = named(root)
    key, ns = key_of(root), space(fast)
    now = time.time()
    plant(nas, claim_path(ns, key, 1), claim(ours, now - 7200, now - 3600))  # never released
    plant(nas, claim_path(ns, key, 2), claim(OTHER, now, now + 3600))  # the other clone's
    started = time.monotonic()
    result, notes = building(root, remote, pushed_once_waited(source, nas))
    assert result.ok, notes
    assert len(charges(fast)) == 1, notes  # paid once, by the other clone
    assert result.outcomes["dusk"].status == "remote", notes  # fetched from the remote
    assert len([n for n in notes if WAITED in n]) == 1
    assert time.monotonic() - started < 10
    assert not (nas / claim_path(ns, key, 3)).exists()


def test_a_reader_refused_a_write_still_waits_for_a_writers_claim_and_fetches_its_take(
    tmp_path: Path, fast: EmulatorServer, nas: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Credentials that may only read: the first write refused (the claim of the take only
    this clone has) makes the session read-only; the takes another clone has claimed and is
    making are still waited for, and fetched once pushed, never paid for beside it (mutant:
    a read-only session asks no claim at all)."""
    monkeypatch.setenv(TTL_ENV, "10")
    source = made_elsewhere(tmp_path, FILM)
    assert len(charges(fast)) == 2  # the writer's payments: dawn, noon
    remote = RemoteConfig(f"file://{nas}", "test")
    more = FILM.replace("shots:\n", "shots:\n  - {id: first, prompt: a shot only here}\n")
    reader = clone(tmp_path, "reader", more)
    ns, now = space(fast), time.time()
    made = keys(reader)
    for take in ("dawn", "noon"):
        plant(nas, claim_path(ns, made[take], 1), claim(OTHER, now, now + 3600))

    async def refused(self: Store, path: str, data: bytes | Path) -> bool:
        raise RemoteError("the remote refused to let these credentials write", "denied")

    monkeypatch.setattr(Store, "create", refused)
    result, notes = building(reader, remote, pushed_once_waited(source, nas), jobs=1)
    assert result.ok, notes
    assert len(charges(fast)) == 3, notes  # 'first' only, here
    statuses = {t: o.status for t, o in result.outcomes.items()}
    assert statuses == {"first": "generated", "dawn": "remote", "noon": "remote"}, notes
    assert sorted(p.name for p in (nas / "claims").rglob("*.json")) == ["1.json", "1.json"]


def test_an_unreadable_next_generation_counts_as_there_after_its_own_claim(
    project: Project, fast: EmulatorServer, nas: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """This clone's claim 1, then something that cannot be read where claim 2 should be (a
    folder): another build's claim of the take after this clone's, as far as it can tell. The
    build does not resume claim 1; it claims the next one it can (3), as the module says:
    what cannot be read there counts as there (mutant: ``_superseded`` taking it as not)."""
    monkeypatch.setenv(TTL_ENV, "8")
    remote = RemoteConfig(f"file://{nas}", "test")
    root = project({"film.yaml": ONE})
    ours = named(root)
    key, ns = key_of(root), space(fast)
    now = time.time()
    plant(nas, claim_path(ns, key, 1), claim(ours, now, now + 3600))
    (nas / claim_path(ns, key, 2)).mkdir()
    result, notes = run(root, remote)
    assert result.ok, notes
    assert json.loads((nas / claim_path(ns, key, 3)).read_text())["clone"] == ours
    assert len(charges(fast)) == 1


# -- a build never waits for nothing ----------------------------------------------------------


def test_its_own_live_claim_is_resumed_at_once(
    project: Project, fast: EmulatorServer, nas: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An earlier build of this clone claimed the take and stopped: the next one resumes the
    claim at once, never waits for it as for another build's (mutant: no own-clone check;
    test_claims.py catches it only after the default TTL, 45 minutes)."""
    monkeypatch.setenv(TTL_ENV, "8")
    remote = RemoteConfig(f"file://{nas}", "test")
    root = project({"film.yaml": ONE})
    ours = named(root)
    key, ns = key_of(root), space(fast)
    now = time.time()
    plant(nas, claim_path(ns, key, 1), claim(ours, now, now + 3600))
    started = time.monotonic()
    result, notes = run(root, remote)
    assert result.ok, notes
    assert time.monotonic() - started < 8
    assert not [n for n in notes if WAITED in n]
    assert not (nas / claim_path(ns, key, 2)).exists()
    assert len(charges(fast)) == 1


def test_another_builds_released_claim_is_followed_at_once(
    project: Project, fast: EmulatorServer, nas: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another build's live claim that it released (it failed the take for good): the next
    generation is claimed at once, with no wait for the claim's ``until`` (mutant: ``_wait``
    not looking for ``N.released``; test_claims.py catches it only after 2 to 45 minutes)."""
    monkeypatch.setenv(TTL_ENV, "8")
    remote = RemoteConfig(f"file://{nas}", "test")
    root = project({"film.yaml": ONE})
    key, ns = key_of(root), space(fast)
    now = time.time()
    plant(nas, claim_path(ns, key, 1), claim(OTHER, now, now + 3600))
    plant(nas, claim_path(ns, key, 1, released=True), b"{}")
    started = time.monotonic()
    result, notes = run(root, remote)
    assert result.ok, notes
    assert time.monotonic() - started < 8
    assert not [n for n in notes if WAITED in n]
    ours = (root / ".storyboard" / "remote" / "clone").read_text().strip()
    assert json.loads((nas / claim_path(ns, key, 2)).read_text())["clone"] == ours
    assert len(charges(fast)) == 1


def test_live_claims_at_every_generation_hold_it_back_for_the_ttl_in_all_not_per_claim(
    project: Project, nas: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Live claims of another clone at generations 1..5: the build waits the TTL in all for
    the take, then tries one more generation without waiting, and pays (mutants: the wait of
    a claim not bounded by the TTL left in all; the deadline started again at each
    generation: both wait twice the TTL)."""
    monkeypatch.setenv(TTL_ENV, "3")
    monkeypatch.setenv(POLL_ENV, "0.05")
    ns, key, now = "runware", "ab" * 32, time.time()
    for generation in range(1, 6):
        plant(nas, claim_path(ns, key, generation), claim(OTHER, now, now + 3600))
    notes: list[Event] = []
    claims = Claims(Store(RemoteConfig(f"file://{nas}", "test")), workspace(project), notes.append)
    started = time.monotonic()
    answer = asyncio.run(claims.claim(ns, key, "dusk"))
    waited = time.monotonic() - started
    assert answer == "pay"
    assert 3 <= waited < 5.5, waited  # the TTL, once (not twice: 6 s)
    said = [e.message for e in notes if isinstance(e, Note)]
    assert [n for n in said if "waited 3 s in all" in n], said
    assert not claims.held  # no claim of its own was made
    assert not (nas / claim_path(ns, key, 6)).exists()


class CountingReader(ReaderStore):
    """A read-only remote (:class:`ReaderStore`) that counts the claims read."""

    def __init__(self, objects: dict[str, bytes], record_after: int) -> None:
        super().__init__(objects, record_after)
        self.claims_read = 0

    async def read(self, path: str, limit: int = 0) -> bytes | None:
        if path.startswith("claims/"):
            self.claims_read += 1
        return await super().read(path, limit)


def test_a_reader_finding_no_claim_pays_after_one_look(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reader (no claim of its own) that finds no claim of the take pays after reading that
    one missing claim: claims are made in order, none is after a missing one (mutant: it
    reads every generation, 9,999 requests per take, and says they are all taken)."""
    monkeypatch.setenv(POLL_ENV, "0.01")
    store = CountingReader({}, record_after=0)
    notes: list[Event] = []
    told: list[str] = []
    claims = Claims(store, workspace(project), notes.append, lambda exc: told.append(str(exc)))  # type: ignore[arg-type]
    assert asyncio.run(claims.claim("runware", "ab" * 32, "dusk")) == "pay"
    assert asyncio.run(claims.claim("runware", "cd" * 32, "dawn")) == "pay"
    assert store.claims_read == 2  # one look per take
    assert store.writes == 1 and len(told) == 1  # refused once, said once (by the session)
    assert not [e for e in notes if isinstance(e, Note) and "without a claim" in e.message]


def test_an_unreachable_remote_is_asked_for_one_claim_then_not_again(
    project: Project,
) -> None:
    """The remote cannot be reached when the first take is claimed: said once (by the
    session), and no later take of the build asks it again, each try waiting for its
    timeouts (mutant: ``_failed`` taking the failures that stop the claims for the others)."""

    class Unreachable:
        calls = 0

        async def create(self, path: str, data: bytes) -> bool:
            Unreachable.calls += 1
            raise RemoteError("the remote cannot be reached (timed out)", "unreachable")

    told: list[str] = []
    notes: list[Event] = []
    claims = Claims(Unreachable(), workspace(project), notes.append, lambda e: told.append(str(e)))  # type: ignore[arg-type]
    for key in ("a" * 64, "b" * 64, "c" * 64):
        assert asyncio.run(claims.claim("runware", key, "dusk")) == "pay"
    assert Unreachable.calls == 1
    assert len(told) == 1 and claims.down is not None
    assert not [e for e in notes if isinstance(e, Note)]  # said there, by the session


# -- a claim is never left held ---------------------------------------------------------------


def test_a_resumed_claim_of_this_clone_is_released_when_its_take_fails_for_good(
    tmp_path: Path, fast: EmulatorServer, nas: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """This clone's build resumes its own claim (an earlier build stopped after claiming),
    and the take then fails for good: the claim is released, and another clone pays for the
    take at once rather than waiting for the claim to lapse (mutant: a resumed claim not
    held, so never released)."""
    monkeypatch.setenv(TTL_ENV, "10")
    remote = RemoteConfig(f"file://{nas}", "test")
    root = clone(tmp_path, "one", ONE)
    ours = named(root)
    key, ns = key_of(root), space(fast)
    now = time.time()
    plant(nas, claim_path(ns, key, 1), claim(ours, now, now + 3600))
    fast.set_faults("moderation*1")  # the task fails for good (and is not billed)
    failed, _ = run(root, remote)
    assert failed.outcomes["dusk"].status == "failed"
    assert (nas / claim_path(ns, key, 1, released=True)).is_file()
    assert not (nas / claim_path(ns, key, 2)).exists()  # its own claim 1 was resumed
    started = time.monotonic()
    other, notes = run(clone(tmp_path, "two", ONE), remote)
    assert other.ok, notes
    assert time.monotonic() - started < 5
    assert not [n for n in notes if WAITED in n]
    assert len(charges(fast)) == 1
    assert json.loads((nas / claim_path(ns, key, 2)).read_text())["clone"] != ours


@pytest.mark.parametrize("case", ["other", "own-again", "unreadable-first"])
def test_release_own_releases_only_this_clones_latest_claim(
    project: Project, nas: Path, case: str
) -> None:
    """``storyboard doctor --abandon``'s release (``release_own``): this clone's latest claim
    of the take, never another clone's (mutants: another clone's released, which a third
    build then pays beside; the first generation taken for the latest; the generations after
    one that cannot be read never looked at)."""
    ws = workspace(project)
    root = ws.project_root
    ours = named(root)
    store = Store(RemoteConfig(f"file://{nas}", "test"))
    ns, key, now = "runware", "ab" * 32, time.time()
    if case == "other":  # another clone holds the take: not this clone's to give up
        plant(nas, claim_path(ns, key, 1), claim(OTHER, now, now + 3600))
        want = None
    elif case == "own-again":  # this clone released claim 1 before, then claimed it again
        plant(nas, claim_path(ns, key, 1), claim(ours, now - 60, now + 3600))
        plant(nas, claim_path(ns, key, 1, released=True), b"{}")
        plant(nas, claim_path(ns, key, 2), claim(ours, now, now + 3600))
        want = 2
    else:  # claim 1 cannot be read (a folder): taken as lapsed, this clone claimed 2
        (nas / claim_path(ns, key, 1)).mkdir(parents=True)
        plant(nas, claim_path(ns, key, 2), claim(ours, now, now + 3600))
        want = 2
    released = asyncio.run(Claims(store, ws).release_own(ns, key))
    assert released is (want is not None)
    found = sorted(p.name for p in (nas / "claims").rglob("*.released"))
    expected = {"other": [], "own-again": ["1.released", "2.released"]}.get(case, ["2.released"])
    assert found == expected
    assert not (nas / result_path(ns, key)).exists()
