"""Decoding sound for the cut's mix: any audio stream as 48 kHz stereo float blocks.

Place in the pipeline: the cut's sound. :mod:`storyboard.cut.audio` mixes the clips' own sound
from these blocks and :mod:`storyboard.cut.mix` the music; :class:`Reader` hands out exactly
``n`` samples at a time, silence once a stream runs out.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
from numpy.typing import NDArray

from storyboard.core.errors import BuildError
from storyboard.cut.streams import open_sound
from storyboard.cut.timeline import SAMPLE_RATE
from storyboard.media.limits import problem_of

CHANNELS = 2
PREROLL = Fraction(1, 10)  # seconds decoded before a seek target, to settle the decoder

Samples = NDArray[np.float32]  # shape (n, CHANNELS)


def silence(n: int) -> Samples:
    return np.zeros((n, CHANNELS), dtype=np.float32)


class Reader:
    """Exactly ``n`` samples at a time from a stream of blocks; silence once it runs out."""

    def __init__(self, blocks: Iterator[Samples]) -> None:
        self._blocks = blocks
        self._buffer: Samples = silence(0)
        self._done = False

    def read(self, n: int) -> Samples:
        parts = [self._buffer]
        have = len(self._buffer)
        while have < n and not self._done:
            block = next(self._blocks, None)
            if block is None:
                self._done = True
                break
            parts.append(block)
            have += len(block)
        joined = np.concatenate(parts) if len(parts) > 1 else parts[0]
        if len(joined) < n:
            joined = np.concatenate([joined, silence(n - len(joined))])
        self._buffer = joined[n:]
        return joined[:n]

    def close(self) -> None:
        close: Callable[[], None] | None = getattr(self._blocks, "close", None)
        if close is not None:
            close()


def decode_audio(
    path: Path, start: Fraction = Fraction(0), *, container: Any = None, fresh: bool = False
) -> Iterator[Samples]:
    """The first audio stream of ``path`` from ``start`` seconds on, as 48 kHz stereo blocks.

    Samples before the stream's first one (or a file without audio) come out as silence, so
    the first sample yielded is always the one at ``start``. ``container``: ``path`` already
    open (it is seeked, and left open), for reading many parts of one file. A start within
    ``PREROLL`` of the beginning must be decoded from a container nothing was read from yet
    (``fresh``: only then does the decoder drop the encoder's priming samples); else the file
    is opened again.
    """
    borrowed = container is not None and (start > PREROLL or fresh)
    if not borrowed:
        try:
            container = open_sound(path)
        except (av.error.FFmpegError, OSError) as exc:
            raise BuildError(f"the cut cannot read the audio of '{path}': {exc}") from exc
    try:
        if not container.streams.audio:
            return
        stream = container.streams.audio[0]
        time_base = stream.time_base or Fraction(1, SAMPLE_RATE)
        if start > PREROLL:
            target = int((start - PREROLL) / time_base)
            container.seek(target, stream=stream, backward=True, any_frame=False)
        # Mono stays mono here and is doubled below: libswresample would lower it by 3 dB.
        mono = getattr(stream.codec_context.layout, "nb_channels", 2) == 1
        layout = "mono" if mono else "stereo"
        resampler = av.AudioResampler(format="flt", layout=layout, rate=SAMPLE_RATE)
        want = round(start * SAMPLE_RATE)  # the sample index (at 48 kHz) to start from
        position: int | None = None
        try:
            for frame in container.decode(stream):
                if position is None:
                    pts = Fraction(frame.pts or 0) * (frame.time_base or time_base)
                    position = round(pts * SAMPLE_RATE)
                    if position > want:
                        yield silence(position - want)
                        want = position
                for out in resampler.resample(frame):
                    block, position = _clip_block(out, position, want)
                    if block is not None:
                        want = position
                        yield block
            for out in resampler.resample(None):
                block, position = _clip_block(out, position or 0, want)
                if block is not None:
                    want = position
                    yield block
        except av.error.FFmpegError as exc:
            raise BuildError(f"the cut cannot decode the audio of '{path}': {exc}") from exc
    finally:
        if not borrowed:
            container.close()


def decode_problem(path: Path) -> str | None:
    """Why the cut cannot decode the sound of ``path`` from its start to its end (as its mix
    reads a music bed), naming the file; ``None`` when it can. Decoded once as long as the
    file's size and time stay the same: ``check`` runs this, so that a file whose first frame
    decodes but not the rest is refused before any take is paid for."""
    return problem_of(path, _decode_problem)


@functools.lru_cache(maxsize=64)
def _decode_problem(path: str, size: int, mtime_ns: int) -> str | None:
    try:
        for _ in decode_audio(Path(path)):
            pass
    except (BuildError, av.error.FFmpegError, OSError, ValueError) as exc:
        cause = exc.__cause__ if exc.__cause__ is not None else exc
        return f"does not decode to its end, as the cut reads it: {cause}"
    return None


def _clip_block(frame: Any, position: int, want: int) -> tuple[Samples | None, int]:
    """A resampled frame as samples from ``want`` on: ``(block or None, next position)``."""
    channels = frame.layout.nb_channels
    data: Samples = frame.to_ndarray().reshape(-1, channels)
    if channels == 1:
        data = np.repeat(data, CHANNELS, axis=1)
    end = position + len(data)
    if end <= want:
        return None, end
    return data[max(want - position, 0) :], end


__all__ = ["CHANNELS", "PREROLL", "Reader", "Samples", "decode_audio", "decode_problem", "silence"]
