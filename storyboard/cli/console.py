"""Progress on stderr: a live view of running takes on a terminal, plain lines otherwise.

Plain lines are used when stderr is not a terminal or when ``CI`` is set (make, CI logs):
one line per event, and, while the build waits (takes running at the provider, the film
being cut) with nothing else to say, a line every :data:`HEARTBEAT` seconds saying what
runs, how far the provider says it is, how long the build has run and what it has spent
(:meth:`Console.heartbeat`). The library only emits events (:mod:`storyboard.core.events`);
this is the one place that draws them.

The live view is drawn by hand (a few lines redrawn under the log with two ANSI escapes)
rather than with ``rich``: it is the only view storyboard draws, the plain lines (and the
heartbeat) are ours either way, and what ``rich`` would add here, cropping each line to the
terminal's width in columns so that a redraw never leaves a wrapped line behind, is
:func:`_fit`, some twenty lines; ``rich`` would bring four packages to every install
(``rich``, ``markdown-it-py``, ``mdurl``, ``pygments``) for them.
"""

from __future__ import annotations

import os
import shutil
import sys
import threading
import time
import unicodedata
from collections.abc import Callable
from typing import TextIO

from storyboard.core.diagnostics import printable
from storyboard.core.events import (
    CutProgress,
    Event,
    Note,
    TakeCached,
    TakeDone,
    TakeFailed,
    TakeProgress,
    TakeSkipped,
    TakeStarted,
)
from storyboard.core.money import usd

HEARTBEAT = 30.0
"""Seconds of silence after which a plain-line console says what the build waits for."""


