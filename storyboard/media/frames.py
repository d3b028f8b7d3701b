"""Exact frames out of a video, for hand-offs: the first, the last, or frame N.

``.last`` is the frame a decoder shows last, not an approximation from the container's
duration: we seek to the last keyframe at or before the end of the *video* stream and decode
from there what that frame needs (for H.264, the reference pictures up to it), keeping it.
That is exact also when the audio runs longer than the video (where a time-based grab returns
the wrong frame or nothing) and costs at most one keyframe interval of decoding. Frame N is
found the same way from the keyframe before it.
"""

from __future__ import annotations

import os
import tempfile
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
from numpy.typing import NDArray

from storyboard.media.probe import MediaError

Which = str | int  # "first", "last" or a 0-based frame index


def frame_array(video: Path, which: Which) -> NDArray[np.uint8]:
    """The RGB pixels (height x width x 3) of one frame of ``video``."""
    frame = _find(video, which)
    array: NDArray[np.uint8] = frame.to_ndarray(format="rgb24")
    return array


def extract_frame(video: Path, which: Which, out: Path) -> Path:
    """Write one frame of ``video`` to ``out`` as a PNG (atomically)."""
    frame = _find(video, which)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".png", dir=out.parent)
    os.close(fd)
    try:
        # Lossless all the same; level 1 writes a 1080p frame about 4x faster than the default.
        frame.to_image().save(tmp, format="PNG", compress_level=1)
        os.replace(tmp, out)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return out


def all_frames(video: Path) -> list[NDArray[np.uint8]]:
    """Every frame, decoded from the start (slow; for tests and small files)."""
    with _open(video) as container:
        stream = container.streams.video[0]
        return [f.to_ndarray(format="rgb24") for f in container.decode(stream)]


class _open:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.container: Any = None

    def __enter__(self) -> Any:
        try:
            # The probe at opening would decode a frame only to learn what decoding tells us.
            self.container = av.open(str(self.path), options={"skip_frame": "all"})
        except (av.error.FFmpegError, OSError) as exc:
            raise MediaError(f"cannot read video '{self.path}': {exc}") from exc
        if not self.container.streams.video:
            self.container.close()
            raise MediaError(f"'{self.path}' has no video stream")
        return self.container

    def __exit__(self, *exc: object) -> None:
        self.container.close()


def _find(video: Path, which: Which) -> Any:
    with _open(video) as container:
        stream = container.streams.video[0]
        # Decoding threads pay off on big pictures; on small ones starting them costs more.
        big = (stream.codec_context.width or 0) * (stream.codec_context.height or 0) >= 1280 * 720
        stream.thread_type = "AUTO" if big else "NONE"
        if which == "first":
            for frame in container.decode(stream):
                return frame
            raise MediaError(f"'{video}' has no frames")
        if which == "last":
            return _last(container, stream, video)
        if not isinstance(which, int) or which < 0:
            raise ValueError(f"frame must be 'first', 'last' or an index >= 0, got {which!r}")
        return _nth(container, stream, which, video)


def _last(container: Any, stream: Any, video: Path) -> Any:
    end = _stream_end(stream)
    if end is not None:
        container.seek(end, stream=stream, backward=True, any_frame=False)
    packets = [p for p in container.demux(stream) if p.size]
    last = _decode_last(stream, packets)
    if last is None:  # the seek landed past every frame: decode it all
        container.seek(0, stream=stream, backward=True, any_frame=False)
        for frame in container.decode(stream):
            last = frame
    if last is None:
        raise MediaError(f"'{video}' has no frames")
    return last


def _decode_last(stream: Any, packets: list[Any]) -> Any:
    """The frame shown last among ``packets`` (decode order, from a keyframe), or None.

    Only what that frame needs is decoded: the packets up to its own in decode order (those
    after it are shown before it), and of those, for H.264, only the reference pictures
    (a picture no other refers to cannot change the last one; x264 marks most B-frames so).
    """
    stamped = [k for k, p in enumerate(packets) if p.pts is not None]
    if not stamped:
        return None
    target = max(stamped, key=lambda k: int(packets[k].pts))
    ctx = stream.codec_context
    skip = ctx.name == "h264"
    shown = None
    try:
        for k, packet in enumerate(packets[: target + 1]):
            if skip:
                ctx.skip_frame = "DEFAULT" if k == target else "NONREF"
            for frame in ctx.decode(packet):
                shown = _later(shown, frame)
        if skip:
            ctx.skip_frame = "DEFAULT"
        for frame in ctx.decode(None):
            shown = _later(shown, frame)
    finally:
        if skip:
            ctx.skip_frame = "DEFAULT"
    return shown


def _later(shown: Any, frame: Any) -> Any:
    if shown is None or (frame.pts or 0) >= (shown.pts or 0):
        return frame
    return shown


def _nth(container: Any, stream: Any, index: int, video: Path) -> Any:
    rate = stream.average_rate or stream.guessed_rate
    base: Fraction = stream.time_base
    start = stream.start_time or 0
    if rate is None or base is None:
        raise MediaError(f"'{video}' has no frame rate")
    target = start + int(Fraction(index, 1) / Fraction(rate) / base)
    container.seek(target, stream=stream, backward=True, any_frame=False)
    previous = None
    for frame in container.decode(stream):
        position = round(Fraction(frame.pts - start) * base * Fraction(rate))
        if position == index:
            return frame
        if position > index:
            return previous if previous is not None else frame
        previous = frame
    if previous is None:
        raise MediaError(f"'{video}' has no frame {index}")
    last = round(Fraction(previous.pts - start) * base * Fraction(rate))
    raise MediaError(f"'{video}' has no frame {index}: it ends at frame {last}")


def _stream_end(stream: Any) -> int | None:
    if stream.duration is not None:
        return int((stream.start_time or 0) + stream.duration)
    return None
