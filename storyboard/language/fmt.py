"""Canonical formatting of storyboard YAML, comments kept: ``format_text`` and ``format_file``.

Not a pipeline stage: ``storyboard fmt`` rewrites what a writer keeps in git. The layout:
2-space mappings, sequences as ``  - `` under their key, lines up to :data:`WIDTH` (block
scalars, literal ``|`` and folded ``>``, keep the writer's lines; a plain or quoted scalar is
wrapped, but never inside a Jinja tag, ``{{ ... }}``, ``{% ... %}`` or ``{# ... #}``:
:class:`_Emitter`), keys in the order of the language's models (unknown keys
after the known ones, in their own order), one blank line between top-level sections, no
trailing whitespace and one final newline. Scalar styles, quotes, anchors, merge keys and
flow collections stay as written; values never change.

How::

    text --rt load--> data --reorder, strip comments, dump--> dump text
      |                                                           |
      +--events--> entries + comments --match by key/index--> dump entries --> result

ruamel.yaml's round-trip mode (``YAML(typ="rt")``) loads the file; the mappings are reordered
and dumped with every comment removed. Comments are *not* moved through ruamel's comment
attributes: those hang a comment line on the value *above* it (a comment above ``title``
belongs to ``storyboard``'s value, one above the next shot to the last key of this one), so
moving keys would move comments to the wrong place. Instead every comment and blank line of
the source is found in the text (outside scalars, whose spans the parser's events give) and
attached to the entry it belongs to: the key or item whose line it ends, the key or item
below it, or, when it is indented as deep as a block that ends above it, that block's end.
They are written back around the same entries in the dumped text.

Every result is checked before it is returned: read back, it must hold the source's data and
every one of its comments, or ``format_text`` raises ``AssertionError`` (a bug: the CLI
reports an internal error and writes nothing, never a damaged file).
"""

from __future__ import annotations

import hashlib
import io
import math
import os
import re
import tempfile
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq, merge_attrib
from ruamel.yaml.constructor import RoundTripConstructor, SafeConstructor
from ruamel.yaml.emitter import RoundTripEmitter
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import (
    AliasEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
)
from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode
from ruamel.yaml.parser import RoundTripParser
from ruamel.yaml.representer import RoundTripRepresenter
from ruamel.yaml.scalarstring import FoldedScalarString, LiteralScalarString

from storyboard.core.diagnostics import Diagnostic, Position, display_path
from storyboard.core.errors import InputError
from storyboard.core.inputs import NotAFile, TooLarge, read_capped
from storyboard.core.project import find_project_root, real
from storyboard.language import model
from storyboard.language.load import (
    MAX_FILE_BYTES,
    check_inside_project,
    is_inside,
)

WIDTH = 100
"""Line width the emitter wraps plain and quoted scalars at (their values never change)."""

# -- canonical key order ------------------------------------------------------------------------


def _fields(cls: type[BaseModel], *first: str) -> tuple[str, ...]:
    keys = model.top_level_keys(cls)
    return (*first, *(k for k in keys if k not in first))


_ORDER: dict[str, tuple[str, ...]] = {
    "storyboard": _fields(model.Storyboard),
    "output": _fields(model.Output),
    "delivery": _fields(model.Delivery),
    "safety": _fields(model.Safety),
    "defaults": _fields(model.Defaults),
    "element": _fields(model.Element),
    # The id first and the (often long) prompt last, as the language's own examples write it.
    "shot": _fields(
        model.Shot,
        *("id", "start", "end", "edit", "duration", "references", "reference_videos", "sound"),
        *("keep_original_sound", "character_orientation", "model", "provider", "variations"),
        *("pick", "prompt"),
    ),
    "sequence": ("sequence", "continuity", "variations", "pick", "shots"),
    "cut": _fields(model.Cut),
    "music": _fields(model.Music),
    "clip": _fields(model.Clip),
}
"""Key order of each kind of mapping (the model's field order, with a few keys first)."""

_CHILDREN: dict[str, dict[str, str]] = {
    "storyboard": {
        "output": "output",
        "delivery": "delivery",
        "defaults": "defaults",
        "elements": "elements",
        "shots": "story",
        "cut": "cut",
    },
    "delivery": {"safety": "safety"},
    "sequence": {"shots": "story"},
    "cut": {"music": "music", "clips": "clips"},
}
"""The kind of the value under a key, for the kinds whose insides are reordered too."""

_HEADER_KEYS = frozenset({"storyboard", "title", "model"})
"""Top-level keys written together as the first section, without blank lines between them."""


