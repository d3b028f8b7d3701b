"""P9: a no-op rebuild with a remote configured, against the same rebuild without one.

A 40-take storyboard (:func:`bench.storyboards.layered_storyboard`, levels of 24, 10 and 6
shots) is built once against the Runware emulator with an S3 remote (moto, loopback): every
take is pushed. Then, timed and interleaved: the rebuild that finds everything done, with the
remote configured (ours) and without (the baseline). A no-op build must not call the remote
at all: every remote store the rebuilds open is counted (opening one is what any request to
it needs first), and must be zero.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bench import emulated, media
from bench.harness import Check, Result, timed
from bench.s3 import moto
from bench.storyboards import layered_storyboard

EMULATOR_SCALE = 1 / 12
REPEAT = 30


def alternated(
    runs: int, ours: Callable[[], object], baseline: Callable[[], object]
) -> tuple[list[float], list[float]]:
    """Like :func:`bench.harness.paired` with ``repeat=REPEAT``, but the two sides take turns
    call by call within a run (ours, theirs, theirs, ours, ...), not ten calls of one side
    then ten of the other: a no-op rebuild takes tens of milliseconds, and on a shared
    machine the load changes within the second a block of ten takes, which made one side's
    block pay for it and the other's not (per-run ratios from 0.44 to 1.96 at a load of 12).
    A run is ``REPEAT`` calls of each side."""
    ours()
    baseline()
    mine: list[float] = []
    theirs: list[float] = []
    for _ in range(runs):
        a = b = 0.0
        for index in range(REPEAT):
            first, second = (ours, baseline) if index % 2 == 0 else (baseline, ours)
            t1, t2 = timed(first), timed(second)
            a, b = (a + t1, b + t2) if index % 2 == 0 else (a + t2, b + t1)
        mine.append(a / REPEAT)
        theirs.append(b / REPEAT)
    return mine, theirs


def run(runs: int, quick: bool = False) -> Result:
    from storyboard.build.pipeline import build
    from storyboard.remote.config import RemoteConfig
    from storyboard.remote.store import Store

    widths = [4, 2, 1] if quick else [24, 10, 6]
    folder = media.scratch("p9")
    path = layered_storyboard(folder, widths, name="remote-noop")
    server = emulated.start_emulator(0.05, scale=EMULATOR_SCALE)
    opened: list[str] = []
    original = Store._open

    def counting(self: Store) -> Any:
        opened.append(self.url)
        return original(self)

    try:
        with moto("bench-noop"):
            remote = RemoteConfig("s3://bench-noop/films", "bench")

            def rebuild(with_remote: bool) -> None:
                result = build(
                    path, backend=emulated.backend(server, emulated.CountingTransport()),
                    jobs=4, film_scale=EMULATOR_SCALE, project_root=path.parent,
                    remote=remote if with_remote else None,
                )  # fmt: skip
                if not result.ok or {o.status for o in result.outcomes.values()} != {"cached"}:
                    raise RuntimeError("the rebuild was not a no-op")

            first = build(
                path, backend=emulated.backend(server, emulated.CountingTransport()), jobs=8,
                film_scale=EMULATOR_SCALE, project_root=path.parent, remote=remote,
            )  # fmt: skip
            if not first.ok or first.remote is None or first.remote["queued"]:
                raise RuntimeError(f"the first build did not push every take: {first.remote}")
            rebuild(True)  # records the takes as cached and leaves the note
            Store._open = counting  # type: ignore[method-assign]
            ours, baseline = alternated(runs, lambda: rebuild(True), lambda: rebuild(False))
    finally:
        Store._open = original  # type: ignore[method-assign]
        server.stop()
    takes = sum(widths)
    return Result(
        key="P9",
        measure=f"no-op rebuild of {takes} takes with a remote configured",
        unit="s",
        ours=ours,
        baseline=baseline,
        kind="ratio",
        op="<=",
        target=1.1,
        baseline_name="the same no-op rebuild without a remote",
        checks=[
            Check("remote stores opened by the no-op rebuilds", float(len(opened)), "<=", 0, "")
        ],
        info={"takes": takes, "pushed_by_the_first_build": len(first.remote["pushed"])},
        notes=[
            "both rebuilds find the note of the last build and every file as it was",
            f"each run is the mean of {REPEAT} rebuilds of each side, the sides taking turns "
            "call by call",
        ],
    )
