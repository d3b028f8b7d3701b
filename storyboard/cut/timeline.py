"""Stage 7a, the cut's timeline: compiled storyboard + finished takes -> what the film is.

Pure arithmetic, no I/O: :func:`build_timeline` reads the storyboard's ``cut`` (or the
default: every shot in story order, hard cuts, generated audio), finds each clip's frames
inside its take's video (a shot of a multi-shot take is cut out at its segment boundaries),
lays the clips end to end with their transitions and checks that everything fits. The result,
a :class:`Timeline`, is what :func:`storyboard.cut.assemble.assemble` renders.

Everything is counted in frames at 24 fps (``FPS``), never in float seconds: a time in the
storyboard becomes a frame count once, by rounding to the nearest frame (halves round up).

Transitions, for a clip ``B`` following ``A`` (``d`` = the transition's frames):

- ``cut``: ``B``'s first frame follows ``A``'s last frame.
- ``crossfade``: the last ``d`` frames of ``A`` and the first ``d`` frames of ``B`` overlap;
  overlap frame ``j`` shows ``(1 - j/d)·A + (j/d)·B``. The film is ``d`` frames shorter.
- ``fade`` (dip to black): no overlap, the film keeps its length. ``A``'s last ``d // 2``
  frames fade out to black (its last frame is black) and ``B``'s first ``d - d // 2``
  frames fade in from black (its first frame is black).

``fade_in``/``fade_out`` of the film work like the two halves of a dip, on the first and
the last clip.

The same layout checks the cut before anything is paid for: :func:`check_timeline` runs it on
the takes' lengths alone (known from the storyboard, or from a local file's header), so
``check``, ``plan`` and ``build`` refuse exactly the cuts this module would refuse after the
takes were made (see :mod:`storyboard.compiler.fit`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Literal, Protocol

from storyboard.core.diagnostics import DataPath, Diagnostic
from storyboard.core.errors import BuildError, InputError
from storyboard.language.checked import CheckedStoryboard, ShotInfo
from storyboard.language.model import Clip, Cut, Format, Transition
from storyboard.language.sources import MediaRef
from storyboard.language.timing import FPS, frames_at_fps, seconds_of, to_frames, trim_problem


class Take(Protocol):
    """What the cut needs to know of a take: the compiler's resolved take
    (:class:`storyboard.compiler.resolve.Take`) is one. The cut depends on the shape, not on the
    compiler, which lays out the cut before paying (:mod:`storyboard.compiler.fit`)."""

    @property
    def id(self) -> str: ...
    @property
    def edit(self) -> object | None: ...
    @property
    def duration(self) -> int | None: ...
    def segment_start(self, shot_id: str) -> int: ...


class Takes(Protocol):
    """Which take holds each shot (:class:`storyboard.compiler.resolve.Resolved` is one)."""

    @property
    def take_of_shot(self) -> Mapping[str, str]: ...
    def take(self, take_id: str) -> Take: ...


class Compiled(Protocol):
    """A storyboard checked and packed into takes
    (:class:`storyboard.compiler.compile.Compiled`)."""

    @property
    def checked(self) -> CheckedStoryboard: ...
    @property
    def resolved(self) -> Takes: ...


EdgeKind = Literal["cut", "crossfade", "dip", "fade"]
AudioMode = Literal["generated", "mute"]


@dataclass(frozen=True)
class Edge:
    """How a clip begins or ends.

    ``cut``: plainly (``frames`` is 0). ``crossfade``: its first/last ``frames`` overlap the
    neighbouring clip. ``dip``: half of a dip to black, a fade from/to black over ``frames``.
    ``fade``: the film's ``fade_in``/``fade_out``, also a fade from/to black over ``frames``.
    """

    kind: EdgeKind = "cut"
    frames: int = 0

    @property
    def ramp(self) -> int:
        """Frames faded from or to black at this edge (0 unless a dip or a film fade)."""
        return self.frames if self.kind in ("dip", "fade") else 0

    @property
    def overlap(self) -> int:
        """Frames shared with the neighbouring clip (0 unless a crossfade)."""
        return self.frames if self.kind == "crossfade" else 0


CUT = Edge()


@dataclass(frozen=True)
class TimelineClip:
    """One clip of the film, resolved to frames of a video file.

    Attributes:
        index: 0-based position in the film.
        shot: the shot shown.
        take: the take whose video holds it.
        source: that video file.
        source_in: the first frame of ``source`` shown (at ``FPS``).
        source_out: one past the last frame shown.
        source_frames: the length of ``source``, in frames at ``FPS``.
        start: the film frame where ``source_in`` is shown.
        transition: the transition into this clip, as written (``cut`` for the first clip).
        transition_frames: its length in frames (0 for a cut).
        head: how the clip begins (what the transition into it does to it).
        tail: how it ends (what the transition out of it does to it).
        path: where the clip is in the storyboard (for messages).
    """

    index: int
    shot: str
    take: str
    source: Path
    source_in: int
    source_out: int
    source_frames: int
    start: int
    transition: Transition
    transition_frames: int
    head: Edge
    tail: Edge
    path: DataPath

    @property
    def frames(self) -> int:
        """Frames of the source this clip uses (overlaps included)."""
        return self.source_out - self.source_in

    @property
    def end(self) -> int:
        """One past the film frame where the clip's last frame is shown."""
        return self.start + self.frames


