"""Changing one key of a storyboard the way a writer would: ``pick``, ``keep``, ``retake``.

Place in the pipeline: none; it is what ``storyboard review`` writes when a writer clicks
"pick 3", "keep" or "retake" (:mod:`storyboard.live.review`). The storyboard is the
writer's file, kept in git and open in an editor, so a change made here is the smallest one:
the value of one key is replaced where it is written, or one line ``key: value`` is added to
the shot's (or the sequence's) mapping, after ``variations`` (or the ``id``/``sequence`` key),
the way ``fmt`` lays the keys out. Every other line stays byte for byte: every comment, the
key order, the quotes and the layout.

How: the round-trip loader (``YAML(typ="rt")``, as :mod:`storyboard.language.fmt` uses it)
composes the text into nodes that carry their exact start and end in the text; the change is
made on the text at those places. The result is checked before it is returned: read back, it
must hold the source's data with exactly that one value changed, and differ from the source by
that one line; otherwise the change is refused (:class:`EditRefused`), never written.

Writing never loses the writer's work (:func:`write_if_unchanged`): the page that asks for a
change says which version of the file it saw (the sha256 of its bytes), and the file is
replaced (a temporary file renamed over it, its mode kept) only if it still holds those
bytes, checked again right before the rename; a file saved in the editor meanwhile is left as
it is and the change refused (:class:`FileChanged`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from storyboard.core.errors import InputError
from storyboard.core.inputs import read_capped
from storyboard.language import fmt

MAX_BYTES = 8 * 1024 * 1024
"""The largest storyboard read (the loader's own limit)."""

DataPath = tuple[str | int, ...]


class EditRefused(Exception):
    """The change cannot be made as one clean edit of the file (the message says why)."""


class FileChanged(EditRefused):
    """The file is no longer the version the change was asked against."""


@dataclass(frozen=True)
class Snapshot:
    """A storyboard file as read: its text and the sha256 of its bytes (its version)."""

    path: Path
    text: str
    version: str


@dataclass(frozen=True)
class Place:
    """Where a take's ``pick``, ``keep`` and ``retake`` are written: the shot's mapping (a take
    of one shot) or its sequence's, and their values there now."""

    path: DataPath
    kind: str  # "shot" or "sequence"
    variations: int
    values: dict[str, Any]


digest = fmt.version_of
"""A file's version: the sha256 of its bytes (what :func:`write_if_unchanged` compares)."""


def read_snapshot(path: Path) -> Snapshot:
    """Read the storyboard (a regular file, at most :data:`MAX_BYTES`).

    Raises:
        OSError: it cannot be read; UnicodeDecodeError: it is not UTF-8.
    """
    raw = read_capped(path, MAX_BYTES)
    return Snapshot(path, raw.decode("utf-8"), digest(raw))


def _compose(text: str) -> Node:
    try:
        node = YAML(typ="rt").compose(text)
    except YAMLError as exc:
        raise EditRefused(f"the storyboard is not valid YAML now: {_first_line(exc)}") from exc
    if not isinstance(node, MappingNode):
        raise EditRefused("the storyboard's top level is not a mapping")
    return node


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _get(mapping: Node, key: str) -> Node | None:
    if not isinstance(mapping, MappingNode):
        return None
    for key_node, value in mapping.value:
        if isinstance(key_node, ScalarNode) and key_node.value == key:
            found: Node = value
            return found
    return None


def _scalar(node: Node | None) -> str | None:
    return str(node.value) if isinstance(node, ScalarNode) else None


def find_take(text: str, take_id: str) -> Place:
    """Where the take ``take_id`` keeps its ``pick``: the shot of that id among the story's
    top-level shots, else the sequence it belongs to (a sequence's takes are named after it,
    ``NAME`` or ``NAME.2``, or after their one shot).

    Raises:
        EditRefused: no such shot or sequence in the file.
    """
    root = _compose(text)
    story = _get(root, "shots")
    if not isinstance(story, SequenceNode):
        raise EditRefused("the storyboard has no list of shots")
    for index, item in enumerate(story.value):
        if not isinstance(item, MappingNode):
            continue
        name = _scalar(_get(item, "sequence"))
        if name is None:
            if _scalar(_get(item, "id")) == take_id:
                return _place(text, ("shots", index), "shot")
            continue
        members = _get(item, "shots")
        ids = [
            _scalar(_get(m, "id"))
            for m in (members.value if isinstance(members, SequenceNode) else [])
            if isinstance(m, MappingNode)
        ]
        if take_id == name or take_id.startswith(f"{name}.") or take_id in ids:
            return _place(text, ("shots", index), "sequence")
    raise EditRefused(f"no shot or sequence of the storyboard makes the take '{take_id}' now")


def _place(text: str, path: DataPath, kind: str) -> Place:
    mapping: Any = _plain(text)
    for part in path:
        mapping = mapping[part]
    values = {k: mapping.get(k) for k in ("pick", "keep", "retake")}
    count = mapping.get("variations")
    variations = count if isinstance(count, int) and not isinstance(count, bool) else 1
    return Place(path, kind, max(variations, 1), values)


def _walk(root: Node, path: DataPath) -> MappingNode:
    node: Node | None = root
    for part in path:
        if isinstance(part, int) and isinstance(node, SequenceNode) and part < len(node.value):
            node = node.value[part]
        elif isinstance(part, str) and isinstance(node, MappingNode):
            node = _get(node, part)
        else:
            node = None
        if node is None:
            break
    if not isinstance(node, MappingNode):
        raise EditRefused("the shot is not where it was in the storyboard")
    return node


def _value_text(value: bool | int) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(int(value))


_KEY_AFTER = ("variations", "id", "sequence")
"""An added key goes on the line after the first of these its mapping has (``fmt``'s order
puts ``pick`` after ``variations``)."""


def set_key(text: str, path: DataPath, key: str, value: bool | int) -> str:
    """``text`` with ``key: value`` set in the mapping at ``path``, changing one line.

    Raises:
        EditRefused: the value is written in a way one line cannot change (over several lines,
            through an alias or a merge), or the result would change anything else.
    """
    root = _compose(text)
    mapping = _walk(root, path)
    shown = _value_text(value)
    current = _get(mapping, key)
    starts = [0, *(m.end() for m in re.finditer("\n", text))]
    if current is not None:
        if not isinstance(current, ScalarNode) or current.style not in (None, ""):
            raise EditRefused(f"'{key}' is not written as a plain value; change it in the editor")
        begin, end = current.start_mark.index, current.end_mark.index
        if current.start_mark.line != current.end_mark.line or begin == end:
            raise EditRefused(f"'{key}' has no one-line value to replace; set it in the editor")
        result = text[:begin] + shown + text[end:]
    elif mapping.flow_style:
        end = mapping.end_mark.index - 1  # the closing brace
        if text[end] != "}":
            raise EditRefused("the shot's mapping is written in a way one edit cannot change")
        before = text[:end].rstrip(" ")
        gap = "" if before.endswith(("{", ",")) else ", "
        result = before + f"{gap}{key}: {shown}" + text[len(before) :]
    else:
        after = next((k for k in _KEY_AFTER if _get(mapping, k) is not None), None)
        node = _get(mapping, after) if after else None
        if node is None or not isinstance(node, ScalarNode):
            raise EditRefused("the shot has no id (or the sequence no name) to write beside")
        if node.end_mark.line != node.start_mark.line:
            raise EditRefused(f"'{after}' spans several lines; set '{key}' in the editor")
        column = mapping.value[0][0].start_mark.column
        new = " " * column + f"{key}: {shown}\n"
        at = starts[node.end_mark.line + 1] if node.end_mark.line + 1 < len(starts) else len(text)
        if at == len(text) and not text.endswith("\n"):
            new = "\n" + new.rstrip("\n")
        result = text[:at] + new + text[at:]
    _verify(text, result, path, key, value)
    return result


def _plain(text: str) -> Any:
    try:
        return YAML(typ="safe", pure=True).load(text)
    except YAMLError as exc:
        raise EditRefused(f"the change would not be valid YAML: {_first_line(exc)}") from exc


def _verify(text: str, result: str, path: DataPath, key: str, value: bool | int) -> None:
    """Refuse a result that changes more than ``key`` at ``path``, or more than one line."""
    expected = _unshared(_plain(text))  # an alias's value is changed where it is used, too
    target: Any = expected
    for part in path:
        target = target[part]
    target[key] = value
    if _plain(result) != expected or _changed_lines(text, result) != 1:
        raise EditRefused(
            f"setting '{key}' here would change more of the storyboard than that value (an "
            "anchor or a merge key shares it?); set it in the editor"
        )


def _unshared(data: Any) -> Any:
    """``data`` with a copy of its own for every place a shared (aliased) value is used."""
    if isinstance(data, dict):
        return {k: _unshared(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_unshared(v) for v in data]
    return data


def _changed_lines(before: str, after: str) -> int:
    """How many lines of ``after`` are new: one line replaced, or one line added."""
    old, new = before.splitlines(), after.splitlines()
    head = 0
    while head < min(len(old), len(new)) and old[head] == new[head]:
        head += 1
    tail = 0
    while tail < min(len(old), len(new)) - head and old[-1 - tail] == new[-1 - tail]:
        tail += 1
    removed, added = len(old) - head - tail, len(new) - head - tail
    return added if removed <= 1 and added <= 1 and (removed == 0 or added == 1) else 99


def write_if_unchanged(path: Path, version: str, text: str) -> None:
    """:func:`storyboard.language.fmt.write_if_unchanged`, with this module's errors.

    Raises:
        FileChanged: the file changed since ``version`` was read (nothing written).
        EditRefused: ``path`` is a symlink out of its project (nothing written).
        OSError: the file cannot be written.
    """
    try:
        fmt.write_if_unchanged(path, version, text)
    except fmt.FileChanged:
        raise FileChanged(CHANGED) from None
    except InputError as exc:
        raise EditRefused(exc.diagnostics[0].render()) from None


CHANGED = (
    "the storyboard changed on disk since this page read it (saved in your editor?); nothing "
    "was written: reload the page to see the file as it is now"
)
