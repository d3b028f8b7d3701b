"""Fixtures for the cut: tiny source videos and storyboards compiled against them.

Sources are rendered by ffmpeg's lavfi ``testsrc2`` (every frame differs from its neighbours,
so a wrong frame shows) with a tone burst at known frames (so audio sync can be measured),
H.264 + AAC in MP4 with a 1 s GOP and B-frames, like the preview backend's takes.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

import av
import numpy as np
import pytest
from numpy.typing import NDArray

from storyboard.api import compile_storyboard
from storyboard.compiler.compile import Compiled
from storyboard.cut.ffmpeg import ffmpeg_exe

BURST_EVERY = 12  # a 10 ms 1 kHz burst at frames 3, 15, 27, ... of every source
BURST_AT = 3

Frames = list[NDArray[np.int16]]


def render_source(
    path: Path,
    seconds: float,
    *,
    size: tuple[int, int] = (160, 90),
    fps: int = 24,
    gop: int = 24,
    audio: bool = True,
    codec: str = "libx264",
    extra: Sequence[str] = (),
    pattern: str = "testsrc2",
    rate: int = 48_000,
    stereo: bool = False,
    tone: str | None = None,
) -> Path:
    """Render a test source: ``pattern`` video, optional tone bursts, MP4 (or WEBM for VP9)."""
    width, height = size
    cmd = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi"]
    cmd += ["-i", f"{pattern}=size={width}x{height}:rate={fps}:duration={seconds}"]
    if audio:
        burst = f"if(lt(mod(t*24-{BURST_AT}\\,{BURST_EVERY})\\,0.24)\\,0.5*sin(2*PI*1000*t)\\,0)"
        burst = tone or burst
        exprs = f"{burst}|{burst}" if stereo else burst
        cmd += ["-f", "lavfi", "-i", f"aevalsrc=exprs='{exprs}':s={rate}:d={seconds}"]
    if codec == "libvpx-vp9":
        cmd += ["-c:v", codec, "-b:v", "0", "-crf", "30", "-deadline", "realtime"]
        cmd += ["-cpu-used", "8", "-g", str(gop)]
        cmd += ["-c:a", "libopus"] if audio else []
    else:
        cmd += ["-c:v", codec, "-preset", "veryfast", "-crf", "20", "-g", str(gop)]
        cmd += ["-keyint_min", str(gop), "-sc_threshold", "0"]
        cmd += ["-c:a", "aac", "-b:a", "128k"] if audio else []
    cmd += ["-pix_fmt", "yuv420p", *extra, str(path)]
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(cmd, check=True)
    return path


def decode_frames(path: Path) -> Frames:
    """Every video frame as an int16 RGB array."""
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24").astype(np.int16) for f in container.decode(video=0)]


def decode_audio(path: Path) -> NDArray[np.float32]:
    """The first audio stream, mixed to mono, at its own rate (48 kHz here)."""
    blocks: list[NDArray[np.float32]] = []
    with av.open(str(path)) as container:
        for frame in container.decode(audio=0):
            array = frame.to_ndarray()
            if frame.format.is_planar:
                blocks.append(array.mean(axis=0))
            else:
                blocks.append(array.reshape(-1, frame.layout.nb_channels).mean(axis=1))
    return np.concatenate(blocks).astype(np.float32)


def video_packets(path: Path) -> list[bytes]:
    """The video packets' bytes, in decode order."""
    with av.open(str(path)) as container:
        return [bytes(p) for p in container.demux(video=0) if p.size]


def diff(a: NDArray[np.int16], b: NDArray[np.int16]) -> float:
    """Mean absolute difference of two frames, in 8-bit levels."""
    return float(np.abs(a.astype(np.int32) - b.astype(np.int32)).mean())


def nearest(frame: NDArray[np.int16], candidates: Frames) -> int:
    """The index of the candidate frame most like ``frame``."""
    return int(np.argmin([diff(frame, c) for c in candidates]))


def onsets(samples: NDArray[np.float32], threshold: float = 0.2) -> list[int]:
    """Sample indexes where a burst starts (loud after at least 20 ms of quiet)."""
    loud = np.abs(samples) > threshold
    found: list[int] = []
    last = -10_000
    for i in np.flatnonzero(loud):
        if i - last > 960:
            found.append(int(i))
        last = int(i)
    return found


@pytest.fixture(scope="session")
def sources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Shared sources: 3 s and 2 s clips with sound, a silent one, a 4:3 one."""
    root = tmp_path_factory.mktemp("sources")
    return {
        "a": render_source(root / "a.mp4", 3),
        "b": render_source(root / "b.mp4", 3, pattern="testsrc"),
        "c": render_source(root / "c.mp4", 2, pattern="rgbtestsrc"),
        "silent": render_source(root / "silent.mp4", 3, audio=False),
        "square": render_source(root / "square.mp4", 2, size=(90, 90)),
    }


@pytest.fixture(scope="session")
def stereo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Sources whose AAC the film can reuse: 48 kHz stereo AAC-LC, as ffmpeg writes it."""
    root = tmp_path_factory.mktemp("stereo")
    return {
        "a": render_source(root / "a.mp4", 3, stereo=True),
        "b": render_source(root / "b.mp4", 3, pattern="testsrc", stereo=True),
    }


StoryboardFactory = Callable[..., Compiled]


@pytest.fixture
def storyboard(tmp_path: Path) -> StoryboardFactory:
    """Write a storyboard (YAML text) into a fresh project and compile it."""

    def make(text: str, **files: bytes) -> Compiled:
        root = tmp_path / "project"
        (root / ".storyboard").mkdir(parents=True, exist_ok=True)
        for name, content in files.items():
            (root / name).write_bytes(content)
        path = root / "film.yaml"
        path.write_text(text, encoding="utf-8")
        return compile_storyboard(path)

    return make
