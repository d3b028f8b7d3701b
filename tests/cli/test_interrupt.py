"""Ctrl-C stops ``watch`` and ``review`` every time, with status 0 and one line, within the
grace period, whatever became of the ``KeyboardInterrupt`` (storyboard/cli/interrupt.py).

Each test runs the real ``storyboard`` command (:func:`storyboard.cli.main.entry`) in a
process of its own, with the part that Ctrl-C interrupts replaced by one that loses the
``KeyboardInterrupt`` or turns it into another exception, as CPython and a clean-up can."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

WATCH_RUN = {
    # Ctrl-C dropped ("Exception ignored"): before, the watch went on for ever
    "lost": """
        def run(self, stop):
            while True:
                try:
                    ready()
                    time.sleep(60)
                except KeyboardInterrupt:
                    pass
    """,
    # the clean-up of the interrupted build raises: before, a traceback and status 3
    "turned": """
        def run(self, stop):
            try:
                ready()
                time.sleep(60)
            except KeyboardInterrupt:
                raise RuntimeError("cannot release un-acquired lock")
    """,
    # as a build that unwinds in time
    "caught": """
        def run(self, stop):
            ready()
            time.sleep(60)
    """,
}


def replaced(
    tmp_path: Path, module: str, attribute: str, code: str, argv: list[str], *, grace: float
) -> subprocess.Popen[str]:
    """The command ``storyboard ARGV`` on an empty storyboard, in a process of its own, with
    ``module.attribute`` replaced by the function ``code`` defines under the attribute's last
    name, which calls ``ready()`` once it runs; Ctrl-C's grace is ``grace`` seconds."""
    (tmp_path / ".storyboard").mkdir(exist_ok=True)
    (tmp_path / "film.yaml").write_text("storyboard: 1\ntitle: Stopped\nshots: []\n")
    script = tmp_path / "run.py"
    script.write_text(
        "import sys, time\n"
        f"import storyboard.cli.interrupt, {module}\n"
        f"storyboard.cli.interrupt.GRACE = {grace}\n"
        "said = []\n"
        "def ready():  # in the part Ctrl-C is to interrupt: the test sends it now\n"
        "    if not said:  # (said first: Ctrl-C may come before this returns)\n"
        "        said.append(True)\n"
        "        print('ready', file=sys.stderr, flush=True)\n"
        + textwrap.dedent(code)
        + f"{module}.{attribute} = {attribute.rsplit('.', 1)[-1]}\n"
        "from storyboard.cli.main import entry\n"
        f"sys.argv = {['storyboard', *argv]!r}\n"
        "entry()\n"
    )
    return subprocess.Popen(
        [sys.executable, str(script)], cwd=tmp_path, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip


def start(tmp_path: Path, run: str, *, grace: float) -> subprocess.Popen[str]:
    """``storyboard watch`` with :meth:`Watch.run` replaced by ``run``."""
    argv = ["watch", "film.yaml", "--no-serve"]
    return replaced(tmp_path, "storyboard.live.watch", "Watch.run", run, argv, grace=grace)


def read_or_kill(process: subprocess.Popen[str], expected: list[str]) -> None:
    """Read the first lines of ``process``'s standard error, each starting as ``expected``
    says; if they do not, kill it (a command left running would outlive the test run) and
    fail with what it wrote."""
    assert process.stderr is not None
    lines = [process.stderr.readline() for _ in expected]
    if not all(line.startswith(want) for line, want in zip(lines, expected, strict=True)):
        process.kill()
        _, err = process.communicate()
        raise AssertionError("".join(lines) + err)


def started(process: subprocess.Popen[str]) -> None:
    """Wait for the line that says the watch began, then for the replaced part to say it is
    running (Ctrl-C sent before it, on a loaded machine, was the watch's own to catch)."""
    read_or_kill(process, ["storyboard: watching film.yaml", "ready\n"])


def stopped(process: subprocess.Popen[str], timeout: float) -> tuple[int, str, float]:
    """Wait for ``process`` to end; one that does not end in ``timeout`` seconds is killed
    (a command that lost its Ctrl-C would otherwise outlive the test run) and fails the test."""
    began = time.monotonic()
    try:
        _, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise
    return process.returncode, err, time.monotonic() - began


def test_a_ctrl_c_that_python_loses_still_stops_the_watch_within_the_grace(
    tmp_path: Path,
) -> None:
    process = start(tmp_path, WATCH_RUN["lost"], grace=1.0)
    started(process)
    process.send_signal(signal.SIGINT)
    status, err, took = stopped(process, timeout=30)
    assert status == 0, err
    assert err.splitlines() == ["storyboard: watch stopped"]
    assert 0.9 <= took < 20  # the grace, not the 60 s sleep, nor for ever


def test_a_ctrl_c_that_ends_as_another_exception_is_a_stop_not_a_bug(tmp_path: Path) -> None:
    process = start(tmp_path, WATCH_RUN["turned"], grace=30.0)
    started(process)
    process.send_signal(signal.SIGINT)
    status, err, took = stopped(process, timeout=30)
    assert status == 0, err
    assert err.splitlines() == [
        "storyboard: watch stopped (the work it interrupted ended with RuntimeError: "
        "cannot release un-acquired lock)"
    ]
    assert took < 20  # said by the command, not by the guard 30 s on


def test_an_error_that_is_not_a_ctrl_c_is_still_a_bug(tmp_path: Path) -> None:
    """Without Ctrl-C, an exception out of the watch is a traceback and status 3, as before."""
    run = """
        def run(self, stop):
            raise RuntimeError("a real bug")
    """
    process = start(tmp_path, run, grace=30.0)
    status, err, _ = stopped(process, timeout=60)
    assert status == 3, err
    assert "RuntimeError: a real bug" in err and "internal error" in err
    assert "stopped" not in err


def test_a_watch_that_unwinds_says_it_stopped_once_and_ends_before_the_grace(
    tmp_path: Path,
) -> None:
    process = start(tmp_path, WATCH_RUN["caught"], grace=30.0)
    started(process)
    process.send_signal(signal.SIGINT)
    status, err, took = stopped(process, timeout=30)
    assert status == 0, err
    assert err.splitlines() == ["storyboard: watch stopped"]
    assert took < 20


def test_a_second_ctrl_c_stops_at_once(tmp_path: Path) -> None:
    process = start(tmp_path, WATCH_RUN["lost"], grace=300.0)
    started(process)
    process.send_signal(signal.SIGINT)
    time.sleep(0.5)
    assert process.poll() is None  # the first one was lost, and the grace is long
    process.send_signal(signal.SIGINT)
    status, err, took = stopped(process, timeout=30)
    assert status == 0, err
    assert err.splitlines() == ["storyboard: watch stopped"]
    assert took < 20


def test_the_guard_does_not_stop_a_watch_nobody_stopped(tmp_path: Path) -> None:
    """No Ctrl-C, no guard: the watch is still running well after the grace."""
    process = start(tmp_path, WATCH_RUN["caught"], grace=1.0)
    try:
        started(process)
        time.sleep(3.0)
        assert process.poll() is None
    finally:
        process.kill()
        process.wait()