def _reorder(data: Any, kind: str, seen: set[int]) -> None:
    """Put the keys of ``data`` (a value of ``kind``) and of its insides in canonical order."""
    if id(data) in seen:
        return  # an anchored value reached again through an alias
    seen.add(id(data))
    if isinstance(data, CommentedSeq):
        for item in data:
            if kind == "story" and isinstance(item, CommentedMap):
                _reorder(item, "sequence" if "sequence" in item else "shot", seen)
            elif kind == "clips":
                _reorder(item, "clip", seen)
        return
    if not isinstance(data, CommentedMap):
        return
    if kind == "elements":
        for value in data.values():
            _reorder(value, "element", seen)
        return
    order = _ORDER.get(kind)
    if order is None:
        return
    merge = getattr(data, merge_attrib, None)
    own = [k for k, _ in (data.non_merged_items() if merge else data.items())]
    rank = {k: i for i, k in enumerate(order)}
    for key in sorted(own, key=lambda k: rank.get(k, len(order)) if isinstance(k, str) else 1e9):
        data.move_to_end(key)  # sorted() is stable: unknown keys keep their order
    if merge and hasattr(merge, "merge_pos"):
        merge.merge_pos = 0  # `<<: *base` first
    for key, child in _CHILDREN.get(kind, {}).items():
        if key in own:
            _reorder(data[key], child, seen)


# -- the text as the parser saw it ----------------------------------------------------------


@dataclass(frozen=True)
class _Mark:
    """A place in a text: 0-based line and column (lines end at line feeds only), index."""

    line: int
    col: int
    index: int


@dataclass(frozen=True)
class _Eol:
    """An end-of-line comment: its text, its column and the spaces before it."""

    text: str
    col: int
    gap: int


@dataclass(eq=False)
class _Node:
    """A node of the event stream, with where it is in the text."""

    kind: str  # "scalar", "alias", "map" or "seq"
    start: _Mark
    end: _Mark
    up: _Node | None = None  # the collection holding this node
    flow: bool = False  # a flow collection
    anchor: str | None = None
    block_scalar: bool = False  # `|` or `>`
    entries: list[_Entry] = field(default_factory=list)
    last_line: int = 0  # the last line that holds the node's text
    trailing: list[str] = field(default_factory=list)  # comment lines that close the block

    @property
    def block(self) -> bool:
        return self.kind in ("map", "seq") and not self.flow and bool(self.entries)


@dataclass(eq=False)
class _Entry:
    """A key and its value in a block mapping, or an item of a block sequence."""

    parent: _Node
    key: _Node | None
    key_text: str | None
    value: _Node
    line: int = 0  # where the key (or the item's dash) is
    col: int = 0
    eol_line: int = -1  # the line an end-of-line comment of this entry goes on; -1: none
    before: list[str] = field(default_factory=list)  # comment lines above; "" is a blank
    eol: _Eol | None = None  # the comment at the end of the entry's line


@dataclass
class _Text:
    """A YAML text parsed into nodes and block entries, with the spans of its scalars."""

    text: str
    root: _Node
    entries: list[_Entry]  # document order: an entry before the entries of its value
    scalar_spans: list[tuple[int, int]]  # sorted [start, end) character ranges of scalars
    block_lines: set[int]  # lines of block scalar content
    keep_ends: set[int]  # lines right after a keep-chomped block scalar (`|+`, `>+`)
    anchors: dict[str, _Node]  # anchored collections by anchor name
    head: list[str] = field(default_factory=list)  # comment lines above the first entry
    tail: list[str] = field(default_factory=list)  # comment lines below the last one


_BLOCK_HEADER = re.compile(r"(?:[!&]\S*[ \t]+)*[|>]([-+0-9]*)")


