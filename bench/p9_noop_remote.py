"""P9: a no-op rebuild with a remote configured, against the same rebuild without one.

A 40-take storyboard (:func:`bench.storyboards.layered_storyboard`, levels of 24, 10 and 6
shots) is built once against the Runware emulator with an S3 remote (moto, loopback): every
take is pushed. Then, timed and interleaved: the rebuild that finds everything done, with the
remote configured (ours) and without (the baseline). A no-op build must not call the remote
at all: every remote store the rebuilds open is counted (opening one is what any request to
it needs first), and must be zero.
"""

from __future__ import annotations

from typing import Any

from bench import emulated, media
from bench.harness import Check, Result, paired
from bench.s3 import moto
from bench.storyboards import layered_storyboard

EMULATOR_SCALE = 1 / 12
REPEAT = 10


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
            # a no-op rebuild takes tens of milliseconds: a run is the mean of 10 in a row
            ours, baseline = paired(
                runs, lambda: rebuild(True), lambda: rebuild(False), repeat=REPEAT
            )
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
            f"each run is the mean of {REPEAT} rebuilds in a row",
        ],
    )
