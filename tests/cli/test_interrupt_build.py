"""Ctrl-C stops ``storyboard build`` every time, with status 130 and one line, within the grace
period, whatever became of the ``KeyboardInterrupt`` (storyboard/cli/interrupt.py).

As in ``test_interrupt.py``, the real command runs in a process of its own, with the build
(``storyboard.build.pipeline.build``) replaced by one that loses the interrupt or turns it
into another exception; the last test interrupts a real preview build (held in its first
take's generation until Ctrl-C comes), and the next build finishes the film."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import av

from tests.cli.test_interrupt import ROOT, read_or_kill, replaced, stopped

BUILD = {
    # Ctrl-C dropped ("Exception ignored"): before, the build went on (here, for ever)
    "lost": """
        def build(*args, **kwargs):
            while True:
                try:
                    ready()
                    time.sleep(60)
                except KeyboardInterrupt:
                    pass
    """,
    # the clean-up of the interrupted build raises: before, a traceback, "internal error"
    # and status 3
    "turned": """
        def build(*args, **kwargs):
            try:
                ready()
                time.sleep(60)
            except KeyboardInterrupt:
                raise RuntimeError("cannot release un-acquired lock")
    """,
    "caught": """
        def build(*args, **kwargs):
            ready()
            time.sleep(60)
    """,
}


def start(tmp_path: Path, build: str, *, grace: float) -> subprocess.Popen[str]:
    """``storyboard build`` with the pipeline's ``build`` replaced by ``build``."""
    argv = ["build", "film.yaml", "--backend", "preview"]
    return replaced(tmp_path, "storyboard.build.pipeline", "build", build, argv, grace=grace)


def interrupted(process: subprocess.Popen[str], timeout: float) -> tuple[int, list[str], float]:
    """Ctrl-C once the replaced build says it runs; the status, the lines after it, the time."""
    read_or_kill(process, ["ready\n"])
    process.send_signal(signal.SIGINT)
    status, err, took = stopped(process, timeout)
    return status, err.splitlines(), took


def test_a_ctrl_c_that_python_loses_still_stops_the_build_within_the_grace(
    tmp_path: Path,
) -> None:
    status, lines, took = interrupted(start(tmp_path, BUILD["lost"], grace=1.0), timeout=30)
    assert (status, lines) == (130, ["storyboard: interrupted"])
    assert 0.9 <= took < 20  # the grace, not the 60 s sleep, nor for ever


def test_a_ctrl_c_that_ends_as_another_exception_is_an_interrupt_not_a_bug(
    tmp_path: Path,
) -> None:
    status, lines, took = interrupted(start(tmp_path, BUILD["turned"], grace=30.0), timeout=30)
    assert status == 130, lines
    assert lines == [
        "storyboard: interrupted (the work it interrupted ended with RuntimeError: "
        "cannot release un-acquired lock)"
    ]
    assert took < 20  # said by the command, not by the guard 30 s on


def test_a_build_that_unwinds_says_it_once(tmp_path: Path) -> None:
    status, lines, took = interrupted(start(tmp_path, BUILD["caught"], grace=30.0), timeout=30)
    assert (status, lines) == (130, ["storyboard: interrupted"])
    assert took < 20


def test_an_error_that_is_not_a_ctrl_c_is_still_a_bug(tmp_path: Path) -> None:
    build = """
        def build(*args, **kwargs):
            raise RuntimeError("a real bug")
    """
    process = start(tmp_path, build, grace=30.0)
    status, err, _ = stopped(process, timeout=60)
    assert status == 3, err
    assert "RuntimeError: a real bug" in err and "internal error" in err
    assert "interrupted" not in err


FILM = """\
storyboard: 1
title: Interrupted
shots:
  - {id: a, prompt: a lighthouse at dusk, duration: 3}
  - {id: b, prompt: a boat in the swell, duration: 3, start: a.last}
  - {id: c, prompt: gulls over the cliff, duration: 3, start: b.last}
"""


def test_a_real_build_stopped_by_ctrl_c_ends_with_130_and_the_next_one_finishes(
    tmp_path: Path,
) -> None:
    (tmp_path / ".storyboard").mkdir()
    (tmp_path / "film.yaml").write_text(FILM)
    argv = ["build", "film.yaml", "--backend", "preview", "--preview-scale", "0.1"]
    # The first take's generation is held until Ctrl-C comes: the whole build takes about
    # 0.5 s here, and Ctrl-C sent on seeing "generating" came after the build had ended
    # when the test's process was kept waiting that long (a loaded machine, -n 2).
    script = tmp_path / "held.py"
    script.write_text(
        "import asyncio, sys\n"
        "from storyboard.backends.preview import PreviewBackend\n"
        "collect = PreviewBackend.collect\n"
        "async def held(self, ticket, folder):\n"
        "    print('ready', file=sys.stderr, flush=True)\n"
        "    await asyncio.sleep(60)  # Ctrl-C comes here, in the take's generation\n"
        "    return await collect(self, ticket, folder)\n"
        "PreviewBackend.collect = held\n"
        "from storyboard.cli.main import entry\n"
        f"sys.argv = {['storyboard', *argv]!r}\n"
        "entry()\n"
    )
    process = subprocess.Popen(
        [sys.executable, str(script)], cwd=tmp_path, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert process.stderr is not None
    for line in process.stderr:  # Ctrl-C once the first take is under way
        if line == "ready\n":
            break
    else:
        raise AssertionError("the build ended before its first take was generated")
    process.send_signal(signal.SIGINT)
    status, err, took = stopped(process, timeout=60)
    assert status == 130, err
    assert err.splitlines()[-1] == "storyboard: interrupted"
    assert took < 20
    assert not list(tmp_path.glob("build/film/preview/*.mp4"))  # no film from a stopped build
    command = [sys.executable, "-m", "storyboard", *argv]
    again = subprocess.run(
        command, cwd=tmp_path, text=True, capture_output=True, timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    film = tmp_path / again.stderr.splitlines()[-1].removeprefix("film: ")
    with av.open(str(film)) as container:
        seconds = float(container.duration or 0) / 1_000_000
    assert 8.5 < seconds < 9.5  # the three takes, cut


def test_no_guard_and_no_signal_handler_outside_the_main_thread() -> None:
    """A build run from another thread (a program using the CLI's code) cannot be sent Ctrl-C:
    it installs nothing and starts no guard."""
    import threading

    from storyboard.cli.interrupt import CtrlC

    before = signal.getsignal(signal.SIGINT)
    seen: list[object] = []

    def run() -> None:
        with CtrlC("build", status=130) as ctrl_c:
            seen.append(ctrl_c.pressed)

    threads = threading.active_count()
    worker = threading.Thread(target=run)
    worker.start()
    worker.join()
    assert seen == [False]
    assert signal.getsignal(signal.SIGINT) is before
    assert threading.active_count() == threads


def test_the_guard_ends_with_the_command_when_no_ctrl_c_came() -> None:
    """In the main thread, a command that ends without Ctrl-C leaves no guard thread behind
    (a program that builds many times in one process would gather them)."""
    import threading

    from storyboard.cli.interrupt import CtrlC

    before = signal.getsignal(signal.SIGINT)
    threads = threading.active_count()
    with CtrlC("build", status=130):
        assert threading.active_count() == threads + 1
    deadline = time.monotonic() + 10
    while threading.active_count() > threads and time.monotonic() < deadline:
        time.sleep(0.01)
    assert threading.active_count() == threads
    assert signal.getsignal(signal.SIGINT) is before
