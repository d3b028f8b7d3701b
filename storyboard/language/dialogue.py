"""Dialogue: the lines a shot's people say, read, checked and written into its prompt.

Place in the pipeline: validate (stage 2) reads each shot's ``dialogue`` with
:func:`raw_lines` (both forms: ``{who: keeper, says: ...}`` and ``{keeper: ...}``) and
checks it; rendering (stage 3) writes the lines in the form the shot's model profile owns
(:class:`storyboard.profiles.DialogueForm`), after the prompt or where its template writes
``{{ dialogue }}``, so that resolve and compile count, number and send them as part of the
prompt (the prompt limits, the elements a request names). The checked lines travel on
:attr:`storyboard.language.checked.ShotInfo.dialogue` to the warnings (:func:`too_long`), the cut's
subtitle cues (:mod:`storyboard.cut.cues`) and the preview's cards.

A line's ``who`` is an element (written ``<<<who>>>`` into the prompt, so an element that
carries ``voices`` speaks in its voice) when it is shaped like an element name
(``[a-z0-9][a-z0-9_-]*``); anything else (``Narrator``, ``Old Tom``) is a voice that is not
an element, written as it is.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any

from msgspec import Struct

from storyboard.core.diagnostics import DataPath
from storyboard.core.lazy import compiled_when_used
from storyboard.language.model import ID_PATTERN, LINE_KEYS
from storyboard.profiles import DialogueForm

DIALOGUE = "dialogue"
"""The name templates see a shot's lines under (``{{ dialogue }}``)."""

DEFAULT_SPEECH_RATE = 2.5
"""Words a second a line is taken to be spoken at, unless ``defaults.speech_rate`` says
otherwise: 150 words a minute, a usual conversational pace in English."""
SPEECH_SLACK = 0.25
"""Seconds the lines may run past the shot's end before ``check`` warns: a word's length is
only an estimate."""

_ELEMENT_SHAPED = re.compile(ID_PATTERN)
_WORD = compiled_when_used(r"\w+(?:['’-]\w+)*")


class RawLine(Struct, frozen=True):
    """A line as written (types not yet trusted), with the keys that hold its parts.

    ``who_key`` is ``"who"`` in the long form and the speaker itself in the short form (where
    the position of ``who`` is the key's); ``says_key`` holds the words.
    """

    path: DataPath
    data: dict[str, Any]
    who: Any
    says: Any
    who_key: Any
    says_key: Any


def raw_lines(value: Any, path: DataPath) -> Iterator[RawLine]:
    """The lines of a ``dialogue`` value at ``path`` (skipping what is not a line: the models
    report it)."""
    if not isinstance(value, list):
        return
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            continue
        if "who" in item or "says" in item:
            yield RawLine((*path, i), item, item.get("who"), item.get("says"), "who", "says")
            continue
        speakers = [key for key in item if key not in LINE_KEYS]
        if len(speakers) == 1:
            name = speakers[0]
            yield RawLine((*path, i), item, name, item[name], name, name)


def names_element(who: str) -> bool:
    """Whether ``who`` is shaped like an element name (so must be one)."""
    return _ELEMENT_SHAPED.match(who) is not None


def one_line(text: str) -> str:
    """``text`` with every run of white space (line breaks too) one space."""
    return " ".join(text.split())


def word_count(text: str) -> int:
    """Words in ``text``: runs of letters and digits (``don't`` and ``well-kept`` are one)."""
    return len(_WORD().findall(text))


class Line(Struct, frozen=True):
    """One checked line of a shot's dialogue.

    Attributes:
        who: the speaker as written.
        says: the words, on one line.
        how: the delivery, if given.
        at: seconds from the shot's start when it begins, if given.
        element: whether ``who`` is an element (its ``<<<who>>>`` is written).
        path: the line's data path (``("shots", 2, "dialogue", 0)``).
        says_key: the key that holds the words (``says``, or the speaker in the short form).
    """

    who: str
    says: str
    how: str | None = None
    at: float | None = None
    element: bool = False
    path: DataPath = ()
    says_key: str = "says"

    @property
    def speaker(self) -> str:
        """How the prompt names the speaker."""
        return f"<<<{self.who}>>>" if self.element else self.who

    @property
    def words(self) -> int:
        return word_count(self.says)

    def seconds(self, rate: float) -> float:
        """How long the line takes to say at ``rate`` words a second."""
        return self.words / rate


def written(lines: Sequence[Line], form: DialogueForm) -> str:
    """The lines as ``form`` writes them into a prompt (``''`` for none)."""
    return form.written([(line.speaker, line.says, line.how) for line in lines])


class TooLong(Struct, frozen=True):
    """Lines that cannot be spoken in their shot at the speech rate."""

    line: Line
    """The first line that would still be spoken when the shot ends."""
    needs: float
    """Seconds from the shot's start to the end of the last line, at the rate."""
    words: int


def too_long(lines: Sequence[Line], duration: float, rate: float) -> TooLong | None:
    """Whether ``lines`` run past a shot of ``duration`` seconds at ``rate`` words a second.

    Each line starts at its ``at``, or when the line before it ends, whichever is later, and
    lasts its words divided by the rate. ``None`` when the last ends within the shot (and
    :data:`SPEECH_SLACK`).
    """
    end = 0.0
    first: Line | None = None
    for line in lines:
        start = max(end, line.at) if line.at is not None else end
        end = start + line.seconds(rate)
        if first is None and end > duration + SPEECH_SLACK:
            first = line
    if first is None:
        return None
    return TooLong(first, end, sum(line.words for line in lines))


__all__ = [
    "DEFAULT_SPEECH_RATE",
    "Line",
    "RawLine",
    "TooLong",
    "names_element",
    "one_line",
    "raw_lines",
    "too_long",
    "word_count",
    "written",
]