class _Reader:
    """Builds a :class:`_Text` from the parser's events of ``text``."""

    def __init__(self, text: str, events: Iterable[Any]) -> None:
        self.text = text
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
        self.events = iter(events)
        self.entries: list[_Entry] = []
        self.spans: list[tuple[int, int]] = []
        self.block_lines: set[int] = set()
        self.keep_ends: set[int] = set()
        self.anchors: dict[str, _Node] = {}

    def read(self) -> _Text:
        root = next(
            self.node(e, None, in_key=False)
            for e in self.events
            if isinstance(e, MappingStartEvent | SequenceStartEvent | ScalarEvent)
        )
        self.spans.sort()
        return _Text(
            self.text,
            root,
            self.entries,
            self.spans,
            self.block_lines,
            self.keep_ends,
            self.anchors,
        )

    def line_of(self, index: int) -> int:
        return bisect_right(self.line_starts, index) - 1

    def mark(self, mark: Any) -> _Mark:
        """Our mark for a ruamel one, counted from its index: ruamel also ends lines at NEL
        and the Unicode line separators, which would shift every line after them."""
        line = self.line_of(mark.index)
        return _Mark(line, mark.index - self.line_starts[line], mark.index)

    def node(self, event: Any, up: _Node | None, in_key: bool) -> _Node:
        start, end = self.mark(event.start_mark), self.mark(event.end_mark)
        if isinstance(event, AliasEvent):
            return _Node("alias", start, end, up, anchor=event.anchor, last_line=end.line)
        if isinstance(event, ScalarEvent):
            return self.scalar(event, up)
        is_map = isinstance(event, MappingStartEvent)
        flow = bool(event.flow_style)
        node = _Node("map" if is_map else "seq", start, end, up, flow, event.anchor)
        if event.anchor is not None and not flow:
            self.anchors.setdefault(event.anchor, node)
        register = not flow and not in_key
        for item in self.events:
            if isinstance(item, MappingEndEvent | SequenceEndEvent):
                node.end = self.mark(item.end_mark)
                break
            key = None
            if is_map:
                key = self.node(item, node, in_key=True)
                item = next(self.events)
            key_text = None
            if key is not None and key.kind == "scalar":
                key_text = self.text[key.start.index : key.end.index]
            if register:
                entry = _Entry(node, key, key_text, _Node("scalar", start, end))
                self.entries.append(entry)  # before the entries of its value
                entry.value = self.node(item, node, in_key)
                self.place(entry)
            else:
                entry = _Entry(node, key, key_text, self.node(item, node, in_key))
            node.entries.append(entry)
        if flow or not node.entries:
            node.last_line = node.end.line
        else:
            last = node.entries[-1]
            node.last_line = max(last.value.last_line, last.line)
        return node

    def scalar(self, event: Any, up: _Node | None) -> _Node:
        start, end = self.mark(event.start_mark), self.mark(event.end_mark)
        block_scalar = event.style in ("|", ">")
        node = _Node("scalar", start, end, up, anchor=event.anchor, block_scalar=block_scalar)
        node.last_line = end.line
        if not block_scalar:
            if end.index > start.index:
                self.spans.append((start.index, end.index))
            return node
        header = _BLOCK_HEADER.match(self.text, start.index)
        if header is not None and "+" in header.group(1):
            stop = end.index  # the trailing blank lines are part of the value
        else:
            stop = end.index
            while stop > start.index and self.text[stop - 1] in " \t\r\n":
                stop -= 1
        node.last_line = max(self.line_of(max(stop - 1, start.index)), start.line)
        if stop == end.index and end.col == 0 and end.line > start.line:
            node.last_line = end.line - 1
        if header is not None and "+" in header.group(1):
            self.keep_ends.add(node.last_line + 1)
        first = start.line + 1
        if first <= node.last_line:
            self.spans.append((self.line_starts[first], stop))
            self.block_lines.update(range(first, node.last_line + 1))
        return node

    def place(self, entry: _Entry) -> None:
        """Where the entry is, and the line an end-of-line comment of it belongs to."""
        value = entry.value
        if entry.key is not None:
            entry.line, entry.col = entry.key.start.line, entry.key.start.col
        else:
            entry.line, entry.col = self.dash(value.start)
        if value.block:
            entry.eol_line = entry.line if entry.key is not None else -1
        elif value.block_scalar:
            entry.eol_line = value.start.line  # the header: `|` or `>`
        elif value.kind == "scalar" and value.end.index == value.start.index:
            entry.eol_line = entry.key.end.line if entry.key is not None else entry.line
            value.last_line = entry.eol_line  # an empty value's mark is on the next line
        else:
            entry.eol_line = value.end.line
        value.last_line = max(value.last_line, entry.line)

    def dash(self, mark: _Mark) -> tuple[int, int]:
        """The line and column of the ``-`` of the sequence item whose value is at ``mark``."""
        i = mark.index - 1
        while i >= 0 and self.text[i] in " \t\r\n":
            i -= 1
        if i >= 0 and self.text[i] == "-":
            line = self.line_of(i)
            return line, i - self.line_starts[line]
        return mark.line, max(mark.col - 2, 0)


