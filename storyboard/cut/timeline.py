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
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

from msgspec import Struct

from storyboard.core.diagnostics import DataPath, Diagnostic
from storyboard.core.diagnostics import format_path as format_where
from storyboard.core.errors import BuildError, InputError
from storyboard.cut.look import CAPTION_SIZE, TITLE_SIZE, Look, Position
from storyboard.language.checked import CheckedStoryboard, ShotInfo
from storyboard.language.model import (
    Card,
    Clip,
    CreditsCard,
    Cut,
    Format,
    Music,
    TextStyle,
    Title,
    TitleClip,
    Transition,
    made_of_defaults,
)
from storyboard.language.sources import MediaRef
from storyboard.language.timing import FPS, frames_at_fps, seconds_of, to_frames, trim_problem
from storyboard.media.fonts import BUNDLED_FONTS, colour, font_file, is_colour


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


if TYPE_CHECKING:
    from storyboard.cut.subtitles import Subtitle

SAMPLE_RATE = 48_000
"""The film's sound: 48 kHz, so a frame is a whole number of samples."""
SAMPLES_PER_FRAME = SAMPLE_RATE // FPS


EdgeKind = Literal["cut", "crossfade", "dip", "fade"]
AudioMode = Literal["generated", "mute"]


class Edge(Struct, frozen=True):
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


class CardSpec(Struct, frozen=True):
    """A full-frame card of the film: a title, or opening or end credits.

    ``text`` is drawn with ``look`` (its size in pixels of the film's frame), centred on
    ``background``, a colour or an image file.
    """

    kind: Literal["title", "opening credits", "end credits"]
    text: str
    look: Look
    background: tuple[int, int, int] | Path

    @property
    def name(self) -> str:
        if self.kind != "title":
            return f"the {self.kind}"
        first = self.text.splitlines()[0] if self.text else ""
        return f"the title '{first if len(first) <= 30 else first[:27] + '...'}'"


class Overlay(Struct, frozen=True):
    """Text drawn over the picture on film frames ``[first, last)``: a clip's caption, or a
    burned subtitle. ``path``: where it is in the storyboard (``()`` for a subtitle)."""

    kind: Literal["caption", "subtitle"]
    first: int
    last: int
    text: str
    look: Look
    position: Position
    path: DataPath = ()


class MusicCue(Struct, frozen=True):
    """A music cue of the mix, in film samples at 48 kHz.

    Attributes:
        file: the audio file.
        volume: its gain.
        offset: samples into the file where the cue starts playing.
        first, last: the film samples it plays over, ``[first, last)``.
        fade_in, fade_out: samples it fades in over from ``first``, out over to ``last``.
        loop: when the file ends, it plays again from ``offset``.
        duck: its gain under the clips' own sound and dialogue (None: not ducked).
    """

    file: Path
    volume: float
    offset: int
    first: int
    last: int
    fade_in: int = 0
    fade_out: int = 0
    loop: bool = False
    duck: float | None = None


class TimelineClip(Struct, frozen=True):
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
        card: for a title card or credits (no shot, no take: ``shot`` and ``take`` are
            empty), what it shows; ``source`` is then where the cut renders it.
        volume: the gain of the clip's own sound (0 when muted).
        sounding: whether the clip plays generated sound the music ducks under.
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
    card: CardSpec | None = None
    volume: float = 1.0
    sounding: bool = False

    @property
    def name(self) -> str:
        """How messages name the clip: ``'arrival'``, or what the card is."""
        if self.card is not None:
            return self.card.name
        return f"'{self.shot}'"

    @property
    def frames(self) -> int:
        """Frames of the source this clip uses (overlaps included)."""
        return self.source_out - self.source_in

    @property
    def end(self) -> int:
        """One past the film frame where the clip's last frame is shown."""
        return self.start + self.frames


