"""``storyboard push``, ``pull`` and ``remote`` from the command line, and ``plan``'s
``remote`` status; previews kept home unless ``--previews``.

These use a ``file://`` remote (a NAS folder) and the emulator over loopback.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from storyboard.emulator.server import EmulatorServer
from tests.conftest import CliResult

FILM = """\
storyboard: 1
title: Harbour
shots:
  - {id: harbour, duration: 3, prompt: a small stone harbour at dawn}
  - {id: nets, duration: 3, prompt: an old fisherman mends a net}
"""

Project = Callable[[dict[str, str | bytes]], Path]
Cli = Callable[..., CliResult]


def charges(emulator: EmulatorServer) -> int:
    return len([e for e in emulator.ledger() if not e.dry_run and e.cost > 0])


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
    # the lock names each take's media by sha256: pull fetches them without the records,
    # for FILEs and for every lock file below the current folder
    shutil.rmtree(nas / "results")
    for args in (["film.yaml"], []):
        other = tmp_path / f"clone-{len(args)}"
        shutil.copytree(clone, other, ignore=shutil.ignore_patterns("build", ".storyboard"))
        (other / ".storyboard").mkdir()
        again = run_cli("pull", *args, "--json", cwd=other)
        assert again.status == 0, again.err
        assert json.loads(again.out)["moved"] == 2, again.out
        assert len(sorted((other / ".storyboard" / "cache").glob("*/*/*/entry.json"))) == 2


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
