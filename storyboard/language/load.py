"""Stage 1, load: read a storyboard file and its includes into plain data with positions.

``load_document(path) -> Document``. ruamel.yaml composes the file into a node graph whose
every node (keys and scalars included) carries its line and column; we construct plain
Python values from that graph ourselves, recording each position in a :class:`SourceMap`
under the value's data path. Doing the construction here (instead of ruamel's round-trip
loader) gives exact positions for scalars, lets us bound alias expansion before building
anything, and keeps loading fast.

Hostile input stays harmless: only regular files of at most :data:`MAX_FILE_BYTES` are read
(:func:`storyboard.core.inputs.read_capped`: a FIFO or ``/dev/zero`` is refused unread); nesting is
measured before anything composes the text (:func:`_too_deep`: libyaml's composer recurses in
C and overflowed its stack at 30,000 levels); the size of the document *after* alias
expansion, in values and in characters of text, is computed on the node graph (memoised, so
the "billion laughs" file costs microseconds) and refused past :data:`MAX_NODES` or
:data:`MAX_TEXT`; recursive aliases, nesting past :data:`MAX_DEPTH` (merged mappings count as
a level) and half surrogate pairs are errors, and every YAML error becomes a positioned
diagnostic. Includes merge ``elements`` and ``vars``; a name defined twice is an error naming
both places, and an include cycle is an error that prints the chain.
"""

from __future__ import annotations

import os
import re
import unicodedata
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from msgspec import Struct, field
from ruamel.yaml import YAML
from ruamel.yaml.constructor import SafeConstructor
from ruamel.yaml.error import MarkedYAMLError, ReusedAnchorWarning, YAMLError
from ruamel.yaml.events import CollectionEndEvent, CollectionStartEvent
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from ruamel.yaml.resolver import VersionedResolver
from ruamel.yaml.tag import Tag

from storyboard.core.diagnostics import (
    DataPath,
    Diagnostic,
    Position,
    SourceMap,
    did_you_mean,
    display_path,
)
from storyboard.core.errors import InputError
from storyboard.core.inputs import NAME_MAX, NotAFile, TooLarge, read_capped
from storyboard.core.lazy import compiled_when_used
from storyboard.core.memory import collector_paused, kept_until_exit
from storyboard.core.project import find_project_root, real
from storyboard.language.model import Storyboard, top_level_keys

MAX_FILE_BYTES = 8 * 1024 * 1024
"""Largest storyboard or include file read (8 MiB: a 2,000-shot storyboard is about 1.5 MiB)."""
MAX_NODES = 1_000_000
"""Largest document, counted in YAML nodes after alias expansion."""
MAX_TEXT = 2 * MAX_FILE_BYTES
"""Most characters of text a document holds after alias expansion (twice the largest file:
a file without aliases holds at most one)."""
MAX_DEPTH = 64
"""Deepest nesting of mappings and sequences."""
INCLUDE_KEYS = ("include", "vars", "elements")
"""The keys an included file may hold."""
MERGED_KEYS = ("vars", "elements")
STORYBOARD_KEYS = frozenset(top_level_keys(Storyboard))
_INCLUDE_KEYS = "'include', 'vars' and 'elements'"

_TAG = "tag:yaml.org,2002:"
_STR, _INT, _FLOAT, _BOOL, _NULL = (_TAG + k for k in ("str", "int", "float", "bool", "null"))
_SEQ, _MAP, _MERGE, _TIMESTAMP, _BINARY = (
    _TAG + k for k in ("seq", "map", "merge", "timestamp", "binary")
)


class Document(Struct, frozen=True):
    """A loaded storyboard: plain data with includes merged, and where everything came from.

    Attributes:
        path: absolute path of the storyboard file.
        project_root: the folder no local file may leave.
        data: the merged document as plain dicts, lists and scalars.
        source_map: the position of every key and value of ``data``.
        files: every file read, the storyboard first, then includes in load order.
        file_by_name: the absolute path of each file by the name positions show.
    """

    path: Path
    project_root: Path
    data: dict[str, Any]
    source_map: SourceMap
    files: tuple[Path, ...]
    file_by_name: dict[str, Path] = field(default_factory=dict)

    def file_of(self, data_path: DataPath) -> Path:
        """The file that holds the value at ``data_path`` (for resolving relative paths)."""
        name = self.source_map.value(data_path).file
        return self.file_by_name.get(name, self.path)