class Timeline(Struct, frozen=True):
    """The film: its clips in order and everything needed to render it.

    Attributes:
        clips: the clips, in film order.
        width, height: the film's size in pixels (even numbers).
        format: the container (``MP4``, ``WEBM``, ``MOV``).
        quality: 20..99, mapped to the encoder's CRF for re-encoded frames.
        audio: ``generated`` (the takes' own sound) or ``mute`` (silence).
        music: the music cues mixed under the film, in order.
        fade_in, fade_out: the film's fade from/to black (and silence), in frames.
        total_frames: the film's exact length in frames.
        fps: always ``FPS``.
        overlays: text drawn over the picture (captions, burned subtitles).
        loudness: the integrated loudness the mix is normalised to, in LUFS (None: as mixed).
        speech: film frames ``[first, last)`` where words are spoken (dialogue): the music
            ducks under them as under the clips' own sound.
        subtitles: cues muxed into the film as a subtitle track (see
            :mod:`storyboard.cut.subtitles`); empty: none.
    """

    clips: tuple[TimelineClip, ...]
    width: int
    height: int
    format: Format
    quality: int
    audio: AudioMode
    music: tuple[MusicCue, ...]
    fade_in: int
    fade_out: int
    total_frames: int
    fps: int = FPS
    overlays: tuple[Overlay, ...] = ()
    loudness: float | None = None
    speech: tuple[tuple[int, int], ...] = ()
    subtitles: tuple[Subtitle, ...] = ()

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


class _Wanted(Struct, frozen=True):
    """A clip as asked for, before layout: a shot's clip, or a card (``info`` is None)."""

    info: ShotInfo | None
    clip: Clip | None
    path: DataPath
    explicit: bool  # written in cut.clips (paths and messages differ from the default cut)
    card: Card | None = None
    card_kind: Literal["title", "opening credits", "end credits"] = "title"
    transition: Transition | None = None
    transition_duration: float | None = None

    @property
    def label(self) -> str:
        """The clip in messages: ``'arrival'`` or ``the title`` / ``the end credits``."""
        if self.info is not None:
            return f"'{self.info.id}'"
        return "the title" if self.card_kind == "title" else f"the {self.card_kind}"


