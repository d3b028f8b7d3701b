"""Ctrl-C for the commands that run until stopped (``watch``, ``review``) and for ``build``:
they stop every time, within :data:`GRACE` seconds, with one line that says so and their
status for it (0 for the first two, 130, interrupted, for a build).

Python turns Ctrl-C into a ``KeyboardInterrupt`` raised wherever the main thread happens to
be, and that is not always somewhere it can be caught:

- raised in a finalizer or a weakref callback (the import system's module locks have one),
  it is printed as "Exception ignored" and dropped: the watch went on building (1 run in 80
  of ``watch`` stopped during its first build, with the signal sent at a traced line, hung;
  the one dropped in the import lock's callback between taking the lock and its ``try``
  also left the import lock held, and the build's worker threads waited for it for ever);
- raised in the clean-up of what it interrupted, it can come out as another exception (CI
  once saw ``watch`` end with a traceback and status 3 when stopped 50 ms into a build);
- caught, CPython could still end the process by SIGINT once the interpreter was finalized
  (see :func:`storyboard.cli.main.entry`).

So :class:`CtrlC` keeps the ``KeyboardInterrupt`` (it unwinds the build as before: its
``finally`` blocks run, its ffmpeg children are killed) and adds a guard thread: once Ctrl-C
is pressed, a command that has not said it stopped within :data:`GRACE` seconds is stopped
by the guard, as a kill would stop it, which every build is made to survive (nothing paid is
lost, nothing is paid twice, and the next build clears what it left). A second Ctrl-C stops
at once. The process then ends without finalizing the interpreter (``os._exit``).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from contextlib import suppress
from types import FrameType, TracebackType

GRACE = 5.0
"""Seconds a command has, after Ctrl-C, to unwind and say it stopped."""


class CtrlC:
    """``with CtrlC("watch") as ctrl_c:``: Ctrl-C raises ``KeyboardInterrupt`` as usual, and
    the process ends within ``grace`` seconds whatever becomes of it (see the module), with
    ``status`` and the line ``said`` (by default ``storyboard: WHAT stopped``).

    The command catches what Ctrl-C raised and calls :meth:`stopped`; :attr:`pressed` tells
    it whether an exception it did not expect came while it was being stopped. Outside the
    main thread, which alone is sent Ctrl-C, it does nothing.
    """

    def __init__(
        self, what: str, *, grace: float | None = None, status: int = 0, said: str | None = None
    ) -> None:
        self.what = what
        self.grace = GRACE if grace is None else grace
        self.status = status
        self.said = said if said is not None else f"storyboard: {what} stopped"
        self._pressed = threading.Event()
        self._wake = threading.Event()  # the guard's: Ctrl-C pressed, or the command done
        self._done = False
        self._said = threading.Lock()
        self._previous: object = None
        self._armed = False

    @property
    def pressed(self) -> bool:
        return self._pressed.is_set()

    def __enter__(self) -> CtrlC:
        if threading.current_thread() is not threading.main_thread():
            return self
        self._previous = signal.signal(signal.SIGINT, self._on_sigint)
        self._armed = True
        threading.Thread(target=self._guard, name="ctrl-c", daemon=True).start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if not self._armed:
            return
        signal.signal(signal.SIGINT, self._previous)  # type: ignore[arg-type]
        if not self._pressed.is_set():  # the guard is not needed: it ends (once pressed, it
            self._done = True  # stays, in case what follows the command does not end)
            self._wake.set()

    def stopped(self, because: BaseException | None = None) -> None:
        """Say the command stopped (once), and end the process without finalizing it when the
        command returns (:data:`storyboard.cli.main.stopped_by_ctrl_c`). ``because``: what
        the interrupted work raised instead of ``KeyboardInterrupt``, named on the line."""
        from storyboard.cli import main
        from storyboard.core.diagnostics import printable

        main.stopped_by_ctrl_c = True
        if not self._said.acquire(blocking=False):
            return
        why = f" (the work it interrupted ended with {type(because).__name__}: {because})"
        line = f"{self.said}{printable(why) if because else ''}\n"
        _write(line)

    def _on_sigint(self, signum: int, frame: FrameType | None) -> None:
        if self._pressed.is_set():  # a second Ctrl-C: at once
            self._end()
        self._pressed.set()
        self._wake.set()
        raise KeyboardInterrupt

    def _guard(self) -> None:
        self._wake.wait()
        if self._done:
            return
        time.sleep(self.grace)  # a command that stopped by itself has ended the process by now
        self._end()

    def _end(self) -> None:
        """Say it (unless said) and end the process now, with :attr:`status`."""
        if self._said.acquire(blocking=False):
            _write(f"{self.said}\n")
        for stream in (sys.stdout, sys.stderr):  # what was written before, if it can be
            with suppress(Exception):  # a stream that cannot be flushed: end anyway
                stream.flush()
        os._exit(self.status)


def _write(line: str) -> None:
    """``line`` on standard error, without the lock of ``sys.stderr``'s buffer (the main
    thread, stopped anywhere, may hold it)."""
    with suppress(OSError, ValueError):
        os.write(sys.stderr.fileno(), line.encode("utf-8", "replace"))