MAX_STEM_BYTES = NAME_MAX - len(".") - len(".lock") - len(".storyboard-tmp")
"""The longest NAME of a storyboard ``NAME.yaml``: a build writes its lock file through
``.NAME.lock.storyboard-tmp``, the longest name it makes from NAME alone (a backend's records,
``NAME.BACKEND.json``, are checked by the build, which knows the backend)."""


def check_storyboard_name(path: Path) -> Diagnostic | None:
    """Why ``path``'s name makes no build folder (``build/NAME``), lock file (``NAME.lock``)
    and journal, or ``None``.

    NAME, the name without its extension, must be a plain folder name: not only dots
    (``..yaml`` would build in ``build/.``, ``...yaml`` in ``build/..``, the project itself),
    no path separator or control character, not ``.git`` or ``.storyboard``, and at most
    :data:`MAX_STEM_BYTES` long.
    """
    stem = path.stem
    problem = None
    if not stem.strip(".") or not stem.strip():
        problem = "is only dots or blanks before its extension"
    elif "/" in stem or "\\" in stem:
        problem = "holds a path separator"
    elif any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in stem):
        problem = "holds a control character"
    elif stem.lower() in (".git", ".storyboard"):
        problem = f"is {stem}, a folder git or storyboard keeps"
    elif (size := len(os.fsencode(stem))) > MAX_STEM_BYTES:
        problem = (
            f"is {size} bytes long before its extension, and the longest name a build writes "
            f"from it (.NAME.lock.storyboard-tmp, the lock file's while it is written) may have "
            f"at most {NAME_MAX}: NAME at most {MAX_STEM_BYTES}"
        )
    if problem is None:
        return None
    return Diagnostic(
        Position(display_path(path), 1, 1),
        f"the file name {path.name!r} {problem}, so it makes no build folder "
        f"(build/NAME, NAME.lock): rename the storyboard (letters, digits, '-', '_', '.')",
    )


def link_out_of_project(path: Path, root: Path) -> Diagnostic | None:
    """Why storyboard will not read or write ``path``, which lies outside the project at
    ``root`` (a symlink to a file outside, mostly), or ``None``."""
    if is_inside(path, root):
        return None
    target = Path(os.path.realpath(path))
    if target == path.absolute():
        problem = f"this file is outside the project {root}"
    else:
        problem = (
            f"this file is a symlink to {target}, outside the project {root}: storyboard does not "
            f"follow a symlink out of the project (name the file itself, or copy it in)"
        )
    return Diagnostic(Position(display_path(path), 1, 1), problem)


def check_inside_project(path: Path) -> None:
    """Refuse a file to read or write that lies outside its project (:func:`link_out_of_project`).

    Raises:
        InputError: it does.
    """
    problem = link_out_of_project(path, find_project_root(path))
    if problem is not None:
        raise InputError([problem])


def hidden_part(path: Path, root: Path) -> str | None:
    """The first hidden name (``.env``, ``.git``, ``.aws``...) on the way from the project
    folder ``root`` to ``path``, symlinks followed, or None: what a storyboard or a template
    reads from there would be sent in prompts (a home folder can be a project)."""
    try:
        parts = real(path).relative_to(real(root)).parts
    except ValueError:
        return None
    return next((p for p in parts if p.startswith(".")), None)


def is_inside(path: Path, root: Path) -> bool:
    """Whether ``path`` (symlinks resolved) lies inside ``root``."""
    try:
        real(path).relative_to(real(root))
    except ValueError:
        return False
    return True


