"""P3: peak memory of the hard-cut join (P1's film) for 12 and for 48 clips.

Each measurement runs in a fresh child process (``python -m bench.p3_memory MODE COUNT``), so
nothing this process allocated before counts. The child compiles the storyboard, then joins
(``ours``) or does nothing more (``idle``: the interpreter, its imports and the compiled
storyboard, the floor under every figure), and reports:

- ``self_mib``: its own peak resident size (``VmHWM`` of ``/proc/self/status``);
- ``children_mib``: the peak of its largest ffmpeg child (``RUSAGE_CHILDREN``; Linux counts
  in it the child's size at the fork, the Python process's, before ffmpeg replaced it);
- ``tree_mib``: the peak of the whole process tree, sampled from ``/proc`` every 5 ms.

The headline is ``self + children`` (both exact peaks; their sum bounds the tree's peak from
above). The 48 clips are the 12 clips four times over (hard links): the join never decodes
the picture, so their content does not matter, only their number and size.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from bench import cutting, media
from bench.harness import Result

PAGE = os.sysconf("SC_PAGE_SIZE")


def _rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm", encoding="ascii") as handle:
            return int(handle.read().split()[1]) * PAGE
    except (OSError, ValueError, IndexError):
        return 0


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children", encoding="ascii") as handle:
                found += [int(p) for p in handle.read().split()]
        except (OSError, ValueError):
            continue
    return found


def _tree_rss(pid: int) -> int:
    total, stack = 0, [pid]
    while stack:
        current = stack.pop()
        total += _rss(current)
        stack += _children(current)
    return total


class TreeSampler:
    """Samples the resident size of this process and its descendants in a thread."""

    def __init__(self, interval: float = 0.005) -> None:
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        pid = os.getpid()
        while not self._stop.is_set():
            self.peak = max(self.peak, _tree_rss(pid))
            time.sleep(self.interval)

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _spec(quick: bool) -> media.ClipSpec:
    return media.QUICK if quick else media.FULL


def _high_water_kib() -> int:
    """This process's peak resident size since it started its program (``VmHWM``).

    Not ``getrusage(RUSAGE_SELF).ru_maxrss``: Linux keeps that across ``exec``, so a child
    started from a large parent reports the parent's size at the fork (seen here: 343 MiB for
    a child that never held more than 145)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def child(mode: str, count: int, quick: bool) -> dict[str, Any]:
    """Run in the child process: one join (or none), then the peaks."""
    spec = _spec(quick)
    distinct = 4 if quick else 12
    clips = media.clips(spec, count, distinct=distinct)
    folder = media.CACHE / "work" / "p3" / f"{mode}-{count}"
    folder.mkdir(parents=True, exist_ok=True)
    compiled = cutting.storyboard_for(folder, clips, spec.seconds)
    size = (spec.width, spec.height)
    with TreeSampler() as sampler:
        if mode == "ours":
            cutting.ours(compiled, clips, size, folder / "film.mp4")
        elif mode == "copy":
            cutting.ffmpeg_concat_copy(clips, folder / "film.mp4")
        else:
            cutting.timeline_for(compiled, clips, size)
    mib = 1024.0  # both in KiB on Linux
    own = _high_water_kib() / mib
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / mib
    return {
        "self_mib": round(own, 1),
        "children_mib": round(kids, 1),
        "peak_mib": round(own + kids, 1),
        "tree_mib": round(sampler.peak / 2**20, 1),
    }


def measure(mode: str, count: int, quick: bool) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "bench.p3_memory", mode, str(count)]
    if quick:
        cmd.append("--quick")
    root = Path(__file__).resolve().parent.parent
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=root, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {proc.stderr[-2000:]}")
    figures: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return figures


def run(runs: int, quick: bool = False) -> Result:
    small, large = (4, 16) if quick else (12, 48)
    media.clips(_spec(quick), large, distinct=small)  # make the media here, not in a child
    rows: dict[str, list[dict[str, Any]]] = {}
    for index in range(runs):
        order = [("ours", small), ("ours", large)]
        if index % 2:
            order.reverse()
        for mode, count in [*order, ("idle", small), ("idle", large), ("copy", large)]:
            rows.setdefault(f"{mode}-{count}", []).append(measure(mode, count, quick))

    def peaks(key: str, field: str = "peak_mib") -> list[float]:
        return [float(r[field]) for r in rows[key]]

    def med(key: str, field: str = "peak_mib") -> float:
        return round(statistics.median(peaks(key, field)), 1)

    ours_small, ours_large = f"ours-{small}", f"ours-{large}"
    growth_small = med(ours_small) - med(f"idle-{small}")
    growth_large = med(ours_large) - med(f"idle-{large}")
    return Result(
        key="P3",
        measure=f"peak memory of the join, {large} clips vs {small}",
        unit="MiB",
        ours=peaks(ours_large),
        baseline=peaks(ours_small),
        kind="ratio",
        op="<=",
        target=1.2,
        baseline_name=f"the same join of {small} clips",
        info={
            "median_mib": {key: {f: med(key, f) for f in rows[key][0]} for key in rows},
            "join_above_idle_mib": {
                str(small): round(growth_small, 1),
                str(large): round(growth_large, 1),
            },
            "runs": rows,
        },
        notes=[
            "ours = headline 'ours' column is the 48-clip peak, 'baseline' the 12-clip peak; "
            "idle = the child's floor (interpreter, imports, compiled storyboard, timeline)",
        ],
    )


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    args = [a for a in argv if a != "--quick"]
    mode, count = args[0], int(args[1])
    print(json.dumps(child(mode, count, quick)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
