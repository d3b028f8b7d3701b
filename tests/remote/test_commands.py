"""The remote from the command line: its configuration, ``plan``'s ``remote`` status,
``push``, ``pull`` and ``remote``, previews kept home, and a no-op build that never asks.

These use a ``file://`` remote (a NAS folder) and the emulator over loopback.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from storyboard.build import build
from storyboard.emulator.server import EmulatorServer
from storyboard.remote.config import RemoteConfig, find_remote
from tests.conftest import CliResult
from tests.e2e.runner import fast_backend

FILM = """\
storyboard: 1
title: Harbour
shots:
  - {id: harbour, duration: 3, prompt: a small stone harbour at dawn}
  - {id: nets, duration: 3, prompt: an old fisherman mends a net}
"""

Project = Callable[[dict[str, str | bytes]], Path]
Cli = Callable[..., CliResult]


@pytest.fixture
def nas(tmp_path: Path) -> Path:
    folder = tmp_path / "nas" / "films"
    folder.mkdir(parents=True)
    return folder


@pytest.fixture
def paid(emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch) -> EmulatorServer:
    monkeypatch.setenv("RUNWARE_API_KEY", emulator.api_key)
    monkeypatch.setenv("RUNWARE_BASE_URL", emulator.base_url)
    monkeypatch.delenv("STORYBOARD_REMOTE", raising=False)
    return emulator


def charges(emulator: EmulatorServer) -> int:
    return len([e for e in emulator.ledger() if not e.dry_run and e.cost > 0])


# -- configuration ---------------------------------------------------------------------------


def test_the_remote_comes_from_the_flag_then_the_environment_then_storyboard_toml(
    tmp_path: Path, nas: Path
) -> None:
    (tmp_path / "storyboard.toml").write_text('[remote]\nurl = "s3://team-films/storyboard"\n')
    found = find_remote(tmp_path, env={})
    assert found == RemoteConfig("s3://team-films/storyboard", str(tmp_path / "storyboard.toml"))
    env = {"STORYBOARD_REMOTE": f"file://{nas}"}
    assert find_remote(tmp_path, env=env) == RemoteConfig(f"file://{nas}", "STORYBOARD_REMOTE")
    assert find_remote(tmp_path, env={"STORYBOARD_REMOTE": ""}) is None
    flag = find_remote(tmp_path, flag="gs://other/x/", env=env)
    assert flag == RemoteConfig("gs://other/x", "--remote")
    assert find_remote(tmp_path, disabled=True, env=env) is None
    (tmp_path / "storyboard.toml").write_text('[remote]\nurl = "nas"\n')
    with pytest.raises(Exception, match="s3://, gs://, az:// or file://"):
        find_remote(tmp_path, env={})


@pytest.mark.parametrize(
    ("toml", "where", "message"),
    [
        ('[remote]\nurl = "s3://KEY:SECRET@bucket/x"\n', "2:1", "credentials come from"),
        ('[remote]\nurl = "s3://bucket/x?X-Amz-Signature=1"\n', "2:1", "credentials come from"),
        ('[remote]\nurl = "ftp://bucket/x"\n', "2:1", "not 'ftp://'"),
        ('[remote]\nurl = "s3:///x"\n', "2:1", "needs a bucket"),
        ('[remote]\nurl = "file://nas/films"\n', "2:1", "three slashes"),
        ('[remote]\nurl = "s3://b/x"\naws_secret_access_key = "x"\n', "3:1", "takes only url"),
        ('[remote]\nurl = "s3://b/x\n', "2:16", "not valid TOML: Illegal character"),
    ],
)
def test_a_wrong_remote_is_refused_before_anything_is_sent(
    project: Project, run_cli: Cli, toml: str, where: str, message: str
) -> None:
    root = project({"film.yaml": FILM, "storyboard.toml": toml})
    result = run_cli("plan", "film.yaml", cwd=root)
    assert result.status == 2, result.err
    line = result.err.splitlines()[0]
    assert line.startswith(f"storyboard.toml:{where}: error: ") and message in line, line
    assert "SECRET" not in result.err and not (root / "build").exists()


# -- plan, push, pull, remote ------------------------------------------------------------------


def test_push_pull_and_remote_move_what_is_missing_and_plan_says_remote(
    project: Project, paid: EmulatorServer, nas: Path, run_cli: Cli, tmp_path: Path
) -> None:
    root = project({"film.yaml": FILM})
    url = f"file://{nas}"
    built = run_cli("build", "film.yaml", "--no-remote", cwd=root)
    assert built.status == 0, built.err
    assert list(nas.iterdir()) == []  # no remote, nothing sent
    before = run_cli("remote", "film.yaml", "--remote", url, "--json", cwd=root)
    assert before.status == 0, before.err
    shown = json.loads(before.out)
    assert shown["reachable"] and shown["writable"] is True
    assert shown["storyboards"]["film.yaml"] == {"locked": 2, "held": 0}
    pushed = run_cli("push", "film.yaml", "--remote", url, "--json", cwd=root)
    assert pushed.status == 0, pushed.err
    summary = json.loads(pushed.out)
    assert summary["moved"] == 2 and summary["bytes"] > 0 and summary["failed"] == 0
    assert "pushed 2 takes" in pushed.err
    again = json.loads(run_cli("push", "film.yaml", "--remote", url, "--json", cwd=root).out)
    assert again["moved"] == 0 and {t["status"] for t in again["takes"]} == {"present"}
    after = json.loads(run_cli("remote", "film.yaml", "--remote", url, "--json", cwd=root).out)
    assert after["storyboards"]["film.yaml"] == {"locked": 2, "held": 2}
    # a clone with the remote in its storyboard.toml: plan says remote, pull fetches
    clone = tmp_path / "clone"
    shutil.copytree(root, clone, ignore=shutil.ignore_patterns("build", ".storyboard"))
    (clone / ".storyboard").mkdir()
    (clone / "storyboard.toml").write_text(f'[remote]\nurl = "{url}"\n')
    plan = run_cli("plan", "film.yaml", "--json", cwd=clone)
    assert plan.status == 0, plan.err
    data = json.loads(plan.out)
    assert [t["status"] for t in data["takes"]] == ["remote", "remote"]
    assert data["total"] == 0 and data["chargeable"] == 0
    table = run_cli("plan", "film.yaml", cwd=clone).out
    assert "remote\n" in table and "total: $0" in table
    assert "locked" in run_cli("plan", "film.yaml", "--no-remote", cwd=clone).out
    pulled = run_cli("pull", "film.yaml", "--json", cwd=clone)
    assert pulled.status == 0, pulled.err
    assert json.loads(pulled.out)["moved"] == 2
    entries = sorted((clone / ".storyboard" / "cache").glob("*/*/*/entry.json"))
    assert len(entries) == 2
    billed = charges(paid)
    rebuilt = run_cli("build", "film.yaml", cwd=clone)
    assert rebuilt.status == 0 and "harbour: cached" in rebuilt.err
    assert charges(paid) == billed


def test_previews_are_pushed_only_when_asked(
    project: Project, nas: Path, run_cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RUNWARE_API_KEY", raising=False)
    root = project({"film.yaml": FILM, "storyboard.toml": f'[remote]\nurl = "file://{nas}"\n'})
    assert run_cli("build", "film.yaml", cwd=root).status == 0
    assert list(nas.iterdir()) == []  # a preview build sends the remote nothing
    assert json.loads(run_cli("push", "film.yaml", "--json", cwd=root).out)["moved"] == 0
    pushed = run_cli("push", "film.yaml", "--previews", "--json", cwd=root)
    assert json.loads(pushed.out)["moved"] == 2, pushed.err
    assert len(list((nas / "results").glob("preview-0.25/*.json"))) == 2


def test_a_build_with_nothing_to_do_never_asks_the_remote(
    project: Project, paid: EmulatorServer, nas: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from storyboard.remote.store import Store

    root = project({"film.yaml": FILM})
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
    root = project({"film.yaml": FILM})
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
