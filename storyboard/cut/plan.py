"""Which frames of the film are copied and which are re-encoded: pure, from the timeline.

:func:`plan_video` walks the timeline clip by clip. A clip whose video can be joined as it is
(the film's codec, size, 24 fps constant rate, 4:2:0, and the same codec parameters as the
film's *reference* video) is split into

- a head, re-encoded: from its first frame up to the first cut point (start of a closed GOP)
  after whatever its transition in needs (a crossfade's overlap, a fade from black);
- a middle of whole GOPs, **copied** packet for packet;
- a tail, re-encoded: from the last cut point before what its transition out needs.

Text drawn over the picture (a caption, a burned subtitle: ``Timeline.overlays``) is
drawn on re-encoded frames only, so the frames under it are re-encoded too: from the last cut
point before its first frame to the first cut point after its last, the GOPs on either side
still copied. A title card is rendered by the cut at the film's codec parameters (see
:mod:`storyboard.cut.cards`) and is then copied like a take.

A clip that cannot be joined as it is (another codec or size, another frame rate) is
re-encoded whole. Consecutive re-encoded runs become one :class:`EncodePiece` (one ffmpeg
process: a seam's tail, crossfade and head are rendered together), split at hard cuts when
it would read too many inputs at once, so memory does not grow with the film. When every seam
is a hard cut on a cut point, every piece is a :class:`CopyPiece`: the whole video is copied.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from storyboard.core.errors import BuildError
from storyboard.cut.streams import VideoIndex
from storyboard.cut.timeline import FPS, Timeline, TimelineClip

MAX_INPUTS = 8
"""At most this many runs (decoders) in one ffmpeg process."""


@dataclass(frozen=True)
class Run:
    """Frames ``[first, last)`` of one clip's source, to re-encode.

    ``ramp_in``/``ramp_out``: frames faded from black at its start / to black at its end.
    """

    clip: int
    source: Path
    first: int
    last: int
    ramp_in: int = 0
    ramp_out: int = 0
    reason: str = ""

    @property
    def frames(self) -> int:
        return self.last - self.first


@dataclass(frozen=True)
class CopyPiece:
    """Whole GOPs ``[first, last)`` of a clip's source, copied packet for packet."""

    clip: int
    source: Path
    first: int
    last: int
    film_start: int

    @property
    def frames(self) -> int:
        return self.last - self.first


@dataclass(frozen=True)
class PieceOverlay:
    """Overlay ``overlay`` of the timeline drawn on frames ``[first, last)`` of a piece
    (counted from the piece's first frame)."""

    overlay: int
    first: int
    last: int


@dataclass(frozen=True)
class EncodePiece:
    """Runs rendered by one ffmpeg process into one file, shown from ``film_start``.

    ``joins[k]`` is how run ``k + 1`` follows run ``k``: frames of crossfade overlap, or 0
    for a plain join (a hard cut, or the two halves of a dip).
    """

    runs: tuple[Run, ...]
    joins: tuple[int, ...]
    film_start: int
    overlays: tuple[PieceOverlay, ...] = ()

    @property
    def frames(self) -> int:
        return sum(r.frames for r in self.runs) - sum(self.joins)

    @property
    def reasons(self) -> tuple[str, ...]:
        seen: list[str] = []
        for run in self.runs:
            if run.reason and run.reason not in seen:
                seen.append(run.reason)
        return tuple(seen)


Piece = CopyPiece | EncodePiece


@dataclass(frozen=True)
class VideoPlan:
    """The film's video as pieces in order, and the parameters re-encoded pieces match.

    Attributes:
        pieces: copied and re-encoded pieces, in film order, end to end.
        codec: the film's video codec (``h264`` for MP4/MOV, ``vp9`` for WEBM).
        reference: the source whose codec parameters the film uses, if any is copied.
        unjoinable: per source that is re-encoded whole, why.
    """

    pieces: tuple[Piece, ...]
    codec: str
    reference: VideoIndex | None
    unjoinable: dict[Path, str]

    @property
    def total_frames(self) -> int:
        return sum(p.frames for p in self.pieces)

    @property
    def copied_frames(self) -> int:
        return sum(p.frames for p in self.pieces if isinstance(p, CopyPiece))

    @property
    def encoded_frames(self) -> int:
        return self.total_frames - self.copied_frames


def film_codec(timeline: Timeline) -> str:
    return "vp9" if timeline.format == "WEBM" else "h264"


