"""The cut's ffmpeg command lines, and running them.

Two kinds of command, both argument lists (no shell):

- :func:`encode_command` renders one :class:`~storyboard.cut.plan.EncodePiece` (a run of
  re-encoded frames around a seam, or whole clips) into a video-only file whose codec
  parameters match the film's, so its packets can be joined with copied ones;
- :func:`audio_command` encodes the film's audio track from raw PCM on stdin.

The filter graph keeps every frame count exact: each input is seeked half a frame before its
first frame (so rounding never drops it), restamped to one tick per frame at 1/24 s, padded by
cloning its last frame and trimmed to its exact length. Fades are the fade filter's
time-based ramps, with timestamps chosen so that a fade out ends on a black frame and a fade
in starts on one (see :mod:`storyboard.cut.timeline`); crossfades are ``xfade``.

:func:`run_ffmpeg` captures stderr into a temporary file (never a pipe, which could fill up
and stall ffmpeg) and turns a failure into a :class:`~storyboard.core.errors.BuildError` that
quotes ffmpeg's last lines.
"""

from __future__ import annotations

import contextlib
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import IO

from storyboard.core.errors import BuildError
from storyboard.cut.decode import CHANNELS
from storyboard.cut.plan import EncodePiece, Run, VideoPlan
from storyboard.cut.streams import VideoIndex
from storyboard.cut.timeline import FPS, SAMPLE_RATE, Timeline

AUDIO_BITRATE = {"aac": "192k", "libopus": "128k"}
GOP = 2 * FPS  # keyframe interval of re-encoded video


def ffmpeg_exe() -> str:
    """The ffmpeg binary that ``imageio-ffmpeg`` ships."""
    import imageio_ffmpeg

    exe: str = imageio_ffmpeg.get_ffmpeg_exe()
    return exe


def crf_for(quality: int, codec: str) -> int:
    """``output.quality`` (20..99, higher is better) -> the encoder's CRF (lower is better).

    The same mapping as the preview renderer, so a preview cut looks like its takes.
    """
    if codec == "vp9":
        return min(max(round(56 - 0.36 * quality), 4), 63)
    return min(max(round(45 - 0.3 * quality), 0), 51)


@dataclass(frozen=True)
class Encoder:
    """How re-encoded video is written.

    Attributes:
        preset: the x264 preset; for VP9 it picks a matching ``cpu-used``.
        threads: encoder threads per ffmpeg process (0 lets the encoder decide).
    """

    preset: str = "veryfast"
    threads: int = 0


_VP9_SPEED = {
    "ultrafast": 8,
    "superfast": 8,
    "veryfast": 7,
    "faster": 6,
    "fast": 5,
    "medium": 4,
    "slow": 3,
    "slower": 2,
    "veryslow": 1,
    "placebo": 0,
}
_X264_PROFILES = {
    "constrained baseline": "baseline",
    "baseline": "baseline",
    "main": "main",
    "high": "high",
}


def _t(frames: int | Fraction) -> str:
    """Frames at FPS as seconds for ffmpeg, precise to the nanosecond."""
    return f"{float(Fraction(frames) / FPS):.9f}"


Drawn = Mapping[int, tuple[Path, tuple[int, int]]]
"""Per overlay of the timeline, its picture (an RGBA PNG) and where its top-left corner goes."""


