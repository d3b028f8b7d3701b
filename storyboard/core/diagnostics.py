"""Positions and diagnostics: how every stage tells the writer where a problem is.

A :class:`Position` is a ``FILE:LINE:COL`` place (1-based, as editors count). A
:class:`SourceMap` remembers the position of every key and value of a loaded storyboard by
its *path* (the tuple of keys and indexes that leads to it, e.g. ``("shots", 2, "prompt")``),
so a later stage that only knows a path can still point at the right character.
A :class:`Diagnostic` is one message at one position; stages collect them and fail once. A
diagnostic of severity ``warning`` is something a writer should know (before paying) that
does not stop anything.
"""

from __future__ import annotations

import os
import unicodedata
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Literal

from msgspec import Struct, field

from storyboard.core.lazy import compiled_when_used

PathKey = str | int
DataPath = tuple[PathKey, ...]


class Position(Struct, frozen=True, order=True):
    """A place in a source file: ``file`` as shown to the user, 1-based ``line`` and ``col``."""

    file: str
    line: int = 1
    col: int = 1

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"

    def shifted(self, lines: int, col: int | None = None) -> Position:
        """The position ``lines`` further down, at ``col`` if given."""
        return Position(self.file, self.line + lines, self.col if col is None else col)


class Diagnostic(Struct, frozen=True):
    """One problem found in the input, at one position."""

    position: Position | None
    message: str
    severity: Literal["error", "warning"] = "error"

    def render(self) -> str:
        """``FILE:LINE:COL: error: MESSAGE``, the format editors and CI annotators parse.

        Always one line: a line break, control character or bidirectional override the
        message quotes from the input (a key ``"a\\rb"``) is shown escaped
        (:func:`printable`), so it can neither split the line nor drive the terminal.
        """
        where = f"{self.position}: " if self.position is not None else ""
        return f"{where}{self.severity}: {printable(self.message)}"

    def sort_key(self) -> tuple[str, int, int, str]:
        pos = self.position or Position("", 0, 0)
        return (pos.file, pos.line, pos.col, self.message)

    def to_json(self) -> dict[str, str | int | None]:
        """``{"file", "line", "col", "severity", "message"}`` (the position's fields are
        ``null`` when it has none), as the commands' ``--json`` list it."""
        pos = self.position
        return {
            "file": pos.file if pos is not None else None,
            "line": pos.line if pos is not None else None,
            "col": pos.col if pos is not None else None,
            "severity": self.severity,
            "message": self.message,
        }


BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
"""Embeddings, overrides and isolates: they reorder the text around them on screen."""
_UNPRINTABLE = compiled_when_used(
    "[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)


def printable(text: str) -> str:
    """``text`` as it may be printed to a terminal or a log: control characters (but tabs),
    line and paragraph separators, bidirectional controls and lone surrogates escaped
    (``\\x1b``, ``\\u202e``). Every message that quotes the input goes through this."""
    if text.isascii() and text.isprintable():
        return text
    return text.translate(_ESCAPES)


def unprintable(text: str) -> str | None:
    """What ``text`` holds that :func:`printable` would escape (tabs included), named for a
    writer: ``a control character (U+0000)``; ``None`` if nothing."""
    if text.isascii() and text.isprintable():  # of ASCII, only the printable ones are fine
        return None
    found = _UNPRINTABLE().search(text)
    if found is None:
        return None
    char = found.group()
    code = f"U+{ord(char):04X}"
    if char in BIDI_CONTROLS:
        return f"a bidirectional text control ({code}), which reorders text on screen"
    if "\ud800" <= char <= "\udfff":
        return f"a lone surrogate ({code}), which no file can hold"
    if char in "\u2028\u2029":
        return f"a line separator ({code})"
    return f"a control character ({code})"


class _Escapes(dict[int, str]):
    """``str.translate`` table for :func:`printable`."""

    def __missing__(self, code: int) -> str:
        char = chr(code)
        if char != "\t" and (_UNPRINTABLE().match(char) or unicodedata.category(char) == "Cc"):
            self[code] = char.encode("unicode_escape", "backslashreplace").decode("ascii")
        else:
            self[code] = char
        return self[code]


_ESCAPES = _Escapes()


def display_path(path: Path) -> str:
    """How a file is named in messages: relative to the working directory when inside it."""
    path = Path(os.path.normpath(path))
    try:
        rel = os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return str(path)
    outside = rel == os.pardir or rel.startswith(os.pardir + os.sep)  # not '...yaml'
    return str(path) if outside else rel


class SourceMap(Struct):
    """Positions of the keys and values of a document, by data path.

    Values reached through a YAML alias share the anchor's position. When a path has no
    recorded position (a default, or a value built by a later stage), :meth:`value` walks up
    to the nearest ancestor that has one, as DVC's ``determine_linecol`` does.
    """

    values: dict[DataPath, Position] = field(default_factory=dict)
    keys: dict[DataPath, Position] = field(default_factory=dict)
    default: Position = Position("<unknown>")

    def value(self, path: Sequence[PathKey]) -> Position:
        """Position of the value at ``path``, or of its nearest located ancestor."""
        p = tuple(path)
        while p:
            pos = self.values.get(p)
            if pos is not None:
                return pos
            p = p[:-1]
        return self.values.get((), self.default)

    def key(self, path: Sequence[PathKey]) -> Position:
        """Position of the key that leads to ``path`` (the value's position for list items)."""
        p = tuple(path)
        pos = self.keys.get(p)
        return pos if pos is not None else self.value(p)

    def has(self, path: Sequence[PathKey]) -> bool:
        return tuple(path) in self.values


def closest(word: str, candidates: Iterable[str]) -> str | None:
    """The candidate closest to ``word``, if one is close enough to be a likely typo."""
    import difflib  # only for a mistake, never for a storyboard without one

    close = difflib.get_close_matches(word, sorted(set(candidates)), n=1, cutoff=0.6)
    return close[0] if close else None


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` when a candidate is close to ``word``, else ``""``."""
    close = closest(word, candidates)
    return f" (did you mean '{close}'?)" if close else ""


def format_path(path: Sequence[PathKey]) -> str:
    """``shots[2].prompt``: a data path as a writer would name it."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out or "(document)"


def render_all(diagnostics: Iterable[Diagnostic]) -> str:
    """All diagnostics in file order, one per line."""
    return "\n".join(d.render() for d in sorted(diagnostics, key=Diagnostic.sort_key))


def position_in_value(
    lines: Sequence[str],
    start: Position,
    key_col: int,
    source: str,
    *,
    line: int | None = None,
    near: str | None = None,
) -> Position:
    """Where a problem inside a (possibly multi-line) YAML text value is, in its file.

    Args:
        lines: the lines of the file that holds the value.
        start: the position of the value (its first character or block indicator).
        key_col: the column of the value's key; continuation lines are indented past it.
        source: the value as loaded.
        line: the problem's line inside ``source`` (1-based), if known.
        near: text at the problem (a name, a tag), if known; an occurrence inside ``{{ }}``
            or ``{% %}`` is preferred.

    Returns:
        The problem's position: exact for a literal block (``|``), whose lines are the
        value's lines; found by searching ``near`` for other styles, whose lines fold;
        ``start`` when neither tells.
    """
    if not 1 <= start.line <= len(lines):
        return start
    last = start.line  # the value spans lines start.line..last (1-based)
    while last < len(lines) and (not lines[last].strip() or _indent(lines[last]) >= key_col):
        last += 1
    if lines[start.line - 1][start.col - 1 : start.col] == "|" and line is not None:
        number = start.line + line
        wanted = source.split("\n")[line - 1] if line <= source.count("\n") + 1 else ""
        if number <= last:
            text = lines[number - 1]
            base = len(text) - len(wanted) if text.endswith(wanted) else _indent(text)
            found = _find(wanted, near) if near else -1
            offset = found if found >= 0 else len(wanted) - len(wanted.lstrip())
            return Position(start.file, number, base + offset + 1)
    if not near:
        return start
    spans = [(start.line, start.col - 1, lines[start.line - 1][start.col - 1 :])]
    spans += [(n, 0, lines[n - 1]) for n in range(start.line + 1, last + 1)]
    text = "\n".join(t for _, _, t in spans)
    index = _find(text, near)
    if index < 0:
        return start
    for number, offset, piece in spans:
        if index <= len(piece):
            return Position(start.file, number, offset + index + 1)
        index -= len(piece) + 1
    return start  # pragma: no cover - index lies in some span


def _indent(text: str) -> int:
    return len(text) - len(text.lstrip(" "))


def _find(text: str, near: str) -> int:
    """Index of ``near`` in ``text``: a whole-word one inside ``{{ }}``/``{% %}`` first."""
    first = -1
    index = text.find(near)
    while index >= 0:
        after = index + len(near)
        whole = not near.isidentifier() or (
            not (index and (text[index - 1].isalnum() or text[index - 1] == "_"))
            and not (after < len(text) and (text[after].isalnum() or text[after] == "_"))
        )
        if whole:
            first = index if first < 0 else first
            opened = max(text.rfind("{{", 0, index), text.rfind("{%", 0, index))
            closed = max(text.rfind("}}", 0, index), text.rfind("%}", 0, index))
            if opened > closed:
                return index
        index = text.find(near, index + 1)
    return first
