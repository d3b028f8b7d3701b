"""Subtitle cues: every line of dialogue, timed in its shot and then placed in the film.

Place in the pipeline: the cut (stage 7). :func:`film_cues` takes the compiled storyboard, the
film's :class:`~storyboard.cut.timeline.Timeline` and the speech found in the takes' sound
(:func:`storyboard.media.speech.detect_speech`) and returns the film's :class:`Cue` list, in
film time: what the subtitle files are written from (:mod:`storyboard.exports.subtitles`), and
what the cut muxes as a subtitle track or burns into the picture (``cut.subtitles``).
:func:`time_lines` alone times a shot's lines in the shot, which the preview backend uses to
draw them on its cards at the same times.

A shot's lines are timed in blocks: a line with ``at`` starts a block at that time, and the
lines after it, up to the next line with ``at``, belong to it (the lines before the first
``at`` form a block from the shot's start). A block runs until the next block starts, or the
shot ends. Inside a block:

- when the take has generated sound and speech was found in the block, the lines are laid
  in order over that speech, each taking a share of the speech's time in proportion to its
  words, and two lines that meet near a pause in the speech meet at the pause
  (``timing: "speech"``);
- otherwise the lines are spread over the block by their words (``timing: "spread"``);

and a line with ``at`` starts at its ``at`` whatever else (``timing: "at"``).

In the film, each clip of a speaking shot shows the part of each line its trims keep (a shot
shown twice has its lines twice; a crossfade shows the lines of both clips while they
overlap). A line of which less than :data:`MIN_VISIBLE` seconds is left is left out: a flash
nobody could read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Literal

from storyboard.language.checked import CheckedStoryboard
from storyboard.language.dialogue import Line
from storyboard.language.timing import to_frames

if TYPE_CHECKING:
    from storyboard.cut.timeline import Compiled, Timeline

Timing = Literal["at", "speech", "spread"]
SubtitleMode = Literal["soft", "burn", "off"]
"""What the cut does with the cues: a subtitle track in the film, drawn into the picture, or
neither (the ``.srt`` and ``.vtt`` files are written whatever it is)."""
Region = tuple[float, float]
"""A stretch of speech, ``(start, end)`` in seconds."""

MIN_VISIBLE = 0.25
"""Seconds of a line a clip must show for the line to get a cue."""
MIN_SPEECH = 0.25
"""Seconds of speech a block needs before its lines are laid over speech, not spread."""


@dataclass(frozen=True)
class TimedLine:
    """A line of a shot, timed in the shot: seconds from the shot's start."""

    line: Line
    start: float
    end: float
    timing: Timing


@dataclass(frozen=True)
class Cue:
    """One subtitle of the film.

    Attributes:
        start, end: when it shows, in seconds of the film (to the millisecond).
        text: the words, as the line says them (one line of text).
        who: the speaker, as written in the storyboard.
        shot: the shot the line belongs to.
        line: the line's index in that shot's ``dialogue``.
        clip: the index of the clip (0-based, in film order) that shows it.
        timing: how its time was found: ``at`` (written), ``speech`` (detected in the take's
            sound) or ``spread`` (over the shot by word count).
    """

    start: float
    end: float
    text: str
    who: str
    shot: str
    line: int
    clip: int
    timing: Timing


def subtitle_mode(checked: CheckedStoryboard) -> SubtitleMode:
    """``cut.subtitles``, or its default: ``soft`` when a shot has dialogue, else ``off``."""
    cut = checked.storyboard.cut
    if cut is not None and cut.subtitles is not None:
        return cut.subtitles
    return "soft" if checked.has_dialogue else "off"


def time_lines(
    lines: Sequence[Line], duration: float, speech: Sequence[Region] | None = None
) -> list[TimedLine]:
    """Time a shot's lines in the shot (see the module docstring).

    Args:
        lines: the shot's lines, in order (``at`` in order, inside the shot: validated).
        duration: the shot's length in seconds.
        speech: the speech found in the shot's sound, in seconds from the shot's start; ``None``
            or empty when there is none to go by.
    """
    timed: list[TimedLine] = []
    blocks = _blocks(lines)
    for k, (first, last) in enumerate(blocks):
        head = lines[first]
        lo = min(head.at, duration) if head.at is not None else 0.0
        after = lines[blocks[k + 1][0]].at if k + 1 < len(blocks) else None
        hi = min(after, duration) if after is not None else duration
        hi = max(hi, lo)
        block = lines[first:last]
        found = _clip_regions(speech or (), lo, hi)
        if sum(b - a for a, b in found) >= MIN_SPEECH:
            spans = _over_speech(block, found)
            timing: Timing = "speech"
        else:
            spans = _spread(block, lo, hi)
            timing = "spread"
        for index, (line, (start, end)) in enumerate(zip(block, spans, strict=True)):
            if index == 0 and line.at is not None:
                timed.append(TimedLine(line, lo, max(end, lo), "at"))
            else:
                timed.append(TimedLine(line, start, end, timing))
    return timed


def shot_speech(
    regions: Sequence[Region] | None, offset: float, duration: float
) -> list[Region] | None:
    """The speech of a take (``regions``, in seconds of its video) that falls in the shot
    ``offset .. offset + duration``, in seconds from the shot's start."""
    if regions is None:
        return None
    return [
        (max(a, offset) - offset, min(b, offset + duration) - offset)
        for a, b in regions
        if b > offset and a < offset + duration
    ]


