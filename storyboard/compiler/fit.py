"""Stage 5a, fit: whether the cut and the hand-offs fit the takes' videos, before any is paid.

A take's length is known before it is made: it is the take's duration, or for an edit its
source's length (the edited shot's, or a local file's, from the header ``check`` reads anyway:
:func:`storyboard.media.limits.video_seconds`). Only an edit of a remote video (a URL, an
uploaded media UUID) has a length nobody knows until it is made; :func:`take_lengths` says
``None`` for it, and the executor measures it as soon as it is made and asks again, before any
take that depends on it is sent (:mod:`storyboard.build.execute`).

With those lengths, :func:`fit_problems` finds, each at its place in the storyboard:

- everything the cut would refuse: the film laid out by the code that cuts it
  (:func:`storyboard.cut.timeline.check_timeline`: trims, transitions, fades), so ``check``
  refuses exactly what the cut would refuse after paying;
- a frame hand-off ``SHOT@Ns`` past the end of an edit's video (validate checks the others:
  their length is their duration);
- a title, a caption or credits whose text does not fit the frame at its size, laid out by
  the code that draws it (:mod:`storyboard.cut.text`), at the output's size, or holds a
  character the exports' XML cannot hold;
- a card's background the cut could not use, read as it reads it: not an image it can read
  whole (validate found the file). A music bed that does not decode to its end (validate
  decoded its first frame) is :func:`sound_problems`, which the build asks before it sends.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from storyboard.compiler.resolve import Handoff, Resolved
from storyboard.core.diagnostics import Diagnostic, format_path, unprintable
from storyboard.core.lazy import compiled_when_used
from storyboard.cut.timeline import check_timeline, text_look, texts
from storyboard.language.sources import FrameRef, MediaRef
from storyboard.language.timing import FPS, frames_at_fps, to_frames
from storyboard.media import limits

if TYPE_CHECKING:  # the compiler calls this module: no import back at run time
    from storyboard.compiler.compile import Compiled
    from storyboard.language.checked import CheckedStoryboard

#: What XML 1.0 cannot hold (the FCPXML export writes the cut's texts): the C0 controls but
#: tab and line breaks, and U+FFFE and U+FFFF (lone surrogates are refused when loaded).
_NOT_XML = compiled_when_used("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def take_lengths(
    resolved: Resolved, *, known: Mapping[str, int | None] | None = None
) -> dict[str, int | None]:
    """Every take's length in frames at 24 fps, ``None`` where it is not known before the
    take is made (an edit of a remote video, or of such an edit).

    ``known``: lengths measured already (a made take's), which an edit of that take shares.
    """
    lengths: dict[str, int | None] = {}
    for take in resolved.takes:  # dependency order: an edited take is measured first
        source = take.edit
        if known is not None and known.get(take.id) is not None:
            lengths[take.id] = known[take.id]
            continue
        if source is None:
            lengths[take.id] = to_frames(take.duration or 0)
        elif isinstance(source, Handoff):
            if source.span is not None:
                fps = resolved.take(source.take).profile.fps
                lengths[take.id] = frames_at_fps(source.span[1] - source.span[0], fps)
            else:
                lengths[take.id] = lengths.get(source.take)
        elif source.kind == "file" and source.path is not None:
            seconds = limits.video_seconds(source.path, take.profile)
            lengths[take.id] = to_frames(seconds) if seconds is not None else None
        else:
            lengths[take.id] = None  # a remote video: known once the edit is made
    return lengths


def text_problems(compiled: Compiled) -> list[Diagnostic]:
    """Every text of the cut too long for the frame, at the text (none needs a take)."""
    checked = compiled.checked
    output = checked.storyboard.output
    frame = (output.width, output.height)
    problems: list[Diagnostic] = []
    for path, text, style, kind in texts(checked):
        if (bad := _NOT_XML().search(text)) is not None:
            char = bad.group()
            what = unprintable(char) or f"a noncharacter (U+{ord(char):04X})"
            problems.append(
                Diagnostic(
                    checked.position(path),
                    f"{format_path(path)}: the text holds {what}, which the film's exports "
                    "(Final Cut Pro's XML) cannot hold",
                )
            )
            continue
        # laid out by the code that draws it (Pillow, numpy): imported only for a film with text
        from storyboard.cut.look import CAPTION_BOX, CAPTION_SIZE, CARD_BOX, TITLE_SIZE
        from storyboard.cut.text import fit_problem

        style_path = path[:-1]
        try:
            look = text_look(
                checked, style, style_path, TITLE_SIZE if kind == "card" else CAPTION_SIZE, 1.0
            )
        except AssertionError:
            continue  # a font that did not validate: reported there
        problem = fit_problem(text, look, frame, CARD_BOX if kind == "card" else CAPTION_BOX)
        if problem is not None:
            problems.append(Diagnostic(checked.position(path), f"{format_path(path)}: {problem}"))
    return problems


def source_problems(checked: CheckedStoryboard) -> list[Diagnostic]:
    """Every card background the cut could not use, at the value naming it: read whole, as
    the card reads it (validate found the file; a font was read as the cut reads it). Each is
    read once while the file stays the same."""

    def background(path: Path) -> str | None:
        from storyboard.cut.text import background_problem  # Pillow, numpy: only for cards

        return background_problem(path)

    return cut_file_problems(checked, {"background": background})


def sound_problems(checked: CheckedStoryboard) -> list[Diagnostic]:
    """Every music bed that does not decode to its end, as the cut's mix reads it, at the
    value naming it. validate decodes a bed's first frame; this decodes it whole (a tenth of
    a second or more for a 3-minute bed), so the build asks it before it sends anything, and
    ``check`` and a build with nothing to do do not."""

    def sound(path: Path) -> str | None:
        from storyboard.cut.decode import decode_problem  # PyAV: only for a film with music

        return decode_problem(path)

    return cut_file_problems(checked, {"file": sound})


def cut_file_problems(
    checked: CheckedStoryboard, checks: Mapping[str, Callable[[Path], str | None]]
) -> list[Diagnostic]:
    """What ``checks[KEY]`` finds wrong with each local file of the cut named at a ``KEY``
    (``file``: a music cue's, ``font``, ``background``: a card's), at the value naming it."""
    problems: list[Diagnostic] = []
    for path, source in checked.cut_sources.items():
        check = checks.get(str(path[-1]))
        if check is None or not isinstance(source, MediaRef) or source.path is None:
            continue
        problem = check(source.path)
        if problem is not None:
            problems.append(Diagnostic(checked.position(path), f"{format_path(path)}: {problem}"))
    return problems


def fit_problems(compiled: Compiled, lengths: Mapping[str, int | None]) -> list[Diagnostic]:
    """What does not fit the takes' videos of the given lengths, or the frame, or what the cut
    could not use, at its position (empty when everything fits). What depends on a length
    that is ``None`` is left for later."""
    problems = check_timeline(compiled, lengths) + text_problems(compiled)
    problems += source_problems(compiled.checked)
    checked, resolved = compiled.checked, compiled.resolved
    for take in resolved.takes:
        for key, handoff, info in (
            ("start", take.start, take.shots[0]),
            ("end", take.end, take.shots[-1]),
        ):
            if not isinstance(handoff, Handoff) or not isinstance(handoff.frame, int):
                continue
            upstream = resolved.take(handoff.take)
            length = lengths.get(upstream.id)
            if upstream.edit is None or length is None or handoff.frame < length:
                continue  # not an edit: validate compared the time with the shot's duration
            ref = info.sources.get(key, (None,))[0]
            written = str(ref) if isinstance(ref, FrameRef) else handoff.placeholder()
            source = upstream.edit
            if isinstance(source, MediaRef):
                what = (
                    f"an edit of '{source.path.name}'"
                    if source.path
                    else "an edit of a remote video"
                )
            else:
                what = f"an edit of shot '{source.shot}'"
            problems.append(
                Diagnostic(
                    checked.position((*info.path, key)),
                    f"{key}: {written} is past the end of shot '{handoff.shot}' ({what}: its "
                    f"video is {length / FPS:.6g} s long; its last frame is at "
                    f"{(length - 1) / FPS:.3f} s)",
                )
            )
    return problems


__all__ = [
    "cut_file_problems",
    "fit_problems",
    "sound_problems",
    "source_problems",
    "take_lengths",
    "text_problems",
]