def _comments(parsed: _Text) -> Iterator[tuple[int, int, str]]:
    """``(line, col, text)`` of every comment outside scalars, and ``(line, -1, "")`` of every
    blank line, in order."""
    spans = parsed.scalar_spans
    starts = [s for s, _ in spans]

    def in_scalar(index: int) -> bool:
        i = bisect_right(starts, index) - 1
        return i >= 0 and spans[i][0] <= index < spans[i][1]

    base = 0
    for number, line in enumerate(parsed.text.split("\n")):
        if not line.strip():
            if number not in parsed.block_lines and not in_scalar(base):
                yield number, -1, ""
        else:
            col = line.find("#")
            while col >= 0:
                if (col == 0 or line[col - 1] in " \t") and not in_scalar(base + col):
                    yield number, col, line[col:].rstrip()
                    break
                col = line.find("#", col + 1)
        base += len(line) + 1


# -- attaching comments to entries ----------------------------------------------------------


def _attach(parsed: _Text) -> list[str]:
    """Attach every comment and blank line of ``parsed`` to an entry, a block or the file.

    A comment after content goes with the innermost entry that ends that line; one inside a
    multi-line flow value goes above its entry. Runs of comment lines go through
    :func:`_attach_run`.
    """
    lines = parsed.text.split("\n")
    starts = [e.line for e in parsed.entries]
    by_eol = {e.eol_line: e for e in parsed.entries if e.eol_line >= 0}  # innermost wins
    spread = [e for e in parsed.entries if not e.value.block and e.value.last_line > e.line]
    spread_starts = [e.line for e in spread]
    run: list[tuple[int, int, str]] = []
    seen: list[str] = []

    def flush() -> None:
        if run:
            _attach_run(parsed, starts, run)
            run.clear()

    for line, col, text in _comments(parsed):
        if text:
            seen.append(text)
        own_line = not lines[line][: max(col, 0)].strip()
        entry = by_eol.get(line)
        if not own_line and entry is not None and entry.eol is None:
            entry.eol = _Eol(text, col, col - len(lines[line][:col].rstrip()))
            continue
        i = bisect_right(spread_starts, line) - 1
        holder = spread[i] if i >= 0 and line <= spread[i].value.last_line else None
        if holder is None and not own_line:
            holder = entry
        if holder is not None:
            if text:
                holder.before.append(text)
            continue
        if run and run[-1][0] != line - 1:
            flush()
        run.append((line, col, text))
    flush()
    return seen


def _attach_run(parsed: _Text, starts: list[int], run: list[tuple[int, int, str]]) -> None:
    """Attach a run of comment and blank lines that stands between two entries.

    A line goes above the next entry, unless it is indented at least as deep as a block
    that ends just above it: then it closes that block (``trailing``), wherever the block's
    entries move. A blank line goes with the comment below it.
    """
    entries = parsed.entries
    after = bisect_right(starts, run[0][0])
    if after == 0:
        parsed.head.extend(text for _, _, text in run)
        return
    nxt = entries[after] if after < len(entries) else None
    open_above: set[int] = set()
    block = nxt.parent if nxt is not None else None
    while block is not None:
        open_above.add(id(block))
        block = block.up
    chain: list[_Node] = []  # blocks that end in this run, innermost first
    block = entries[after - 1].parent
    while block is not None and id(block) not in open_above:
        chain.append(block)
        block = block.up
    levels: list[int] = []
    level = 0
    for _, col, text in run:
        if text:
            while level < len(chain) and col < chain[level].entries[0].col:
                level += 1
        levels.append(level if text else -1)
    below = len(chain)
    for i in range(len(run) - 1, -1, -1):
        if levels[i] == -1:
            levels[i] = below
        else:
            below = levels[i]
    for (_, _, text), level in zip(run, levels, strict=True):
        if level < len(chain):
            chain[level].trailing.append(text)
        elif nxt is not None:
            nxt.before.append(text)
        else:
            parsed.tail.append(text)


# -- writing the comments back ---------------------------------------------------------------


def _match(src: _Node, dst: _Node, dump: _Text, done: set[int]) -> None:
    """Move the comments of ``src`` (in the source) onto ``dst``, the same value in the dump."""
    if id(src) in done:
        return
    done.add(id(src))
    dst.trailing.extend(src.trailing)
    if src.kind != dst.kind or not (src.block and dst.block):
        return
    if src.kind == "seq":
        pairs = list(zip(src.entries, dst.entries, strict=False))
    else:
        by_key: dict[str | None, list[_Entry]] = {}
        for entry in dst.entries:
            by_key.setdefault(entry.key_text, []).append(entry)
        pairs = [(e, by_key[e.key_text].pop(0)) for e in src.entries if by_key.get(e.key_text)]
    for s, d in pairs:
        d.before.extend(s.before)
        d.eol = s.eol
        target = d.value
        if s.value.anchor is not None and s.value.block:
            target = dump.anchors.get(s.value.anchor, target)  # defined elsewhere in the dump
        _match(s.value, target, dump, done)