@dataclass(frozen=True)
class Timeline:
    """The film: its clips in order and everything needed to render it.

    Attributes:
        clips: the clips, in film order.
        width, height: the film's size in pixels (even numbers).
        format: the container (``MP4``, ``WEBM``, ``MOV``).
        quality: 20..99, mapped to the encoder's CRF for re-encoded frames.
        audio: ``generated`` (the takes' own sound) or ``mute`` (silence).
        music: a music bed to mix under the film, if any.
        music_volume: its gain (1.0 leaves it as it is).
        fade_in, fade_out: the film's fade from/to black (and silence), in frames.
        total_frames: the film's exact length in frames.
        fps: always ``FPS``.
    """

    clips: tuple[TimelineClip, ...]
    width: int
    height: int
    format: Format
    quality: int
    audio: AudioMode
    music: Path | None
    music_volume: float
    fade_in: int
    fade_out: int
    total_frames: int
    fps: int = FPS

    @property
    def duration(self) -> Fraction:
        """The film's exact length in seconds."""
        return Fraction(self.total_frames, self.fps)

    @property
    def size(self) -> tuple[int, int]:
        return (self.width, self.height)


Lengths = Mapping[str, int | None]
"""Take id -> the length of its video in frames at ``FPS``; ``None``: not known yet (an edit of
a remote video, until it is made)."""


def build_timeline(
    compiled: Compiled,
    videos: Mapping[str, Path],
    sizes: Mapping[str, tuple[int, int]] | None = None,
    *,
    size: tuple[int, int] | None = None,
) -> Timeline:
    """Lay out the film from the storyboard's ``cut`` and the takes' videos.

    Args:
        compiled: the compiled storyboard (its takes say which video holds which shot).
        videos: take id -> the picked video file of that take.
        sizes: take id -> ``(frame_count, fps)`` of that video, as measured (see
            :func:`storyboard.cut.assemble.measure_videos`). Needed for edits, whose length
            is their source's; for other takes the nominal duration is used when missing.
        size: the film's size in pixels; defaults to the storyboard's ``output`` size (the
            build passes the output size times the preview scale for preview builds).

    Returns:
        The timeline, with every clip's source frames and the film's exact length.

    Raises:
        InputError: a clip or transition that does not fit (trims past the end of a video,
            a transition longer than a clip, ...), each at its position in the storyboard.
        BuildError: a take has no video, or an edit's length was not measured.
    """
    return _Layout(compiled, videos, sizes or {}, size).run()


def check_timeline(compiled: Compiled, lengths: Lengths) -> list[Diagnostic]:
    """Every problem :func:`build_timeline` would report, from the takes' lengths alone.

    No video is needed: ``lengths`` gives each take's length in frames. A clip of a take whose
    length is ``None`` is not checked (its trims, and the transitions and fades whose fit
    depends on its length), until the length is known.

    Returns:
        The problems, each at its position in the storyboard (empty when the cut fits).
    """
    layout = _Layout(compiled, {}, {}, None, lengths=lengths)
    layout.lay_out()
    return layout.diagnostics


@dataclass(frozen=True)
class _Wanted:
    """A clip as asked for, before layout."""

    info: ShotInfo
    clip: Clip
    path: DataPath
    explicit: bool  # written in cut.clips (paths and messages differ from the default cut)


@dataclass(frozen=True)
class _Range:
    """Where a clip is in its take's video: frames ``first .. last`` of ``length``."""

    take: Take
    first: int
    last: int
    length: int

    @property
    def frames(self) -> int:
        return self.last - self.first


Transitions = list[tuple[Transition, int, DataPath]]


