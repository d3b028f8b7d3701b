"""Film time: frames at 24 fps, and the one rule for trimming a shot.

Place in the pipeline: under the cut and the checks. Everything the cut counts is in frames
at :data:`FPS`, never in float seconds: a time in the storyboard becomes a frame count once,
by rounding to the nearest frame (halves round up). ``validate`` checks a clip's ``in`` and
``out`` against a shot's duration, the cut against its video's length, by the same
:func:`trim_problem`: one rule, one message.
"""

from __future__ import annotations

from fractions import Fraction
from functools import lru_cache

FPS = 24
"""The film's frame rate; every frame count in a timeline is at this rate."""


def frames_at_fps(count: int, fps: int) -> int:
    """A video's ``count`` frames at ``fps`` as a length in frames at ``FPS``."""
    return count if fps == FPS else to_frames(count / fps)


def to_frames(seconds: float) -> int:
    """Seconds -> the nearest whole number of frames at ``FPS`` (halves round up)."""
    if isinstance(seconds, int) or (isinstance(seconds, float) and seconds.is_integer()):
        return int(seconds) * FPS  # whole seconds, most durations: the same, 20x sooner
    return _to_frames(seconds)


@lru_cache(maxsize=4096)
def _to_frames(seconds: float) -> int:
    """:func:`to_frames` by exact arithmetic (3 us a call: a long storyboard asks it thousands
    of times, mostly of the same few values)."""
    exact = Fraction(seconds).limit_denominator(1_000_000) * FPS
    return int(exact + Fraction(1, 2)) if exact >= 0 else -int(-exact + Fraction(1, 2))


def trim_problem(
    name: str, shot: str, in_: float | None, out: float | None, frames: int
) -> tuple[str, str] | None:
    """What is wrong with trimming a shot whose video has ``frames`` frames to ``in_`` ..
    ``out`` seconds from its start, as ``(key, message)``; None if the trim fits.

    ``name`` names the clip in the message (``cut.clips[2]``). Validate asks this of every
    clip of a shot whose length is its duration, the cut of every clip once it knows the
    video's length: one rule, one message.
    """
    first = to_frames(in_) if in_ is not None else 0
    last = to_frames(out) if out is not None else frames
    seconds = seconds_of(frames)
    if first >= frames:
        return (
            "in",
            f"{name}.in: {in_ or 0:g} s is at or past the end of shot '{shot}' "
            f"(its video is {seconds} s long)",
        )
    if last > frames:
        return (
            "out",
            f"{name}.out: {out or 0:g} s is past the end of shot '{shot}' "
            f"(its video is {seconds} s long)",
        )
    if last <= first:
        return (
            "out",
            f"{name}: the clip is shorter than one frame (1/{FPS} s) once rounded to frames",
        )
    return None


def seconds_of(frames: int) -> str:
    """Frames as seconds for messages: ``2.5`` or ``2.041667``."""
    return f"{frames / FPS:.6g}"
