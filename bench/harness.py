"""What every benchmark shares: timing, paired runs, results with targets, the table.

A benchmark module exposes ``run(runs: int, quick: bool) -> Result``. It times *ours* and
its *baseline* in this process, on the same input, interleaved run by run (ABAB..., the
order flipped every run so neither side always gets the warmer cache), and reports the
median and the spread (min..max). The headline figure is a ratio, because these machines
are shared and noisy: absolute seconds drift from run to run, the ratio of two things
measured side by side drifts much less.

Ratios point the way their target reads: ``speedup`` is baseline / ours (``>= 200``: at
least 200 times faster), ``ratio`` is ours / baseline (``<= 1.5``: within 1.5 times).
"""

from __future__ import annotations

import gc
import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Op = Literal[">=", "<="]
RatioKind = Literal["speedup", "ratio"]


@dataclass(frozen=True)
class Check:
    """A figure with a target of its own, besides a benchmark's headline ratio."""

    name: str
    value: float
    op: Op
    target: float
    unit: str = "x"
    spread: tuple[float, float] | None = None

    @property
    def met(self) -> bool:
        return meets(self.value, self.op, self.target)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "value": _round(self.value),
            "unit": self.unit,
            "target": f"{self.op} {_fmt(self.target)}",
            "met": self.met,
        }
        if self.spread is not None:
            out["spread"] = [_round(self.spread[0]), _round(self.spread[1])]
        return out


@dataclass(frozen=True)
class Result:
    """One benchmark's figures.

    Attributes:
        key: ``P1`` .. ``P7``.
        measure: what was measured, in a few words.
        unit: the unit of ``ours`` and ``baseline`` (``s``, ``MiB``, ...).
        ours, baseline: every run's value, in run order (a baseline too slow to repeat may
            have a single run; the ratio then uses it against each of ours).
        kind: ``speedup`` (baseline / ours) or ``ratio`` (ours / baseline).
        op, target: the headline target on the ratio.
        baseline_name: what the baseline is.
        checks: further figures with targets; ``met`` needs all of them.
        info: further figures without a target (PSNR, exactness, variants).
        notes: caveats, limits, what is missing.
    """

    key: str
    measure: str
    unit: str
    ours: Sequence[float]
    baseline: Sequence[float]
    kind: RatioKind
    op: Op
    target: float
    baseline_name: str
    checks: Sequence[Check] = ()
    info: dict[str, Any] = field(default_factory=dict)
    notes: Sequence[str] = ()

    @property
    def ratios(self) -> list[float]:
        return ratios(self.ours, self.baseline, self.kind)

    @property
    def ratio(self) -> float:
        return statistics.median(self.ratios)

    @property
    def met(self) -> bool:
        return meets(self.ratio, self.op, self.target) and all(c.met for c in self.checks)

    @property
    def runs(self) -> int:
        return len(self.ours)

    def to_json(self) -> dict[str, Any]:
        rs = self.ratios
        return {
            "measure": self.measure,
            "ours": _round(statistics.median(self.ours)),
            "baseline": _round(statistics.median(self.baseline)),
            "unit": self.unit,
            "ratio": _round(self.ratio),
            "target": f"{self.op} {_fmt(self.target)}",
            "runs": self.runs,
            "met": self.met,
            "ratio_definition": (
                "baseline / ours (times faster)" if self.kind == "speedup" else "ours / baseline"
            ),
            "baseline_name": self.baseline_name,
            "baseline_runs": len(self.baseline),
            "ours_runs": [_round(v) for v in self.ours],
            "baseline_values": [_round(v) for v in self.baseline],
            "ratio_spread": [_round(min(rs)), _round(max(rs))],
            "checks": [c.to_json() for c in self.checks],
            "info": self.info,
            "notes": list(self.notes),
        }


def meets(value: float, op: Op, target: float) -> bool:
    if math.isnan(value):
        return False
    return value >= target if op == ">=" else value <= target