def encode_command(
    piece: EncodePiece,
    out: Path,
    timeline: Timeline,
    plan: VideoPlan,
    indexes: dict[Path, VideoIndex],
    encoder: Encoder,
    drawn: Drawn | None = None,
) -> list[str]:
    """The command that renders ``piece`` into ``out`` (video only), drawing its overlays
    (``drawn``: their pictures) over the frames they cover, after its transitions."""
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y"]
    for run in piece.runs:
        index = indexes[run.source]
        seek = index.offset + (Fraction(run.first) - Fraction(1, 2)) / FPS
        if run.first > 0:
            cmd += ["-ss", f"{float(seek):.9f}"]
        # One decoder thread: inputs are read one after another, threads would only hold frames.
        cmd += ["-threads", "1", "-t", _t(run.frames + 2), "-i", str(run.source)]
    for shown in piece.overlays:
        assert drawn is not None and shown.overlay in drawn
        cmd += ["-i", str(drawn[shown.overlay][0])]
    graph: list[str] = []
    for k, run in enumerate(piece.runs):
        graph.append(f"[{k}:v]{_run_filters(run, indexes[run.source], timeline)}[r{k}]")
    current, length = "r0", piece.runs[0].frames
    for k in range(1, len(piece.runs)):
        overlap, label = piece.joins[k - 1], f"j{k}"
        if overlap:
            offset = length - overlap
            graph.append(
                f"[{current}][r{k}]xfade=transition=fade:duration={_t(overlap)}"
                f":offset={_t(offset)},settb=1/{FPS},setpts=N[{label}]"
            )
        else:
            graph.append(f"[{current}][r{k}]concat=n=2:v=1:a=0,settb=1/{FPS},setpts=N[{label}]")
        current, length = label, length + piece.runs[k].frames - overlap
    for m, shown in enumerate(piece.overlays):
        assert drawn is not None
        x, y = drawn[shown.overlay][1]
        # n counts the piece's frames (after setpts=N); a single picture stays on after its
        # one frame (eof_action=repeat), so it is shown on exactly [first, last).
        graph.append(
            f"[{current}][{len(piece.runs) + m}:v]overlay=x={x}:y={y}:eof_action=repeat"
            f":enable='between(n,{shown.first},{shown.last - 1})'[o{m}]"
        )
        current = f"o{m}"
    graph.append(f"[{current}]trim=end_frame={piece.frames},settb=1/{FPS},setpts=N[out]")
    cmd += ["-filter_complex", ";".join(graph), "-map", "[out]", "-an", "-sn", "-dn"]
    cmd += ["-fps_mode:v", "passthrough", "-enc_time_base:v", f"1/{FPS}"]
    cmd += video_codec_args(timeline, plan.codec, plan.reference, encoder)
    cmd += ["-fflags", "+bitexact", "-flags:v", "+bitexact", "-map_metadata", "-1"]
    cmd += ["-f", "webm" if plan.codec == "vp9" else "mp4", str(out)]
    return cmd


def _run_filters(run: Run, index: VideoIndex, timeline: Timeline) -> str:
    """The filter chain for one run: exact frames, fitted to the film's size, ramps applied."""
    width, height = timeline.size
    chain: list[str] = []
    if not (index.constant_rate and index.fps == FPS):
        chain.append(f"fps={FPS}")
    # fps after setpts=N changes no frame; it declares the rate xfade and concat compare.
    chain += [f"settb=1/{FPS}", "setpts=N", f"fps={FPS}", "tpad=stop_mode=clone:stop=2"]
    chain.append(f"trim=end_frame={run.frames}")
    if index.sar != 1:
        chain += ["scale=trunc(iw*sar/2)*2:ih", "setsar=1"]
    display_w = index.width * index.sar
    if display_w != width or index.height != height:
        chain += [
            f"scale={width}:{height}:force_original_aspect_ratio=decrease"
            ":force_divisible_by=2:flags=bicubic",
            f"pad={width}:{height}:(ow-iw)/2:(oh-ih)/2:color=black",
        ]
    chain += ["setsar=1", "format=yuv420p"]
    if run.ramp_in:
        # pts = i: gain i/ramp, the first frame black.
        chain.append(f"fade=t=in:st=0:d={_t(run.ramp_in)}")
    if run.ramp_out:
        # pts = i + 1: gain 1 - (i + 1 - (L - ramp))/ramp, the last frame black.
        start = run.frames - run.ramp_out
        chain += ["setpts=N+1", f"fade=t=out:st={_t(start)}:d={_t(run.ramp_out)}", "setpts=N"]
    return ",".join(chain)


def video_codec_args(
    timeline: Timeline, codec: str, ref: VideoIndex | None, encoder: Encoder
) -> list[str]:
    """The encoder's arguments for re-encoded (and rendered) video: the film's codec at its
    quality, with ``ref``'s profile, level and colour tags, so its packets join the copied
    ones."""
    crf = str(crf_for(timeline.quality, codec))
    args: list[str]
    if codec == "vp9":
        speed = str(_VP9_SPEED.get(encoder.preset, 5))
        args = ["-c:v", "libvpx-vp9", "-crf", crf, "-b:v", "0", "-deadline", "good"]
        args += ["-cpu-used", speed, "-row-mt", "1", "-g", str(GOP), "-profile:v", "0"]
    else:
        args = ["-c:v", "libx264", "-preset", encoder.preset, "-crf", crf, "-g", str(GOP)]
        profile = _X264_PROFILES.get((ref.profile or "").lower()) if ref else None
        args += ["-profile:v", profile or "high"]
        if ref is not None and ref.level and ref.level >= 10:  # 9 would be level 1b
            args += ["-level:v", f"{ref.level / 10:.1f}"]
    if encoder.threads:
        args += ["-threads", str(encoder.threads)]
    args += ["-pix_fmt", "yuv420p"]
    if ref is not None:
        color_range, space, primaries, transfer = ref.color
        if color_range:
            args += ["-color_range", str(color_range)]
        if space != 2:
            args += ["-colorspace", str(space)]
        if primaries != 2:
            args += ["-color_primaries", str(primaries)]
        if transfer != 2:
            args += ["-color_trc", str(transfer)]
    return args


