"""Concurrency audit: commands of one project run at the same time, as real processes.

Each test starts ``storyboard`` commands as separate processes against the emulator (over
loopback, its jobs slowed down so that the commands overlap) and checks what the promise
says: no take paid for twice (the emulator's ledger), every command's exit status, and
state that the next command reads (the build folder's marker, the lock file).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from storyboard.emulator.server import EmulatorServer
from tests.faults.films import billed_per_take

Project = Callable[[dict[str, str | bytes]], Path]
REPO = Path(__file__).resolve().parents[2]

ONE = """\
storyboard: 1
title: Race
shots:
  - {id: one, duration: 3, prompt: '[one] a harbour at dawn'}
"""
TWO = ONE + "  - {id: two, duration: 3, prompt: '[two] the quay at noon'}\n"


def _env(emulator: EmulatorServer) -> dict[str, str]:
    env = {
        **os.environ,
        "RUNWARE_API_KEY": emulator.api_key,
        "RUNWARE_BASE_URL": emulator.base_url,
        "PYTHONPATH": str(REPO),
    }
    env.pop("STORYBOARD_REMOTE", None)
    return env


def _start(emulator: EmulatorServer, root: Path, *args: str) -> subprocess.Popen[str]:
    """``storyboard ARGS`` in ``root``, with the quick Runware backend of the fault tests."""
    return subprocess.Popen(
        [sys.executable, "-m", "tests.faults.runner", "--cli", *args],
        cwd=root, env=_env(emulator), text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip


def _finish(process: subprocess.Popen[str], timeout: float = 60) -> tuple[int, str]:
    """Exit status and what the command said (its log lines left out)."""
    _, err = process.communicate(timeout=timeout)
    said = [
        line for line in err.splitlines() if not line.startswith(("DEBUG:", "INFO:", "WARNING:"))
    ]
    return process.returncode, "\n".join(said[-20:])


def _holds_lock(root: Path, process: subprocess.Popen[str], timeout: float = 20) -> None:
    """Wait until ``process`` holds the project lock (it writes its pid into it)."""
    lock = root / ".storyboard" / "build.lock"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if lock.exists() and lock.read_text().strip() == str(process.pid):
            return
        assert process.poll() is None, _finish(process)
        time.sleep(0.02)
    raise AssertionError("the first build never took the project lock")


def _waits_for_lock(root: Path, process: subprocess.Popen[str], timeout: float = 20) -> None:
    """Wait until ``process`` has the project lock file open (Linux's ``/proc/PID/fd``): it
    opens it to ask for the lock, after it read the build folder's marker (check_state)."""
    lock = str(root / ".storyboard" / "build.lock")
    fds = Path(f"/proc/{process.pid}/fd")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, _finish(process)
        opened = []
        for fd in list(fds.iterdir()):
            with contextlib.suppress(OSError):  # closed meanwhile
                opened.append(os.readlink(fd))
        if lock in opened:
            return
        time.sleep(0.01)
    raise AssertionError("the waiting build never asked for the project lock")


def _marker_files(root: Path) -> set[str]:
    marker = json.loads((root / "build" / "film" / ".storyboard-build.json").read_text())
    return set(marker["files"])


def test_a_waiting_build_reads_the_build_folder_again_once_it_holds_the_lock(
    emulator: EmulatorServer, project: Project
) -> None:
    """A build waiting (``--wait``) for another one read the build folder's marker before it
    waited: the other build adds a take's files to the folder meanwhile, and the waiting
    build, once it holds the lock, must not take those files for a writer's (exit 2, "not
    written by storyboard"), nor save the marker as it was before the other build."""
    emulator.configure(latency_s=(3.0, 3.0))
    root = project({"film.yaml": ONE})
    first = _start(emulator, root, "build", "film.yaml")
    status, said = _finish(first)
    assert status == 0, said  # the build folder is storyboard's, its marker lists take one

    (root / "film.yaml").write_text(TWO, encoding="utf-8")
    a = _start(emulator, root, "build", "film.yaml")
    _holds_lock(root, a)
    b = _start(emulator, root, "build", "film.yaml", "--wait", "60")
    # the commands overlap as the test needs (not left to timing: a slow start of b, after a
    # had finished, read a's new marker and passed without the fix): b waits for the lock
    # while a's take two is not in the marker yet, so what b read before the lock is stale
    _waits_for_lock(root, b)
    assert a.poll() is None
    assert not any(name.endswith("/takes/two.mp4") for name in _marker_files(root))
    status_a, said_a = _finish(a)
    status_b, said_b = _finish(b)
    assert status_a == 0, said_a
    assert status_b == 0, said_b
    assert "was not written by storyboard" not in said_b
    assert billed_per_take(emulator) == Counter({"one": 1, "two": 1})
    listed = _marker_files(root)
    assert any(name.endswith("/takes/two.mp4") for name in listed), listed

    again = _start(emulator, root, "build", "film.yaml")
    status, said = _finish(again)
    assert status == 0, said
    assert billed_per_take(emulator) == Counter({"one": 1, "two": 1})


def test_a_marker_read_before_the_lock_never_drops_what_another_build_listed(
    emulator: EmulatorServer, project: Project
) -> None:
    """What ``watch`` does after its build: it reads the build folder's marker, then takes
    the project lock (waiting for a build the writer started meanwhile) and writes its
    report. The report's marker must keep the files that other build listed: a marker saved
    from the reading before the lock drops them, and the next build then refuses them as a
    writer's files (exit 2) and ``clean`` leaves them."""
    from storyboard.build.state.workspace import ProjectLock, Workspace
    from storyboard.report import REPORT_NAME

    emulator.configure(latency_s=(1.0, 1.0))
    root = project({"film.yaml": ONE})
    status, said = _finish(_start(emulator, root, "build", "film.yaml"))
    assert status == 0, said
    (namespace,) = [p.name for p in (root / "build" / "film").glob("runware*") if p.is_dir()]
    workspace = Workspace.for_storyboard(root / "film.yaml", root, backend=namespace)
    assert workspace.out.owned(REPORT_NAME) == []  # read now, as watch reads it

    (root / "film.yaml").write_text(TWO, encoding="utf-8")
    status, said = _finish(_start(emulator, root, "build", "film.yaml"))
    assert status == 0, said
    with ProjectLock(workspace, wait=30):
        workspace.out.write_text(REPORT_NAME, "<html></html>")
    listed = _marker_files(root)
    assert f"{namespace}/takes/two.mp4" in listed, listed
    assert f"{namespace}/{REPORT_NAME}" in listed, listed

    status, said = _finish(_start(emulator, root, "build", "film.yaml"))
    assert status == 0, said
    assert billed_per_take(emulator) == Counter({"one": 1, "two": 1})