class Console:
    """Renders build events.

    Args:
        stream: where to write (standard error by default).
        live: redraw a view of the running takes (default: on a terminal, unless ``CI``).
        clock: seconds, monotonic (tests give their own: no test waits 30 s).
        interval: the heartbeat's period in seconds, for plain lines.
        ticker: run the thread that redraws the view, or calls :meth:`heartbeat` (tests
            call it themselves).
    """

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        live: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
        interval: float = HEARTBEAT,
        ticker: bool = True,
    ) -> None:
        self.stream = stream or sys.stderr
        if live is None:
            live = self.stream.isatty() and not os.environ.get("CI")
        self.live = live
        self.clock = clock
        self.interval = interval
        self.started = clock()
        self.running: dict[str, tuple[float, str]] = {}
        self.cut: CutProgress | None = None
        self.spent = 0.0
        self._lock = threading.Lock()
        self._drawn = 0
        self._said = self.started  # when the last line was written
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None
        if ticker:
            self._ticker = threading.Thread(target=self._tick, daemon=True)
            self._ticker.start()

    def __call__(self, event: Event) -> None:
        with self._lock:
            line = self._line(event)
            if self.live:
                self._clear()
            if line:  # messages may quote the storyboard, or what a server answered
                self.stream.write(printable(line) + "\n")
                self._said = self.clock()
            if self.live:
                self._draw()
            self.stream.flush()

    def close(self) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join(timeout=1)
        with self._lock:
            if self.live:
                self._clear()
                self.stream.flush()

    def heartbeat(self) -> bool:
        """In plain lines, after :attr:`interval` seconds without a line while something
        runs, say what: return whether a line was written."""
        with self._lock:
            now = self.clock()
            if self.live or now - self._said < self.interval:
                return False
            waiting = self._waiting(now)
            if not waiting:
                return False
            self.stream.write(
                printable(
                    f"still working, {_duration(now - self.started)} in: {'; '.join(waiting)}; "
                    f"spent so far {usd(self.spent)}"
                )
                + "\n"
            )
            self.stream.flush()
            self._said = now
            return True

    def _waiting(self, now: float) -> list[str]:
        """What runs: each take's state and time, and the cut's progress."""
        parts = [
            f"{take} {state} for {_duration(now - started)}"
            for take, (started, state) in sorted(self.running.items())
        ]
        if self.cut is not None:
            parts.append(_cutting(self.cut))
        return parts

    def _line(self, event: Event) -> str | None:
        take = event.take
        now = self.clock()
        if isinstance(event, TakeStarted):
            self.running[take] = (now, "resuming" if event.resumed else "generating")
            return (
                None if self.live else f"{take}: {self.running[take][1]} (task {event.task_uuid})"
            )
        if isinstance(event, TakeProgress):
            started = self.running.get(take, (now, ""))[0]
            state = event.state + (f" {event.fraction:.0%}" if event.fraction is not None else "")
            self.running[take] = (started, state)
            return None
        if isinstance(event, TakeDone):
            self.running.pop(take, None)
            self.spent += event.cost or 0.0
            cost = f", {usd(event.cost)}" if event.cost else ""
            return f"{take}: done in {event.seconds:.1f} s{cost}"
        if isinstance(event, TakeCached):
            if event.source.startswith("take:"):
                return f"{take}: the same request as {event.source[5:]}, made once"
            if event.source == "kept":
                return f"{take}: kept (the result the storyboard keeps)"
            sources = {"cache": "cached", "remote": "fetched from the remote"}
            return f"{take}: {sources.get(event.source, 'fetched from the lock')}"
        if isinstance(event, TakeFailed):
            self.running.pop(take, None)
            return f"{take}: FAILED: {event.message}"
        if isinstance(event, TakeSkipped):
            return f"{take}: skipped ({event.reason})"
        if isinstance(event, CutProgress):
            first = self.cut is None or self.cut.film != event.film
            self.cut = None if event.phase == "done" else event
            return f"cutting {event.film}" if first and self.cut and not self.live else None
        if isinstance(event, Note):
            return event.message
        return None

    def _clear(self) -> None:
        if self._drawn:
            self.stream.write(f"\x1b[{self._drawn}F\x1b[J")
            self._drawn = 0

    def _draw(self) -> None:
        now = self.clock()
        lines = [
            f"  {take:<20} {state:<14} {now - started:6.1f} s"
            for take, (started, state) in sorted(self.running.items())
        ]
        if self.cut is not None:
            lines.append(f"  {_cutting(self.cut)}")
        if lines:
            lines.append(f"  spent so far: {usd(self.spent)}")
        width = shutil.get_terminal_size().columns
        for line in lines:
            self.stream.write(_fit(printable(line), width) + "\n")
        self._drawn = len(lines)

    def _tick(self) -> None:
        while not self._stop.wait(0.5 if self.live else min(1.0, self.interval / 2)):
            if not self.live:
                self.heartbeat()
                continue
            with self._lock:
                if self.running or self.cut is not None:
                    self._clear()
                    self._draw()
                    self.stream.flush()


def _cutting(cut: CutProgress) -> str:
    """``cutting film.mp4: re-encoding 3 of 8 pieces``."""
    if cut.phase == "re-encoding":
        return f"cutting {cut.film}: re-encoding {cut.done} of {cut.total} pieces"
    if cut.phase == "indexing":
        return f"cutting {cut.film}: reading {cut.done} of {cut.total} takes"
    return f"cutting {cut.film}: {cut.phase}"


def _duration(seconds: float) -> str:
    """``45 s``, ``2 min 05 s``, ``1 h 02 min``."""
    whole = int(seconds)
    if whole < 60:
        return f"{whole} s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def _fit(line: str, width: int) -> str:
    """``line`` cut to fewer than ``width`` columns: a redrawn line must not wrap (the view
    moves the cursor up by as many lines as it drew). A wide character (CJK, in a film's
    name) takes two columns, a combining one none."""
    if width <= 1 or _columns(line) < width:
        return line
    kept, used = [], 0
    for char in line:
        used += _columns(char)
        if used > width - 2:
            break
        kept.append(char)
    return "".join(kept) + "…"


def _columns(text: str) -> int:
    """How many terminal columns ``text`` takes."""
    return sum(
        0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1
        for c in text
    )
