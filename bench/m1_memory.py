"""M1: peak memory of a 1,000-take preview build against a 100-take one.

Two storyboards of N independent shots (N = 1,000 and 100; 5 s each, 200-character prompts),
each its own project. Each is built once through the command line (``storyboard build FILE
--backend preview``, the shipped settings), rendering every take: that build's peak is
reported beside the headline, one run each (the 1,000 takes take minutes to render). Then,
timed in pairs: the build folder removed, the same command again. It finds every take in the
cache and does everything else a build does (links the takes, writes the requests, cuts the
film, writes the record, the exports and the contact sheet), which is where the memory goes.

Peak: ``VmHWM`` of the build's own process (``/proc/self/status``, read by the command's
process as it exits), in MiB.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from bench import cli, media
from bench.harness import Result, paired
from bench.storyboards import layered_storyboard

PEAK = """
import sys
from storyboard.cli.main import main
status = main(sys.argv[1:])
with open("/proc/self/status", encoding="ascii") as handle:
    peak = next(line for line in handle if line.startswith("VmHWM:"))
print("PEAK", peak.split()[1], file=sys.stderr)
sys.exit(status)
"""


def peak_mib(path: Path, env: dict[str, str]) -> float:
    """The peak resident size of one ``storyboard build PATH --backend preview``."""
    done = cli.run(
        [cli.PYTHON, "-c", PEAK, "build", str(path), "--backend", "preview"], env=env,
        cwd=path.parent,
    )  # fmt: skip
    found = re.search(r"^PEAK (\d+)$", done.stderr, re.MULTILINE)
    if found is None:
        raise RuntimeError(f"no peak reported: {done.stderr[-500:]}")
    return int(found.group(1)) / 1024


def run(runs: int, quick: bool = False) -> Result:
    sizes = (10, 100) if quick else (100, 1000)
    env = cli.environment()
    paths = {}
    generating = {}
    for n in sizes:
        folder = cli.project(media.scratch(f"m1/flat{n}"))
        paths[n] = layered_storyboard(folder, [n], name=f"flat{n}")
        generating[n] = round(peak_mib(paths[n], env), 1)
    load_before = cli.load()

    def rebuild(n: int) -> float:
        shutil.rmtree(paths[n].parent / "build" / paths[n].stem, ignore_errors=True)
        return peak_mib(paths[n], env)

    small, large = sizes
    peaks: dict[int, list[float]] = {large: [], small: []}
    ours, theirs = paired(
        runs,
        lambda: peaks[large].append(rebuild(large)),
        lambda: peaks[small].append(rebuild(small)),
    )
    return Result(
        key="M1",
        measure=f"peak RSS, preview build of {large} takes vs {small} (cached takes)",
        unit="MiB",
        ours=peaks[large][1:],  # the first of each is paired()'s warm-up
        baseline=peaks[small][1:],
        kind="ratio",
        op="<=",
        target=1.5,
        baseline_name=f"the same build of {small} takes",
        info={
            "load": [load_before, cli.load()],
            "generating_build_peak_mib": {str(n): generating[n] for n in sizes},
            "generating_build_ratio": round(generating[large] / generating[small], 2),
            "seconds": {
                "rebuild_large": [round(v, 1) for v in ours],
                "rebuild_small": [round(v, 1) for v in theirs],
            },
        },
        notes=[
            "every run is a fresh process; the peak is VmHWM of the build's own process",
            "generating_build_peak_mib: the first build of each, which renders every take",
        ],
    )