class _Layout:
    def __init__(
        self,
        compiled: Compiled,
        videos: Mapping[str, Path],
        sizes: Mapping[str, tuple[int, int]],
        size: tuple[int, int] | None,
        *,
        lengths: Lengths | None = None,
    ) -> None:
        self.compiled = compiled
        self.checked: CheckedStoryboard = compiled.checked
        self.cut: Cut = self.checked.storyboard.cut or Cut()
        self.videos = videos
        self.sizes = sizes
        self.size = size
        self.lengths = lengths  # given: only check, from these lengths (no video needed)
        self.diagnostics: list[Diagnostic] = []

    def error(self, path: DataPath, message: str) -> None:
        self.diagnostics.append(Diagnostic(self.checked.position(path), message))

    def fail_if_errors(self) -> None:
        if self.diagnostics:
            raise InputError(self.diagnostics)

    # -- the steps -------------------------------------------------------------------------

    def lay_out(
        self,
    ) -> tuple[list[_Wanted], list[_Range | None], Transitions, list[Edge], list[Edge]]:
        """Find every clip's frames and transitions and check that they fit, collecting the
        problems in ``diagnostics``. A range is ``None`` where the take's length is unknown
        (only when checking from ``lengths``)."""
        wanted = self.wanted()
        ranges = [self.source_range(w, i) for i, w in enumerate(wanted)]
        transitions = [self.transition(w, i) for i, w in enumerate(wanted)]
        fade_in, fade_out = to_frames(self.cut.fade_in), to_frames(self.cut.fade_out)
        heads, tails = self.edges(transitions, len(wanted), fade_in, fade_out)
        if not self.diagnostics:  # the fit is measured on clips that are valid on their own
            self.check_fit(wanted, ranges, transitions, heads, tails)
        return wanted, ranges, transitions, heads, tails

    def run(self) -> Timeline:
        wanted, ranges, transitions, heads, tails = self.lay_out()
        self.fail_if_errors()
        clips: list[TimelineClip] = []
        start = 0
        for i, w in enumerate(wanted):
            found = ranges[i]
            assert found is not None  # every length is known when building
            take = found.take
            source = self.videos[take.id]  # source_range refused a take without one
            kind, frames, _ = transitions[i]
            start -= heads[i].overlap
            clips.append(
                TimelineClip(
                    index=i,
                    shot=w.info.id,
                    take=take.id,
                    source=source,
                    source_in=found.first,
                    source_out=found.last,
                    source_frames=found.length,
                    start=start,
                    transition=kind,
                    transition_frames=frames,
                    head=heads[i],
                    tail=tails[i],
                    path=w.path,
                )
            )
            start += found.frames
        width, height = self.size or (
            self.checked.storyboard.output.width,
            self.checked.storyboard.output.height,
        )
        output = self.checked.storyboard.output
        music = self.checked.music
        music_path: Path | None = None
        if self.cut.music is not None:
            if not isinstance(music, MediaRef) or music.path is None:
                raise InputError.at(
                    self.checked.position(("cut", "music", "file")),
                    "cut.music.file: the music bed must be a local audio file",
                )
            music_path = music.path
        return Timeline(
            clips=tuple(clips),
            width=_even(width),
            height=_even(height),
            format=output.format,
            quality=output.quality,
            audio=self.cut.audio,
            music=music_path,
            music_volume=self.cut.music.volume if self.cut.music else 1.0,
            fade_in=to_frames(self.cut.fade_in),
            fade_out=to_frames(self.cut.fade_out),
            total_frames=start,
        )

    def wanted(self) -> list[_Wanted]:
        if self.cut.clips is None:
            return [
                _Wanted(info, Clip(shot=info.id), info.path, False) for info in self.checked.shots
            ]
        return [
            _Wanted(self.checked.shot(clip.shot), clip, ("cut", "clips", i), True)
            for i, clip in enumerate(self.cut.clips)
        ]

    def source_range(self, w: _Wanted, i: int) -> _Range | None:
        """The frames of its take's video a clip shows (``None``: the length is unknown)."""
        resolved = self.compiled.resolved
        take = resolved.take(resolved.take_of_shot[w.info.id])
        if self.lengths is None and take.id not in self.videos:
            raise BuildError(
                f"the cut needs take '{take.id}' (shot '{w.info.id}'): it has no video"
            )
        length = self.video_frames(take)
        if length is None:
            return None
        seg_start = to_frames(take.segment_start(w.info.id))
        if take.edit is not None or w.info.duration is None:
            seg_end = length
        else:
            seg_end = min(seg_start + to_frames(w.info.duration), length)
        seg_len = seg_end - seg_start
        name = f"cut.clips[{i}]" if w.explicit else f"shot '{w.info.id}'"
        problem = trim_problem(name, w.info.id, w.clip.in_, w.clip.out, seg_len)
        if problem is not None:
            self.error((*w.path, problem[0]), problem[1])
        first = to_frames(w.clip.in_) if w.clip.in_ is not None else 0
        last = to_frames(w.clip.out) if w.clip.out is not None else seg_len
        return _Range(take, seg_start + first, seg_start + last, length)

    def video_frames(self, take: Take) -> int | None:
        """The length of a take's video in frames at FPS: given (when checking), measured,
        else nominal."""
        if self.lengths is not None:
            return self.lengths.get(take.id)
        measured = self.sizes.get(take.id)
        if measured is not None:
            return frames_at_fps(*measured)
        if take.duration is None:
            raise BuildError(
                f"the length of take '{take.id}' (an edit) is unknown: measure its video and "
                "pass it in `sizes`"
            )
        return to_frames(take.duration)

    def transition(self, w: _Wanted, i: int) -> tuple[Transition, int, DataPath]:
        """``(kind, frames, where to report a problem)`` of the transition into clip ``i``."""
        clip = w.clip
        if i == 0:
            if clip.transition in ("crossfade", "fade"):
                self.error(
                    (*w.path, "transition"),
                    f"cut.clips[0].transition: the first clip has nothing to {clip.transition} "
                    "from; use cut.fade_in to fade the film in",
                )
            return "cut", 0, w.path
        kind: Transition = clip.transition or self.cut.transition
        if kind == "cut":
            return "cut", 0, w.path
        if clip.transition_duration is not None:
            seconds, where = clip.transition_duration, (*w.path, "transition_duration")
        else:
            seconds = self.cut.transition_duration
            where = (*w.path, "transition") if clip.transition else ("cut", "transition_duration")
        frames = to_frames(seconds)
        if frames < 1:
            self.error(where, f"a {seconds:g} s {kind} is shorter than one frame (1/{FPS} s)")
        return kind, frames, where

    @staticmethod
    def edges(
        transitions: Transitions,
        count: int,
        fade_in: int,
        fade_out: int,
    ) -> tuple[list[Edge], list[Edge]]:
        heads = [Edge("fade", fade_in) if fade_in else CUT] + [CUT] * (count - 1)
        tails = [CUT] * (count - 1) + [Edge("fade", fade_out) if fade_out else CUT]
        for i in range(1, count):
            kind, frames, _ = transitions[i]
            if kind == "crossfade":
                heads[i] = tails[i - 1] = Edge("crossfade", frames)
            elif kind == "fade":
                tails[i - 1] = Edge("dip", frames // 2) if frames // 2 else CUT
                heads[i] = Edge("dip", frames - frames // 2)
        return heads, tails

    def check_fit(
        self,
        wanted: list[_Wanted],
        ranges: list[_Range | None],
        transitions: Transitions,
        heads: list[Edge],
        tails: list[Edge],
    ) -> None:
        """Every clip must hold what its two ends need (overlaps and fades do not nest);
        a clip whose length is unknown is not measured."""
        count = len(wanted)
        for i in range(count):
            found = ranges[i]
            if found is None:
                continue
            frames = found.frames
            head, tail = heads[i], tails[i]
            if head.frames + tail.frames <= frames:
                continue
            # Blame the end that asks for more, and say what the clip holds.
            need = f"{seconds_of(frames)} s ({frames} frames)"
            if i == 0 and head.kind == "fade" and head.frames > frames - tail.frames:
                self.error(
                    ("cut", "fade_in"),
                    f"cut.fade_in: {self.cut.fade_in:g} s does not fit in the first clip "
                    f"'{wanted[0].info.id}', {need} long"
                    + (" with its transition out" if tail.frames else ""),
                )
            elif i == count - 1 and tail.kind == "fade":
                self.error(
                    ("cut", "fade_out"),
                    f"cut.fade_out: {self.cut.fade_out:g} s does not fit in the last clip "
                    f"'{wanted[-1].info.id}', {need} long"
                    + (" with its transition in" if head.frames else ""),
                )
            elif head.frames and (not tail.frames or head.frames >= tail.frames):
                kind, _, where = transitions[i]
                self.error(
                    where,
                    f"the {kind} into '{wanted[i].info.id}' is longer than the clip allows: "
                    f"the clip is {need} long"
                    + (", and its transition out needs the rest" if tail.frames else "")
                    + (
                        f"; the clip before it is {seconds_of(before.frames)} s"
                        if kind == "crossfade" and (before := ranges[i - 1]) is not None
                        else ""
                    ),
                )
            else:
                kind, _, where = transitions[i + 1]
                self.error(
                    where,
                    f"the {kind} out of '{wanted[i].info.id}' is longer than the clip allows: "
                    f"the clip is {need} long"
                    + (", and its transition in needs the rest" if head.frames else ""),
                )


def _even(value: int) -> int:
    """Sizes are even (4:2:0 video needs it): odd values round down, at least 2."""
    return max(2, value - value % 2)


__all__ = [
    "CUT",
    "FPS",
    "AudioMode",
    "Edge",
    "EdgeKind",
    "Lengths",
    "Timeline",
    "TimelineClip",
    "build_timeline",
    "check_timeline",
    "frames_at_fps",
    "to_frames",
    "trim_problem",
]