def joinable(index: VideoIndex, timeline: Timeline) -> str | None:
    """Why ``index``'s packets cannot go into the film as they are, or None if they can."""
    codec = film_codec(timeline)
    if index.codec != codec:
        return f"its codec is {index.codec}, the {timeline.format} film's is {codec}"
    if (index.width, index.height) != timeline.size:
        return f"it is {index.width}x{index.height}, the film {timeline.width}x{timeline.height}"
    if not index.constant_rate or index.fps != FPS:
        return f"it is not a constant {FPS} fps (it is {float(index.fps):g} fps)"
    if index.pix_fmt != "yuv420p" or index.sar != 1:
        return f"its pixel format is {index.pix_fmt} (sample aspect {index.sar})"
    if codec == "h264" and index.nal_length_size() != 4:
        return "its H.264 stream is not in MP4 form with 4-byte NAL lengths"
    return None


def choose_reference(
    timeline: Timeline, indexes: Mapping[Path, VideoIndex]
) -> tuple[VideoIndex | None, dict[Path, str]]:
    """The joinable source whose parameters most of the film shares, and why others differ."""
    unjoinable: dict[Path, str] = {}
    frames: dict[tuple[object, ...], int] = {}
    first_of: dict[tuple[object, ...], VideoIndex] = {}
    for clip in timeline.clips:
        index = indexes[clip.source]
        why = joinable(index, timeline)
        if why is not None:
            unjoinable[clip.source] = why
            continue
        key = index.copy_key()
        frames[key] = frames.get(key, 0) + clip.frames
        first_of.setdefault(key, index)
    if not frames:
        return None, unjoinable
    best = max(frames, key=lambda k: frames[k])  # ties: the first seen (dicts keep order)
    reference = first_of[best]
    for clip in timeline.clips:
        index = indexes[clip.source]
        if clip.source not in unjoinable and index.copy_key() != best:
            unjoinable[clip.source] = (
                f"its codec parameters ({index.profile} level {index.level}) differ from the "
                f"film's ({reference.profile} level {reference.level})"
            )
    return reference, unjoinable


def plan_video(
    timeline: Timeline,
    indexes: Mapping[Path, VideoIndex],
    *,
    max_inputs: int = MAX_INPUTS,
) -> VideoPlan:
    """Split the film's video into copied and re-encoded pieces (see the module docstring).

    Args:
        timeline: the film.
        indexes: every source of the timeline, indexed.
        max_inputs: at most this many runs per re-encoded piece.
    """
    reference, unjoinable = choose_reference(timeline, indexes)
    # Flat list of (segment, overlap with the previous segment).
    segments: list[tuple[Run | CopyPiece, int]] = []
    for clip in timeline.clips:
        covered = _covered(clip, timeline)
        parts = _split_clip(clip, indexes[clip.source], unjoinable.get(clip.source), covered)
        for k, part in enumerate(parts):
            segments.append((part, clip.head.overlap if k == 0 else 0))
    pieces: list[Piece] = []
    film = 0
    runs: list[Run] = []
    joins: list[int] = []

    def flush() -> None:
        nonlocal film, runs, joins
        if runs:
            piece = EncodePiece(tuple(runs), tuple(joins), film)
            pieces.append(piece)
            film += piece.frames
            runs, joins = [], []

    for segment, overlap in segments:
        if isinstance(segment, CopyPiece):
            flush()
            pieces.append(
                CopyPiece(segment.clip, segment.source, segment.first, segment.last, film)
            )
            film += segment.frames
            continue
        if runs and not overlap and _continues(runs[-1], segment):
            runs[-1] = Run(
                runs[-1].clip,
                segment.source,
                runs[-1].first,
                segment.last,
                runs[-1].ramp_in,
                segment.ramp_out,
                runs[-1].reason or segment.reason,
            )
            continue
        if runs and len(runs) >= max_inputs:
            if not overlap:
                flush()
            else:
                # A crossfade chain: cut the last run in two where nothing happens to it.
                split = _split_run(runs[-1], joins[-1] if len(runs) > 1 else 0, overlap)
                if split is not None:
                    runs[-1] = split[0]
                    flush()
                    runs.append(split[1])
        if runs:
            joins.append(overlap)
        runs.append(segment)
    flush()
    return VideoPlan(
        tuple(_with_overlays(pieces, timeline)), film_codec(timeline), reference, unjoinable
    )


def _covered(clip: TimelineClip, timeline: Timeline) -> list[tuple[int, int, str]]:
    """The clip's source frames ``[first, last)`` under overlays, and why (in film order)."""
    found: list[tuple[int, int, str]] = []
    for overlay in timeline.overlays:
        low, high = max(overlay.first, clip.start), min(overlay.last, clip.end)
        if low < high:
            why = f"a caption over {clip.name}" if overlay.kind == "caption" else "subtitles"
            found.append(
                (clip.source_in + low - clip.start, clip.source_in + high - clip.start, why)
            )
    return found


