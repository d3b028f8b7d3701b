"""P2: the P1 film with a 0.5 s crossfade at every seam, ours against a full re-encode.

Ours: :func:`storyboard.cut.assemble` copies the GOPs between seams and re-encodes each seam
from the keyframe before the overlap to the keyframe after it (plus the sound). Baseline: the
whole film through one ``xfade``/``acrossfade`` filter graph in one ffmpeg process, with the
cut's encoder settings (libx264 veryfast, CRF 16, GOP 48, High; AAC 192 kb/s).

Run on clips with a 1 s keyframe interval (the target) and on clips with a single keyframe,
where nothing can be copied (reported). Quality: see :mod:`bench.quality`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench import cutting, media, quality
from bench.harness import Result, paired, ratios, spread


def _warm(paths: list[Path]) -> None:
    """Read the clips once, so the first timed run does not pay for the disk."""
    for path in paths:
        with path.open("rb") as handle:
            while handle.read(1 << 22):
                pass


def _measure(
    runs: int, spec: media.ClipSpec, count: int, folder: Path
) -> tuple[list[float], list[float], Any, Path, Path, list[Path]]:
    clips = media.clips(spec, count)
    _warm(clips)
    size = (spec.width, spec.height)
    compiled = cutting.storyboard_for(folder, clips, spec.seconds, crossfade=cutting.CROSSFADE)
    ours_out, full_out = folder / "ours.mp4", folder / "full.mp4"
    reports = []

    def ours() -> None:
        reports.append(cutting.ours(compiled, clips, size, ours_out))

    def full() -> None:
        cutting.ffmpeg_xfade(clips, spec.seconds, cutting.CROSSFADE, full_out)

    # No warm-up round: each side takes tens of seconds and reads the same warm files.
    ours_t, full_t = paired(runs, ours, full, warmup=False)
    return ours_t, full_t, reports[-1], ours_out, full_out, clips


def run(runs: int, quick: bool = False) -> Result:
    spec = media.QUICK if quick else media.FULL
    single_spec = media.QUICK_SINGLE if quick else media.SINGLE_KEYFRAME
    count = 4 if quick else 12
    folder = media.scratch("p2")
    clip_frames = round(spec.seconds * media.FPS)
    overlap = round(cutting.CROSSFADE * media.FPS)

    ours_t, full_t, report, ours_out, full_out, clips = _measure(
        runs, spec, count, folder / "gop1s"
    )
    psnr = quality.compare(ours_out, full_out, clips, clip_frames, overlap, folder / "gop1s")

    # One run each: both sides re-encode the whole film (about a minute each at 1080p), and
    # the figure has no target.
    s_ours, s_full, s_report, *_ = _measure(1, single_spec, count, folder / "single")
    s_median, s_low, s_high = spread(ratios(s_ours, s_full, "speedup"))

    size = f"{spec.width}x{spec.height}"
    return Result(
        key="P2",
        measure=f"crossfade film, {count} x {spec.seconds:g} s {size}, 1 s GOP",
        unit="s",
        ours=ours_t,
        baseline=full_t,
        kind="speedup",
        op=">=",
        target=3,
        baseline_name="ffmpeg xfade/acrossfade graph, full re-encode, same encoder settings",
        info={
            "psnr": psnr,
            "ours_copied_frames": report.copied_frames,
            "ours_encoded_frames": report.encoded_frames,
            "ours_phases_s": {k: round(v, 3) for k, v in report.timings.items()},
            "single_keyframe": {
                "ours_s": [round(v, 3) for v in s_ours],
                "full_reencode_s": [round(v, 3) for v in s_full],
                "speedup": round(s_median, 2),
                "speedup_spread": [round(s_low, 2), round(s_high, 2)],
                "ours_copied_frames": s_report.copied_frames,
                "ours_encoded_frames": s_report.encoded_frames,
            },
        },
        notes=[
            "single keyframe: no GOP can be copied, ours re-encodes every frame; "
            "reported without a target, from one run of each side",
        ],
    )
