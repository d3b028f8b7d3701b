"""Run one build against a Runware server, as a separate process (tests kill it).

Usage: python -m tests.e2e.runner STORYBOARD  (RUNWARE_API_KEY and RUNWARE_BASE_URL set).
Polls quickly (the emulator's jobs take a fraction of a second); otherwise the real CLI path.
"""

from __future__ import annotations

import sys

from storyboard.backends.runware.backend import RunwareBackend
from storyboard.backends.runware.client import RetryPolicy, RunwareClient
from storyboard.backends.runware.poll import PollPolicy
from storyboard.build.pipeline import build


def fast_backend() -> RunwareBackend:
    client = RunwareClient(
        poll=PollPolicy(first_delay=0.1, multiplier=1.2, max_interval=0.3, deadline=60),
        retry=RetryPolicy(max_attempts=8, base_delay=0.05, max_delay=0.3, jitter=0.05),
    )
    return RunwareBackend(client)


def main(path: str) -> int:
    result = build(path, backend=fast_backend(), jobs=4, film_scale=1 / 12)
    for outcome in result.outcomes.values():
        if outcome.status in ("failed", "skipped"):
            print(f"{outcome.take}: {outcome.status}: {outcome.message}", file=sys.stderr)
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