def ratios(ours: Sequence[float], baseline: Sequence[float], kind: RatioKind) -> list[float]:
    """Per-run ratios: paired run by run, or every one of ours against a single baseline."""
    if not ours or not baseline:
        return [math.nan]
    if len(baseline) == len(ours):
        pairs = list(zip(ours, baseline, strict=True))
    else:
        reference = statistics.median(baseline)
        pairs = [(o, reference) for o in ours]
    return [_divide(b, o) if kind == "speedup" else _divide(o, b) for o, b in pairs]


def _divide(a: float, b: float) -> float:
    return a / b if b > 0 else math.inf


def timed(fn: Callable[[], object], repeat: int = 1) -> float:
    """Seconds one ``fn()`` takes, averaged over ``repeat`` calls in a row (garbage collected
    first, so a collection is not billed to it)."""
    gc.collect()
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat


def paired(
    runs: int,
    ours: Callable[[], object],
    baseline: Callable[[], object],
    *,
    warmup: bool = True,
    repeat: int = 1,
    before: Callable[[], object] | None = None,
) -> tuple[list[float], list[float]]:
    """Time ``ours`` and ``baseline`` ``runs`` times each, interleaved, after one warm-up.

    With ``repeat`` > 1 a run is the mean of that many calls in a row (for operations of a
    few milliseconds, where one call is mostly scheduler noise). ``before``, if given, is
    called untimed before every call of either side (a reset: emptying what the last call
    filled, so that no side is billed for undoing the other's work).
    """

    def run(fn: Callable[[], object]) -> float:
        if before is not None:
            before()
        return timed(fn, repeat)

    if warmup:
        run(ours)
        run(baseline)
    mine: list[float] = []
    theirs: list[float] = []
    for index in range(runs):
        if index % 2 == 0:
            mine.append(run(ours))
            theirs.append(run(baseline))
        else:
            theirs.append(run(baseline))
            mine.append(run(ours))
    return mine, theirs


def spread(values: Sequence[float]) -> tuple[float, float, float]:
    """``(median, min, max)``."""
    return statistics.median(values), min(values), max(values)


# --- output ------------------------------------------------------------------------------


def _round(value: float) -> float:
    if math.isnan(value) or math.isinf(value):
        return value
    if value == 0:
        return 0.0
    digits = max(3 - math.floor(math.log10(abs(value))), 0)
    return round(value, digits)


def _fmt(value: float) -> str:
    if math.isnan(value):
        return "n/a"
    if math.isinf(value):
        return "inf"
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def _with_spread(values: Sequence[float], unit: str) -> str:
    median, low, high = spread(values)
    text = f"{_fmt(median)} {unit}"
    if len(values) > 1:
        text += f" ({_fmt(low)}..{_fmt(high)})"
    else:
        text += " (1 run)"
    return text


def table(results: Sequence[Result]) -> str:
    """The results as a fixed-width text table, secondary checks indented under each."""
    header = (
        "id", "measure", "ours: median (min..max)", "baseline", "ratio", "target", "met", "load",
    )  # fmt: skip
    rows: list[tuple[str, ...]] = [header]
    for r in results:
        load = r.info.get("load")
        shown_load = "->".join(f"{v:g}" for v in load) if isinstance(load, list) else ""
        rs = r.ratios
        ratio = f"{_fmt(r.ratio)}x"
        if len(rs) > 1:
            ratio += f" ({_fmt(min(rs))}..{_fmt(max(rs))})"
        rows.append(
            (
                r.key,
                r.measure,
                _with_spread(r.ours, r.unit),
                _with_spread(r.baseline, r.unit),
                ratio,
                f"{r.op} {_fmt(r.target)}",
                "yes" if meets(r.ratio, r.op, r.target) else "NO",
                shown_load,
            )
        )
        for c in r.checks:
            value = f"{_fmt(c.value)}{c.unit}"
            if c.spread is not None:
                value += f" ({_fmt(c.spread[0])}..{_fmt(c.spread[1])})"
            rows.append(
                ("", f"  {c.name}", "", "", value, f"{c.op} {_fmt(c.target)}", _yes(c.met), "")
            )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = []
    for k, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _yes(flag: bool) -> str:
    return "yes" if flag else "NO"
