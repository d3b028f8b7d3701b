"""P6: a no-op rebuild of a 100-take storyboard (everything cached) against ``storyboard check``.

Since 2026-12-07 a no-op rebuild that finds every file the last one's check read as it was
does not check the storyboard again (the headline); ``checking_the_storyboard`` times the same
rebuild made to check it first (what the headline was before: the note's inputs set aside).

The storyboard (:func:`bench.storyboards.layered_storyboard`, levels of 60, 25 and 15 shots,
40 of them hand-offs) is built once against the Runware emulator with the real Runware
backend. Then, timed: ``build(...)`` again with a fresh backend (what ``storyboard build``
does: check, compile and key; then, finding the note the last build left and every file as it
was, nothing more; without it, look every take up in the cache and verify it, write the
outputs, the lock and the records, and finish: the cut, the record, the exports, the contact
sheet) against what ``storyboard check`` runs on the same file
(:func:`storyboard.api.compile_storyboard`). Every request the client sends is counted; a
no-op rebuild must send none.

Two cache contents: the emulator's own videos (160x90, a few kB each), and realistic ones
(every cached take replaced, through :meth:`Cache.put`, by an 8 s 1080p H.264 clip of about
6.5 MB, the size of a generated take). The headline is the realistic one.
"""

from __future__ import annotations

import os
import statistics
from pathlib import Path
from typing import Any

from bench import emulated, media
from bench.harness import Check, Result, paired, ratios, spread, timed
from bench.storyboards import layered_storyboard
from storyboard.api import compile_storyboard
from storyboard.build.pipeline import UNCHANGED, prepare
from storyboard.build.state.cache import Cache
from storyboard.build.state.outputs import backend_folder

EMULATOR_SCALE = 1 / 12


def realistic_cache(path: Path, clip: Path, namespace: str) -> float:
    """Replace every cached result of ``path`` by a hard link to ``clip``; returns its MB."""
    prepared = prepare(path, backend_name=namespace, project_root=path.parent)
    cache = Cache(prepared.workspace.cache)
    for take in prepared.compiled.takes:
        key = prepared.keys[take.id]
        entry = cache.get(namespace, key, verify=False)
        if entry is None:
            raise RuntimeError(f"take {take.id} is not cached after the first build")
        staged = entry.folder.parent / f".bench-{key[:12]}.mp4"
        staged.unlink(missing_ok=True)
        os.link(clip, staged)
        result = entry.results[0]
        cache.put(
            namespace,
            key,
            [staged],
            results=[
                {"video_uuid": result.video_uuid, "url": result.url, "cost": result.cost,
                 "seed": result.seed}
            ],
            task_uuid=entry.task_uuid,
            meta=entry.meta,
        )  # fmt: skip
    return media.megabytes(clip)


def _noop(
    server: Any, path: Path, film_scale: float, sent: list[int], statuses: list[set[str]]
) -> None:
    result, transport, _ = emulated.run_build(server, path, jobs=4, film_scale=film_scale)
    sent.append(transport.count())
    statuses.append({o.status for o in result.outcomes.values()})


def run(runs: int, quick: bool = False) -> Result:
    widths = [6, 3, 1] if quick else [60, 25, 15]
    takes = sum(widths)
    folder = media.scratch("p6")
    path = layered_storyboard(folder, widths, name="hundred")
    server = emulated.start_emulator(0.05, scale=EMULATOR_SCALE)
    sent: list[int] = []
    statuses: list[set[str]] = []
    try:
        _, first, first_s = emulated.run_build(server, path, jobs=8, film_scale=EMULATOR_SCALE)

        def check() -> object:
            return compile_storyboard(path, project_root=path.parent)

        # The first rebuild after the generating one records the takes as cached (the record,
        # lock and records change): it runs in full, and leaves the note later ones read.
        after_first = timed(lambda: _noop(server, path, EMULATOR_SCALE, sent, statuses))
        small_t, small_check = paired(
            runs, lambda: _noop(server, path, EMULATOR_SCALE, sent, statuses), check
        )
        namespace = emulated.backend(server, emulated.CountingTransport()).namespace
        clip_mb = realistic_cache(path, media.clip(media.QUICK if quick else media.FULL), namespace)
        real_t, real_check = paired(runs, lambda: _noop(server, path, 1.0, sent, statuses), check)
        note = path.parent / "build" / path.stem / backend_folder(namespace) / UNCHANGED

        def without_note() -> None:
            note.unlink(missing_ok=True)  # every take looked up and verified, finish re-checked
            _noop(server, path, 1.0, sent, statuses)

        full_t, full_check = paired(runs, without_note, check, warmup=False)
        _noop(server, path, 1.0, sent, statuses)  # the note again

        def checking() -> None:  # the no-op as it was: the storyboard checked first
            from storyboard.build import pipeline

            skip = pipeline._unchanged_inputs
            pipeline._unchanged_inputs = lambda *a, **k: None  # type: ignore[assignment]
            try:
                _noop(server, path, 1.0, sent, statuses)
            finally:
                pipeline._unchanged_inputs = skip  # type: ignore[assignment]

        checked_t, checked_check = paired(runs, checking, check)
    finally:
        server.stop()
    full_median, full_low, full_high = spread(ratios(full_t, full_check, "ratio"))
    checked_median, checked_low, checked_high = spread(ratios(checked_t, checked_check, "ratio"))

    small_median, small_low, small_high = spread(ratios(small_t, small_check, "ratio"))
    requests = float(sum(sent))
    return Result(
        key="P6",
        measure=f"no-op rebuild, {takes} takes of {clip_mb:.1f} MB",
        unit="s",
        ours=real_t,
        baseline=real_check,
        kind="ratio",
        op="<=",
        target=1.5,
        baseline_name="storyboard check (api.compile_storyboard) on the same file",
        checks=[Check("requests sent by the no-op rebuilds", requests, "<=", 0, "")],
        info={
            "emulator_sized_takes": {
                "rebuild_s": [round(v, 3) for v in small_t],
                "check_s": [round(v, 4) for v in small_check],
                "ratio": round(small_median, 2),
                "ratio_spread": [round(small_low, 2), round(small_high, 2)],
            },
            "without_the_note": {
                "rebuild_s": [round(v, 3) for v in full_t],
                "check_s": [round(v, 4) for v in full_check],
                "ratio": round(full_median, 1),
                "ratio_spread": [round(full_low, 1), round(full_high, 1)],
            },
            "checking_the_storyboard": {
                "rebuild_s": [round(v, 4) for v in checked_t],
                "check_s": [round(v, 4) for v in checked_check],
                "ratio": round(checked_median, 2),
                "ratio_spread": [round(checked_low, 2), round(checked_high, 2)],
            },
            "first_rebuild_after_generating_s": round(after_first, 3),
            "first_build": {
                "seconds": round(first_s, 1),
                "requests": {k: first.count(k) for k in sorted({s.kind for s in first.sent})},
            },
            "statuses_seen": sorted(set().union(*statuses)),
            "check_s_median": round(statistics.median(real_check), 4),
        },
        notes=[
            "warm page cache: the rebuild re-reads files the first build or the warm-up wrote",
            "the headline is the rebuild that finds the note of the last build "
            "(build/NAME/BACKEND/.build.json) and every file as it was, the storyboard's "
            "inputs too, so it does not check the storyboard; 'checking_the_storyboard' is "
            "the same rebuild made to check it first; 'without_the_note' is the same rebuild "
            "made to look every take up, verify it and re-check the finish",
        ],
    )
