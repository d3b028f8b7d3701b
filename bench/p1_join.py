"""P1: joining a hard-cut film of 12 clips of 8 s at 1920x1080 (H.264 + AAC).

Ours: index the takes, lay out the timeline, :func:`storyboard.cut.assemble` (video packets
copied; the takes' AAC frames copied too, only the few around each seam re-encoded, see
:mod:`storyboard.cut.sound`). Baselines, on the same clips in this process:

- moviepy 2, ``concatenate_videoclips`` + ``write_videofile`` with its default settings
  (decode, re-encode everything with libx264 ``medium``). It takes minutes, so it is measured
  ONCE per invocation; the ratio divides that one time by each of our runs.
- ``ffmpeg -f concat -safe 0 -i LIST -c copy``: the bare stream copy, timed every run.

Also reported: the same join of 12 clips of 5 s (Kling's shortest take), whose sound does not
fall on the AAC frame grid at the seams (each clip's sound moves by up to 512 samples).
"""

from __future__ import annotations

import statistics
from typing import Any

from bench import cutting, media
from bench.harness import Check, Result, paired, ratios, spread, timed

FIVE_SECONDS = media.ClipSpec(seconds=5.0)


def five_second_clips(runs: int, count: int) -> dict[str, Any]:
    """Ours against the bare copy on 5 s clips (no moviepy: the 8 s figure stands for it)."""
    clips = media.clips(FIVE_SECONDS, count)
    folder = media.scratch("p1-5s")
    size = (FIVE_SECONDS.width, FIVE_SECONDS.height)
    compiled = cutting.storyboard_for(folder, clips, FIVE_SECONDS.seconds)
    reports = []

    def ours() -> None:
        reports.append(cutting.ours(compiled, clips, size, folder / "ours.mp4"))

    ours_t, copy_t = paired(
        runs, ours, lambda: cutting.ffmpeg_concat_copy(clips, folder / "copy.mp4")
    )
    median, low, high = spread(ratios(ours_t, copy_t, "ratio"))
    shifts = [abs(v) for v in reports[-1].sound.get("shifts", {}).values()]
    return {
        "ours_s": [round(v, 4) for v in ours_t],
        "ffmpeg_concat_copy_s": [round(v, 4) for v in copy_t],
        "ours_over_concat_copy": round(median, 2),
        "ours_over_concat_copy_spread": [round(low, 2), round(high, 2)],
        "sound": reports[-1].sound,
        "largest_sound_shift_ms": round(max(shifts, default=0) / 48, 2),
    }


def run(runs: int, quick: bool = False) -> Result:
    spec = media.QUICK if quick else media.FULL
    count = 4 if quick else 12
    clips = media.clips(spec, count)
    folder = media.scratch("p1")
    size = (spec.width, spec.height)
    compiled = cutting.storyboard_for(folder, clips, spec.seconds)
    out, copy_out, moviepy_out = folder / "ours.mp4", folder / "copy.mp4", folder / "moviepy.mp4"

    reports = []

    def ours() -> None:
        reports.append(cutting.ours(compiled, clips, size, out))

    ours_t, copy_t = paired(runs, ours, lambda: cutting.ffmpeg_concat_copy(clips, copy_out))
    moviepy_t = timed(lambda: cutting.moviepy_join(clips, moviepy_out))

    five = None if quick else five_second_clips(runs, count)
    copy_ratios = ratios(ours_t, copy_t, "ratio")
    median, low, high = spread(copy_ratios)
    report = reports[-1]
    phases = {
        k: round(statistics.median(r.timings.get(k, 0.0) for r in reports), 3)
        for k in ("index", "encode", "mux", "total")
    }
    film_seconds = count * spec.seconds
    return Result(
        key="P1",
        measure=f"join {count} x {spec.seconds:g} s {size[0]}x{size[1]}, hard cuts",
        unit="s",
        ours=ours_t,
        baseline=[moviepy_t],
        kind="speedup",
        op=">=",
        target=200,
        baseline_name="moviepy 2 concatenate_videoclips + write_videofile (defaults), 1 run",
        checks=[
            Check("ours / ffmpeg -f concat -c copy", median, "<=", 1.3, "x", (low, high)),
        ],
        info={
            "ffmpeg_concat_copy_s": [round(v, 4) for v in copy_t],
            "moviepy_s": round(moviepy_t, 2),
            "ours_phases_s": phases,
            "copied_frames": report.copied_frames,
            "encoded_frames": report.encoded_frames,
            "sound": report.sound,
            "film_seconds": film_seconds,
            "film_mb": round(media.megabytes(out), 1),
            "five_second_clips": five,
        },
        notes=[
            "moviepy is measured once per invocation (minutes of 1080p encoding); "
            "the ratio is that time over each of our runs",
            "ours copies the takes' AAC frames and re-encodes about 5 of them at each seam "
            "(the 5 ms fades), as the join writes (the 'mux' phase includes it)",
        ],
    )