def load_document(path: str | os.PathLike[str], *, project_root: Path | None = None) -> Document:
    """Load a storyboard and its includes.

    Args:
        path: the storyboard file.
        project_root: the folder local files must stay in; found from ``path`` if omitted.

    Returns:
        The merged :class:`Document`.

    Raises:
        InputError: with every problem found (syntax, size, aliases, includes).
    """
    main = Path(path).absolute()
    named = check_storyboard_name(main)
    if named is not None:
        raise InputError([named])
    root = real(project_root) if project_root else find_project_root(main)
    outside = link_out_of_project(main, root)
    if outside is not None:
        raise InputError([outside])
    loader = _Loader(root)
    loaded = loader.load_file(main, None)
    if loaded is None:
        raise InputError(loader.diagnostics)
    data, smap = loaded
    if not isinstance(data, dict):
        raise InputError.at(
            smap.value(()),
            f"a storyboard must be a mapping of keys to values, not {_kind(data)}",
        )
    loader.merge_includes(main, data, smap, chain=(real(main),))
    if loader.diagnostics:
        raise InputError(loader.diagnostics)
    document = Document(
        path=main,
        project_root=root,
        data=data,
        source_map=smap,
        files=tuple(loader.files),
        file_by_name=loader.file_by_name,
    )
    # a short command keeps the document until its process ends: out of the collector's reach
    kept_until_exit()
    return document


