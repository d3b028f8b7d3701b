"""Run the benchmarks, print one table, write ``bench/results.json``.

Usage::

    python -m bench.run                 # all of them, 3 runs each (5 for those of MIN_RUNS)
    python -m bench.run P4 P5 --runs 5  # some of them; their entries in results.json are replaced
    python -m bench.run --quick         # small inputs, a smoke test; writes no results

Each benchmark is a module of ``bench`` with ``run(runs, quick) -> Result``: P1..P7 time the
library in-process; P5c, P6c, P7c, S1 and M1 run the ``storyboard`` command as a user does
(:mod:`bench.cli`). Media are made with ffmpeg on first use and cached in ``bench/.cache/``.
The machine's load (1-minute average) is recorded before and after each benchmark.
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import json
import os
import platform
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.harness import Result, table

MODULES = {
    "P1": "bench.p1_join",
    "P2": "bench.p2_crossfade",
    "P3": "bench.p3_memory",
    "P4": "bench.p4_last_frame",
    "P5": "bench.p5_check",
    "P6": "bench.p6_noop",
    "P7": "bench.p7_schedule",
    "P8": "bench.p8_pull",
    "P9": "bench.p9_noop_remote",
    "P5c": "bench.p5c_check_cli",
    "P6c": "bench.p6c_noop_cli",
    "P7c": "bench.p7c_schedule_cli",
    "S1": "bench.s1_startup",
    "M1": "bench.m1_memory",
}
MIN_RUNS = dict.fromkeys(("P1", "P5", "P6", "P5c", "P6c", "P7c", "S1", "M1"), 5)
"""Runs at least, whatever --runs says: the figures of issue 18 are medians of 5 pairs."""
RESULTS = Path(__file__).resolve().parent / "results.json"


def machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": model or platform.processor(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
        "versions": _versions(),
    }


def _versions() -> dict[str, str]:
    """The libraries the figures depend on, and the ffmpeg that made the media."""
    import subprocess
    from importlib import metadata

    from bench.media import ffmpeg

    found = {}
    for name in ("av", "moviepy", "ruamel.yaml", "jinja2", "numpy"):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "?"
    try:
        banner = subprocess.run([ffmpeg(), "-version"], capture_output=True, text=True).stdout
        found["ffmpeg"] = banner.split("\n", 1)[0].split(" ")[2]
    except (OSError, IndexError):
        found["ffmpeg"] = "?"
    return found


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    parser.add_argument("only", nargs="*", metavar="P", help="benchmarks to run (default: all)")
    parser.add_argument("--runs", type=int, default=3, help="runs per measurement (>= 3)")
    parser.add_argument("--quick", action="store_true", help="small inputs; writes no results")
    parser.add_argument("--out", type=Path, help=f"results file (default {RESULTS.name})")
    args = parser.parse_args(argv)
    by_name = {key.upper(): key for key in MODULES}
    wanted = [by_name.get(p.upper(), p) for p in args.only] or list(MODULES)
    unknown = [p for p in wanted if p not in MODULES]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(MODULES)}")
    if args.runs < 3 and not args.quick:
        parser.error("--runs must be at least 3 (the median of fewer is not a figure)")

    results: list[Result] = []
    failed: dict[str, str] = {}
    started = time.monotonic()
    for key in wanted:
        runs = args.runs if args.quick else max(args.runs, MIN_RUNS.get(key, 0))
        before = round(os.getloadavg()[0], 2)
        print(f"[{key}] running ({runs} runs, load {before}) ...", file=sys.stderr, flush=True)
        t0 = time.monotonic()
        try:
            module = importlib.import_module(MODULES[key])
            result: Result = module.run(runs, args.quick)
        except Exception as exc:
            traceback.print_exc()
            failed[key] = f"{type(exc).__name__}: {exc}"
            print(f"[{key}] FAILED: {failed[key]}", file=sys.stderr, flush=True)
            continue
        after = round(os.getloadavg()[0], 2)
        result.info.setdefault("load", [before, after])
        results.append(result)
        print(
            f"[{key}] done in {time.monotonic() - t0:.0f} s: ratio {result.ratio:.3g}, "
            f"{'met' if result.met else 'MISSED'} (load {before} -> {after})",
            file=sys.stderr,
            flush=True,
        )
    elapsed = time.monotonic() - started

    print(table(results))
    for key, why in failed.items():
        print(f"{key}  could not run: {why}")
    print(f"\n{len(results)} benchmark(s) in {elapsed:.0f} s", file=sys.stderr)

    out = args.out or (None if args.quick else RESULTS)
    if out is not None:
        write(out, results, failed, args, elapsed)
        print(f"wrote {out}", file=sys.stderr)
    return 0 if not failed else 1


def write(
    out: Path,
    results: list[Result],
    failed: dict[str, str],
    args: argparse.Namespace,
    elapsed: float,
) -> None:
    """Merge ``results`` into ``out``: benchmarks not run this time keep their entries."""
    try:
        data: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = {}
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    command = "python -m bench.run" + "".join(f" {p}" for p in args.only)
    if args.runs != 3:
        command += f" --runs {args.runs}"
    meta = {"command": command, "date": stamp, "machine": machine(), "seconds": round(elapsed)}
    for result in results:
        data[result.key] = {**result.to_json(), "measured": stamp, "command": command}
    for key, why in failed.items():
        data[key] = {"error": why, "met": False, "measured": stamp, "command": command}
    ordered: dict[str, Any] = {"meta": meta}
    ordered.update({key: data[key] for key in MODULES if key in data})
    out.write_text(json.dumps(ordered, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
