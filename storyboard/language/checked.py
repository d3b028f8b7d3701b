"""Frozen types passed between stages after validation.

``validate`` returns a :class:`CheckedStoryboard`; later stages (resolve, compile, plan,
build) take it and never see raw dicts. Positions travel along: every shot keeps its data
path, and the document's :class:`~storyboard.core.diagnostics.SourceMap` turns a path into
``FILE:LINE:COL``.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from msgspec import Struct, field

from storyboard.core.diagnostics import DataPath, Position
from storyboard.language.dialogue import DEFAULT_SPEECH_RATE, Line
from storyboard.language.load import Document
from storyboard.language.model import Shot, Storyboard
from storyboard.language.sources import Source


class ShotInfo(Struct, frozen=True, dict=True):
    """One shot in story order, with what validation learned about it.

    Attributes:
        shot: the validated shot.
        path: its data path, e.g. ``("shots", 2)`` or ``("shots", 1, "shots", 0)``.
        index: 1-based position in story order.
        sequence: the name of its sequence, if any.
        prompt: the rendered prompt, with the shot's lines of dialogue written in (after it,
            or where its template put ``{{ dialogue }}``): the text the request carries.
        duration: effective duration in seconds (``None`` for an edit: its source decides).
        sources: every source field resolved, by field name (``start``, ``end``, ``edit``,
            ``references``, ``reference_videos``); list fields keep their order.
        dialogue: the shot's lines, in order.
    """

    shot: Shot
    path: DataPath
    index: int
    sequence: str | None
    prompt: str
    duration: int | None
    sources: dict[str, tuple[Source, ...]] = field(default_factory=dict)
    dialogue: tuple[Line, ...] = ()

    @property
    def id(self) -> str:
        return self.shot.id

    @cached_property
    def element_refs(self) -> tuple[str, ...]:
        """Every ``<<<name>>>`` the prompt holds, in order, repeats included. Found once:
        the compiler asks for a prompt's elements about five times (the request's limits,
        its numbering, its checks, the advice)."""
        return element_refs(self.prompt)


def element_refs(text: str) -> tuple[str, ...]:
    """Every ``<<<name>>>`` in ``text``, in order, repeats included."""
    names = []
    start = text.find("<<<")
    while start != -1:
        end = text.find(">>>", start + 3)
        if end == -1:
            break
        names.append(text[start + 3 : end])
        start = text.find("<<<", end + 3)
    return tuple(names)


class CheckedStoryboard(Struct, frozen=True):
    """A storyboard that passed ``check``: validated, templates rendered, sources resolved.

    Attributes:
        document: what was loaded (data, positions, files).
        storyboard: the validated model.
        shots: every shot in story order.
        element_sources: resolved media of each element, by element name and field.
        music: the music bed, resolved, if any.
        templates: template files read by ``{% include %}``.
        assets: every local media file named, sorted.
        cut_sources: the cut's media by data path: every music cue's ``file``
            (``("cut", "music", "file")`` or ``("cut", "music", 2, "file")``), and the fonts and
            background images of its titles, captions and credits.
    """

    document: Document
    storyboard: Storyboard
    shots: tuple[ShotInfo, ...]
    element_sources: dict[str, dict[str, tuple[Source, ...]]]
    music: Source | None
    templates: tuple[Path, ...]
    assets: tuple[Path, ...]
    cut_sources: dict[DataPath, Source] = field(default_factory=dict)
    templates_named: tuple[Path, ...] = ()
    """Every template a prompt asked for, as named from the storyboard's folder, found or not
    (``ignore missing``, the first of a list), links not followed."""

    @property
    def name(self) -> str:
        """The storyboard's name: its file name without the extension."""
        return self.document.path.stem

    @property
    def speech_rate(self) -> float:
        """Words a second lines are spoken at (``defaults.speech_rate``, else the default)."""
        return self.storyboard.defaults.speech_rate or DEFAULT_SPEECH_RATE

    @property
    def has_dialogue(self) -> bool:
        """Whether any shot has a line of dialogue."""
        return any(info.dialogue for info in self.shots)

    def shot(self, shot_id: str) -> ShotInfo:
        for info in self.shots:
            if info.id == shot_id:
                return info
        raise KeyError(shot_id)

    def position(self, path: DataPath) -> Position:
        """``FILE:LINE:COL`` of the value at ``path``."""
        return self.document.source_map.value(path)
