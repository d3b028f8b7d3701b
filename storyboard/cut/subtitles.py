"""Subtitles in the film: a soft track muxed beside the picture, or text burned into it.

Place in the pipeline: the cut. What the cues say and when comes from the storyboard's
dialogue (the words part of the language, which times them); this module takes them as plain
``(start, end, text)`` triples in film seconds and puts them into the film, as
``cut.subtitles`` asks:

- ``soft`` (:func:`with_subtitles` keeps them on the timeline; :func:`track` writes them): a
  subtitle track beside the copied video, ``mov_text`` (3GPP timed text) in MP4 and MOV,
  WebVTT in WEBM. No video frame is re-encoded; players list it as a subtitle track;
- ``burn``: each cue becomes text drawn over the frames it covers, bottom centre, with the
  captions' look (:class:`~storyboard.cut.timeline.Overlay`), and the cut re-encodes only the
  GOPs under them;
- ``off``: neither.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from fractions import Fraction
from typing import Any, Literal, NamedTuple

import av
from msgspec.structs import replace

from storyboard.cut.text import CAPTION_SIZE, Look
from storyboard.cut.timeline import Overlay, Timeline, to_frames
from storyboard.media.fonts import font_file

SubtitleMode = Literal["soft", "burn", "off"]
CODECS: dict[str, str] = {"MP4": "mov_text", "MOV": "mov_text", "WEBM": "webvtt"}
"""The subtitle codec of each container."""
TIME_BASE = Fraction(1, 1000)
"""Subtitle packets are timed in milliseconds."""
_ASS_HEADER = (
    b"[Script Info]\nScriptType: v4.00+\nPlayResX: 384\nPlayResY: 288\n\n"
    b"[V4+ Styles]\nFormat: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, "
    b"OutlineColour, BackColour, Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, "
    b"Angle, BorderStyle, Outline, Shadow, Alignment, MarginL, MarginR, MarginV, Encoding\n"
    b"Style: Default,Lato,16,&Hffffff,&Hffffff,&H0,&H0,0,0,0,0,100,100,0,0,1,1,0,2,10,10,10,0"
    b"\n\n[Events]\nFormat: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, "
    b"Text\n"
)
"""FFmpeg's subtitle encoders start from an ASS header (their common form); the default style
it names is what a player shows where the track carries no style of its own."""


class Subtitle(NamedTuple):
    """A subtitle on the timeline: ``text`` shown from ``start`` to ``end`` seconds of the
    film (a plain ``(start, end, text)`` tuple is one)."""

    start: float
    end: float
    text: str


def with_subtitles(
    timeline: Timeline,
    cues: Iterable[tuple[float, float, str]],
    mode: SubtitleMode,
    *,
    look: Look | None = None,
) -> Timeline:
    """``timeline`` with ``cues`` (``(start, end, text)`` in film seconds) to mux (``soft``)
    or to draw (``burn``); cut at the film's end, a cue past it (or without text) left out.
    ``look``: how burned cues are drawn (default: white Lato, a 20th of the frame's height)."""
    kept = shown(timeline, cues)
    if mode == "off" or not kept:
        return timeline
    if mode == "soft":
        return replace(timeline, subtitles=tuple(kept))
    drawn = look or Look((255, 255, 255), font_file("lato"), round(timeline.height * CAPTION_SIZE))
    overlays = []
    for cue in kept:
        span = _frames(cue, timeline)
        assert span is not None
        overlays.append(Overlay("subtitle", span[0], span[1], cue.text, drawn, "bottom"))
    return replace(timeline, overlays=timeline.overlays + tuple(overlays))


def shown(timeline: Timeline, cues: Iterable[tuple[float, float, str]]) -> list[Subtitle]:
    """The cues the film shows, in order of their start: those with text that start before
    its end."""
    given = sorted(
        (Subtitle(float(a), float(b), str(t)) for a, b, t in cues), key=lambda c: c.start
    )
    return [c for c in given if _frames(c, timeline) is not None]


def _frames(cue: Subtitle, timeline: Timeline) -> tuple[int, int] | None:
    """The film frames ``[first, last)`` a cue covers, or None if none."""
    first = max(0, to_frames(cue.start))
    last = min(timeline.total_frames, to_frames(cue.end))
    return (first, last) if first < last and cue.text.strip() else None


def packets_at_most(cues: Sequence[Subtitle]) -> int:
    """How many packets :func:`track` of ``cues`` puts in the film at most: a cue each, and
    an empty one where the muxer fills the gap before a cue or after the last."""
    return 2 * len(cues) + 1 if cues else 0


def track(cues: Sequence[Subtitle], fmt: str) -> Any:
    """A function adding the film's subtitle stream to an output container and yielding its
    packets with their times in :data:`storyboard.cut.mux.CLOCK` ticks (as :func:`storyboard.
    cut.mux.join` takes the audio)."""

    def add(output: Any) -> Iterator[tuple[int, Any]]:
        from storyboard.cut.mux import CLOCK

        stream = output.add_stream(CODECS[fmt])
        stream.codec_context.subtitle_header = _ASS_HEADER
        stream.codec_context.time_base = TIME_BASE
        stream.time_base = TIME_BASE
        stream.metadata["language"] = "und"
        end = -1
        for cue in cues:
            start = max(round(cue.start * 1000), end)  # cues never overlap in a track
            stop = round(cue.end * 1000)
            if stop <= start:
                continue
            packet = av.Packet(_payload(cue.text, fmt))
            packet.pts = packet.dts = start
            packet.duration = stop - start
            packet.time_base = TIME_BASE
            packet.stream = stream
            end = stop
            yield start * (CLOCK // 1000), packet

    return add


def _payload(text: str, fmt: str) -> bytes:
    """A cue's text as its codec carries it: mov_text prefixes its length (16 bits)."""
    data = text.strip().encode("utf-8")
    if CODECS[fmt] == "mov_text":
        data = data[:0xFFFF]
        return len(data).to_bytes(2, "big") + data
    return data


def subtitle_mode(
    chosen: SubtitleMode | None, cues: Sequence[tuple[float, float, str]]
) -> SubtitleMode:
    """``cut.subtitles`` as written, or its default: ``soft`` when the film has cues (a shot
    with dialogue), else ``off``."""
    if chosen is not None:
        return chosen
    return "soft" if cues else "off"


__all__ = [
    "CODECS",
    "Subtitle",
    "SubtitleMode",
    "shown",
    "subtitle_mode",
    "track",
    "with_subtitles",
]
