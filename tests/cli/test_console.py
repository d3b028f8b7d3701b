"""The build's progress on standard error: plain lines for make and CI, with a line every 30 s
while waiting (an injected clock: no test waits 30 s), the cut's progress, the provider's."""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from storyboard.backends.preview import PreviewBackend
from storyboard.build.pipeline import build
from storyboard.cli.console import Console, _fit
from storyboard.core.events import (
    CutProgress,
    Event,
    Note,
    TakeDone,
    TakeProgress,
    TakeStarted,
)
from storyboard.emulator.server import EmulatorServer
from tests.e2e.runner import fast_backend

Project = Callable[[dict[str, str | bytes]], Path]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def plain(clock: Clock) -> tuple[Console, io.StringIO]:
    stream = io.StringIO()
    return Console(stream, live=False, clock=clock, ticker=False), stream


def test_a_line_every_30_s_while_waiting() -> None:
    clock = Clock()
    console, stream = plain(clock)
    console(TakeStarted("storm.1", "uuid-1", resumed=False))
    console(TakeStarted("repair", "uuid-2", resumed=True))
    clock.now += 5
    console(TakeProgress("storm.1", "processing", 0.4))
    clock.now += 24  # 29 s since the last line (progress writes no line)
    assert console.heartbeat() is False
    clock.now += 1
    assert console.heartbeat() is True
    assert stream.getvalue().splitlines()[-1] == (
        "still working, 30 s in: repair resuming for 30 s; storm.1 processing 40% for 30 s; "
        "spent so far $0.0000"
    )
    clock.now += 10
    console(TakeDone("repair", 0.448, 45.0))
    assert stream.getvalue().splitlines()[-1] == "repair: done in 45.0 s, $0.4480"
    clock.now += 25
    assert console.heartbeat() is False  # a line 25 s ago: not silent for 30 s yet
    clock.now += 100
    assert console.heartbeat() is True
    assert stream.getvalue().splitlines()[-1] == (
        "still working, 2 min 45 s in: storm.1 processing 40% for 2 min 45 s; spent so far $0.4480"
    )
    console(TakeDone("storm.1", 1.82, 170.0))
    clock.now += 300
    assert console.heartbeat() is False  # nothing runs: nothing to wait for


def test_the_cut_reports_its_progress() -> None:
    clock = Clock()
    console, stream = plain(clock)
    console(CutProgress("", "film.mp4", "indexing", 0, 4))
    console(CutProgress("", "film.mp4", "re-encoding", 3, 8))
    assert stream.getvalue().splitlines() == ["cutting film.mp4"]
    clock.now += 31
    assert console.heartbeat() is True
    assert stream.getvalue().splitlines()[-1] == (
        "still working, 31 s in: cutting film.mp4: re-encoding 3 of 8 pieces; spent so far $0.0000"
    )
    console(CutProgress("", "film.mp4", "done", 1, 1))
    console(Note("", "cut film.mp4: 96 frames, 48 of them copied without re-encoding, in 31 s"))
    clock.now += 60
    assert console.heartbeat() is False


def test_the_ticker_says_it_by_itself() -> None:
    stream = io.StringIO()
    console = Console(stream, live=False, interval=0.05)
    console(TakeStarted("a", "uuid", resumed=False))
    deadline = time.monotonic() + 5
    while "still working" not in stream.getvalue() and time.monotonic() < deadline:
        time.sleep(0.02)
    console.close()
    assert "still working" in stream.getvalue()
    assert "a generating for 0 s" in stream.getvalue()


def test_a_live_line_never_wraps() -> None:
    assert _fit("x" * 50, 80) == "x" * 50
    assert _fit("x" * 120, 80) == "x" * 78 + "…"
    # a film named in CJK: each character takes two columns
    assert _fit("cutting 港口的早晨.mp4", 16) == "cutting 港口的…"  # 15 columns
    assert _fit("cutting 港口的早晨.mp4", 40) == "cutting 港口的早晨.mp4"


def test_a_build_reports_the_cut(project: Project) -> None:
    film = project(
        {
            "film.yaml": (
                "storyboard: 1\ntitle: Cut\nshots:\n"
                "  - {id: a, duration: 3, prompt: first}\n"
                "  - {id: b, duration: 3, prompt: second}\n"
                "cut:\n  clips:\n    - shot: a\n    - shot: b\n      transition: crossfade\n"
            )
        }
    )
    events: list[Event] = []
    assert build(film / "film.yaml", backend=PreviewBackend(scale=1 / 12), emit=events.append).ok
    cut = [e for e in events if isinstance(e, CutProgress)]
    phases = [e.phase for e in cut]
    assert phases[0] == "indexing" and phases[-1] == "done"
    assert "re-encoding" in phases and "joining" in phases  # the crossfade is re-encoded
    encoded = [e for e in cut if e.phase == "re-encoding"]
    assert encoded[-1].done == encoded[-1].total >= 1
    assert all(e.film == "film.mp4" for e in cut)


def test_the_providers_progress_reaches_the_console(
    project: Project, emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUNWARE_API_KEY", emulator.api_key)
    monkeypatch.setenv("RUNWARE_BASE_URL", emulator.base_url)
    emulator.configure(latency_s=(1.0, 1.0))
    film = project({"film.yaml": "storyboard: 1\ntitle: P\nshots:\n  - {id: a, prompt: go on}\n"})
    events: list[Event] = []
    assert build(
        film / "film.yaml", backend=fast_backend(), film_scale=1 / 12, emit=events.append
    ).ok
    progress = [e for e in events if isinstance(e, TakeProgress)]
    assert progress and all(e.take == "a" for e in progress)
    fractions = [e.fraction for e in progress if e.fraction is not None]
    assert fractions and all(0 <= f < 1 for f in fractions)
    assert fractions == sorted(fractions)  # the emulator's progress never goes back