def _with_overlays(pieces: list[Piece], timeline: Timeline) -> list[Piece]:
    """Each re-encoded piece with the overlays drawn on it; every frame under an overlay is
    in one (the planner re-encodes them)."""
    out: list[Piece] = []
    for piece in pieces:
        low, high = piece.film_start, piece.film_start + piece.frames
        drawn = tuple(
            PieceOverlay(k, max(o.first, low) - low, min(o.last, high) - low)
            for k, o in enumerate(timeline.overlays)
            if max(o.first, low) < min(o.last, high)
        )
        if isinstance(piece, CopyPiece):
            if drawn:
                raise BuildError(
                    f"the cut would copy film frames {low}..{high} that text is drawn over"
                )
            out.append(piece)
        else:
            out.append(replace(piece, overlays=drawn))
    return out


def _split_run(run: Run, overlap_in: int, overlap_out: int) -> tuple[Run, Run] | None:
    """``run`` cut in two between what its two ends need, if there is a frame to cut at."""
    low = run.first + max(overlap_in, run.ramp_in)
    high = run.last - max(overlap_out, run.ramp_out)
    at = (low + high) // 2
    if not (low <= at <= high and run.first < at < run.last):
        return None
    return (
        Run(run.clip, run.source, run.first, at, run.ramp_in, 0, run.reason),
        Run(run.clip, run.source, at, run.last, 0, run.ramp_out, run.reason),
    )


def _continues(before: Run, after: Run) -> bool:
    """``after`` picks up exactly where ``before`` stops, with no ramp in between."""
    return (
        before.source == after.source
        and before.last == after.first
        and not before.ramp_out
        and not after.ramp_in
    )


def _split_clip(
    clip: TimelineClip,
    index: VideoIndex,
    unjoinable: str | None,
    covered: list[tuple[int, int, str]] = [],  # noqa: B006 (read only)
) -> list[Run | CopyPiece]:
    """A clip as re-encoded runs and copied GOPs between them (empty parts left out): a head
    (what its transition in needs), a tail (what its transition out needs) and whatever text
    is drawn over (``covered``: source frames ``[first, last)`` and why), each widened to cut
    points."""
    first, last = clip.source_in, clip.source_out
    ramp_in, ramp_out = clip.head.ramp, clip.tail.ramp
    if unjoinable is not None:
        return [Run(clip.index, clip.source, first, last, ramp_in, ramp_out, unjoinable)]
    copy_from = index.first_cut_at_or_after(first + clip.head.frames)
    copy_to = index.last_cut_at_or_before(last - clip.tail.frames)
    if copy_from is None or copy_to is None or copy_from >= copy_to:
        why = f"{clip.name} holds no whole GOP to copy between its transitions"
        return [Run(clip.index, clip.source, first, last, ramp_in, ramp_out, why)]
    # the spans to re-encode, in source frames, widened to cut points
    spans: list[tuple[int, int, str]] = []
    if first < copy_from:
        spans.append((first, copy_from, _head_why(clip)))
    for low, high, why in covered:
        start = index.last_cut_at_or_before(low)
        end = index.first_cut_at_or_after(high)
        spans.append((max(first, start or first), min(last, last if end is None else end), why))
    if copy_to < last:
        spans.append((copy_to, last, _tail_why(clip)))
    merged: list[tuple[int, int, str]] = []
    for low, high, why in sorted(spans):
        if merged and low <= merged[-1][1]:
            before = merged[-1]
            reasons = before[2] if why in before[2].split("; ") else f"{before[2]}; {why}"
            merged[-1] = (before[0], max(before[1], high), reasons)
        else:
            merged.append((low, high, why))
    parts: list[Run | CopyPiece] = []
    at = first
    for low, high, why in merged:
        if at < low:
            parts.append(CopyPiece(clip.index, clip.source, at, low, 0))
        parts.append(
            Run(
                clip.index,
                clip.source,
                low,
                high,
                ramp_in if low == first else 0,
                ramp_out if high == last else 0,
                why,
            )
        )
        at = high
    if at < last:
        parts.append(CopyPiece(clip.index, clip.source, at, last, 0))
    return parts


def _head_why(clip: TimelineClip) -> str:
    shot = clip.name
    match clip.head.kind:
        case "crossfade":
            return f"crossfade into {shot}"
        case "dip":
            return f"fade from black into {shot}"
        case "fade":
            return "the film's fade in"
    return f"{shot} starts off a keyframe (frame {clip.source_in} of its take)"


def _tail_why(clip: TimelineClip) -> str:
    shot = clip.name
    match clip.tail.kind:
        case "crossfade":
            return f"crossfade out of {shot}"
        case "dip":
            return f"fade to black out of {shot}"
        case "fade":
            return "the film's fade out"
    return f"{shot} ends off a keyframe (frame {clip.source_out} of its take)"


__all__ = [
    "MAX_INPUTS",
    "CopyPiece",
    "EncodePiece",
    "Piece",
    "PieceOverlay",
    "Run",
    "VideoPlan",
    "choose_reference",
    "film_codec",
    "joinable",
    "plan_video",
]
