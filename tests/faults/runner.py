"""One build against a Runware server, in-process or as a process a test can kill.

``python -m tests.faults.runner STORYBOARD`` (with ``RUNWARE_API_KEY`` and
``RUNWARE_BASE_URL`` set) runs :func:`storyboard.build.pipeline.build` with the real Runware
backend, polling and retrying quickly (the emulator's jobs take a fraction of a second), and prints
one line per build event on stdout, flushed at once, so that a test can kill the process
right after a chosen event. Exit status: 0 every take finished, 1 otherwise.

``python -m tests.faults.runner --cli ARGS...`` runs the command line itself (``storyboard
ARGS...``) with the same quick backend and every logger at DEBUG on stderr: all a user
could ever see printed.
"""

from __future__ import annotations

import sys

from storyboard.backends.runware.backend import RunwareBackend
from storyboard.backends.runware.client import RetryPolicy, RunwareClient
from storyboard.backends.runware.poll import PollPolicy
from storyboard.build.pipeline import build
from storyboard.core.events import Event

FILM_SCALE = 1 / 12
"""The film is cut at the emulator's render scale (1920x1080 -> 160x90), to stay fast."""


def fast_backend(*, timeout: float = 10.0) -> RunwareBackend:
    """The Runware backend with fast polling and retries (as the real one, only quicker)."""
    client = RunwareClient(
        timeout=timeout,
        poll=PollPolicy(first_delay=0.1, multiplier=1.2, max_interval=0.3, deadline=60),
        retry=RetryPolicy(max_attempts=8, base_delay=0.05, max_delay=0.3, jitter=0.05),
    )
    return RunwareBackend(client)


def _print(event: Event) -> None:
    print(f"{type(event).__name__} {event.take}", flush=True)


def main(path: str) -> int:
    print("Ready", flush=True)  # imports done: the build starts now
    result = build(path, backend=fast_backend(), jobs=4, film_scale=FILM_SCALE, emit=_print)
    print("BuildFinished", flush=True)
    for outcome in result.outcomes.values():
        if outcome.status in ("failed", "skipped"):
            print(f"{outcome.take}: {outcome.status}: {outcome.message}", file=sys.stderr)
    return 0 if result.ok else 1


def cli(argv: list[str]) -> int:
    import logging

    from storyboard.backends import factory
    from storyboard.cli.main import main as command_line

    logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)
    factory.make_backend = lambda *_, **__: fast_backend()  # type: ignore[assignment]
    return command_line(argv)


if __name__ == "__main__":
    if sys.argv[1] == "--cli":
        sys.exit(cli(sys.argv[2:]))
    sys.exit(main(sys.argv[1]))
