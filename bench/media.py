"""Test media for the benchmarks, made with ffmpeg (nothing is downloaded).

Clips are ``testsrc2`` (a moving pattern with a running timestamp, hue-shifted per clip so
that clips differ) with a sine tone, encoded like a generated take: H.264 High, yuv420p,
24 fps, CRF 20 (about 6.5 Mbit/s at 1080p, a realistic size for stream-copy figures) and
AAC stereo at 48 kHz. ``keyint`` is the keyframe interval in frames: 24 (1 s, what our preview
and emulator outputs use) or ``None`` for a single keyframe at the start.

Files are cached under ``bench/.cache/media/`` by a hash of the command that makes them, so
only the first ``make bench`` pays for encoding them.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from storyboard.cut.ffmpeg import ffmpeg_exe as ffmpeg

CACHE = Path(__file__).resolve().parent / ".cache"
MEDIA = CACHE / "media"
FPS = 24


def run_ffmpeg(args: list[str]) -> None:
    """Run ffmpeg quietly; raise with its last words on failure."""
    cmd = [ffmpeg(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y", *args]
    proc = subprocess.run(cmd, capture_output=True)
    if proc.returncode != 0:
        tail = proc.stderr.decode("utf-8", "replace")[-1500:]
        raise RuntimeError(f"ffmpeg failed ({proc.returncode}): {' '.join(cmd)}\n{tail}")


@dataclass(frozen=True)
class ClipSpec:
    """How a set of clips is made."""

    width: int = 1920
    height: int = 1080
    seconds: float = 8.0
    keyint: int | None = FPS
    crf: int = 20
    audio_extra: float = 0.0  # seconds of audio past the end of the video

    def encode_args(self, index: int, out: Path) -> list[str]:
        size = f"{self.width}x{self.height}"
        video = f"testsrc2=size={size}:rate={FPS}:duration={self.seconds}"
        tone = (
            f"sine=frequency={220 + 30 * index}:sample_rate=48000:"
            f"duration={self.seconds + self.audio_extra}"
        )
        keyint = self.keyint if self.keyint is not None else 100_000
        args = ["-f", "lavfi", "-i", video, "-f", "lavfi", "-i", tone]
        args += ["-vf", f"hue=h={(index * 47) % 360}", "-map", "0:v", "-map", "1:a"]
        args += ["-c:v", "libx264", "-preset", "veryfast", "-crf", str(self.crf)]
        args += ["-profile:v", "high", "-pix_fmt", "yuv420p", "-r", str(FPS)]
        args += ["-g", str(keyint), "-keyint_min", str(keyint), "-sc_threshold", "0"]
        args += ["-c:a", "aac", "-b:a", "128k", "-ac", "2", "-ar", "48000"]
        args += ["-movflags", "+faststart", str(out)]
        return args

    @property
    def tag(self) -> str:
        digest = hashlib.sha256(repr(self.encode_args(0, Path("x"))).encode()).hexdigest()
        return digest[:12]


FULL = ClipSpec()
SINGLE_KEYFRAME = ClipSpec(keyint=None)
LONG_AUDIO = ClipSpec(audio_extra=0.5)
QUICK = ClipSpec(width=640, height=360, seconds=3.0)
QUICK_SINGLE = ClipSpec(width=640, height=360, seconds=3.0, keyint=None)


def clips(spec: ClipSpec, count: int, *, distinct: int | None = None) -> list[Path]:
    """``count`` clips made to ``spec``; only ``distinct`` of them are encoded, the others
    are hard links to those (same bytes, their own names), which keeps 48-clip sets cheap."""
    folder = MEDIA / spec.tag
    folder.mkdir(parents=True, exist_ok=True)
    encoded = min(count, distinct or count)
    paths = []
    for index in range(count):
        path = folder / f"clip-{index:03d}.mp4"
        if not path.exists():
            if index < encoded:
                tmp = path.with_name(f".{path.name}.tmp.mp4")
                run_ffmpeg(spec.encode_args(index, tmp))
                tmp.replace(path)
            else:
                source = clips(spec, encoded)[index % encoded]
                os.link(source, path)
        paths.append(path)
    return paths


def clip(spec: ClipSpec, index: int = 0) -> Path:
    return clips(spec, index + 1)[index]


def scratch(name: str) -> Path:
    """A clean folder under ``bench/.cache/`` for a benchmark's outputs."""
    import shutil

    folder = CACHE / "work" / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def megabytes(path: Path) -> float:
    return path.stat().st_size / 1e6
