"""P7c: ``storyboard build`` as a user runs it, with the shipped defaults, against the
critical path.

P7's storyboard (24 takes in levels of 4, 8, 8 and 4, each take after the first level
handing off from one of the level before: a critical path of 4 generations) built with
``storyboard build FILE -j 8 --film-scale 1/12``: a fresh process, the shipped poll policy
and retries, the real Runware client over loopback to the emulator (every generation takes
exactly 10 s; it renders at 1/12 of the size, which ``--film-scale`` tells the cut). Wall time
from the command's start to its exit: check, compile, hand-off frames, uploads, polls,
downloads, the cut, the record, the exports and the contact sheet. Baseline: the critical path,
4 x 10 s (computed).

Also measured, with the shipped defaults: poll requests per second of a build of N independent
takes at ``-j N`` (N = 4 and 48), from the emulator's counts: it must not grow with N.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

from bench import cli, emulated, media
from bench.harness import Check, Result
from bench.storyboards import layered_storyboard

LATENCY = 10.0
SCALE = 1 / 12


def _build(server: emulated.Emulator, path: Any, jobs: int) -> tuple[float, dict[str, Any]]:
    """A fresh build through the command line; its wall seconds and the emulator's counts."""
    server.reset()
    env = cli.emulator_env(server)
    command = cli.storyboard("build", str(path), "-j", str(jobs), "--film-scale", f"{SCALE:.6f}")
    start = time.perf_counter()
    cli.run(command, env=env, cwd=path.parent)
    return time.perf_counter() - start, cli.emulator_stats(server)


def _polls(stats: dict[str, Any]) -> int:
    """POSTs that were polls: every POST but the submits (no uploads: flat storyboards)."""
    posts = sum(stats["statuses"].values())
    return (
        posts
        - int(stats["tasks"].get("videoInference", 0))
        - int(stats["tasks"].get("imageUpload", 0))
    )


def run(runs: int, quick: bool = False) -> Result:
    widths = [2, 3, 2] if quick else [4, 8, 8, 4]
    latency = 2.0 if quick else LATENCY
    counts = [2, 8] if quick else [4, 48]
    critical = len(widths) * latency
    server = emulated.start_emulator(latency, scale=SCALE)
    walls: list[float] = []
    requests: dict[str, Any] = {}
    rates: dict[int, list[float]] = {n: [] for n in counts}
    load_before = cli.load()
    try:
        # warm-up (bytecode, page cache), not counted
        warm = cli.project(media.scratch("p7c/warm"))
        _build(server, layered_storyboard(warm, [1], name="warm"), 1)
        for index in range(runs):
            folder = cli.project(media.scratch(f"p7c/graph{index}"))
            wall, stats = _build(server, layered_storyboard(folder, widths, name="graph"), 8)
            walls.append(wall)
            requests = stats["tasks"]
            for count in counts:
                flat = cli.project(media.scratch(f"p7c/flat{count}-{index}"))
                seconds, stats = _build(
                    server, layered_storyboard(flat, [count], name=f"flat{count}"), count
                )
                rates[count].append(_polls(stats) / seconds)
    finally:
        server.stop()
    growth = [a / b for a, b in zip(rates[counts[1]], rates[counts[0]], strict=True)]
    return Result(
        key="P7c",
        measure=f"storyboard build, {sum(widths)} takes, -j 8, shipped defaults, emulator",
        unit="s",
        ours=walls,
        baseline=[critical] * len(walls),
        kind="ratio",
        op="<=",
        target=1.15,
        baseline_name=f"critical path: {len(widths)} generations x {latency:g} s (computed)",
        checks=[
            Check(
                f"poll req/s, {counts[1]} takes in flight / {counts[0]}",
                statistics.median(growth),
                "<=",
                1.2,
                "x",
                (min(growth), max(growth)),
            )
        ],
        info={
            "load": [load_before, cli.load()],
            "levels": widths,
            "latency_s": latency,
            "tasks_one_graph_build": requests,
            "poll_requests_per_s": {str(n): [round(r, 3) for r in rates[n]] for n in counts},
        },
        notes=[
            "the wall runs from the command's start to its exit (the cut, record, exports and "
            "contact sheet included); the baseline is computed, not timed",
            "poll rate: poll POSTs over the whole build's wall time (start-up and finish "
            "included), flat storyboards of N independent takes at -j N",
        ],
    )
