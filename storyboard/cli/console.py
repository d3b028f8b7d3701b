"""Progress on stderr: a live view of running takes on a terminal, plain lines otherwise.

Plain lines are used when stderr is not a terminal or when ``CI`` is set. The library only
emits events (:mod:`storyboard.core.events`); this is the one place that draws them.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import TextIO

from storyboard.core.diagnostics import printable
from storyboard.core.events import (
    Event,
    Note,
    TakeCached,
    TakeDone,
    TakeFailed,
    TakeProgress,
    TakeSkipped,
    TakeStarted,
)


class Console:
    """Renders build events."""

    def __init__(self, stream: TextIO | None = None, *, live: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        if live is None:
            live = self.stream.isatty() and not os.environ.get("CI")
        self.live = live
        self.running: dict[str, tuple[float, str]] = {}
        self.spent = 0.0
        self._lock = threading.Lock()
        self._drawn = 0
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None
        if self.live:
            self._ticker = threading.Thread(target=self._tick, daemon=True)
            self._ticker.start()

    def __call__(self, event: Event) -> None:
        with self._lock:
            line = self._line(event)
            if self.live:
                self._clear()
            if line:  # messages may quote the storyboard, or what a server answered
                self.stream.write(printable(line) + "\n")
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

    def _line(self, event: Event) -> str | None:
        take = event.take
        if isinstance(event, TakeStarted):
            self.running[take] = (time.monotonic(), "resuming" if event.resumed else "generating")
            return (
                None if self.live else f"{take}: {self.running[take][1]} (task {event.task_uuid})"
            )
        if isinstance(event, TakeProgress):
            started = self.running.get(take, (time.monotonic(), ""))[0]
            state = event.state + (f" {event.fraction:.0%}" if event.fraction is not None else "")
            self.running[take] = (started, state)
            return None
        if isinstance(event, TakeDone):
            started, _ = self.running.pop(take, (time.monotonic(), ""))
            self.spent += event.cost or 0.0
            cost = f", ${event.cost:.4f}" if event.cost else ""
            return f"{take}: done in {event.seconds:.1f} s{cost}"
        if isinstance(event, TakeCached):
            if event.source.startswith("take:"):
                return f"{take}: the same request as {event.source[5:]}, made once"
            return (
                f"{take}: cached" if event.source == "cache" else f"{take}: fetched from the lock"
            )
        if isinstance(event, TakeFailed):
            self.running.pop(take, None)
            return f"{take}: FAILED: {event.message}"
        if isinstance(event, TakeSkipped):
            return f"{take}: skipped ({event.reason})"
        if isinstance(event, Note):
            return event.message
        return None

    def _clear(self) -> None:
        if self._drawn:
            self.stream.write(f"\x1b[{self._drawn}F\x1b[J")
            self._drawn = 0

    def _draw(self) -> None:
        now = time.monotonic()
        lines = [
            f"  {take:<20} {state:<14} {now - started:6.1f} s"
            for take, (started, state) in sorted(self.running.items())
        ]
        if lines:
            lines.append(f"  spent so far: ${self.spent:.4f}")
        for line in lines:
            self.stream.write(line + "\n")
        self._drawn = len(lines)

    def _tick(self) -> None:
        while not self._stop.wait(0.5):
            with self._lock:
                if self.running:
                    self._clear()
                    self._draw()
                    self.stream.flush()
