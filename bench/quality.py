"""Picture quality of the crossfade films (P2), with ffmpeg's ``psnr`` filter.

Three comparisons, PSNR averaged over frames as ffmpeg does it (from the mean squared error of
Y, U and V together; identical frames count as MSE 0):

- ours against the full re-encode, at the transitions and elsewhere;
- ours and the full re-encode each against an *ideal* transition: ``xfade`` of the decoded
  source frames, stored losslessly (FFV1), seam by seam.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from bench import media


def _mse_per_frame(stats: Path) -> list[float]:
    values = []
    for line in stats.read_text(encoding="utf-8").splitlines():
        fields = dict(f.split(":", 1) for f in line.split() if ":" in f)
        values.append(float(fields["mse_avg"]))
    return values


def psnr(mse: Sequence[float]) -> float:
    """PSNR (dB) of the mean of ``mse`` (8-bit); ``inf`` when every frame is identical."""
    mean = sum(mse) / len(mse) if mse else 0.0
    return math.inf if mean == 0 else 10 * math.log10(255**2 / mean)


def frame_mse(a: Path, b: Path, work: Path, name: str) -> list[float]:
    """Per-frame MSE of ``a`` against ``b`` (same length and size)."""
    stats = work / f"{name}.psnr.txt"
    media.run_ffmpeg(
        ["-i", str(a), "-i", str(b), "-lavfi", f"[0:v][1:v]psnr=stats_file={stats}",
         "-f", "null", "-"]
    )  # fmt: skip
    return _mse_per_frame(stats)


def windows(count: int, clip_frames: int, overlap: int) -> list[range]:
    """Film frames of each crossfade: clip k (k >= 1) starts at k * (clip - overlap)."""
    step = clip_frames - overlap
    return [range(k * step, k * step + overlap) for k in range(1, count)]


def ideal_transitions(clips: Sequence[Path], clip_frames: int, overlap: int, work: Path) -> Path:
    """Every seam's crossfade from the decoded sources, losslessly, in film order (FFV1)."""
    parts = []
    seconds = overlap / media.FPS
    for k in range(1, len(clips)):
        part = work / f"ideal-{k:03d}.mkv"
        graph = (
            f"[0:v]trim=start_frame={clip_frames - overlap}:end_frame={clip_frames},"
            f"setpts=PTS-STARTPTS[a];[1:v]trim=end_frame={overlap},setpts=PTS-STARTPTS[b];"
            f"[a][b]xfade=transition=fade:duration={seconds}:offset=0,"
            f"trim=end_frame={overlap}[x]"
        )
        media.run_ffmpeg(
            ["-i", str(clips[k - 1]), "-i", str(clips[k]), "-filter_complex", graph,
             "-map", "[x]", "-c:v", "ffv1", "-pix_fmt", "yuv420p", str(part)]
        )  # fmt: skip
        parts.append(part)
    listing = work / "ideal.txt"
    listing.write_text("".join(f"file '{p}'\n" for p in parts), encoding="utf-8")
    out = work / "ideal.mkv"
    media.run_ffmpeg(["-f", "concat", "-safe", "0", "-i", str(listing), "-c", "copy", str(out)])
    return out


def transition_frames(film: Path, spans: Sequence[range], work: Path, name: str) -> Path:
    """The film's frames inside ``spans``, in order, losslessly (FFV1)."""
    picks = "+".join(f"between(n\\,{s.start}\\,{s.stop - 1})" for s in spans)
    out = work / f"{name}-transitions.mkv"
    media.run_ffmpeg(
        ["-i", str(film), "-vf", f"select='{picks}',setpts=N/{media.FPS}/TB",
         "-fps_mode", "passthrough", "-an", "-c:v", "ffv1", "-pix_fmt", "yuv420p", str(out)]
    )  # fmt: skip
    return out


def compare(
    ours: Path,
    full: Path,
    clips: Sequence[Path],
    clip_frames: int,
    overlap: int,
    work: Path,
) -> dict[str, float]:
    """PSNR figures (dB) for P2; see the module docstring."""
    spans = windows(len(clips), clip_frames, overlap)
    mse = frame_mse(ours, full, work, "ours-vs-full")
    inside = {i for span in spans for i in span}
    at = [m for i, m in enumerate(mse) if i in inside]
    elsewhere = [m for i, m in enumerate(mse) if i not in inside]
    ideal = ideal_transitions(clips, clip_frames, overlap, work)
    ours_t = transition_frames(ours, spans, work, "ours")
    full_t = transition_frames(full, spans, work, "full")
    return {
        "ours_vs_full_reencode_all_frames_db": _db(psnr(mse)),
        "ours_vs_full_reencode_transitions_db": _db(psnr(at)),
        "ours_vs_full_reencode_elsewhere_db": _db(psnr(elsewhere)),
        "ours_vs_ideal_transitions_db": _db(psnr(frame_mse(ours_t, ideal, work, "ours-ideal"))),
        "full_reencode_vs_ideal_transitions_db": _db(
            psnr(frame_mse(full_t, ideal, work, "full-ideal"))
        ),
        "frames_compared": len(mse),
        "transition_frames": len(at),
    }


def _db(value: float) -> float:
    return value if math.isinf(value) else round(value, 2)