def _write(dump: _Text, head: list[str], tail: list[str]) -> tuple[str, list[str]]:
    """The dumped text with the comments and blank lines put back, by the layout rules."""
    lines = dump.text.split("\n")[:-1]  # the dump ends with a newline
    above: dict[int, list[str]] = {}
    outermost: dict[int, _Entry] = {}
    with_eol: dict[int, str] = {}
    for entry in dump.entries:
        outermost.setdefault(entry.line, entry)
        above.setdefault(entry.line, []).extend(entry.before)
        if entry.eol is None:
            continue
        if entry.eol_line >= 0 and entry.eol_line not in with_eol:
            lines[entry.eol_line] = _with_eol(lines[entry.eol_line], entry.eol)
            with_eol[entry.eol_line] = entry.eol.text
        else:  # the value became a block, or shares its line: keep the comment above
            above[entry.line].append(entry.eol.text)
    header = True
    for number, entry in outermost.items():
        group = above[number]
        if entry.parent is dump.root:
            header = header and entry.key_text in _HEADER_KEYS and not entry.value.block
            group = _squeeze(group, lead=False)
            if entry is dump.root.entries[0]:  # after a `%YAML` directive, if the dump has one
                group = _squeeze(head, lead=False) + group
                head = []
            elif not header:
                group = ["", *group]
        else:
            group = _squeeze(group, lead=entry is not entry.parent.entries[0])
        above[number] = _indent(group, entry.col)
    closing: dict[int, list[str]] = {}
    for block in sorted(_blocks(dump.root), key=lambda b: -b.entries[0].col):
        if block.trailing and block is not dump.root:
            trail = _squeeze(block.trailing, lead=True, tail=False)
            closing.setdefault(block.last_line + 1, []).extend(_indent(trail, block.entries[0].col))
    out = _squeeze(head, lead=False)
    written = [*out, *with_eol.values()]
    for number, line in enumerate(lines):
        group = _fit(closing.get(number, []) + above.get(number, []), number, dump)
        written += group
        out += group
        out.append(line if number in dump.block_lines else line.rstrip())
    end = len(lines)
    group = _squeeze(dump.root.trailing + tail, lead=True, tail=False)
    group = _fit(closing.get(end, []) + group, end, dump)
    return "\n".join(out + group) + "\n", [*written, *group]


def _fit(group: list[str], number: int, dump: _Text) -> list[str]:
    """``group`` to go above line ``number``: no blank line right after a `|+` value."""
    if number in dump.keep_ends:
        while group and not group[0]:
            group = group[1:]
    out: list[str] = []
    for text in group:  # two groups meeting: still one blank line at most
        if text or (out and out[-1]) or not out:
            out.append(text)
    return out


def _blocks(node: _Node) -> Iterator[_Node]:
    if node.block:
        yield node
        for entry in node.entries:
            yield from _blocks(entry.value)


def _squeeze(group: list[str], *, lead: bool, tail: bool = True) -> list[str]:
    """Runs of blank lines made one; a leading blank kept only if ``lead``, a last blank
    only if ``tail``."""
    out: list[str] = []
    for text in group:
        if text or (out and out[-1]) or (not out and lead):
            out.append(text)
    if out and not out[-1] and not tail:
        out.pop()
    return out


def _indent(group: list[str], col: int) -> list[str]:
    return [" " * col + text.strip() if text else "" for text in group]


def _with_eol(line: str, comment: _Eol) -> str:
    """``line`` with an end-of-line comment at its old column (comments aligned stay so),
    or further right to keep at least the spaces it had before it."""
    content = line.rstrip()
    col = max(comment.col, len(content) + comment.gap)
    return content + " " * (col - len(content)) + comment.text


# -- the API ---------------------------------------------------------------------------------


class _Float(float):
    """A float that keeps the text it was written as (ruamel re-formats floats, and can
    round some: ``2.225073858507e-311``)."""

    text: str


class _Constructor(RoundTripConstructor):
    def construct_float(self, node: Any) -> Any:
        if node.anchor is not None or node.style is not None:
            return self.construct_yaml_float(node)  # ruamel keeps the anchor or the quotes
        value = _Float(SafeConstructor.construct_yaml_float(self, node))
        value.text = node.value
        return value


