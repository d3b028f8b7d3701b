"""Warnings a writer needs before paying: what a storyboard pays for that the film will not show.

Found once a storyboard compiles (:func:`storyboard.compiler.compile.compile_storyboard`
keeps them on :attr:`~storyboard.compiler.compile.Compiled.warnings`), printed by ``check``,
``plan`` and ``build`` as
``FILE:LINE:COL: warning: MESSAGE`` on standard error and listed by their ``--json``. A
warning never changes the exit status and never stops a build:

- a shot that is generated (and paid for) but that no clip of an explicit ``cut.clips`` shows
  and no other take uses (no frame of it is handed off, it is not edited or referred to);
- a local ``start`` or ``end`` image, or an image of an element a request sends, whose aspect
  (width / height) is off the output's by more than :data:`ASPECT_TOLERANCE`: the wider of
  the two aspects is more than 10% wider than the other;
- ``variations`` above 1: every result is billed, and the film shows only the picked one (no
  clip can show another);
- lines of dialogue that cannot be spoken in their shot's duration at ``defaults.speech_rate``
  words a second (:func:`storyboard.language.dialogue.too_long`): the commonest way to waste a paid
  take on dialogue.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from storyboard.compiler.resolve import Handoff, Input
from storyboard.core.diagnostics import DataPath, Diagnostic
from storyboard.language.model import Clip
from storyboard.language.sources import MediaRef, Source
from storyboard.media import limits

if TYPE_CHECKING:  # the compiler calls this module: no import back at run time
    from storyboard.compiler.compile import Compiled

ASPECT_TOLERANCE = 0.10
"""How far an image's aspect may be off the output's: ``max(a, b) / min(a, b) - 1``."""


def warnings_of(compiled: Compiled) -> list[Diagnostic]:
    """Every warning for a compiled storyboard, in file order."""
    found = [*_unshown(compiled), *_aspects(compiled), *_variations(compiled), *_speech(compiled)]
    return sorted(found, key=Diagnostic.sort_key)


def _warning(compiled: Compiled, path: DataPath, message: str) -> Diagnostic:
    return Diagnostic(compiled.checked.position(path), message, "warning")


def _unshown(compiled: Compiled) -> Iterator[Diagnostic]:
    """Shots paid for that neither the film nor another take uses."""
    cut = compiled.checked.storyboard.cut
    if cut is None or cut.clips is None:
        return  # the default cut shows every shot
    shown = {clip.shot for clip in cut.clips if isinstance(clip, Clip)}
    used: set[str] = set()
    for take in compiled.resolved.takes:
        inputs: list[Input | None] = [take.start, take.end, take.edit, *take.reference_videos]
        used.update(i.shot for i in inputs if isinstance(i, Handoff))
    for info in compiled.checked.shots:
        if info.id in shown or info.id in used:
            continue
        take_id = compiled.resolved.take_of_shot[info.id]
        within = f" (in take '{take_id}')" if take_id != info.id else ""
        yield _warning(
            compiled,
            (*info.path, "id"),
            f"shot '{info.id}' is generated and paid for{within}, but no clip of cut.clips "
            "shows it and no other shot starts, ends on, edits or refers to it: add it to "
            "cut.clips, or remove it",
        )


def _aspects(compiled: Compiled) -> Iterator[Diagnostic]:
    """Local frame and element images far from the film's shape."""
    output = compiled.checked.storyboard.output
    film = output.width / output.height
    seen: set[DataPath] = set()
    for take in compiled.resolved.takes:
        images: list[tuple[DataPath, Input | Source | None, str]] = [
            ((*take.shots[0].path, "start"), take.start, "frame"),
            ((*take.shots[-1].path, "end"), take.end, "frame"),
        ]
        for name in take.elements:
            sources = compiled.checked.element_sources.get(name, {})
            for image in sources.get("frontal_image", ()):
                images.append((("elements", name, "frontal_image"), image, name))
            for i, image in enumerate(sources.get("images", ())):
                images.append((("elements", name, "images", i), image, name))
        for path, source, role in images:
            if path in seen or not isinstance(source, MediaRef) or source.path is None:
                continue
            seen.add(path)
            size = limits.image_size(source.path)
            if size is None:
                continue  # unreadable: an error of the compile stage
            aspect = size[0] / size[1]
            off = max(aspect, film) / min(aspect, film) - 1
            if off <= ASPECT_TOLERANCE:
                continue
            what = (
                f"{path[-1]}: '{source.path.name}'"
                if role == "frame"
                else f"element '{role}': '{source.path.name}'"
            )
            why = (
                ": the take takes its shape from the image (a request with a frame image sends "
                "no size), and the cut letter- or pillar-boxes it"
                if role == "frame"
                else ""
            )
            yield _warning(
                compiled,
                path,
                f"{what} is {size[0]}x{size[1]} (aspect {aspect:.3g}), {off:.0%} off the "
                f"film's {output.width}x{output.height} ({film:.3g}){why}",
            )


def _variations(compiled: Compiled) -> Iterator[Diagnostic]:
    """Results paid for that no clip can show."""
    takes: dict[DataPath, list[str]] = {}
    counts: dict[DataPath, tuple[int, int]] = {}
    for take in compiled.resolved.takes:
        if take.variations > 1:
            takes.setdefault(take.path, []).append(take.id)
            counts[take.path] = (take.variations, take.pick)
    for path, ids in takes.items():
        count, pick = counts[path]
        names = ", ".join(f"'{t}'" for t in ids)
        others = "the other one" if count == 2 else f"the other {count - 1}"
        yield _warning(
            compiled,
            (*path, "variations"),
            f"variations: {count} results of take{'s' if len(ids) > 1 else ''} {names} are "
            f"generated and each is billed, but the film shows only variation {pick} (pick); "
            f"no clip uses {others} (kept in takes/ to choose from)",
        )


__all__ = ["ASPECT_TOLERANCE", "warnings_of"]


def _speech(compiled: Compiled) -> Iterator[Diagnostic]:
    """Lines too long to be spoken in their shot at the speech rate."""
    from storyboard.language.dialogue import too_long

    rate = compiled.checked.speech_rate
    for info in compiled.checked.shots:
        if not info.dialogue or info.duration is None:
            continue
        found = too_long(info.dialogue, info.duration, rate)
        if found is None:
            continue
        line = found.line
        yield _warning(
            compiled,
            (*line.path, line.says_key),
            f"dialogue: the lines of shot '{info.id}' take about {found.needs:.1f} s to say "
            f"({found.words} words at {rate:g} a second), and the shot is {info.duration} s "
            "long: the model rushes or cuts off what does not fit, and the take is paid all "
            "the same; shorten the lines or lengthen the shot (defaults.speech_rate sets the "
            "pace)",
        )