class _Loader:
    """Holds the diagnostics and bookkeeping of one load (the storyboard and its includes)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.diagnostics: list[Diagnostic] = []
        self._reported: set[Diagnostic] = set()
        self.files: list[Path] = []
        self.included: set[Path] = set()
        self.file_by_name: dict[str, Path] = {}
        # libyaml (ruamel.yaml.clib) composes about ten times faster than the pure-Python
        # parser; errors are parsed again with the pure parser, whose messages are clearer.
        self._fast = YAML(typ="safe", pure=False)
        self._fast.Resolver = _LibyamlResolver
        self._yaml = YAML(typ="safe", pure=True)
        self._yaml.Resolver = _Yaml12Resolver
        self._scalars: SafeConstructor = self._yaml.constructor

    def error(self, position: Position | None, message: str) -> None:
        diagnostic = Diagnostic(position, message)
        if diagnostic not in self._reported:  # a node reached through aliases is built again
            self._reported.add(diagnostic)
            self.diagnostics.append(diagnostic)

    # -- one file ---------------------------------------------------------------------------

    def load_file(self, path: Path, named_at: Position | None) -> tuple[Any, SourceMap] | None:
        """Read, compose and construct one YAML file; ``None`` (with diagnostics) on failure.

        The garbage collector waits until the file's nodes are freed (when :meth:`_load_file`
        returns): a pass while they are alive would walk them all for nothing."""
        with collector_paused():
            return self._load_file(path, named_at)

    def _load_file(self, path: Path, named_at: Position | None) -> tuple[Any, SourceMap] | None:
        name = display_path(path)
        top = Position(name, 1, 1)
        raw = self._read(path, name, named_at or top)
        if raw is None:
            return None
        self.files.append(path)
        self.file_by_name[name] = path
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = raw[: exc.start].count(b"\n") + 1
            col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
            self.error(Position(name, line, col), "file is not UTF-8 text")
            return None
        too_deep = _too_deep(self._fast, raw, text, name)
        if too_deep is not None:
            self.error(too_deep, f"nesting deeper than {MAX_DEPTH} levels")
            return None
        try:
            node = _compose(self._fast, self._yaml, text)
        except MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            where = Position(name, mark.line + 1, mark.column + 1) if mark else top
            problem = _syntax_problem(exc, name)
            alias = re.fullmatch(r"found undefined alias '(.*)'", problem)
            if alias:  # a misspelt anchor name
                problem += did_you_mean(alias.group(1), self._yaml.composer.anchors)
            self.error(where, f"YAML syntax error: {problem}")
            return None
        except YAMLError as exc:  # reader errors: control characters and the like
            self.error(_reader_position(name, text, exc), f"YAML error: {_first_line(exc)}")
            return None
        except RecursionError:
            self.error(top, "YAML nesting is too deep")
            return None
        smap = SourceMap(default=top)
        if node is None:
            self.error(top, "file is empty")
            return None
        # Without an anchor nothing is shared: the builder counts the nodes as it goes.
        if _MAYBE_ANCHOR.search(text) and _expanded_size(node, self, name) is None:
            return None
        try:
            builder = _Builder(self, name, smap)
            # a single character is found at memchr speed; "\\u" takes 100 times longer
            builder.escapes = "\\" in text and ("\\u" in text or "\\U" in text)
            return builder.build(node, (), 0), smap
        except _TooLarge as exc:
            self.error(exc.position, _too_large())
            return None

    def _read(self, path: Path, name: str, where: Position) -> bytes | None:
        """The file's bytes; ``None`` (reported at ``where``) if it is not a regular file of
        at most :data:`MAX_FILE_BYTES`, or cannot be read."""
        try:
            return read_capped(path, MAX_FILE_BYTES)
        except TooLarge as exc:
            self.error(
                Position(name, 1, 1),
                f"file is {exc.shown}; the largest file read is {MAX_FILE_BYTES:,}",
            )
        except NotAFile as exc:
            self.error(where, f"'{name}' is {exc.kind}, not a file")
        except OSError as exc:
            self.error(where, f"cannot read '{name}': {exc.strerror or exc}")
        return None

    # -- includes ---------------------------------------------------------------------------

    def merge_includes(
        self, including: Path, data: dict[str, Any], smap: SourceMap, chain: tuple[Path, ...]
    ) -> None:
        """Load every file ``data['include']`` names and merge its vars and elements in."""
        entries = data.get("include")
        if entries is None:
            return
        if not isinstance(entries, list):
            self.error(smap.value(("include",)), "include: expected a list of file names")
            return
        for index, entry in enumerate(entries):
            where = smap.value(("include", index))
            if not isinstance(entry, str) or not entry:
                self.error(where, f"include[{index}]: expected a file name, got {_kind(entry)}")
                continue
            target = (including.parent / entry).absolute()
            if not is_inside(target, self.root):
                self.error(where, f"include '{entry}' is outside the project folder {self.root}")
                continue
            hidden = hidden_part(target, self.root)
            if hidden is not None:
                self.error(
                    where,
                    f"include '{entry}' is in a hidden file or folder ('{hidden}'): a storyboard "
                    "is not read from one (its vars are sent in prompts)",
                )
                continue
            if real(target) in self.included and real(target) not in chain:
                continue  # a diamond: this file's names are merged in already
            if real(target) in chain:
                cycle = " -> ".join(display_path(p) for p in (*chain, real(target)))
                self.error(where, f"include cycle: {cycle}")
                continue
            try:
                folder, found = target.is_dir(), target.exists()
            except OSError as exc:  # a name too long for the file system, and the like
                self.error(where, f"cannot read include '{entry}': {exc.strerror or exc}")
                continue
            if folder:
                self.error(where, f"include '{entry}' is a folder, not a file")
                continue
            if not found:
                self.error(where, f"included file '{entry}' not found")
                continue
            self.included.add(real(target))
            loaded = self.load_file(target, where)
            if loaded is None:
                continue
            inc_data, inc_map = loaded
            if not isinstance(inc_data, dict):
                self.error(
                    inc_map.value(()), f"an included file must be a mapping, not {_kind(inc_data)}"
                )
                continue
            for key in inc_data:
                if key in INCLUDE_KEYS:
                    continue
                if key in STORYBOARD_KEYS:
                    message = f"'{key}' is not allowed in an included file"
                else:
                    message = f"unknown key '{key}' in an included file"
                hint = did_you_mean(key, INCLUDE_KEYS) or f" (it may hold only {_INCLUDE_KEYS})"
                self.error(inc_map.key((key,)), message + hint)
            self.merge_includes(target, inc_data, inc_map, (*chain, real(target)))
            for section in MERGED_KEYS:
                self._merge_section(section, data, smap, inc_data, inc_map)

    def _merge_section(
        self,
        section: str,
        data: dict[str, Any],
        smap: SourceMap,
        inc_data: dict[str, Any],
        inc_map: SourceMap,
    ) -> None:
        incoming = inc_data.get(section)
        if incoming is None:
            return
        if not isinstance(incoming, dict):
            self.error(inc_map.value((section,)), f"{section}: expected a mapping")
            return
        target = data.setdefault(section, {})
        if not isinstance(target, dict):
            return  # reported by validation of the including file
        kind = "element" if section == "elements" else "variable"
        for name, value in incoming.items():
            if name in target:
                self.error(
                    inc_map.key((section, name)),
                    f"{kind} '{name}' is defined twice: here and at {smap.key((section, name))}",
                )
                continue
            target[name] = value
            _copy_positions(inc_map, (section, name), smap)


# -- construction ----------------------------------------------------------------------------


def _compose(fast: YAML, careful: YAML, text: str) -> Node | None:
    """Compose with libyaml; on any error, compose again with the pure parser (which raises
    the error we report, or succeeds where libyaml is stricter)."""
    try:
        node: Node | None = fast.compose(text)
    except (YAMLError, RecursionError):
        with warnings.catch_warnings():
            # YAML 1.2 lets an anchor be defined again (aliases take the latest); libyaml
            # refuses it, the pure parser warns on stderr, outside any diagnostic.
            warnings.simplefilter("ignore", ReusedAnchorWarning)
            node = careful.compose(text)
    return node


# -- nesting, before composing -----------------------------------------------------------------

SAFE_COMPOSE_DEPTH = 400
"""Nesting libyaml's composer is sure to survive. It recurses in C, about 350 bytes of stack a
level (measured: 30,000 levels overflow the 8 MiB main stack; 4,000 overflow a 1 MiB one)."""
_BLOCK_PREFIX = 40
"""A line whose first 40 characters are blanks and ``-``/``?``/``:`` indicators."""
_STRUCTURE = b"[]{}\"'#\n\r\x85\xa8\xa9"
_OTHER_BYTES = bytes(b for b in range(256) if b not in _STRUCTURE)
_FLAT_PAIR = re.compile(rb"[\[{](?:[\[{][\]}])*[\]}]")
_PREFIX_BYTES = bytes(
    ord("x") if b in b" \t-?:" else ord("\n") if b in b"\n\r\x85\xa8\xa9" else ord("y")
    for b in range(256)
)


def _too_deep(fast: YAML, raw: bytes, text: str, name: str) -> Position | None:
    """Where the text nests deeper than :data:`MAX_DEPTH`, found before anything composes it;
    ``None`` when it does not, or when it does not parse (the composer reports that).

    A cheap bound comes first (:func:`_nesting_bound`): when it is small the composer is safe,
    and the builder reports any level past the limit. Otherwise libyaml's parser, which keeps
    its stack on the heap, walks the events and stops at the first level past the limit."""
    if _nesting_bound(raw) <= SAFE_COMPOSE_DEPTH:
        return None
    depth = 0
    try:
        for event in fast.parse(text):
            if isinstance(event, CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    mark = event.start_mark
                    return Position(name, mark.line + 1, mark.column + 1)
            elif isinstance(event, CollectionEndEvent):
                depth -= 1
    except YAMLError:
        return None  # composing stops at the same place, and says what is wrong
    return None


def _nesting_bound(raw: bytes) -> int:
    """An upper bound of how deep the YAML in ``raw`` nests, computed in C-speed passes.

    Flow collections: every level opens with a ``[`` or ``{``, so their count bounds the
    depth, less the pairs that cannot add to it: a bracket pair on one line that holds only
    text without brackets, quotes or ``#`` (``{{ name }}``, ``[a, b]``, or one such pair
    inside another). If its opening bracket is real YAML, everything up to its closing one
    is flow content that must close it (a plain scalar cannot hold a bracket there);
    otherwise the whole pair is text. Each pair adds at most 2 levels where it is.

    Block collections: each level starts further right than its parent, or at the same
    column for a sequence inside a mapping, after nothing but blanks and ``-``/``?``/``:``
    indicators on its line. Unless a line starts with :data:`_BLOCK_PREFIX` such characters,
    block nesting is under twice that. (Bytes that may end a line in YAML, and the UTF-8
    bytes of NEL, LS and PS wherever they occur, count as line ends: more lines, never fewer.)
    """
    raw = raw.removeprefix(b"\xef\xbb\xbf")
    prefixes = raw.translate(_PREFIX_BYTES)
    wide = b"x" * _BLOCK_PREFIX
    if prefixes.startswith(wide) or b"\n" + wide in prefixes:
        return len(raw)  # deep blocks, or only a wide indent: let the parser tell
    structure = raw.translate(None, _OTHER_BYTES)
    if structure.count(b"[") + structure.count(b"{") > SAFE_COMPOSE_DEPTH:
        structure = _FLAT_PAIR.sub(b"", structure)
    return 2 * _BLOCK_PREFIX + structure.count(b"[") + structure.count(b"{") + 2


class _Yaml12Resolver(VersionedResolver):
    """The pure parser's resolver, and its constructor's: every file is YAML 1.2, the
    language's version (docs/language.md). With ruamel's own, a ``%YAML 1.1`` directive made
    ``0123`` octal and ``yes`` true, but only in a file libyaml refused (an anchor defined
    twice, say), so one unrelated line changed the values."""

    @property
    def processing_version(self) -> Any:
        return (1, 2)


class _LibyamlResolver(_Yaml12Resolver):
    """The resolver of the libyaml composer, which does not pass a ``%YAML`` directive on
    either: YAML 1.2's rules are found once, not again for every scalar (a fifth of
    composing a long storyboard)."""

    _rules: Any = None

    @property
    def versioned_resolver(self) -> Any:
        if self._rules is None:
            self._rules = VersionedResolver.versioned_resolver.fget(self)  # type: ignore[attr-defined]
        return self._rules

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        """ruamel's ``resolve``, the same tag for every node, with a scalar's path written
        out: its rules found by its first character and, where none matches (most text), the
        default tag given at once (a fifth of composing a long storyboard, in property
        lookups). Anything else, or with path resolvers added, is left to ruamel's."""
        if kind is ScalarNode and not self.yaml_path_resolvers:
            if implicit[0]:
                for tag, regexp in self.versioned_resolver.get(value[:1], ()):
                    if regexp.match(value):
                        return Tag(suffix=tag)
            return self.DEFAULT_SCALAR_TAG
        return super().resolve(kind, value, implicit)


