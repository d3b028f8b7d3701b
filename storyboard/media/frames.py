"""Exact frames out of a video, for hand-offs: the first, the last, or frame N.

``.last`` is the frame a decoder shows last, not an approximation from the container's
duration: we seek to the last keyframe at or before the end of the *video* stream and decode
from there to the end, keeping the final frame. That is exact also when the audio runs longer
than the video (where a time-based grab returns the wrong frame or nothing) and costs at most
one keyframe interval of decoding. Frame N is found the same way from the keyframe before it.
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
        frame.to_image().save(tmp, format="PNG")
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
            self.container = av.open(str(self.path))
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
        stream.thread_type = "AUTO"
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
    last = None
    for frame in container.decode(stream):
        last = frame
    if last is None:  # the seek landed past every frame: decode it all
        container.seek(0, stream=stream, backward=True, any_frame=False)
        for frame in container.decode(stream):
            last = frame
    if last is None:
        raise MediaError(f"'{video}' has no frames")
    return last


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