class _Representer(RoundTripRepresenter):
    def represent_float_text(self, data: _Float) -> Any:
        return self.represent_scalar("tag:yaml.org,2002:float", data.text)


_Constructor.add_constructor("tag:yaml.org,2002:float", _Constructor.construct_float)
_Representer.add_representer(_Float, _Representer.represent_float_text)


_TAG = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.DOTALL)
"""A Jinja tag: an expression, a statement or a comment."""
_KEPT_SPACE = "\ue000"
"""What a space inside a Jinja tag is while the emitter wraps (a private-use character: the
emitter counts it as one column and does not break at it)."""


class _Emitter(RoundTripEmitter):
    """The round-trip emitter, but a folded scalar keeps the writer's lines (the folds the
    reader recorded, no others) and a plain or quoted scalar is never wrapped inside a Jinja
    tag: a tag split across lines still renders the same, but is hard to read and to edit."""

    def write_folded(self, text: Any, comment: Any = None) -> None:
        width = self.best_width
        self.best_width = 1 << 30  # breaks only at the recorded folds
        try:
            super().write_folded(text, comment)
        finally:
            self.best_width = width

    def write_plain(self, text: Any, split: Any = True) -> None:
        self._keeping_tags(super().write_plain, text, split)

    def write_single_quoted(self, text: Any, split: Any = True) -> None:
        self._keeping_tags(super().write_single_quoted, text, split)

    def write_double_quoted(self, text: Any, split: Any = True) -> None:
        self._keeping_tags(super().write_double_quoted, text, split)

    def _keeping_tags(self, write: Any, text: Any, split: Any) -> None:
        """``write(text)`` with the spaces inside Jinja tags made unbreakable, and written
        back as spaces."""
        if not split or not isinstance(text, str) or _KEPT_SPACE in text:
            write(text, split)
            return
        kept = _TAG.sub(lambda m: m.group(0).replace(" ", _KEPT_SPACE), text)
        if kept == text:
            write(text, split)
            return
        stream = self._stream
        self._stream = _SpacesBack(stream)
        try:
            write(kept, split)
        finally:
            self._stream = stream


class _SpacesBack:
    """A stream that writes :data:`_KEPT_SPACE` as the space it stands for."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream

    def write(self, data: Any) -> Any:
        if isinstance(data, bytes):
            return self.stream.write(data.replace(_KEPT_SPACE.encode(), b" "))
        return self.stream.write(data.replace(_KEPT_SPACE, " "))


class _RecordingParser(RoundTripParser):
    """The round-trip parser, keeping the events it gives (read once, used twice)."""

    def __init__(self, loader: Any) -> None:
        super().__init__(loader)
        self.events: list[Any] = []

    def get_event(self) -> Any:
        event = super().get_event()
        self.events.append(event)
        return event


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.Parser = _RecordingParser
    yaml.Constructor = _Constructor
    yaml.Representer = _Representer
    yaml.Emitter = _Emitter
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = WIDTH
    yaml.preserve_quotes = True
    yaml.allow_unicode = True
    return yaml


def format_text(text: str, *, name: str = "<text>") -> str:
    """The canonical layout of a storyboard (or included file) given as text.

    Args:
        text: the YAML text.
        name: the file name error positions show.

    Returns:
        The formatted text: ``text`` itself when it is formatted already.

    Raises:
        InputError: the text is not YAML, or its top level is not a mapping.
    """
    return _format(text, name)[0]


def _format(text: str, name: str) -> tuple[str, CommentedMap]:
    """The formatted text and the (reordered) data it holds."""
    try:
        return _format_or_overflow(text, name)
    except RecursionError as exc:
        raise InputError.at(Position(name), "YAML nesting is too deep") from exc


def _format_or_overflow(original: str, name: str) -> tuple[str, CommentedMap]:
    # YAML reads CR LF and CR as line feeds, inside scalars too: the same values.
    text = original.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    yaml = _yaml()
    data = _load(yaml, text, name)
    if not isinstance(data, CommentedMap):
        raise InputError.at(Position(name), "the top level must be a mapping of keys to values")
    source = _Reader(text, yaml.parser.events).read()
    comments = _attach(source)
    _strip_comments(data, set())
    _reorder(data, "storyboard", set())
    data.fa.set_block_style()
    buffer = io.StringIO()
    yaml.dump(data, buffer)
    dump = _Reader(buffer.getvalue(), _dump_events(buffer.getvalue())).read()
    if any(text for _, _, text in _comments(dump)):
        raise AssertionError("ruamel.yaml kept a comment in the dump")  # it would be doubled
    _match(source.root, dump.root, dump, set())
    result, written = _write(dump, source.head, source.tail)
    _verify(original, result, comments, written)
    return result, data


def _dump_events(text: str) -> list[Any]:
    """The events of a dump, from the C parser where there is one (4x faster)."""
    try:
        return list(YAML(typ="safe").parse(text))
    except YAMLError:  # pragma: no cover - libyaml reads every dump we make
        return list(YAML(typ="rt").parse(text))


def _load(yaml: YAML, text: str, name: str) -> Any:
    try:
        return yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = Position(name, mark.line + 1, mark.column + 1) if mark else Position(name)
        problem = exc.problem or exc.context or "invalid YAML"
        raise InputError.at(where, f"YAML syntax error: {problem}") from exc
    except YAMLError as exc:  # reader errors: control characters and the like
        index = getattr(exc, "position", 0)
        index = index if isinstance(index, int) else 0
        line = text.count("\n", 0, index) + 1
        col = index - (text.rfind("\n", 0, index) + 1) + 1
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "unreadable text"
        raise InputError.at(Position(name, line, col), f"YAML error: {first}") from exc


def _strip_comments(data: Any, seen: set[int]) -> None:
    """Remove ruamel's comment attributes: the comments are written back from the text."""
    if id(data) in seen:
        return
    seen.add(id(data))
    if isinstance(data, LiteralScalarString | FoldedScalarString):
        data.comment = None  # type: ignore[union-attr]  # a `|` or `>` header's comment
    ca = getattr(data, "ca", None)
    if ca is not None:
        ca.comment = None
        ca.items.clear()
        ca.end.clear()
    if isinstance(data, dict):
        for value in data.values():
            _strip_comments(value, seen)
    elif isinstance(data, list):
        for value in data:
            _strip_comments(value, seen)