class _Range(Struct, frozen=True):
    """Where a clip is in its take's video: frames ``first .. last`` of ``length`` (a card's
    own frames for a card, which has no take)."""

    take: Take | None
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
        self.cut: Cut = self.checked.storyboard.cut or made_of_defaults(Cut)
        self.videos = videos
        self.sizes = sizes
        self.size = size
        self.lengths = lengths  # given: only check, from these lengths (no video needed)
        self.diagnostics: list[Diagnostic] = []
        self.caption_problems: list[Diagnostic] = []
        """A caption outside its clip: reported with the rest, but the film's length (which
        the music is checked against) does not depend on it."""

    def error(self, path: DataPath, message: str, *, into: list[Diagnostic] | None = None) -> None:
        found = Diagnostic(self.checked.position(path), message)
        (self.diagnostics if into is None else into).append(found)

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
        if not self.diagnostics and all(r is not None for r in ranges):
            total = sum(r.frames for r in ranges if r is not None) - sum(h.overlap for h in heads)
            self.check_music(total)
        self.diagnostics += self.caption_problems
        return wanted, ranges, transitions, heads, tails

    def run(self) -> Timeline:
        wanted, ranges, transitions, heads, tails = self.lay_out()
        self.fail_if_errors()
        width, height = self.size or (
            self.checked.storyboard.output.width,
            self.checked.storyboard.output.height,
        )
        width, height = _even(width), _even(height)
        scale = height / self.checked.storyboard.output.height  # text sizes are at the output's
        clips: list[TimelineClip] = []
        start = 0
        for i, w in enumerate(wanted):
            found = ranges[i]
            assert found is not None  # every length is known when building
            kind, frames, _ = transitions[i]
            start -= heads[i].overlap
            if w.info is None:
                assert w.card is not None
                clips.append(
                    TimelineClip(
                        index=i,
                        shot="",
                        take="",
                        source=Path(f"card-{i}.mp4"),  # rendered by the cut (see assemble)
                        source_in=0,
                        source_out=found.last,
                        source_frames=found.length,
                        start=start,
                        transition=kind,
                        transition_frames=frames,
                        head=heads[i],
                        tail=tails[i],
                        path=w.path,
                        card=self.card_spec(w, scale),
                        volume=0.0,
                    )
                )
                start += found.frames
                continue
            take = found.take
            assert take is not None and w.clip is not None
            source = self.videos[take.id]  # source_range refused a take without one
            volume = 0.0 if w.clip.mute or self.cut.audio == "mute" else w.clip.volume
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
                    volume=volume,
                    sounding=volume > 0 and self.has_sound(w.info),
                )
            )
            start += found.frames
        output = self.checked.storyboard.output
        return Timeline(
            clips=tuple(clips),
            width=width,
            height=height,
            format=output.format,
            quality=output.quality,
            audio=self.cut.audio,
            music=self.music(start),
            fade_in=to_frames(self.cut.fade_in),
            fade_out=to_frames(self.cut.fade_out),
            total_frames=start,
            overlays=self.captions(wanted, clips, scale),
            loudness=self.cut.loudness,
        )

    def has_sound(self, info: ShotInfo) -> bool:
        """Whether a shot's take carries sound the model generated (or an edit kept)."""
        defaults = self.checked.storyboard.defaults
        shot = info.shot
        sound = shot.sound if shot.sound is not None else defaults.sound
        keep = (
            shot.keep_original_sound
            if shot.keep_original_sound is not None
            else defaults.keep_original_sound
        )
        return bool(sound) or (shot.edit is not None and bool(keep))

    def wanted(self) -> list[_Wanted]:
        found: list[_Wanted] = []
        credits = self.cut.credits
        if credits is not None and credits.opening is not None:
            found.append(self.credits_card(credits.opening, "opening"))
        if self.cut.clips is None:
            # the clip of each shot, as the language defines it: the shot, untrimmed, at
            # full volume, without a caption. One for all the shots: the layout reads a
            # clip's trims, volume and caption, and the shot is the info's (a copy for each
            # shot cost 1.4 us, model_construct 3.2 us, Clip's validator 2 ms to build)
            whole = Clip.model_construct(shot="")
            found += [_Wanted(info, whole, info.path, False) for info in self.checked.shots]
        for i, clip in enumerate(self.cut.clips or []):
            path: DataPath = ("cut", "clips", i)
            if isinstance(clip, TitleClip):
                found.append(
                    _Wanted(
                        None,
                        None,
                        path,
                        True,
                        card=clip.title,
                        transition=clip.transition,
                        transition_duration=clip.transition_duration,
                    )
                )
            else:
                info = self.checked.shot(clip.shot)
                found.append(
                    _Wanted(
                        info,
                        clip,
                        path,
                        True,
                        transition=clip.transition,
                        transition_duration=clip.transition_duration,
                    )
                )
        if credits is not None and credits.end is not None:
            found.append(self.credits_card(credits.end, "end"))
        return found

    @staticmethod
    def credits_card(card: CreditsCard, key: Literal["opening", "end"]) -> _Wanted:
        kind: Literal["opening credits", "end credits"] = (
            "opening credits" if key == "opening" else "end credits"
        )
        return _Wanted(
            None,
            None,
            ("cut", "credits", key),
            True,
            card=card,
            card_kind=kind,
            transition=card.transition,
            transition_duration=card.transition_duration,
        )

    def source_range(self, w: _Wanted, i: int) -> _Range | None:
        """The frames of its take's video a clip shows (``None``: the length is unknown)."""
        if w.info is None:
            assert w.card is not None
            frames = to_frames(w.card.duration)
            if frames < 1:
                self.error(
                    (*w.path, "title", "duration")
                    if w.card_kind == "title"
                    else (*w.path, "duration"),
                    f"a {w.card.duration:g} s card is shorter than one frame (1/{FPS} s)",
                )
                frames = 1
            return _Range(None, 0, frames, frames)
        assert w.clip is not None
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
        self.check_caption(w, last - first)
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

    def check_caption(self, w: _Wanted, frames: int) -> None:
        """A caption must start and end inside its clip."""
        caption = w.clip.caption if w.clip is not None else None
        if caption is None:
            return
        clip_seconds = seconds_of(frames)
        if to_frames(caption.from_) >= frames:
            self.error(
                (*w.path, "caption", "from"),
                f"{format_where(w.path)}.caption.from: {caption.from_:g} s is at or past the end "
                f"of the clip (it is {clip_seconds} s long)",
                into=self.caption_problems,
            )
        elif caption.to is not None and to_frames(caption.to) > frames:
            self.error(
                (*w.path, "caption", "to"),
                f"{format_where(w.path)}.caption.to: {caption.to:g} s is past the end of the "
                f"clip (it is {clip_seconds} s long)",
                into=self.caption_problems,
            )
        elif caption.to is not None and to_frames(caption.to) <= to_frames(caption.from_):
            self.error(
                (*w.path, "caption", "to"),
                f"{format_where(w.path)}.caption: shorter than one frame (1/{FPS} s) once "
                "rounded to frames",
                into=self.caption_problems,
            )

    def look(self, style: TextStyle, path: DataPath, default: float, scale: float) -> Look:
        return text_look(self.checked, style, path, default, scale)

    def card_spec(self, w: _Wanted, scale: float) -> CardSpec:
        card = w.card
        assert card is not None
        path = (*w.path, "title") if isinstance(card, Title) else w.path
        text = (
            card.text
            if isinstance(card, Title)
            else "\n".join(card.lines if isinstance(card, CreditsCard) else [])
        )
        background: tuple[int, int, int] | Path
        if is_colour(card.background):
            background = colour(card.background)
        else:
            source = self.checked.cut_sources.get((*path, "background"))
            assert isinstance(source, MediaRef) and source.path is not None  # validated
            background = source.path
        return CardSpec(w.card_kind, text, self.look(card, path, TITLE_SIZE, scale), background)

    def captions(
        self, wanted: list[_Wanted], clips: list[TimelineClip], scale: float
    ) -> tuple[Overlay, ...]:
        found: list[Overlay] = []
        for w, clip in zip(wanted, clips, strict=True):
            caption = w.clip.caption if w.clip is not None else None
            if caption is None:
                continue
            first = clip.start + to_frames(caption.from_)
            last = clip.start + (to_frames(caption.to) if caption.to is not None else clip.frames)
            path = (*w.path, "caption")
            look = self.look(caption, path, CAPTION_SIZE, scale)
            found.append(
                Overlay("caption", first, last, caption.text, look, caption.position, path)
            )
        return tuple(found)

    def music(self, total: int) -> tuple[MusicCue, ...]:
        """The music cues in film samples (a cue past the film's end is refused by
        :meth:`check_music`; one that runs past it is cut at the film's end)."""
        cues: list[MusicCue] = []
        single = isinstance(self.cut.music, Music)
        end = total * SAMPLES_PER_FRAME
        for k, cue in enumerate(self.cut.music_cues):
            base: DataPath = ("cut", "music") if single else ("cut", "music", k)
            source = self.checked.cut_sources.get((*base, "file"))
            if not isinstance(source, MediaRef) or source.path is None:
                raise InputError.at(
                    self.checked.position((*base, "file")),
                    f"{format_where(base)}.file: the music must be a local audio file",
                )
            first = min(to_frames(cue.from_) * SAMPLES_PER_FRAME, end)
            last = end if cue.to is None else min(to_frames(cue.to) * SAMPLES_PER_FRAME, end)
            cues.append(
                MusicCue(
                    file=source.path,
                    volume=cue.volume,
                    offset=round(cue.start * SAMPLE_RATE),
                    first=first,
                    last=max(first, last),
                    fade_in=round(cue.fade_in * SAMPLE_RATE),
                    fade_out=round(cue.fade_out * SAMPLE_RATE),
                    loop=cue.loop,
                    duck=cue.duck,
                )
            )
        return tuple(cues)

    def check_music(self, total: int | None) -> None:
        """A cue that starts at or past the film's end would never be heard."""
        if total is None:
            return
        single = isinstance(self.cut.music, Music)
        for k, cue in enumerate(self.cut.music_cues):
            base: DataPath = ("cut", "music") if single else ("cut", "music", k)
            if to_frames(cue.from_) >= total:
                self.error(
                    (*base, "from"),
                    f"{format_where(base)}.from: {cue.from_:g} s is at or past the end of the "
                    f"film (it is {seconds_of(total)} s long)",
                )
            elif cue.fade_in + cue.fade_out > 0 and cue.to is not None:
                length = min(to_frames(cue.to), total) - to_frames(cue.from_)
                if to_frames(cue.fade_in + cue.fade_out) > length:
                    self.error(
                        (*base, "fade_out" if cue.fade_out else "fade_in"),
                        f"{format_where(base)}: its fades ({cue.fade_in:g} s in, "
                        f"{cue.fade_out:g} s out) are longer than the cue "
                        f"({seconds_of(length)} s)",
                    )

    def transition(self, w: _Wanted, i: int) -> tuple[Transition, int, DataPath]:
        """``(kind, frames, where to report a problem)`` of the transition into clip ``i``."""
        at = (*w.path, "transition")
        if i == 0:
            if w.transition in ("crossfade", "fade"):
                self.error(
                    at,
                    f"{format_where(w.path)}.transition: the first clip has nothing to "
                    f"{w.transition} from; use cut.fade_in to fade the film in",
                )
            return "cut", 0, w.path
        kind: Transition = w.transition or self.cut.transition
        if kind == "cut":
            return "cut", 0, w.path
        if w.transition_duration is not None:
            seconds, where = w.transition_duration, (*w.path, "transition_duration")
        else:
            seconds = self.cut.transition_duration
            where = at if w.transition else ("cut", "transition_duration")
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
                    f"{wanted[0].label}, {need} long"
                    + (" with its transition out" if tail.frames else ""),
                )
            elif i == count - 1 and tail.kind == "fade":
                self.error(
                    ("cut", "fade_out"),
                    f"cut.fade_out: {self.cut.fade_out:g} s does not fit in the last clip "
                    f"{wanted[-1].label}, {need} long"
                    + (" with its transition in" if head.frames else ""),
                )
            elif head.frames and (not tail.frames or head.frames >= tail.frames):
                kind, _, where = transitions[i]
                self.error(
                    where,
                    f"the {kind} into {wanted[i].label} is longer than the clip allows: "
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
                    f"the {kind} out of {wanted[i].label} is longer than the clip allows: "
                    f"the clip is {need} long"
                    + (", and its transition in needs the rest" if head.frames else ""),
                )


