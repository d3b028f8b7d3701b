"""Audit of the claims on the remote (storyboard.build.remote_claims): what another clone
or a hostile writer leaves in ``claims/`` never makes two builds pay for one take, nor holds a
build back longer than the TTL.

The real client and backend drive the emulator over loopback; the remote is a ``file://``
folder. The helpers are those of tests/remote/test_claims.py.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from storyboard.build.remote_claims import POLL_ENV, TTL_ENV
from storyboard.emulator.server import EmulatorServer
from storyboard.remote.config import RemoteConfig
from storyboard.remote.store import claim_path
from tests.remote.test_claims import ONE, Project, charges, claim, key_of, plant, run, space


@pytest.fixture
def claims(monkeypatch: pytest.MonkeyPatch, paid: EmulatorServer) -> EmulatorServer:
    monkeypatch.setenv(POLL_ENV, "0.05")
    return paid


def test_its_own_released_claim_never_lets_it_pay_past_the_next_generation(
    project: Project, claims: EmulatorServer, nas: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """This clone failed the take and released claim 1; another clone then claimed it (2)
    and is paying for it. The next build of this clone waits for that one (here it is gone:
    the TTL), and never pays beside it on the strength of its own released claim."""
    monkeypatch.setenv(TTL_ENV, "1.5")
    remote = RemoteConfig(f"file://{nas}", "test")
    root = project({"film.yaml": ONE})
    key, ns = key_of(root), space(claims)
    claims.set_faults("moderation*1")  # the first task fails for good
    failed, _ = run(root, remote)
    assert failed.outcomes["dusk"].status == "failed"
    assert (nas / claim_path(ns, key, 1, released=True)).is_file()
    now = time.time()
    plant(nas, claim_path(ns, key, 2), claim("d" * 32, now, now + 3600))  # the other clone
    started = time.monotonic()
    again, notes = run(root, remote)
    assert again.ok, notes
    assert time.monotonic() - started >= 1.5  # it waited for the other clone's claim
    assert [n for n in notes if "another build claimed this take" in n], notes
    ours = (root / ".storyboard" / "remote" / "clone").read_text().strip()
    assert json.loads((nas / claim_path(ns, key, 3)).read_text())["clone"] == ours
    assert len(charges(claims)) == 1


@pytest.mark.parametrize("kind", ["folder", "fifo", "symlink"])
def test_a_claim_that_is_not_a_file_is_taken_as_lapsed(
    project: Project, claims: EmulatorServer, nas: Path, kind: str, tmp_path: Path
) -> None:
    """A folder, a named pipe or a link where a claim should be is a claim that cannot be
    read: lapsed, and the next generation is claimed (never a take paid without a claim,
    which another clone, finding the same, would pay for too)."""
    import os

    remote = RemoteConfig(f"file://{nas}", "test")
    root = project({"film.yaml": ONE})
    key, ns = key_of(root), space(claims)
    first = nas / claim_path(ns, key, 1)
    first.parent.mkdir(parents=True)
    if kind == "folder":
        first.mkdir()
    elif kind == "fifo":
        os.mkfifo(first)
    else:
        elsewhere = tmp_path / "elsewhere.json"
        now = time.time()
        elsewhere.write_text(json.dumps(claim("e" * 32, now, now + 3600)))
        first.symlink_to(elsewhere)
    started = time.monotonic()
    result, notes = run(root, remote)
    assert result.ok, notes
    assert time.monotonic() - started < 30
    assert not [n for n in notes if "without one" in n or "without a claim" in n], notes
    ours = (root / ".storyboard" / "remote" / "clone").read_text().strip()
    assert json.loads((nas / claim_path(ns, key, 2)).read_text())["clone"] == ours
    assert len(charges(claims)) == 1


def test_a_claim_planted_for_every_generation_holds_it_back_for_the_ttl_at_most(
    project: Project, claims: EmulatorServer, nas: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Live claims of another clone at many generations: the build waits the TTL in all,
    and then pays, without looking through every claim after the TTL (on S3, thousands of
    requests: minutes past the TTL)."""
    from storyboard.remote.store import Store

    monkeypatch.setenv(TTL_ENV, "1")
    remote = RemoteConfig(f"file://{nas}", "test")
    root = project({"film.yaml": ONE})
    key, ns = key_of(root), space(claims)
    now = time.time()
    body = json.dumps(claim("f" * 32, now, now + 3600)).encode()
    for generation in range(1, 300):
        plant(nas, claim_path(ns, key, generation), body)
    looked: list[str] = []
    read = Store.read

    async def counted(self: Store, path: str, limit: int = 1 << 20) -> bytes | None:
        if path.startswith("claims/"):
            looked.append(path)
        return await read(self, path, limit)

    monkeypatch.setattr(Store, "read", counted)
    started = time.monotonic()
    result, notes = run(root, remote)
    assert result.ok, notes
    assert time.monotonic() - started >= 1
    assert len(looked) <= 3, len(looked)  # the first claim, then one more try at most
    said = [n for n in notes if "paying for it without a claim" in n]
    assert len(said) == 1, notes
    assert len(charges(claims)) == 1


def test_releases_stop_once_the_remote_is_down(tmp_path: Path) -> None:
    """A remote that went down (unreachable: each request waits for its timeouts and
    retries) is not asked again for every take that fails after it."""
    import asyncio

    from storyboard.build.remote_claims import Claims
    from storyboard.build.state.workspace import Workspace
    from storyboard.remote.store import RemoteError

    class Down:
        calls = 0

        async def create(self, path: str, data: bytes) -> bool:
            Down.calls += 1
            raise RemoteError("the remote cannot be reached (timed out)", "unreachable")

    (tmp_path / ".storyboard").mkdir()
    (tmp_path / "film.yaml").write_text(ONE)
    workspace = Workspace.for_storyboard(tmp_path / "film.yaml", tmp_path)
    claims = Claims(Down(), workspace)  # type: ignore[arg-type]
    ns = "runware@127.0.0.1-9"
    for key in ("a" * 64, "b" * 64, "c" * 64):
        claims.held[(ns, key)] = 1
    for key in ("a" * 64, "b" * 64, "c" * 64):
        asyncio.run(claims.release(ns, key))
    assert Down.calls == 1