# -- checking a result -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Tagged:
    tag: str
    value: Any


class _AnyTagConstructor(SafeConstructor):
    """The safe constructor, with unknown tags kept as :class:`_Tagged` values."""

    def construct_undefined(self, node: Any) -> Any:
        tag = str(getattr(node.tag, "value", node.tag))
        if isinstance(node, ScalarNode):
            return _Tagged(tag, self.construct_scalar(node))
        if isinstance(node, SequenceNode):
            return _Tagged(tag, tuple(self.construct_sequence(node, deep=True)))
        if isinstance(node, MappingNode):
            return _Tagged(tag, self.construct_mapping(node, deep=True))
        return _Tagged(tag, None)  # pragma: no cover


_AnyTagConstructor.add_constructor(None, _AnyTagConstructor.construct_undefined)


def _plain_data(*texts: str) -> list[Any]:
    """The data of each text as plain values, read by the C parser where it can."""
    for pure in (False, True):
        yaml = YAML(typ="safe", pure=pure)
        yaml.Constructor = _AnyTagConstructor
        try:
            return [yaml.load(text) for text in texts]
        except YAMLError:  # libyaml reads a little less than ruamel: try the pure parser
            if pure:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _same(a: Any, b: Any, seen: set[tuple[int, int]]) -> bool:
    """Equal values of equal types (NaN equal to NaN); shared values compared once."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if not isinstance(a, dict | list | _Tagged):
        return bool(a == b)
    pair = (id(a), id(b))
    if pair in seen:
        return True
    seen.add(pair)
    if isinstance(a, _Tagged):
        return a.tag == b.tag and _same(a.value, b.value, seen)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y, seen) for x, y in zip(a, b, strict=True))
    if {(type(k), k) for k in a} != {(type(k), k) for k in b}:
        return False
    return all(_same(v, b[k], seen) for k, v in a.items())


def _verify(text: str, result: str, comments: list[str], written: list[str]) -> None:
    """Refuse a result whose data or comments differ from the source's (a formatter bug).

    The data is compared after reading both texts; the comments by what was written: the
    dump has none of its own, and a written comment that is not read as one changes data.
    """
    before, after = _plain_data(text, result)
    if not _same(before, after, set()):
        raise AssertionError("storyboard fmt would change the data of the file")
    lost = Counter(c.strip() for c in comments) - Counter(c.strip() for c in written)
    if lost:
        raise AssertionError(f"storyboard fmt would lose comments: {sorted(lost)}")


# -- files -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Formatted:
    """One file, as read and as formatted."""

    path: Path
    original: str
    formatted: str
    includes: tuple[Path, ...] = ()

    @property
    def changed(self) -> bool:
        return self.original != self.formatted


def read_formatted(path: str | os.PathLike[str]) -> Formatted:
    """Read and format one file (writing nothing); its includes are listed, not read.

    Raises:
        InputError: the file cannot be read, is not YAML or its top level is not a mapping.
    """
    file = Path(path)
    name = display_path(file)
    check_inside_project(file)
    try:
        raw = read_capped(file, MAX_FILE_BYTES)
    except TooLarge as exc:
        raise InputError.at(
            Position(name),
            f"file is {exc.shown}; the largest file read is {MAX_FILE_BYTES:,}",
        ) from exc
    except NotAFile as exc:
        raise InputError.at(Position(name), f"'{name}' is {exc.kind}, not a file") from exc
    except OSError as exc:
        raise InputError.at(Position(name), f"cannot read '{name}': {exc.strerror or exc}") from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InputError.at(Position(name, line), "file is not UTF-8 text") from exc
    formatted, data = _format(text, name)
    return Formatted(file, text, formatted, _includes(file, data))


def _includes(file: Path, data: CommentedMap) -> tuple[Path, ...]:
    """The files ``include`` names that exist inside the project (others are `check`'s job)."""
    entries = data.get("include")
    if not isinstance(entries, list):
        return ()
    root = find_project_root(file)
    found = []
    for entry in entries:
        if isinstance(entry, str) and entry:
            target = (file.parent / entry).absolute()
            try:
                usable = target.is_file() and is_inside(target, root)
            except OSError:  # a name too long for the file system, and the like
                usable = False
            if usable:
                found.append(target)
    return tuple(found)


class FileChanged(Exception):
    """The file no longer holds the bytes it was read with: nothing was written."""


def version_of(data: bytes) -> str:
    """The version of a file's bytes, as :func:`write_if_unchanged` compares them: their sha256."""
    return hashlib.sha256(data).hexdigest()


def write_if_unchanged(path: Path, version: str, text: str) -> None:
    """Replace the file ``path`` with ``text`` if it still holds the bytes of ``version``
    (:func:`version_of`): what ``fmt`` and ``review`` write into a writer's storyboard.

    The new text is written to a temporary file beside it first (given the file's mode, and
    synced); the file is read again right before the rename, so a save made in an editor in
    between is kept and this write refused. (No POSIX call compares and renames in one step:
    what is left is the time between that last read and the rename, microseconds.) A
    symbolic link stays one: the file it points to is replaced, if it is in the project.

    Raises:
        InputError: ``path`` is a symlink out of its project (nothing written).
        FileChanged: the file changed since ``version`` was read (nothing written).
        OSError: the file cannot be written (nothing written).
    """
    check_inside_project(path)
    real = Path(os.path.realpath(path))
    if version_of(read_capped(real, MAX_FILE_BYTES)) != version:
        raise FileChanged(str(path))
    mode = real.stat().st_mode & 0o7777
    fd, tmp = tempfile.mkstemp(dir=real.parent, prefix=f".{real.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(tmp, mode)
        if version_of(read_capped(real, MAX_FILE_BYTES)) != version:
            raise FileChanged(str(path))
        os.replace(tmp, real)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def format_file(path: str | os.PathLike[str], *, check: bool = False) -> bool:
    """Format one file in place (only if its layout changes); with ``check``, write nothing.

    Returns:
        Whether the file's text changed (or, with ``check``, would change).

    Raises:
        InputError: as :func:`read_formatted`; nothing is written then.
        FileChanged: the file changed while it was formatted (a save in an editor: kept).
        OSError: it cannot be written.
    """
    result = read_formatted(path)
    if result.changed and not check:
        write_if_unchanged(
            result.path, version_of(result.original.encode("utf-8")), result.formatted
        )
    return result.changed


def format_files(paths: Iterable[str | os.PathLike[str]]) -> list[Formatted]:
    """Read and format ``paths`` and, recursively, the files they include (each file once).

    Writes nothing: the caller writes what changed (:func:`write_if_unchanged`), prints
    diffs, or only checks.

    Raises:
        InputError: with the problems of every file that could not be formatted.
    """
    queue = [Path(p) for p in paths]
    seen: set[Path] = set()
    results: list[Formatted] = []
    problems: list[Diagnostic] = []
    while queue:
        path = queue.pop(0)
        key = real(path)
        if key in seen:
            continue
        seen.add(key)
        try:
            result = read_formatted(path)
        except InputError as exc:
            problems.extend(exc.diagnostics)
            continue
        results.append(result)
        queue.extend(result.includes)
    if problems:
        raise InputError(problems)
    return results
