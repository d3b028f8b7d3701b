"""Where a field of a compiled request came from in the storyboard.

Place in the pipeline: after execute. When the service refuses one value of a request (a
moderation refusal naming ``positivePrompt``, an image of ``inputs.frameImages[0].image``),
:func:`origin` maps the service's name for that field back to the storyboard value it was
compiled from, so the build can say which shot, and ``FILE:LINE:COL``, to change. It knows
how :mod:`storyboard.compiler.compile` lays a request out: a one-shot take's prompt is
``positivePrompt``; a multi-shot take's segments are
``providerSettings.klingai.multiPrompt[i]``, shot ``i`` of the take; ``frameImages`` are the
first shot's ``start`` and the last shot's ``end`` (by their ``frame``); ``referenceImages``,
``referenceVideos`` and ``video`` are the first shot's ``references`` (or the defaults'),
``reference_videos`` and ``edit``; ``elements[i]`` is the i-th element the take's prompts
name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from storyboard.compiler.compile import CompiledTake
from storyboard.compiler.resolve import request_elements
from storyboard.core.diagnostics import DataPath, Position
from storyboard.language.checked import CheckedStoryboard

Kind = Literal["prompt", "image", "video", "element"]

_PART = re.compile(r"([A-Za-z_]\w*)|\[(\d+)\]")
_KLINGAI = ("providerSettings", "klingai")


@dataclass(frozen=True)
class Origin:
    """The storyboard value a request field was compiled from.

    Attributes:
        what: the value named for a writer (``the prompt of shot 'harbour'``).
        shot: the shot it belongs to (``None`` for an element, shared by shots).
        path: its data path in the storyboard.
        position: its ``FILE:LINE:COL``.
        kind: what sort of value it is, for saying what to change.
    """

    what: str
    shot: str | None
    path: DataPath
    position: Position
    kind: Kind


def parse_field(name: str) -> tuple[str | int, ...]:
    """``inputs.frameImages[0].image`` -> ``("inputs", "frameImages", 0, "image")``."""
    parts: list[str | int] = []
    for word, index in _PART.findall(name):
        parts.append(word if word else int(index))
    return tuple(parts)


def origin(compiled: CompiledTake, checked: CheckedStoryboard, field: str) -> Origin | None:
    """The storyboard value behind ``field`` of ``compiled``'s request (as the service names
    it), or ``None`` when the field is not one a writer wrote (``taskUUID``) or is unknown."""
    parts = parse_field(field)
    if parts[:2] == _KLINGAI:
        parts = parts[2:]
    if not parts:
        return None
    head, rest = parts[0], parts[1:]
    take = compiled.take
    shots = take.shots
    if head in ("positivePrompt", "multiPrompt"):
        index = rest[0] if rest and isinstance(rest[0], int) else None
        if index is None and len(shots) == 1:
            index = 0
        if index is None or not 0 <= index < len(shots):
            ids = ", ".join(f"'{s.id}'" for s in shots)
            what = f"a prompt of take '{take.id}' (shots {ids})"
            path: DataPath = (*shots[0].path, "prompt")
            return Origin(what, shots[0].id, path, checked.position(path), "prompt")
        shot = shots[index]
        path = (*shot.path, "prompt")
        what = f"the prompt of shot '{shot.id}'"
        return Origin(what, shot.id, path, checked.position(path), "prompt")
    if head != "inputs" or not rest or not isinstance(rest[0], str):
        return None
    kind, more = rest[0], rest[1:]
    number = more[0] if more and isinstance(more[0], int) else None
    inputs: dict[str, Any] = compiled.request.get("inputs") or {}
    first, last = shots[0], shots[-1]
    if kind == "frameImages" and number is not None:
        frames = inputs.get("frameImages") or []
        if not 0 <= number < len(frames):
            return None
        if frames[number].get("frame") == "last":
            path = (*last.path, "end")
            return _at(checked, f"the end image of shot '{last.id}'", last.id, path, "image")
        path = (*first.path, "start")
        return _at(checked, f"the start image of shot '{first.id}'", first.id, path, "image")
    if kind == "referenceImages" and number is not None:
        own = first.shot.references is not None
        path = (*first.path, "references", number) if own else ("defaults", "references", number)
        what = f"reference image {number + 1} of shot '{first.id}'"
        return _at(checked, what, first.id, path, "image")
    if kind == "referenceVideos" and number is not None:
        path = (*first.path, "reference_videos", number)
        what = f"reference video {number + 1} of shot '{first.id}'"
        return _at(checked, what, first.id, path, "video")
    if kind == "video":
        path = (*first.path, "edit")
        return _at(checked, f"the video shot '{first.id}' edits", first.id, path, "video")
    if kind == "elements" and number is not None:
        names = request_elements(shots)
        if not 0 <= number < len(names):
            return None
        return _element(checked, names[number], more[1:])
    return None


_ELEMENT_FIELDS = {
    "frontalImage": ("frontal_image", "its frontal image"),
    "images": ("images", "image"),
    "videos": ("videos", "video"),
    "voices": ("voices", "voice"),
    "description": ("description", "its description"),
}


def _element(checked: CheckedStoryboard, name: str, rest: tuple[str | int, ...]) -> Origin:
    path: DataPath = ("elements", name)
    what = f"element '{name}'"
    if rest and isinstance(rest[0], str) and rest[0] in _ELEMENT_FIELDS:
        key, label = _ELEMENT_FIELDS[rest[0]]
        path = (*path, key)
        if len(rest) > 1 and isinstance(rest[1], int):
            path = (*path, rest[1])
            label = f"{label} {rest[1] + 1}"
        what = f"element '{name}' ({label})"
    return Origin(what, None, path, checked.position(path), "element")


def _at(checked: CheckedStoryboard, what: str, shot: str, path: DataPath, kind: Kind) -> Origin:
    return Origin(what, shot, path, checked.position(path), kind)


def advice(found: Origin) -> str:
    """What a writer does about a refused value: change it (sending it again unchanged is
    refused again)."""
    if found.kind == "prompt":
        return "change the prompt"
    if found.kind == "element":
        return f"change {found.what}"
    return f"change or replace {found.what}"
