"""Facts about a media file, read with PyAV: the measuring end of ``storyboard.media``.

Everything that needs to know what a video *really* is asks here: the animatic tests, the
emulator (the duration of an edit's source decides its price and the output's length) and,
later, the cut. There is no ffprobe on the machines we target, so PyAV demuxes the file
itself. :func:`probe` reads packets only (no decoding), which is fast even for long clips;
:func:`keyframe_indices` reports which frames are keyframes.

:func:`check_video` is the cheap check a downloaded result passes before the cache takes
it: the container's headers, a video stream, its length, and one decoded frame.

:func:`sniff_video` and :func:`sniff_image` look at the first bytes of a payload only, for
callers that must classify uploads before deciding what to do with them.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from storyboard.core.errors import BuildError

MediaSource = str | Path | bytes


class MediaError(BuildError):
    """A file that should be a video is not one (or cannot be read)."""


@dataclass(frozen=True)
class MediaInfo:
    """What :func:`probe` found in a video file.

    ``duration_s`` is the video stream's length (frames / fps when the rate is constant);
    ``audio_duration_s`` is ``None`` when there is no audio stream.
    """

    container: str
    duration_s: float
    width: int
    height: int
    fps: float
    frame_count: int
    video_codec: str
    has_audio: bool
    audio_codec: str | None
    audio_duration_s: float | None
    size_bytes: int


@contextmanager
def _open(source: MediaSource) -> Iterator[Any]:
    """Open ``source`` (a path or the bytes of a file) with PyAV, wrapping its errors."""
    target: Any = io.BytesIO(source) if isinstance(source, bytes) else str(source)
    try:
        # Opening probes each stream by decoding a frame of it, which tells nothing asked here
        # (size, rate and codecs are in the headers) and costs most of a probe of a 1080p
        # file: the probe's decoders skip the frames.
        container = av.open(target, mode="r", options={"skip_frame": "all"})
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise MediaError(f"{_name(source)} is not a readable media file: {exc}") from exc
    try:
        yield container
    finally:
        container.close()


def _name(source: MediaSource) -> str:
    return "the given bytes" if isinstance(source, bytes) else str(source)


def _size(source: MediaSource) -> int:
    return len(source) if isinstance(source, bytes) else Path(source).stat().st_size


def _require_video(container: Any, source: MediaSource) -> None:
    """Refuse files without a video stream, and still images (ffmpeg reads them as video)."""
    name = str(container.format.name)
    if name == "image2" or name.endswith("_pipe"):
        raise MediaError(f"{_name(source)} is an image ({name}), not a video")
    if not container.streams.video:
        raise MediaError(f"{_name(source)} has no video stream")


def _packet_span(packets: list[tuple[int, int]], time_base: Fraction) -> float:
    """Seconds covered by packets given as ``(pts, duration)``, first start to last end."""
    if not packets:
        return 0.0
    start = min(pts for pts, _ in packets)
    end = max(pts + max(duration, 0) for pts, duration in packets)
    return float((end - start) * time_base)


def probe(source: MediaSource) -> MediaInfo:
    """Measure a video file: size, rate, frame count, codecs, audio and their durations.

    Args:
        source: a path, or the complete bytes of a file.

    Returns:
        The facts, from the first video stream and the first audio stream.

    Raises:
        MediaError: the file cannot be demuxed or has no video stream.
    """
    with _open(source) as container:
        _require_video(container, source)
        video = container.streams.video[0]
        audio = container.streams.audio[0] if container.streams.audio else None
        video_packets: list[tuple[int, int]] = []
        audio_packets: list[tuple[int, int]] = []
        streams = [video] if audio is None else [video, audio]
        try:
            for packet in container.demux(streams):
                if packet.pts is None or packet.size == 0:
                    continue  # the flush packet at the end of each stream
                duration = int(packet.duration or 0)
                if packet.stream.index == video.index:
                    video_packets.append((int(packet.pts), duration))
                else:
                    audio_packets.append((int(packet.pts), duration))
        except av.error.FFmpegError as exc:
            raise MediaError(f"{_name(source)} is damaged: {exc}") from exc
        rate = video.average_rate or video.guessed_rate or video.base_rate
        fps = float(rate) if rate else 0.0
        frame_count = len(video_packets)
        if fps > 0:
            duration_s = frame_count / fps
        else:
            duration_s = _packet_span(video_packets, video.time_base)
        audio_duration: float | None = None
        if audio is not None:
            audio_duration = _audio_duration(audio, audio_packets)
        return MediaInfo(
            container=str(container.format.name),
            duration_s=duration_s,
            width=int(video.codec_context.width),
            height=int(video.codec_context.height),
            fps=fps,
            frame_count=frame_count,
            video_codec=str(video.codec_context.name),
            has_audio=audio is not None,
            audio_codec=None if audio is None else str(audio.codec_context.name),
            audio_duration_s=audio_duration,
            size_bytes=_size(source),
        )


def _audio_duration(stream: Any, packets: list[tuple[int, int]]) -> float:
    """The audio stream's presented length, with the encoder's priming samples left out.

    AAC and Opus streams start with priming samples that the container marks with negative
    timestamps (an MP4 edit list, a WebM codec delay); players skip them, and so do we by
    counting from time zero.
    """
    if not packets:
        return 0.0
    time_base: Fraction = stream.time_base
    end = max(pts + max(duration, 0) for pts, duration in packets)
    start = max(min(pts for pts, _ in packets), 0)
    return float((end - start) * time_base)


def check_video(source: str | Path) -> float:
    """Check that a file is a video a player (and the cut) can use; return its length.

    Cheap: the container's headers are read (no demuxing of the whole file), and the first
    video frame is decoded, which proves the stream's data is not noise behind a valid
    header. The length comes from the headers (the video stream's, else the container's);
    only a file whose headers give none is demuxed to measure it (:func:`probe`).

    Raises:
        MediaError: the file cannot be opened as a container, has no video stream, or its
            first frame cannot be decoded.
    """
    try:
        container = av.open(str(source), mode="r")
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise MediaError(
            f"{source} is not a readable video container ({type(exc).__name__})"
        ) from exc
    try:
        _require_video(container, source)
        video = container.streams.video[0]
        if not (video.codec_context.width and video.codec_context.height):
            raise MediaError(f"{source} has a video stream without a frame size")
        seconds: float | None = None
        if video.duration is not None and video.time_base is not None:
            seconds = float(video.duration * video.time_base)
        elif container.duration is not None:
            seconds = float(container.duration) / 1_000_000
        try:
            frame = next(iter(container.decode(video)), None)
        except (av.error.FFmpegError, ValueError) as exc:
            raise MediaError(f"{source}: its first video frame does not decode ({exc})") from exc
        if frame is None:
            raise MediaError(f"{source}: its video stream holds no frame")
    finally:
        container.close()
    if seconds is None or seconds <= 0:
        seconds = probe(source).duration_s
    return seconds


def keyframe_indices(source: MediaSource) -> list[int]:
    """The indexes (in presentation order) of the video frames that are keyframes.

    Raises:
        MediaError: the file cannot be demuxed or has no video stream.
    """
    with _open(source) as container:
        _require_video(container, source)
        video = container.streams.video[0]
        packets: list[tuple[int, bool]] = []
        try:
            for packet in container.demux(video):
                if packet.pts is None or packet.size == 0:
                    continue
                packets.append((int(packet.pts), bool(packet.is_keyframe)))
        except av.error.FFmpegError as exc:
            raise MediaError(f"{_name(source)} is damaged: {exc}") from exc
    packets.sort()
    return [index for index, (_, key) in enumerate(packets) if key]


def sniff_video(head: bytes) -> str | None:
    """The container a video payload starts like (``"mp4"``, ``"mov"``, ``"webm"``), else None.

    Only the first 16 bytes or so are needed.
    """
    if len(head) >= 12 and head[4:8] == b"ftyp":
        brand = head[8:12]
        return "mov" if brand == b"qt  " else "mp4"
    if len(head) >= 8 and head[4:8] in (b"moov", b"mdat", b"wide", b"free", b"skip"):
        return "mov"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "webm"
    return None


def sniff_image(head: bytes) -> str | None:
    """The format an image payload starts like (``"jpeg"``, ``"png"``, ``"webp"``, ...)."""
    if head[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head[:2] == b"BM":
        return "bmp"
    return None
