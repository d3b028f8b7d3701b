"""The ``storyboard`` command's exit: after a command that used a remote (obstore loaded), the
process ends without finalizing the interpreter, whose race with obstore's Rust worker
threads aborted about 1 run in 20 of ``storyboard remote`` (exit 134) after it had finished;
its output is flushed first. So do the commands with nothing left to do but free memory
(``check``, ``plan``, ...: ``ENDS_AT_ONCE``), for their speed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from storyboard.cli import main as cli_main


class Exited(Exception):
    def __init__(self, how: str, status: int) -> None:
        super().__init__(how, status)
        self.how, self.status = how, status


def _exits(monkeypatch: pytest.MonkeyPatch, status: int) -> None:
    monkeypatch.setattr(cli_main, "main", lambda: status)

    def hard(code: int) -> None:
        raise Exited("os._exit", code)

    def soft(code: object = 0) -> None:
        raise Exited("sys.exit", int(code))  # type: ignore[call-overload]

    monkeypatch.setattr(cli_main.os, "_exit", hard)
    monkeypatch.setattr(cli_main.sys, "exit", soft)


def test_after_a_remote_the_command_ends_without_finalizing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import obstore  # noqa: F401  (a command that used a remote has it loaded)

    _exits(monkeypatch, 1)
    with pytest.raises(Exited) as ended:
        cli_main.entry()
    assert (ended.value.how, ended.value.status) == ("os._exit", 1)


def test_without_a_remote_the_command_exits_as_usual(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "obstore", raising=False)
    monkeypatch.setattr(cli_main, "ran", "build")
    _exits(monkeypatch, 2)
    with pytest.raises(Exited) as ended:
        cli_main.entry()
    assert (ended.value.how, ended.value.status) == ("sys.exit", 2)


def test_the_output_of_a_command_that_ends_so_is_whole(tmp_path: Path) -> None:
    share = tmp_path / "nas"
    share.mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "storyboard", "remote", "--remote", share.as_uri()],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()  # a pipe: block-buffered until flushed
    assert lines[0] == f"remote: {share.as_uri()} (from --remote)"
    assert lines[1:3] == ["reachable: yes", "writable: yes"]


@pytest.mark.parametrize("command", sorted(cli_main.ENDS_AT_ONCE))
def test_a_command_with_nothing_left_to_do_ends_without_finalizing(
    monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    monkeypatch.delitem(sys.modules, "obstore", raising=False)
    monkeypatch.setattr(cli_main, "ran", command)
    _exits(monkeypatch, 2)
    with pytest.raises(Exited) as ended:
        cli_main.entry()
    assert (ended.value.how, ended.value.status) == ("os._exit", 2)


def test_the_commands_that_end_at_once_start_no_thread_or_process() -> None:
    """What may end without finalizing: none of build's, watch's, review's or the emulator's
    kind (threads, children, servers)."""
    assert cli_main.ENDS_AT_ONCE.isdisjoint({"build", "watch", "review", "emulator", "clean"})
    assert cli_main.ENDS_AT_ONCE.issubset(cli_main.COMMAND_MODULES)


def test_the_output_of_a_command_that_ends_at_once_is_whole(tmp_path: Path) -> None:
    """Through pipes (block-buffered), ``schema``'s 50 kB and a failed check's errors and exit
    status arrive whole."""
    done = subprocess.run(
        [sys.executable, "-m", "storyboard", "schema"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert len(done.stdout) > 8192  # past one buffer
    assert json.loads(done.stdout)["title"]
    bad = tmp_path / "bad.yaml"
    bad.write_text("storyboard: 1\nshots:\n  - id: a\n    prompt: x\n    duration: 99\n")
    done = subprocess.run(
        [sys.executable, "-m", "storyboard", "check", str(bad)],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    lines = done.stderr.splitlines()
    assert lines[0].startswith("bad.yaml:1:1: error: "), done.stderr
    assert lines[-1].endswith(("1 error", "errors")), done.stderr


@pytest.mark.parametrize(("command", "fewer"), [("check", True), ("build", False)])
def test_a_short_command_runs_with_fewer_garbage_collections(
    monkeypatch: pytest.MonkeyPatch, command: str, fewer: bool
) -> None:
    """The commands that end at once run with the collector's youngest generation passed
    every COLLECT_EVERY objects (a long one, a build, keeps Python's own), and the thresholds
    come back after."""
    import gc
    import importlib

    from storyboard.core.memory import COLLECT_EVERY

    module = importlib.import_module(f"storyboard.cli.cmd_{command}")
    seen: list[int] = []

    def run(args: object) -> int:
        seen.append(gc.get_threshold()[0])
        return 0

    monkeypatch.setattr(module, "run", run)
    before = gc.get_threshold()
    assert cli_main.main([command, "film.yaml"]) == 0
    assert seen == [COLLECT_EVERY if fewer else before[0]]
    assert gc.get_threshold() == before