def text_look(
    checked: CheckedStoryboard, style: TextStyle, path: DataPath, default: float, scale: float
) -> Look:
    """A text's colour, font file and size in pixels of a frame ``scale`` times the output's
    (``default``: its size as a fraction of the height, when ``size`` is not given)."""
    output_height = checked.storyboard.output.height
    size = style.size if style.size is not None else round(output_height * default)
    if style.font in BUNDLED_FONTS:
        font = font_file(style.font)
    else:
        source = checked.cut_sources.get((*path, "font"))
        assert isinstance(source, MediaRef) and source.path is not None  # validated
        font = source.path
    return Look(colour(style.color), font, max(1, round(size * scale)))


def texts(checked: CheckedStoryboard) -> list[tuple[DataPath, str, TextStyle, str]]:
    """Every text the cut draws: ``(path of the text, text, its style, kind)``, kind being
    ``card`` or ``caption``; credits' path is their ``lines``."""
    cut = checked.storyboard.cut
    if cut is None:
        return []
    found: list[tuple[DataPath, str, TextStyle, str]] = []
    for key, card in (("opening", cut.credits and cut.credits.opening),
                      ("end", cut.credits and cut.credits.end)):  # fmt: skip
        if card:
            found.append((("cut", "credits", key, "lines"), "\n".join(card.lines), card, "card"))
    for i, clip in enumerate(cut.clips or []):
        if isinstance(clip, TitleClip):
            path: DataPath = ("cut", "clips", i, "title", "text")
            found.append((path, clip.title.text, clip.title, "card"))
        elif clip.caption is not None:
            path = ("cut", "clips", i, "caption", "text")
            found.append((path, clip.caption.text, clip.caption, "caption"))
    return found


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
    "text_look",
    "texts",
    "to_frames",
    "trim_problem",
]