def _tag(node: Node) -> str | None:
    """``node.tag``, for less: a tag the resolver gave (no handle, and nothing ``%``-escaped
    in it) is its suffix as it is; ruamel's ``tag`` makes the text again on every read."""
    ctag = node.ctag
    if ctag is None:
        return None
    suffix = ctag.suffix
    if ctag.handle is None and isinstance(suffix, str) and "%" not in suffix:
        return suffix
    return node.tag


class _Builder:
    """Builds plain values from a composed node graph, recording positions."""

    def __init__(self, loader: _Loader, name: str, smap: SourceMap) -> None:
        self.loader = loader
        self.name = name
        self.smap = smap
        self.count = 0
        self.merges_too_deep = False
        self.escapes = False
        """Whether the text has ``\\u`` escapes, which may make lone surrogates."""
        self.merges: list[Node] = []
        """The merge keys (``<<``) being followed, outermost first."""

    def pos(self, node: Node) -> Position:
        mark = node.start_mark
        return Position(self.name, mark.line + 1, mark.column + 1)

    def build(self, node: Node, path: DataPath, depth: int) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise _TooLarge(self.pos(node))
        self.smap.values[path] = self.pos(node)
        if isinstance(node, ScalarNode):
            return self.scalar(node)
        if depth >= MAX_DEPTH:
            self.loader.error(self.pos(node), f"nesting deeper than {MAX_DEPTH} levels")
            return None
        if _tag(node) not in (_SEQ, _MAP):
            self.loader.error(self.pos(node), f"unsupported YAML tag '{_shown(node.tag)}'")
        if isinstance(node, SequenceNode):
            return [self.build(item, (*path, i), depth + 1) for i, item in enumerate(node.value)]
        if isinstance(node, MappingNode):
            return self.mapping(node, path, depth)
        return None  # pragma: no cover - ruamel composes only these three kinds

    def mapping(self, node: MappingNode, path: DataPath, depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        pairs = node.value
        tags = [_tag(key_node) for key_node, _ in pairs]
        # YAML merge keys (`<<: *defaults`) first, so the explicit keys below override
        # both their values and their recorded positions.
        for (key_node, value_node), tag in zip(pairs, tags, strict=True) if _MERGE in tags else ():
            if tag != _MERGE:
                continue
            sources = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
            # of a list of merged mappings the first that has a key gives it (YAML's merge
            # type): merged last to first, each overrides the ones after it
            for source in reversed(sources):
                if not isinstance(source, MappingNode):
                    self.loader.error(self.pos(source), "a merge key ('<<') needs a mapping")
                    continue
                if not self.merge_within_depth(key_node, depth):
                    continue
                self.merges.append(key_node)
                out.update(self.mapping(source, path, depth + 1))
                self.merges.pop()
        explicit: dict[str, Position] = {}
        keys = self.smap.keys
        for (key_node, value_node), tag in zip(pairs, tags, strict=True):
            if tag == _MERGE:
                continue
            if not isinstance(key_node, ScalarNode):
                self.loader.error(self.pos(key_node), "a key must be plain text")
                continue
            key = key_node.value if tag == _STR and not self.escapes else self.scalar(key_node)
            if not isinstance(key, str):
                key = key_node.value  # `1: x`, `true: x`: keep the text as written
            if key in explicit:
                self.loader.error(
                    self.pos(key_node), f"duplicate key '{key}' (first defined at {explicit[key]})"
                )
                continue
            at = (*path, key)
            explicit[key] = keys[at] = self.pos(key_node)
            out[key] = self.build(value_node, at, depth + 1)
        return out

    def merge_within_depth(self, key_node: Node, depth: int) -> bool:
        """Whether a mapping merged at ``depth`` stays within :data:`MAX_DEPTH`: a merged
        mapping counts as a level, so a chain of merges (``a`` merges ``b``, which merges
        ``c``...) is bounded like any nesting. Reported once per file, at the first merge
        key of the chain: every mapping further along a long chain is too deep as well."""
        if depth + 1 < MAX_DEPTH:
            return True
        if not self.merges_too_deep:
            self.merges_too_deep = True
            self.loader.error(
                self.pos((self.merges or [key_node])[0]),
                f"nesting deeper than {MAX_DEPTH} levels: the mapping merged here with '<<' "
                "merges others in turn, and each merge counts as a level",
            )
        return False

    def surrogates(self, node: ScalarNode, value: str) -> str:
        """Double-quoted text with ``\\u`` escapes of surrogates: a pair (``"\\ud83d\\ude00"``,
        as JSON writes an emoji) is the character it encodes; half of one is an error, as no
        file can hold it and the build would fail writing it (after paying)."""
        if not _SURROGATE().search(value):
            return value
        units = value.encode("utf-16-le", "surrogatepass")
        try:
            return units.decode("utf-16-le")
        except UnicodeDecodeError as exc:
            half = int.from_bytes(units[exc.start : exc.start + 2], "little")
            self.loader.error(
                self.pos(node),
                f"text holds a lone surrogate (U+{half:04X}), half of a character that no "
                "file can hold: write the character itself",
            )
            return value

    def scalar(self, node: ScalarNode) -> Any:
        tag = _tag(node)
        value: str = node.value
        try:
            if tag == _STR:
                if self.escapes and node.style == '"':
                    return self.surrogates(node, value)
                return value
            if tag == _INT:
                if value.isdigit() and value.isascii() and (value[0] != "0" or value == "0"):
                    return int(value)  # what ruamel reads it as, in either YAML version
                return self.loader._scalars.construct_yaml_int(node)
            if tag == _FLOAT:
                return self.loader._scalars.construct_yaml_float(node)
            if tag == _BOOL:
                return self.loader._scalars.construct_yaml_bool(node)
            if tag == _NULL:
                return None
            if tag in (_TIMESTAMP, _BINARY):
                return value  # dates and the like are text to a storyboard
        except (ValueError, YAMLError):
            kind = str(tag).rsplit(":", 1)[-1]
            shown = value if len(value) <= 40 else value[:37] + "..."
            digits = sum(c.isdigit() for c in value)
            reason = " (too many digits)" if kind in ("int", "float") and digits > 4000 else ""
            self.loader.error(self.pos(node), f"cannot read '{shown}' as {kind}{reason}")
            return value
        self.loader.error(self.pos(node), f"unsupported YAML tag '{_shown(tag)}'")
        return value


class _TooLarge(Exception):
    def __init__(self, position: Position) -> None:
        self.position = position


def _too_large() -> str:
    return (
        f"document too large: expands to more than {MAX_NODES:,} values "
        "(are aliases nested many times?)"
    )


_SURROGATE = compiled_when_used("[\ud800-\udfff]")
_MAYBE_ANCHOR = re.compile(r"&[^\s,\[\]{}]")
"""Where an anchor (``&name``) may be; matches more than anchors (``AT&T``), never fewer."""


def _expanded_size(root: Node, loader: _Loader, name: str) -> int | None:
    """Nodes the document holds once aliases are expanded; ``None`` (reported) when too many.

    Memoised on node identity, so shared (aliased) subtrees are counted in O(1) per use.
    """
    sizes: dict[int, int] = {}
    texts: dict[int, int] = {}  # the characters of text, expanded as well
    on_path: set[int] = set()

    def pos(node: Node) -> Position:
        return Position(name, node.start_mark.line + 1, node.start_mark.column + 1)

    # Iterative post-order walk: the graph may be deep or cyclic.
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            on_path.discard(key)
            total = 1 + sum(sizes[id(child)] for child in _children(node))
            if total > MAX_NODES:
                loader.error(pos(node), _too_large())
                return None
            text = _text_of(node) + sum(texts[id(child)] for child in _children(node))
            if text > MAX_TEXT:
                loader.error(pos(node), _too_much_text())
                return None
            sizes[key], texts[key] = total, text
            continue
        if key in sizes:
            continue
        if key in on_path:
            loader.error(pos(node), "recursive alias: a node contains itself")
            return None
        on_path.add(key)
        stack.append((node, True))
        for child in _children(node):
            if id(child) in on_path:
                loader.error(pos(child), "recursive alias: a node contains itself")
                return None
            if id(child) not in sizes:
                stack.append((child, False))
    return sizes[id(root)]


def _text_of(node: Node) -> int:
    return len(node.value) if isinstance(node, ScalarNode) else 0


def _too_much_text() -> str:
    return (
        f"document too large: expands to more than {MAX_TEXT:,} characters of text "
        "(is a long text repeated through many aliases?)"
    )


def _children(node: Node) -> Iterator[Node]:
    if isinstance(node, SequenceNode):
        yield from node.value
    elif isinstance(node, MappingNode):
        for key, value in node.value:
            yield key
            yield value


def _copy_positions(source: SourceMap, prefix: DataPath, target: SourceMap) -> None:
    """Copy the positions under ``prefix`` from ``source`` into ``target`` (same paths)."""
    n = len(prefix)
    for path, pos in source.values.items():
        if path[:n] == prefix:
            target.values[path] = pos
    for path, pos in source.keys.items():
        if path[:n] == prefix:
            target.keys[path] = pos


_PROBLEMS = {
    "mapping values are not allowed here": (
        "':' is not allowed here (put a value that holds ': ' in quotes)"
    ),
    "found character '\\t' that cannot start any token": (
        "a tab character is not allowed here (indent YAML with spaces, not tabs)"
    ),
    "found unexpected end of stream": "unexpected end of file",
}
_CONTEXTS = {
    "while parsing a flow sequence": "the list '[' that starts at",
    "while parsing a flow mapping": "the mapping '{' that starts at",
    "while parsing a block mapping": "the mapping that starts at",
    "while parsing a block collection": "the list that starts at",
    "while scanning a quoted scalar": "the quoted text that starts at",
    "while scanning a double-quoted scalar": "the quoted text that starts at",
    "while scanning a single-quoted scalar": "the quoted text that starts at",
}


def _syntax_problem(exc: MarkedYAMLError, name: str) -> str:
    """ruamel's problem in a writer's words, naming where the enclosing construct starts."""
    problem = exc.problem or ""
    context = exc.context or ""
    if problem.startswith("but "):  # "expected a single document ..., but found another"
        return f"{context}, {problem}"
    problem = _PROBLEMS.get(problem, problem) or context or "invalid YAML"
    mark = exc.context_mark
    if not context or mark is None:
        return problem
    start = Position(name, mark.line + 1, mark.column + 1)
    if context not in _CONTEXTS:
        return f"{problem} ({context} at {start})"
    opened = f"{_CONTEXTS[context]} {start}"
    if problem.startswith("expected <block end>"):
        return f"bad indentation: this line does not line up with {opened}"
    return f"{problem} (in {opened})"


def _reader_position(name: str, text: str, exc: YAMLError) -> Position:
    index = getattr(exc, "position", None)
    if isinstance(index, int):
        line = text.count("\n", 0, index) + 1
        col = index - (text.rfind("\n", 0, index) + 1) + 1
        return Position(name, line, col)
    return Position(name, 1, 1)


def _shown(tag: Any) -> str:
    """``!!python/object`` for ``tag:yaml.org,2002:python/object``, as it was written."""
    return "!!" + tag[len(_TAG) :] if str(tag).startswith(_TAG) else str(tag)


def _kind(value: Any) -> str:
    """How a value that has the wrong type is named in a message."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing (null)"
    if isinstance(value, str):
        return f"the text {value!r}" if value else "empty text"
    return repr(value)


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