def audio_codec(timeline: Timeline) -> str:
    return "libopus" if timeline.format == "WEBM" else "aac"


def audio_command(timeline: Timeline, out: Path) -> list[str]:
    """Encode raw stereo float PCM at 48 kHz from stdin into ``out`` (audio only)."""
    codec = audio_codec(timeline)
    cmd = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y"]
    cmd += ["-f", "f32le", "-ar", str(SAMPLE_RATE), "-ac", str(CHANNELS), "-i", "pipe:0"]
    cmd += ["-c:a", codec, "-b:a", AUDIO_BITRATE[codec]]
    cmd += ["-fflags", "+bitexact", "-flags:a", "+bitexact", "-map_metadata", "-1"]
    cmd += ["-f", "webm" if codec == "libopus" else "mp4", str(out)]
    return cmd


def describe(cmd: Sequence[str]) -> str:
    """A command shortened for messages: the binary's name and the output file."""
    return f"ffmpeg … {Path(cmd[-1]).name}"


def run_ffmpeg(cmd: Sequence[str], what: str) -> None:
    """Run an ffmpeg command to completion.

    Raises:
        BuildError: ffmpeg failed; the message names ``what`` and quotes its stderr.
    """
    with tempfile.TemporaryFile() as errors:
        try:
            status = subprocess.run(
                list(cmd), stdin=subprocess.DEVNULL, stdout=errors, stderr=errors, check=False
            ).returncode
        except OSError as exc:
            raise BuildError(f"the cut could not start ffmpeg for {what}: {exc}") from exc
        if status != 0:
            raise BuildError(_failure(what, status, errors))


def _failure(what: str, status: int, errors: IO[bytes]) -> str:
    errors.seek(0)
    tail = errors.read()[-3000:].decode("utf-8", "replace").strip()
    return f"ffmpeg failed (status {status}) while {what}: {tail or 'no message'}"


class PipeEncoder:
    """An ffmpeg process fed through stdin (the audio track); a context manager.

    ``write`` raises a :class:`BuildError` with ffmpeg's message if the process died.
    """

    def __init__(self, cmd: Sequence[str], what: str) -> None:
        self.what = what
        self.errors = tempfile.TemporaryFile()  # noqa: SIM115 (closed in __exit__)
        try:
            self.proc = subprocess.Popen(
                list(cmd), stdin=subprocess.PIPE, stdout=self.errors, stderr=self.errors
            )
        except OSError as exc:
            self.errors.close()
            raise BuildError(f"the cut could not start ffmpeg for {what}: {exc}") from exc

    def write(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(data)
        except BrokenPipeError:
            self.proc.wait()
            raise BuildError(_failure(self.what, self.proc.returncode, self.errors)) from None

    def close(self) -> None:
        """Finish the input and wait; raise if ffmpeg failed."""
        assert self.proc.stdin is not None
        with contextlib.suppress(BrokenPipeError):
            self.proc.stdin.close()
        status = self.proc.wait()
        if status != 0:
            raise BuildError(_failure(self.what, status, self.errors))

    def __enter__(self) -> PipeEncoder:
        return self

    def __exit__(self, kind: object, exc: object, tb: object) -> None:
        try:
            if exc is None:
                self.close()
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self.errors.close()


__all__ = [
    "CHANNELS",
    "SAMPLE_RATE",
    "Encoder",
    "PipeEncoder",
    "audio_codec",
    "audio_command",
    "crf_for",
    "describe",
    "encode_command",
    "ffmpeg_exe",
    "run_ffmpeg",
    "video_codec_args",
]
