"""P4: the last frame of an 8 s 1080p clip, ours against moviepy, and whether it is exact.

Ours: :func:`storyboard.media.frames.frame_array` ``(video, "last")`` (open, seek to the last
keyframe, decode to the end). Baseline: moviepy 2 ``VideoFileClip(path, audio=False)``
(audio off: the fastest way to use it for a frame) and ``get_frame(duration - 1/fps)``.
Both include opening the file, as a caller of either would.

Exactness: the reference is the last frame of a full decode with PyAV. For moviepy we name
the frame it returned (the decoded frame nearest to it); for ``ffmpeg -sseof`` whether it
wrote a file at all. The third clip's audio runs 0.5 s past its video, the case where a
time-based grab goes wrong.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from bench import media
from bench.harness import Check, Result, paired, ratios, spread
from storyboard.media.frames import all_frames, frame_array

Frame = NDArray[np.uint8]
REPEAT = 5  # calls per run: one call takes 0.05-1 s


def moviepy_last(video: Path) -> Frame:
    from moviepy import VideoFileClip

    with VideoFileClip(str(video), audio=False) as clip:
        frame: Frame = clip.get_frame(clip.duration - 1 / clip.fps)
    return frame


def ours_last(video: Path) -> Frame:
    return frame_array(video, "last")


def which_frame(frame: Frame, frames: list[Frame]) -> int:
    """The index of the decoded frame nearest to ``frame`` (mean absolute difference)."""
    errors = [float(np.abs(f.astype(np.int16) - frame.astype(np.int16)).mean()) for f in frames]
    return int(np.argmin(errors))


def sseof_writes(video: Path) -> bool:
    """Whether ``ffmpeg -sseof -1/fps -i VIDEO -frames:v 1 out.png`` writes a frame."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "last.png"
        subprocess.run(
            [media.ffmpeg(), "-v", "error", "-y", "-sseof", f"-{1 / media.FPS:.6f}",
             "-i", str(video), "-frames:v", "1", str(out)],
            capture_output=True, check=False,
        )  # fmt: skip
        return out.exists() and out.stat().st_size > 0


def exactness(video: Path) -> dict[str, Any]:
    frames = all_frames(video)
    last = len(frames) - 1
    ours = ours_last(video)
    theirs = moviepy_last(video)
    found = which_frame(theirs, frames)
    return {
        "frames": len(frames),
        "ours_bit_exact": bool(np.array_equal(ours, frames[-1])),
        "moviepy_frame": found,
        "moviepy_exact": found == last and bool(np.array_equal(theirs, frames[-1])),
        "ffmpeg_sseof_writes_a_frame": sseof_writes(video),
    }


def run(runs: int, quick: bool = False) -> Result:
    spec = media.QUICK if quick else media.FULL
    single_spec = media.QUICK_SINGLE if quick else media.SINGLE_KEYFRAME
    video, single = media.clip(spec), media.clip(single_spec)
    long_audio = media.clip(media.LONG_AUDIO)

    ours, theirs = paired(
        runs, lambda: ours_last(video), lambda: moviepy_last(video), repeat=REPEAT
    )
    ours_1k, theirs_1k = paired(
        runs, lambda: ours_last(single), lambda: moviepy_last(single), repeat=REPEAT
    )
    single_ratios = ratios(ours_1k, theirs_1k, "speedup")

    checks_info = {
        "1s_keyframes": exactness(video),
        "single_keyframe": exactness(single),
        "audio_longer_than_video": exactness(long_audio),
    }
    all_exact = all(v["ours_bit_exact"] for v in checks_info.values())
    median, low, high = spread(single_ratios)
    size = f"{spec.width}x{spec.height}"
    return Result(
        key="P4",
        measure=f"last frame, {spec.seconds:g} s {size}, 1 s keyframes",
        unit="s",
        ours=ours,
        baseline=theirs,
        kind="speedup",
        op=">=",
        target=5,
        baseline_name="moviepy VideoFileClip(audio=False).get_frame(duration - 1/fps)",
        checks=[Check("ours bit-exact on all 3 clips (1 = yes)", float(all_exact), ">=", 1, "")],
        info={
            "single_keyframe": {
                "ours_s": [round(v, 4) for v in ours_1k],
                "moviepy_s": [round(v, 4) for v in theirs_1k],
                "speedup": round(median, 2),
                "speedup_spread": [round(low, 2), round(high, 2)],
            },
            "exactness": checks_info,
        },
        notes=[
            "single keyframe: both sides must decode the whole clip from its only keyframe, "
            "so no seek can help; the figure is reported, it has no target",
        ],
    )