def film_cues(
    compiled: Compiled,
    timeline: Timeline,
    speech: Mapping[str, Sequence[Region] | None] | None = None,
) -> tuple[Cue, ...]:
    """The film's subtitle cues, in order of their start.

    Args:
        compiled: the compiled storyboard (its shots' lines, its takes' segments): the shape
            :class:`storyboard.cut.timeline.Compiled`, which the compiler's result has.
        timeline: the film, as the cut lays it out.
        speech: take id -> the speech found in the take's video (seconds of the video);
            takes not named, or ``None``, have none to go by.
    """
    resolved = compiled.resolved
    speech = speech or {}
    cues: list[Cue] = []
    fps = timeline.fps
    for clip in timeline.clips:
        if clip.card is not None:
            continue  # a title card or credits: no shot, nobody speaks
        info = compiled.checked.shot(clip.shot)
        if not info.dialogue:
            continue
        take = resolved.take(clip.take)
        offset = Fraction(to_frames(take.segment_start(info.id)), fps)
        duration = info.duration if info.duration is not None else clip.source_frames / fps
        regions = shot_speech(speech.get(take.id), float(offset), float(duration))
        shown_from, shown_to = Fraction(clip.source_in, fps), Fraction(clip.source_out, fps)
        for number, timed in enumerate(time_lines(info.dialogue, float(duration), regions)):
            start = max(offset + Fraction(timed.start), shown_from)
            end = min(offset + Fraction(timed.end), shown_to)
            if end - start < Fraction(MIN_VISIBLE):
                continue  # cut away by a trim (or all but a flash of it)
            at = Fraction(clip.start, fps) - shown_from
            cues.append(
                Cue(
                    start=_ms(at + start),
                    end=_ms(at + end),
                    text=timed.line.says,
                    who=timed.line.who,
                    shot=info.id,
                    line=number,
                    clip=clip.index,
                    timing=timed.timing,
                )
            )
    return tuple(sorted(cues, key=lambda c: (c.start, c.clip)))


def _blocks(lines: Sequence[Line]) -> list[tuple[int, int]]:
    """``[first, last)`` index ranges: each ``at`` starts a block."""
    starts = [0] + [i for i, line in enumerate(lines) if line.at is not None and i > 0]
    return [(a, b) for a, b in zip(starts, [*starts[1:], len(lines)], strict=True) if b > a]


def _weights(lines: Sequence[Line]) -> list[int]:
    return [max(line.words, 1) for line in lines]


def _spread(lines: Sequence[Line], lo: float, hi: float) -> list[Region]:
    """``lines`` one after another over ``lo .. hi``, each a share by its words."""
    weights = _weights(lines)
    total, done, spans = sum(weights), 0, []
    for weight in weights:
        spans.append((lo + (hi - lo) * done / total, lo + (hi - lo) * (done + weight) / total))
        done += weight
    return spans


def _clip_regions(regions: Sequence[Region], lo: float, hi: float) -> list[Region]:
    return [(max(a, lo), min(b, hi)) for a, b in sorted(regions) if b > lo and a < hi]


def _over_speech(lines: Sequence[Line], regions: Sequence[Region]) -> list[Region]:
    """``lines`` laid in order over the speech ``regions``, each a share of its time by its
    words; a line starts where its share of the speech starts, and ends where it ends.

    Where two lines meet near a pause in the speech (closer to it than half the shorter of
    the two shares), they meet at the pause: people pause between lines, and a subtitle that
    runs into the next line's words is worse than one a little off its share.
    """
    spoken = sum(b - a for a, b in regions)
    weights = _weights(lines)
    total = sum(weights)
    cuts = [spoken * sum(weights[:i]) / total for i in range(len(weights) + 1)]
    pauses, done = [], 0.0
    for a, b in regions[:-1]:
        done += b - a
        pauses.append(done)
    for i in range(1, len(cuts) - 1):
        reach = min(cuts[i] - cuts[i - 1], cuts[i + 1] - cuts[i]) / 2
        near = [p for p in pauses if cuts[i - 1] < p < cuts[i + 1] and abs(p - cuts[i]) <= reach]
        if near:
            cuts[i] = min(near, key=lambda p: abs(p - cuts[i]))
    return [
        (_at(regions, cuts[i], start=True), _at(regions, cuts[i + 1], start=False))
        for i in range(len(lines))
    ]


def _at(regions: Sequence[Region], offset: float, *, start: bool) -> float:
    """The time ``offset`` seconds into the speech: at a boundary between two regions, the
    next one's start for a line's start, the last one's end for its end."""
    for a, b in regions:
        length = b - a
        # (to a microsecond: shares of the speech are sums of floats)
        if offset < length - 1e-6 or (not start and offset <= length + 1e-6):
            return min(a + offset, b)
        offset -= length
    return regions[-1][1]


def _ms(value: Fraction) -> float:
    """Seconds to the millisecond (what subtitle files hold)."""
    return round(float(value), 3) + 0.0


__all__ = [
    "MIN_VISIBLE",
    "Cue",
    "SubtitleMode",
    "TimedLine",
    "Timing",
    "film_cues",
    "shot_speech",
    "subtitle_mode",
    "time_lines",
]
