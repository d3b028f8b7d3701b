"""Exact frames for hand-offs: ``.last`` is the frame a full decode shows last, bit for bit,
however the video was encoded (B-frames that nothing refers to are skipped, never needed)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import av
import numpy as np
import pytest
from numpy.typing import NDArray

from storyboard.cut.ffmpeg import ffmpeg_exe
from storyboard.media.frames import frame_array
from tests.cut.conftest import render_source

ENCODINGS = {
    "1 s GOP, B-frames": ["-g", "24"],
    "single keyframe": ["-g", "1000", "-keyint_min", "1000"],
    "B-frames no one refers to": ["-g", "24", "-x264-params", "bframes=6:b-pyramid=none"],
    "B-frames to the end": ["-g", "24", "-x264-params", "bframes=3:b-adapt=0:b-pyramid=normal"],
    "all keyframes": ["-g", "1"],
    "open GOP": ["-g", "24", "-x264-params", "open-gop=1:bframes=3"],
}


def decoded(video: Path) -> list[NDArray[np.uint8]]:
    with av.open(str(video)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


@pytest.mark.parametrize("extra", ENCODINGS.values(), ids=ENCODINGS.keys())
def test_last_is_the_last_decoded_frame(tmp_path: Path, extra: list[str]) -> None:
    video = render_source(tmp_path / "clip.mp4", 2.5, size=(96, 64), audio=False, extra=extra)
    frames = decoded(video)
    assert len(frames) == 60
    assert np.array_equal(frame_array(video, "last"), frames[-1])
    assert np.array_equal(frame_array(video, "first"), frames[0])
    assert np.array_equal(frame_array(video, 37), frames[37])


def test_last_ignores_audio_that_runs_longer(tmp_path: Path) -> None:
    video = tmp_path / "long-audio.mp4"
    subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-y",
         "-f", "lavfi", "-i", "testsrc2=size=96x64:rate=24:duration=2",
         "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=2.6",
         "-c:v", "libx264", "-g", "24", "-pix_fmt", "yuv420p", "-c:a", "aac", str(video)],
        check=True,
    )  # fmt: skip
    frames = decoded(video)
    assert len(frames) == 48
    assert np.array_equal(frame_array(video, "last"), frames[-1])


def test_vp9_last_frame(tmp_path: Path) -> None:
    video = render_source(tmp_path / "clip.webm", 2, size=(96, 64), codec="libvpx-vp9")
    frames = decoded(video)
    assert np.array_equal(frame_array(video, "last"), frames[-1])
