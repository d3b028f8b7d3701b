"""Stage 3, render prompts: Jinja2 in a sandbox, undefined names are errors.

A prompt sees every name of ``vars`` (also as ``vars.NAME``), ``shot`` (``id``, ``duration``,
``index`` counted from 1, ``sequence``) and ``storyboard`` (``title``). ``{% include %}``
reads templates relative to the storyboard's folder and never outside the project.
Element references (``<<<name>>>``) are not Jinja syntax and pass through unchanged. A prompt
also sees ``dialogue``: the shot's lines as the model's profile writes them (see
:mod:`storyboard.language.dialogue`); :attr:`PromptRenderer.dialogue_used` says whether the template
named it, so that the lines are not written again after the prompt.

The sandbox blocks attribute tricks (``''.__class__``) and changes to lists and dicts, and
this module bounds what a template can spend, as values are made rather than after:

- every value a template builds (with ``*``, ``+``, ``~``, ``%``, a slice, a call or a
  filter) and every piece it writes, literal text included, is measured as the text it
  prints as (a list with all its items) and refused past :data:`MAX_RESULT` characters;
  where one operation could build a large result at once (``'x' * 10**9``, ``[...] *
  99999``, a ``join`` with a long separator, ``'%999999999s'``) it is refused before it is
  built. What a render builds in all, including what it drops and the buffers of ``{%
  set %}``, ``{% filter %}``, macros and ``{% call %}``, is counted against
  :data:`MAX_BUILT`; no value larger than :data:`MAX_RESULT` (a long variable, a list of
  aliases) may be passed to a filter, a call or an operator, or written out;
- every loop item, ``range`` item and call takes a step from :data:`MAX_STEPS`; a render
  stops after :data:`PROMPT_SECONDS`, and all of them after :data:`DOCUMENT_SECONDS`;
- a template of more than :data:`MAX_TEMPLATE_TOKENS` tokens is not compiled (compiling
  costs about 2 KB a token), and only :data:`TEMPLATES_KEPT` compiled templates are kept.

A template prints only data (text, numbers, and lists and mappings of them): writing, ``~``,
``%``, ``str.format`` (its fields too) and the filters that print refuse a method, a class, a
generator or a Jinja object, whose Python repr (``<... object at 0x7f...>``) is no text of the
storyboard's.

Every refusal is a :class:`TemplateProblem` at its line, which ``check`` reports at its
``FILE:LINE:COL``. docs/language.md documents the budget and the memory it keeps a prompt
within.

Compiled templates are cached by their structure: compiling costs far more than rendering
(about 4 ms a prompt against 0.2 ms), and the prompts of a long storyboard share structure
(the same loops, conditions and includes) around prose of their own. A prompt's key is its
token stream, every piece of literal text replaced by a mark (the tokens' lines kept, so that
errors keep their lines); the template compiled for the first prompt of a structure reads its
text from the render (:meth:`_BoundedSandbox.datum`) and is re-used for the next ones. The
sandbox and the budget are the same: the text is written through the same guarded output.
A tag the lexer reads alone as exactly one tag stands in the key whole, with its line, for
its tokens: it is lexed once a check, not once a prompt (:func:`_split_at_tags`).

Most prompts use Jinja only to put values in: ``{{ name }}``, ``{{ shot.index }}``,
``{{ look | lower }}``. Such a prompt is rendered without compiling it (compiling one costs
about 40 times rendering it; see ``docs/performance.md``, P5) when every value it names is
found and is a plain string, number, boolean or none, and every filter takes nothing but the
value: the result is what Jinja renders, and a test holds the two to it. Anything else,
an undefined name included, goes through Jinja, which renders it or says where it fails.
"""

from __future__ import annotations

import functools
import itertools
import math
import os
import re
import time
import types
from collections import OrderedDict
from collections.abc import (
    Callable,
    ItemsView,
    Iterable,
    Iterator,
    KeysView,
    Mapping,
    Sized,
    ValuesView,
)
from pathlib import Path
from typing import Any, ClassVar

import jinja2
from jinja2 import nodes
from jinja2.environment import TemplateModule
from jinja2.exceptions import SecurityError, TemplateNotFound, TemplateSyntaxError
from jinja2.lexer import Lexer, _Rule, get_lexer
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import Namespace, missing
from jinja2.visitor import NodeTransformer
from msgspec import Struct
from msgspec.structs import asdict

from storyboard.core.diagnostics import closest, did_you_mean
from storyboard.core.inputs import NotAFile, TooLarge, read_capped
from storyboard.core.lazy import compiled_when_used
from storyboard.language.dialogue import DIALOGUE
from storyboard.language.load import hidden_part

MAX_RESULT = 100_000
"""Largest value a template may build, write or pass on, in characters as it prints (a text's
length, a list's ``[...]`` with all its items)."""
MAX_BUILT = 2_000_000
"""Characters one render may build in all: every value it makes and every piece it writes,
also those it then drops or joins into a larger one."""
MAX_DIGITS = 4_300
"""Most digits of a number a template may make (Python's own limit for printing one)."""
MAX_STEPS = 100_000
"""Loop items, ``range`` items and calls one render may take."""
PROMPT_SECONDS = 2.0
"""Longest one prompt may take to compile and render."""
DOCUMENT_SECONDS = 10.0
"""Longest all the prompts of a storyboard may take to compile and render, together."""
MAX_TEMPLATE_TOKENS = 10_000
"""Most tokens (names, operators, pieces of text) a prompt or included template may have:
compiling a template costs about 2 KB of memory a token, for a moment."""
MAX_TEMPLATE_BYTES = 1024 * 1024
TEMPLATES_KEPT = 32
"""Compiled prompts, and compiled included templates, kept for re-use (each the last used)."""

_PROMPT = "<template>"
"""The file name Jinja gives a template made from a string: the prompt itself."""


class TemplateProblem(Exception):
    """A prompt could not be rendered.

    Attributes:
        message: what is wrong, for the writer.
        file: the included template the problem is in; ``None`` for the prompt itself.
        line: the line of the problem in that template (1-based), if known.
        near: a piece of the template at the problem (a name, a tag), to find its column.
    """

    def __init__(
        self,
        message: str,
        line: int | None = None,
        file: Path | None = None,
        near: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.file = file
        self.near = near


class _ProjectLoader(jinja2.BaseLoader):
    """Loads ``{% include %}`` templates relative to one folder, never leaving the project."""

    def __init__(self, folder: Path, project_root: Path) -> None:
        self.folder = folder
        self.root = project_root.resolve()
        self.read: set[Path] = set()
        self.named: dict[Path, None] = {}
        """Every template asked for, as named from :attr:`folder` (found or not, links not
        followed): a file written there later, or a link there swapped, is read next time."""

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str, Callable[[], bool]]:
        if os.path.isabs(template) or template.startswith(("/", "\\")):
            raise SecurityError(
                f"'{template}' is an absolute path; name templates relative to the storyboard"
            )
        self.named.setdefault(self.folder / template, None)
        try:
            path = self.folder.joinpath(template).resolve()
        except (OSError, ValueError, RuntimeError) as exc:
            raise TemplateNotFound(template, f"cannot read template '{template}': {exc}") from exc
        if not path.is_relative_to(self.root):
            raise SecurityError(f"'{template}' is outside the project folder {self.root}")
        hidden = hidden_part(path, self.root)
        if hidden is not None:
            # What a template includes is sent in the prompt. A hidden file or folder holds
            # what no prompt should: `.env`, `.git/config`, and `.aws/`, `.ssh/` of a home
            # folder that is a project (a dotfiles repository, a ~/.storyboard)
            raise SecurityError(
                f"'{template}' is in a hidden file or folder ('{hidden}'): a template is not "
                "read from one (what it includes is sent in the prompt)"
            )
        if not path.exists():
            raise TemplateNotFound(template, f"template '{template}' not found{self._hint(path)}")
        try:
            text = read_capped(path, MAX_TEMPLATE_BYTES).decode("utf-8")
            source = text.replace("\r\n", "\n").replace("\r", "\n")  # as text mode reads it
            mtime = path.stat().st_mtime
        except TooLarge as exc:
            raise TemplateNotFound(
                template, f"template '{template}' is larger than {MAX_TEMPLATE_BYTES:,} bytes"
            ) from exc
        except NotAFile as exc:
            raise TemplateNotFound(template, f"template '{template}' is {exc.kind}") from exc
        except (OSError, UnicodeError) as exc:
            reason = "not UTF-8 text" if isinstance(exc, UnicodeError) else exc.strerror
            raise TemplateNotFound(
                template, f"cannot read template '{template}': {reason}"
            ) from exc
        self.read.add(path)
        return source, str(path), lambda: path.stat().st_mtime == mtime

    def _hint(self, path: Path) -> str:
        """`` (did you mean 'styles/noir.j2'?)`` from the files next to a missing one."""
        try:
            siblings = [p.name for p in path.parent.iterdir() if p.is_file()]
        except OSError:
            return ""
        near = closest(path.name, siblings)
        if near is None:
            return ""
        shown = Path(os.path.relpath(path.parent / near, self.folder)).as_posix()
        return f" (did you mean '{shown}'?)"


class _Guard(NodeTransformer):
    """Routes every output, loop, ``~`` and ``{% set %}`` block through the budget."""

    def visit_Output(self, node: nodes.Output) -> nodes.Node:
        # Each piece a template writes, literal text included, is counted as it is written:
        # a loop inside `{% set %}`, `{% filter %}`, a macro or `{% call %}` writes into a
        # buffer that is joined only at its end. One call per piece keeps its line number.
        self.generic_visit(node)
        node.nodes = [_env_call("emit", [child], child.lineno) for child in node.nodes]
        return node

    def visit_Getitem(self, node: nodes.Getitem) -> nodes.Node:
        # jinja slices with Python's own `[a:b]`, past the sandbox: a slice copies
        self.generic_visit(node)
        if not isinstance(node.arg, nodes.Slice):
            return node
        parts = [node.arg.start, node.arg.stop, node.arg.step]
        bounds = [p if p is not None else nodes.Const(None) for p in parts]
        return _env_call("bounded_slice", [node.node, *bounds], node.lineno)

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = _env_call("bounded_iter", [node.iter], node.lineno)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return _env_call("bounded_concat", list(node.nodes), node.lineno)

    def visit_AssignBlock(self, node: nodes.AssignBlock) -> nodes.Node:
        # `{% set x %}...{% endset %}` joins its output unseen; a filter on it sees the result.
        self.generic_visit(node)
        bound = nodes.Filter(None, "bounded", [], [], None, None, lineno=node.lineno)
        if node.filter is None:
            node.filter = bound
        else:  # `{% set x | upper %}`: bound the text before the writer's filters
            innermost = node.filter
            while isinstance(innermost.node, nodes.Filter):
                innermost = innermost.node
            innermost.node = bound
        return node


def _env_call(name: str, args: list[Any], lineno: int) -> nodes.Call:
    # An environment attribute, unlike a global name, cannot be redefined by a template.
    return nodes.Call(nodes.EnvironmentAttribute(name), args, [], None, None, lineno=lineno)


_PASSED = (jinja2.runtime.Context, nodes.EvalContext, jinja2.Environment)
"""What jinja passes first to filters marked pass_context and the like."""
_SIZED = frozenset(["center", "ljust", "rjust", "zfill", "indent", "expandtabs", "batch", "slice"])
"""Calls and filters whose whole-number arguments size their result."""
_FORMAT_SPEC = compiled_when_used(r"%(?:\([^)]*\))?[-#0 +]*(\d*)(?:\.(\d*))?|\{[^{}]*:([^{}]*)\}")
_LAZY = (Iterator, range, KeysView, ValuesView, ItemsView)
"""Values that hold nothing of their own: a view of a mapping, a range, a generator."""
_SEQUENCES = (list, tuple, set, frozenset, KeysView, ValuesView, ItemsView)
_PASSING = frozenset(
    [
        "attr",
        "default",
        "d",
        "list",
        "first",
        "last",
        "sort",
        "unique",
        "map",
        "select",
        "reject",
        "selectattr",
        "rejectattr",
        "batch",
        "slice",
        "sum",
        "min",
        "max",
        "groupby",
        "length",
        "count",
        "reverse",
        "random",
        "items",
        "dictsort",
        "tojson",
        "bounded",
    ]
)
"""Filters that pass a value's items on, or its size, without printing it: they may be given
any value (a generator, a loop); all others print what they are given."""


class _Budget:
    """What one render may still spend, and the text size of the values it has seen.

    Sizes are what a value prints as: a text's length, a list's ``[...]`` with every item,
    a number's digits. Containers are measured once per render (the sandbox lets no
    template change one) and at most up to the limit asked for, so measuring is cheap.
    """

    def __init__(self, deadline: float, seconds: float, by_document: bool) -> None:
        self.steps_left = MAX_STEPS
        self.built = 0
        self.deadline = deadline
        self.seconds = seconds
        self.by_document = by_document
        self._sizes: dict[int, tuple[Any, int]] = {}  # the value is kept: its id stays its own
        self._printable: dict[int, tuple[Any, bool]] = {}

    def step(self, count: int = 1) -> None:
        self.steps_left -= count
        if self.steps_left < 0:
            raise SecurityError(f"the template takes more than {MAX_STEPS:,} steps (loops, calls)")
        self.check_time()

    def check_time(self) -> None:
        if time.monotonic() > self.deadline:
            if self.by_document:
                raise _OutOfTime(
                    f"rendering the prompts takes more than {DOCUMENT_SECONDS:g} s in all; "
                    "the prompts after this one were not rendered"
                )
            raise _OutOfTime(f"the template takes more than {self.seconds:g} s to render")

    def charge(self, value: Any, what: str = "the template builds") -> Any:
        """Count ``value``, just built, against the budget; refuse it if it is too large."""
        if isinstance(value, _LAZY):
            return value
        size = self.size(value, MAX_RESULT)
        if size > MAX_RESULT:
            raise SecurityError(f"{what} a value of more than {MAX_RESULT:,} characters")
        self.built += size
        if self.built > MAX_BUILT:
            raise SecurityError(f"the template builds more than {MAX_BUILT:,} characters in all")
        self.check_time()
        return value

    def given(self, name: str, values: Iterable[Any]) -> None:
        """Refuse to pass a value too large to print to ``name`` (which may print it)."""
        for value in values:
            if self.size(value, MAX_RESULT) > MAX_RESULT:
                raise SecurityError(
                    f"{name} is given a value of more than {MAX_RESULT:,} characters"
                )

    def printed(self, what: str, values: Iterable[Any]) -> None:
        """Refuse to print (write, join, format) a value that is not data: a method, a
        class, a generator, a loop... prints as a Python object (``<built-in method upper
        of str object at 0x7f...>``), which is no text of the storyboard's and differs from
        run to run. Call after :meth:`given`, which bounds the values' size."""
        for value in values:
            if not self.printable(value):
                raise SecurityError(
                    f"{what} a Python object ({self._object(value)}), not text: only text, "
                    "numbers, and lists and mappings of them can be printed"
                )

    def _object(self, value: Any) -> str:
        """The type of what makes ``value`` not printable (itself, or an item inside)."""
        items = _contents(value)
        if items is None:
            return type(value).__name__
        inner = next((item for item in items if not self.printable(item)), None)
        return type(value).__name__ if inner is None else self._object(inner)

    def printable(self, value: Any) -> bool:
        """Whether ``value`` prints as data: text, a number, none, or a list, mapping or
        namespace of them (an undefined name is left to fail as it does)."""
        if value is None or isinstance(value, str | int | float | bytes | jinja2.Undefined):
            return True
        known = self._printable.get(id(value))
        if known is not None:
            return known[1]
        if isinstance(value, TemplateModule):  # prints as the imported template's output
            return True
        items = _contents(value)
        if items is None:
            return False
        try:
            ok = all(self.printable(item) for item in items)
        except RecursionError:
            ok = False
        self._printable[id(value)] = (value, ok)
        return ok

    def size(self, value: Any, limit: int) -> int:
        """About ``len(str(value))``; any number over ``limit`` once it is over ``limit``."""
        if isinstance(value, str):
            return len(value)
        if value is None or isinstance(value, bool | float):
            return 24
        if isinstance(value, int):
            return value.bit_length() * 3 // 10 + 1 + (value < 0)  # digits, unprinted
        if isinstance(value, bytes | bytearray):
            return 4 * len(value) + 3  # b'\x00...'
        known = self._sizes.get(id(value))
        if known is not None:
            return known[1]
        items = _contents(value)
        if items is None:
            return 64  # a macro, a loop, an undefined name: printed as a short tag
        total = 0  # `[` and `]` for the first item's `, `
        try:
            for item in items:
                total += 2 + self.size(item, limit - total)
                if total > limit:
                    return total  # not kept: measured only so far
        except RecursionError:
            return limit + 1  # nested deeper than Python prints
        total = max(total, 2)
        self._sizes[id(value)] = (value, total)
        return total


def _contents(value: Any) -> Iterable[Any] | None:
    """What a value prints of its own, item by item (a namespace's and a mapping's items, a
    sequence's), or ``None`` for a value that is not a container of data."""
    if isinstance(value, Namespace):
        attrs: dict[str, Any] = object.__getattribute__(value, "_Namespace__attrs")
        return attrs.items()
    if isinstance(value, Mapping):
        return value.items()
    if isinstance(value, _SEQUENCES):
        return value
    return None


_OWN = frozenset(["emit", "bounded_iter", "bounded_concat", "bounded_slice", "datum"])
"""The environment's methods :class:`_Guard` calls (a template cannot name them)."""


class _OutOfTime(SecurityError):
    """The render ran out of time (its own, or the document's)."""


_LAZY_TEXT = "(.*?)(?:"
_TEXT_UP_TO_A_TAG = r"((?:[^{]++|\{(?![{%#]))*+)(?:"
"""The text before the next ``{%``, ``{{`` or ``{#``, read a run of characters at a time.
Jinja's ``(.*?)`` finds the same text, but tries every tag at every character (a third of
the time of lexing a long prompt); it gives up where no tag follows after as many tries,
and this where its run ends, without trying again."""


@functools.cache
def _quick_lexer(lexer: Lexer) -> Lexer:
    """``lexer`` with the first rule of its text state read by :data:`_TEXT_UP_TO_A_TAG`:
    the same tokens, in less time. Only for Jinja's own tags (every tag starts with ``{``
    and only ``{%``, ``{{`` and ``{#`` start one: no line statements or comments);
    otherwise, and if the rule is not the one this was written for, ``lexer`` itself."""
    rules = lexer.rules.get("root")
    if not rules or not rules[0].pattern.pattern.startswith(_LAZY_TEXT):
        return lexer
    first = rules[0].pattern.pattern
    tags = first[len(_LAZY_TEXT) :]
    if not all(f"(?P<{name}>{start}" in tags for name, start in _OWN_TAGS) or "(?P<line" in tags:
        return lexer
    quick = Lexer.__new__(Lexer)
    quick.__dict__.update(lexer.__dict__)
    pattern = re.compile(_TEXT_UP_TO_A_TAG + tags, rules[0].pattern.flags)
    quick.rules = {**lexer.rules, "root": [_Rule(pattern, *rules[0][1:]), *rules[1:]]}
    return quick


_OWN_TAGS = (
    ("raw_begin", r"\{%"),
    ("variable_begin", r"\{\{"),
    ("comment_begin", r"\{\#"),
    ("block_begin", r"\{%"),
)
"""The tags of Jinja's default syntax, as its root rule spells them."""


class _NamingContext(Context):
    """A template context that notes when a template (or one it includes) names ``dialogue``:
    Jinja looks each name a template uses up through here as the template starts."""

    def resolve_or_missing(self, key: str) -> Any:
        if key == DIALOGUE and isinstance(self.environment, _BoundedSandbox):
            self.environment.dialogue_used = True
        return super().resolve_or_missing(key)


class _BoundedSandbox(ImmutableSandboxedEnvironment):
    """A sandbox whose templates cannot exhaust memory or time (see the module docstring)."""

    intercepted_binops = frozenset(["*", "**", "+", "%"])
    context_class = _NamingContext

    def __init__(self, loader: jinja2.BaseLoader, undefined: type[jinja2.Undefined]) -> None:
        super().__init__(
            loader=loader,
            undefined=undefined,
            autoescape=False,
            keep_trailing_newline=False,
            cache_size=TEMPLATES_KEPT,
        )
        self.budget = _Budget(math.inf, PROMPT_SECONDS, False)
        self.dialogue_used = False
        """Whether the template being rendered named ``dialogue``."""
        self.tags_read: dict[str, bool] = {}
        """Each tag :func:`_split_at_tags` met, and whether the lexer reads it alone."""
        self.data: tuple[str, ...] = ()
        """The literal text of the prompt being rendered, for a template compiled by
        structure (see :class:`_Texts`)."""
        self.formatting = False
        """Whether ``str.format`` is looking up a field (whose value it prints)."""
        self.globals["range"] = self._range
        del self.globals["lipsum"]  # lorem ipsum of any length has no place in a prompt
        self.plain_filters = dict(self.filters)
        """jinja's filters, unbounded, for the renderer's quick path: given a plain value of at
        most :data:`MAX_RESULT` characters alone, none makes more than a few times that."""
        self.filters = {name: self._bounded_filter(name, f) for name, f in self.filters.items()}
        self.filters["bounded"] = self.bounded

    @property
    def lexer(self) -> Lexer:
        return _quick_lexer(get_lexer(self))

    @property
    def splits_at_tags(self) -> bool:
        """Whether prompts are split at their tags without the lexer (:func:`_split_at_tags`):
        with Jinja's own tags, and no whitespace taken around them but by ``-``."""
        return not (self.trim_blocks or self.lstrip_blocks) and self.lexer is not get_lexer(self)

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        self.budget.check_time()  # compiling cannot be stopped once started
        self.check_length(source, name, filename)
        tree = super()._parse(source, name, filename)
        _Guard().visit(tree)
        return tree

    def check_length(
        self, source: str, name: str | None = None, filename: str | None = None
    ) -> None:
        """Refuse a template of more than :data:`MAX_TEMPLATE_TOKENS` tokens."""
        if len(source) > MAX_TEMPLATE_TOKENS:  # a token is at least one character
            tokens = itertools.islice(self.lex(source, name, filename), MAX_TEMPLATE_TOKENS + 1)
            if sum(1 for _ in tokens) > MAX_TEMPLATE_TOKENS:
                raise SecurityError(
                    f"the template is too long to compile: more than {MAX_TEMPLATE_TOKENS:,} "
                    "tokens (names, operators, pieces of text)"
                )

    def datum(self, index: int) -> str:
        """The ``index``-th piece of literal text of the prompt being rendered."""
        return self.data[index]

    # -- the budget --------------------------------------------------------------------------

    def step(self, count: int = 1) -> None:
        self.budget.step(count)

    def emit(self, piece: Any) -> str:
        """One piece of a template's output, counted as it is written."""
        if not isinstance(piece, str) and self.budget.size(piece, MAX_RESULT) > MAX_RESULT:
            raise SecurityError(
                f"the template writes a value of more than {MAX_RESULT:,} characters"
            )
        if not isinstance(piece, str):
            self.budget.printed("the template writes", (piece,))
        text = piece if isinstance(piece, str) else str(piece)
        return self.budget.charge(text, "the template writes")  # type: ignore[no-any-return]

    def bounded(self, value: Any) -> Any:
        return self.budget.charge(value)

    def bounded_iter(self, iterable: Any) -> Iterator[Any]:
        for item in iterable:
            self.budget.step()
            yield item

    def bounded_concat(self, *parts: Any) -> str:
        self.budget.given("'~'", parts)
        self.budget.printed("'~' is given", parts)
        if sum(self.budget.size(p, MAX_RESULT) for p in parts) > MAX_RESULT:
            raise SecurityError(f"'~' would build more than {MAX_RESULT:,} characters")
        return self.budget.charge("".join([str(p) for p in parts]))  # type: ignore[no-any-return]

    def _range(self, *args: int) -> Iterator[int]:
        items = range(*args)
        try:
            self.budget.step(len(items))
        except OverflowError:  # more items than an index can count
            self.budget.step(MAX_STEPS + 1)
        return iter(items)

    # -- hooks of the sandbox ---------------------------------------------------------------

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        if getattr(__obj, "__self__", None) is __self and __obj.__name__ in _OWN:
            return __obj(*args)  # the calls _Guard put in count for themselves (kwargs: jinja's)
        __self.budget.step()
        name = getattr(__obj, "__name__", "") or "a call"
        target = getattr(__obj, "__self__", None)
        shown = f"'{name}'"
        if isinstance(target, str) and isinstance(__obj, types.BuiltinMethodType):
            args = _listed(name, args, 0)
            __self.budget.given(shown, (target, *args, *kwargs.values()))
            _check_growth(name, [target, *args], kwargs, __self.budget, method=True)
        else:
            __self.budget.given(shown, (*args, *kwargs.values()))
        return __self.budget.charge(super().call(__context, __obj, *args, **kwargs))

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        self.budget.given(f"'{operator}'", (left, right))
        numbers = (int, float)
        if operator == "**" and isinstance(left, numbers) and isinstance(right, numbers):
            if abs(left) > 1 and right > 0 and right * math.log10(abs(left)) > MAX_DIGITS:
                raise SecurityError(f"'**' would make a number of more than {MAX_DIGITS:,} digits")
        elif operator == "*":
            if isinstance(right, int) and isinstance(left, str | list | tuple):
                left, right = right, left
            if isinstance(left, int) and isinstance(right, str | list | tuple):
                if left * self.budget.size(right, MAX_RESULT) > MAX_RESULT:
                    raise SecurityError(f"'*' would build more than {MAX_RESULT:,} characters")
            elif isinstance(left, int) and isinstance(right, int):
                if (left.bit_length() + right.bit_length()) * math.log10(2) > MAX_DIGITS:
                    raise SecurityError(
                        f"'*' would make a number of more than {MAX_DIGITS:,} digits"
                    )
        elif operator == "+" and not isinstance(left, numbers):
            sizes = self.budget.size(left, MAX_RESULT) + self.budget.size(right, MAX_RESULT)
            if sizes > MAX_RESULT:
                raise SecurityError(f"'+' would build more than {MAX_RESULT:,} characters")
        elif operator == "%" and isinstance(left, str):
            self.budget.printed("'%' is given", (right,))
            _check_format(left, right if isinstance(right, tuple) else (right,), self.budget)
        return self.budget.charge(super().call_binop(context, operator, left, right))

    def getattr(self, obj: Any, attribute: str) -> Any:
        value = super().getattr(obj, attribute)
        if self.formatting:
            self.budget.printed("'format' looks up", (value,))
        return value

    def getitem(self, obj: Any, argument: Any) -> Any:
        value = super().getitem(obj, argument)
        if self.formatting:
            self.budget.printed("'format' looks up", (value,))
        return value

    def bounded_slice(self, obj: Any, start: Any, stop: Any, step: Any) -> Any:
        """``obj[start:stop:step]``, refused before copying more than :data:`MAX_RESULT`."""
        part = slice(start, stop, step)
        if isinstance(obj, Sized):
            try:
                count = len(range(*part.indices(len(obj))))
            except (TypeError, ValueError):
                count = 0  # not a slice Python takes: slicing says why
            # an item of a list prints as at least one character and a separator
            if count * (1 if isinstance(obj, str) else 3) > MAX_RESULT:
                raise SecurityError(f"a slice would build more than {MAX_RESULT:,} characters")
        return self.budget.charge(obj[part])

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        pattern: str = value.__self__

        def bounded_format(*args: Any, **kwargs: Any) -> str:
            self.budget.given("'format'", (pattern, *args, *kwargs.values()))
            self.budget.printed("'format' is given", (*args, *kwargs.values()))
            _check_format(pattern, (*args, *kwargs.values()), self.budget)
            self.formatting = True  # a field's `.name` or `[name]` may reach a method
            try:
                return self.budget.charge(wrapped(*args, **kwargs))  # type: ignore[no-any-return]
            finally:
                self.formatting = False

        return bounded_format

    def _bounded_filter(self, name: str, func: Callable[..., Any]) -> Callable[..., Any]:
        shown = f"'{name}'"

        @functools.wraps(func)  # keeps jinja's pass_context / pass_environment marks
        def bounded_filter(*args: Any, **kwargs: Any) -> Any:
            passed = sum(1 for a in args[:1] if isinstance(a, _PASSED))
            args = _listed(name, args, passed)
            given = list(args[passed:])
            self.budget.given(shown, (*given, *kwargs.values()))
            if name not in _PASSING:
                self.budget.printed(f"{shown} is given", (*given, *kwargs.values()))
            _check_growth(name, given, kwargs, self.budget)
            return self.budget.charge(func(*args, **kwargs))

        return bounded_filter


def _check_growth(
    name: str, args: list[Any], kwargs: dict[str, Any], budget: _Budget, *, method: bool = False
) -> None:
    """Refuse a call or filter that would build a result too large, before building it.

    ``args`` are the filter's (the value first) or, for a method of a text (``method``), the
    text and the method's arguments. Only calls whose result can outgrow their arguments
    are looked at: the others are refused after building, which costs at most a few times
    :data:`MAX_RESULT` (``upper``, ``escape``, ``tojson``, ``split``...).
    """
    text = args[0] if args and isinstance(args[0], str) else ""
    ints = [
        v for v in (*args[1:], *kwargs.values()) if isinstance(v, int) and not isinstance(v, bool)
    ]
    texts = [len(v) for v in (*args[1:], *kwargs.values()) if isinstance(v, str)]
    if name in _SIZED and any(abs(i) > MAX_RESULT for i in ints):
        raise SecurityError(f"'{name}' with a size over {MAX_RESULT:,} is not allowed")
    if name in ("indent", "expandtabs"):
        size = len(text) + max([*ints, *texts], default=8) * (
            text.count("\n") + text.count("\t") + 1
        )
    elif name == "replace" and len(args) >= 3:
        old, new = str(args[1]), str(args[2])
        size = len(text) + (text.count(old) if old else len(text) + 1) * len(new)
    elif name == "join":
        # sep.join(items), or the filter: items|join(sep); lazy items were listed by the caller
        items, separator = (
            (args[1] if len(args) > 1 else "", text)
            if method
            else (args[0] if args else "", args[1] if len(args) > 1 else kwargs.get("d", ""))
        )
        count = len(items) if isinstance(items, Sized) else 0
        size = budget.size(items, MAX_RESULT) + count * budget.size(separator, MAX_RESULT)
    elif name == "translate" and len(args) >= 2 and isinstance(args[1], Mapping):
        longest = max((budget.size(v, MAX_RESULT) for v in args[1].values()), default=1)
        size = len(text) * max(longest, 1)
    elif name in ("wordwrap", "urlize"):
        # a line break (wrapstring) after any character; a link's attributes (target, rel)
        # and markup around any word: bounded by the text's length times what is inserted
        size = len(text) * (12 + sum(texts))
    elif name == "sum" and not isinstance(
        kwargs.get("start", args[2] if len(args) > 2 else 0), int | float
    ):
        count = len(args[0]) if args and isinstance(args[0], Sized) else MAX_RESULT
        if count > 1_000:  # adding lists or texts one by one copies them each time
            raise SecurityError("'sum' of more than 1,000 lists is not allowed: use a loop")
        return
    elif name == "format":
        _check_format(text, (*args[1:], *kwargs.values()), budget)
        return
    else:
        return
    if size > MAX_RESULT:
        raise SecurityError(f"'{name}' would build more than {MAX_RESULT:,} characters")


def _listed(name: str, args: tuple[Any, ...], at: int) -> tuple[Any, ...]:
    """``args`` with the items of a ``join`` (at index ``at``) listed if they are lazy, so
    that their count, and the result's size, are known before joining."""
    if name == "join" and len(args) > at and isinstance(args[at], Iterator):
        return (*args[:at], list(args[at]), *args[at + 1 :])
    return args


def _check_format(text: str, args: Iterable[Any], budget: _Budget) -> None:
    """Refuse ``%`` and ``str.format`` patterns whose width or precision is too large.

    A width may be written in the pattern or, as ``*`` or ``{name}``, taken from ``args``;
    and no pattern may repeat its longest argument into a result too large.
    """
    args = list(args)
    if len(args) == 1 and isinstance(args[0], dict):  # '%(name)s' % {...}
        args = list(args[0].values())
    longest = max((budget.size(a, MAX_RESULT) for a in args), default=0)
    if len(text) + (text.count("%") + text.count("{")) * longest > MAX_RESULT:
        raise SecurityError(f"the format would build more than {MAX_RESULT:,} characters")
    if any(isinstance(a, int) and abs(a) > MAX_RESULT for a in args) and re.search(
        r"%[^a-zA-Z%]*\*|\{[^{}]*:[^{}]*\{", text
    ):
        raise SecurityError(f"a format width over {MAX_RESULT:,} is not allowed")
    for match in _FORMAT_SPEC().finditer(text):
        numbers = [match.group(1), match.group(2), *re.findall(r"\d+", match.group(3) or "")]
        if any(n and (len(n) > 6 or int(n) > MAX_RESULT) for n in numbers):
            raise SecurityError(f"a format width over {MAX_RESULT:,} is not allowed")


class ShotContext(Struct, frozen=True):
    """What a prompt template knows of its shot."""

    id: str
    duration: int | None
    index: int
    sequence: str | None


class _Undefined(jinja2.StrictUndefined):
    """Undefined names fail with a message that names the mapping and suggests a close key."""

    __slots__ = ()
    renderer: ClassVar[PromptRenderer]

    @property
    def _undefined_message(self) -> str:
        name, obj = self._undefined_name, self._undefined_obj
        if self._undefined_hint:
            return self._undefined_hint
        if obj is missing:
            return f"'{name}' is undefined{did_you_mean(str(name), self.renderer.names)}"
        if isinstance(obj, dict):
            label = self.renderer.labels.get(id(obj), "the mapping")
            keys = [str(k) for k in obj]
            return f"'{label}' has no '{name}'{did_you_mean(str(name), keys)}"
        if isinstance(obj, list | tuple | str) and isinstance(name, int):
            return f"index {name} is past the end ({len(obj)} items)"
        return f"{type(obj).__name__} has no attribute {name!r}"


class PromptRenderer:
    """Renders the prompts of one storyboard."""

    def __init__(self, folder: Path, project_root: Path, title: str, variables: dict[str, Any]):
        self._loader = _ProjectLoader(folder, project_root)
        undefined = type("_RendererUndefined", (_Undefined,), {"__slots__": (), "renderer": self})
        self._env = _BoundedSandbox(self._loader, undefined)
        self._cache: OrderedDict[tuple[Any, ...], jinja2.Template] = OrderedDict()
        self._base = {**variables, "vars": variables, "storyboard": {"title": title}}
        self.names = list(dict.fromkeys([*self._base, "shot", DIALOGUE]))
        """Every top-level name a prompt may use."""
        self.labels: dict[int, str] = {id(self._base["storyboard"]): "storyboard"}
        """How to name each mapping a template sees, by identity."""
        _label_mappings(variables, "", self.labels)
        self.labels[id(variables)] = "vars"
        self.seconds = 0.0
        """Time spent compiling and rendering prompts so far."""
        self._dialogue: str | None = None

    @property
    def templates_read(self) -> frozenset[Path]:
        """Template files read through ``{% include %}`` so far."""
        return frozenset(self._loader.read)

    @property
    def templates_named(self) -> tuple[Path, ...]:
        """Every template asked for so far, as named (:attr:`_ProjectLoader.named`)."""
        return tuple(self._loader.named)

    def render(self, source: str, shot: ShotContext, dialogue: str | None = None) -> str:
        """Render one prompt; leading and trailing whitespace is dropped.

        ``dialogue``, when given, is what the template sees as ``dialogue`` (the shot's lines
        as written into prompts); :attr:`dialogue_used` then says whether it named it.

        Raises:
            TemplateProblem: with a writer-facing message and, where known, its place.
        """
        self._dialogue = dialogue
        self._env.dialogue_used = False
        if "{" not in source and "\r" not in source:  # no Jinja syntax: nothing to do
            return source.strip()  # (Jinja would make a "\r" line break "\n")
        quick = self._substitute(source, shot)  # bounded by the prompt and the values it names
        if quick is not None:
            return quick.strip()
        started = time.monotonic()
        left = DOCUMENT_SECONDS - self.seconds
        self._env.budget = _Budget(
            started + max(min(PROMPT_SECONDS, left), 0), PROMPT_SECONDS, left < PROMPT_SECONDS
        )
        try:
            return self._render(source, shot)
        finally:
            self.seconds += time.monotonic() - started

    @property
    def dialogue_used(self) -> bool:
        """Whether the last prompt rendered named ``dialogue`` (given to :meth:`render`)."""
        return self._dialogue is not None and self._env.dialogue_used

    @property
    def out_of_time(self) -> bool:
        """Whether the prompts rendered so far used up :data:`DOCUMENT_SECONDS`."""
        return self.seconds >= DOCUMENT_SECONDS

    def _render(self, source: str, shot: ShotContext) -> str:
        try:
            template, self._env.data = self._compiled(source)
            return self._generate(template, shot).strip()
        except TemplateSyntaxError as exc:
            where = Path(exc.filename) if exc.filename and os.path.isabs(exc.filename) else None
            near = _quoted(r"(?:tag|named) '([^']+)'", exc.message)
            message = f"template syntax error: {exc.message}"
            raise TemplateProblem(message, exc.lineno, where, near) from exc
        except jinja2.UndefinedError as exc:
            near = _quoted(r"^'([^']+)' is undefined|has no (?:attribute )?'([^']+)'", exc.message)
            raise self._located(f"template error: {exc.message}", exc, near) from exc
        except SecurityError as exc:
            near = _quoted(r"attribute '([^']+)'|^'([^']+)'", str(exc))
            raise self._located(f"template not allowed: {exc}", exc, near) from exc
        except TemplateNotFound as exc:
            near = exc.name if isinstance(exc.name, str) else None
            raise self._located(str(exc.message), exc, near) from exc
        except (RecursionError, MemoryError) as exc:
            raise self._located("template too complex to render", exc) from exc
        except Exception as exc:
            raise self._located(f"template error: {type(exc).__name__}: {exc}", exc) from exc

    def _compiled(self, source: str) -> tuple[jinja2.Template, tuple[str, ...]]:
        """The template of ``source``'s structure, compiled once (see the module
        docstring), and ``source``'s literal text for it to write."""
        texts = _Texts.of(self._env, source)
        if texts is None:  # a template Jinja refuses: compiled alone, to say why and where
            return self._env.from_string(source), ()
        template = self._cache.get(texts.key)
        if template is not None:
            self._cache.move_to_end(texts.key)
            return template, texts.data
        tree = self._env.parse(source)
        if not texts.replace(tree):
            return self._env.from_string(tree), ()
        template = self._env.from_string(tree)
        self._cache[texts.key] = template
        if len(self._cache) > TEMPLATES_KEPT:
            self._cache.popitem(last=False)
        return template, texts.data

    def _substitute(self, source: str, shot: ShotContext) -> str | None:
        """``source`` rendered without Jinja, if it only puts plain values in (see the module
        docstring); None: Jinja must render it."""
        if "{%" in source or "{#" in source or "\r" in source:
            return None
        pieces: list[str] = []
        at = size = 0
        for match in _SIMPLE_OUTPUT.finditer(source):
            text = source[at : match.start()]
            if "{{" in text or (match.start() and source[match.start() - 1] == "{"):
                return None  # Jinja would read the braces otherwise
            value = self._plain_value(match.group(1), shot)
            if value is _NOT_PLAIN:
                return None
            for name in _FILTER_NAME.findall(match.group(2)):
                value = self._plain_filter(name, value)
                if value is _NOT_PLAIN:
                    return None
            shown = str(value)
            size += len(text) + len(shown)
            if size > MAX_RESULT:
                return None  # Jinja refuses it, where it is, before joining it all
            pieces += (text, shown)
            at = match.end()
        rest = source[at:]
        if "{{" in rest or size + len(rest) > MAX_RESULT:
            return None
        pieces.append(rest)
        return "".join(pieces)

    def _plain_value(self, dotted: str, shot: ShotContext) -> Any:
        """The value of ``name.key.key``, if every step is a key of a dict and it ends on a
        plain value; else ``_NOT_PLAIN``."""
        first, *keys = dotted.split(".")
        if first in _JINJA_WORDS:
            return _NOT_PLAIN
        if first == DIALOGUE and self._dialogue is not None:
            self._env.dialogue_used = True
            return self._dialogue if not keys else _NOT_PLAIN
        value: Any = asdict(shot) if first == "shot" else self._base.get(first, _NOT_PLAIN)
        for key in keys:
            # Jinja tries an attribute before a key: a dict's own (``items``) is not plain.
            if not isinstance(value, dict) or hasattr(value, key) or key not in value:
                return _NOT_PLAIN
            value = value[key]
        return value if isinstance(value, _PLAIN) else _NOT_PLAIN

    def _plain_filter(self, name: str, value: Any) -> Any:
        """``value | name`` through jinja's own filter, if it takes only the value (a value of
        at most :data:`MAX_RESULT` characters: a filter then makes a few times that at most)."""
        func = self._env.plain_filters.get(name)
        if func is None or getattr(func, "jinja_pass_arg", None) is not None:
            return _NOT_PLAIN
        if isinstance(value, str) and len(value) > MAX_RESULT:
            return _NOT_PLAIN  # Jinja refuses it, where it is
        try:
            result = func(value)
        except Exception:  # let Jinja render it, and say what is wrong
            return _NOT_PLAIN
        return result if isinstance(result, _PLAIN) else _NOT_PLAIN

    def _generate(self, template: jinja2.Template, shot: ShotContext) -> str:
        shot_vars = asdict(shot)
        self.labels[id(shot_vars)] = "shot"
        try:
            size, pieces = 0, []
            names = {**self._base, "shot": shot_vars}
            if self._dialogue is not None:
                names[DIALOGUE] = self._dialogue
            for piece in template.generate(names):
                size += len(piece)
                if size > MAX_RESULT:
                    raise SecurityError(
                        f"the prompt renders to more than {MAX_RESULT:,} characters"
                    )
                pieces.append(piece)
            return "".join(pieces)
        finally:
            del self.labels[id(shot_vars)]

    def _located(
        self, message: str, exc: BaseException, near: str | None = None
    ) -> TemplateProblem:
        """A :class:`TemplateProblem` at the innermost template line of ``exc``'s traceback."""
        templates = {str(p) for p in self._loader.read}
        file, line = None, None
        tb = exc.__traceback__
        while tb is not None:
            filename = tb.tb_frame.f_code.co_filename
            if filename == _PROMPT or filename in templates:
                file, line = (None if filename == _PROMPT else Path(filename)), tb.tb_lineno
            tb = tb.tb_next
        return TemplateProblem(message, line, file, near)


class _Texts(Struct, frozen=True):
    """A prompt split into its structure (the key of its compiled template) and its
    literal text, as Jinja's lexer reads them (whitespace control applied)."""

    key: tuple[Any, ...]
    data: tuple[str, ...]

    @classmethod
    def of(cls, env: _BoundedSandbox, source: str) -> _Texts | None:
        """``source`` split, or None if the lexer refuses it.

        Raises:
            SecurityError: it is too long to compile.
        """
        env.check_length(source)
        split = _split_at_tags(env, source)
        return split if split is not None else cls.lexed(env, source)

    @classmethod
    def lexed(cls, env: _BoundedSandbox, source: str) -> _Texts | None:
        """:meth:`of`, by Jinja's lexer alone (every token of every tag in the key)."""
        # The lexer's raw tokens (whitespace inside tags included): turning them into the
        # parser's tokens costs as much again, and two prompts with the same raw tokens have
        # the same parser's tokens. Literal text is the same in both: line breaks are made
        # "\n" as the environment writes them (its newline_sequence), whitespace control
        # is applied, and empty text is left out.
        try:
            key: list[Any] = []
            data: list[str] = []
            for lineno, kind, value in env.lexer.tokeniter(source, None):
                if kind == "data":
                    key.append((lineno, _TEXT))
                    data.append(value)
                else:
                    key.append((lineno, kind, value))
        except TemplateSyntaxError:
            return None
        return cls(tuple(key), tuple(data))

    def replace(self, tree: nodes.Template) -> bool:
        """Make ``tree`` (parsed from this prompt) read its literal text from the render,
        in the order the lexer found it; False if its text is not that (then ``tree`` is
        left as it was, to be compiled for this prompt alone)."""
        found = [node.data for node in tree.find_all(nodes.TemplateData)]
        if tuple(found) != self.data:
            return False
        _Datum().visit(tree)
        return True


_TEXT = object()
"""Marks literal text in a template's key: every prompt of a structure shares the key."""

_TAG_START = re.compile(r"\{[{%#]")
_TAG_END = {"{{": "}}", "{%": "%}"}
TAGS_KEPT = 4096
"""Tags remembered as read alone (:func:`_split_at_tags`), each by its text."""


def _split_at_tags(env: _BoundedSandbox, source: str) -> _Texts | None:
    """``source`` split as Jinja's lexer splits it, without lexing its text or a tag the
    sandbox has read before; None where this cannot tell (the lexer then reads it all).

    Jinja's text state reads up to the next ``{{``, ``{%`` or ``{#`` (the quick lexer's rule);
    a tag here runs from there to the first ``}}`` or ``%}``. Where Jinja's lexer reads that
    stretch, alone, as exactly one tag (no whitespace control: ``{%-``, ``-%}`` and the like
    reach into the text around; no comment, no raw block, braces balanced, every string
    closed inside), it reads it so wherever it stands: every rule of a tag looks at the tag
    alone, and ``%}``/``}}`` as they stand end it. The key holds each such tag whole with its
    line, which says all its tokens do: two prompts of one key have one token stream but
    for their text (``tests/language/test_split_at_tags.py`` holds this to the lexer's own).
    """
    if not env.splits_at_tags or "\r" in source:
        return None
    if source.endswith("\n"):  # the lexer drops one line break at the end
        source = source[:-1]
    key: list[Any] = []
    data: list[str] = []
    line, at, size = 1, 0, len(source)
    known = env.tags_read
    while True:
        tag = _TAG_START.search(source, at)
        text = source[at : tag.start() if tag is not None else size]
        if text:
            key.append((line, _TEXT))
            data.append(text)
            line += text.count("\n")
        if tag is None:
            return _Texts(tuple(key), tuple(data))
        begin = tag.group()
        if begin == "{#":
            return None
        close = source.find(_TAG_END[begin], tag.end())
        if close == -1:
            return None
        at = close + 2
        region = source[tag.start() : at]
        alone = known.get(region)
        if alone is None:
            alone = _one_tag(env, region)
            if len(known) >= TAGS_KEPT:
                known.clear()
            known[region] = alone
        if not alone:
            return None
        key.append((line, region))
        line += region.count("\n")


def _one_tag(env: _BoundedSandbox, region: str) -> bool:
    """Whether Jinja's lexer reads ``region`` alone as exactly one tag, with no whitespace
    control at either end. ``region`` holds its end (``%}`` or ``}}``) once, at its end:
    a tag whose last token is that end is the whole of it (only text comes after an end,
    and a tag begins only in text)."""
    try:
        tokens = list(env.lexer.tokeniter(region, None))
    except TemplateSyntaxError:
        return False
    (_, first, opened), (_, last, closed) = tokens[0], tokens[-1]  # the region opens a tag
    return (first, opened, last, closed) in (
        ("block_begin", "{%", "block_end", "%}"),
        ("variable_begin", "{{", "variable_end", "}}"),
    )


class _Datum(NodeTransformer):
    """Replaces the n-th piece of literal text by ``environment.datum(n)``."""

    def __init__(self) -> None:
        self.count = 0

    def visit_TemplateData(self, node: nodes.TemplateData) -> nodes.Node:
        call = _env_call("datum", [nodes.Const(self.count)], node.lineno)
        self.count += 1
        return call


_SIMPLE_OUTPUT = re.compile(
    r"\{\{[ \t\n]*([A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z][A-Za-z0-9_]*)*)"
    r"((?:[ \t\n]*\|[ \t\n]*[a-z]+)*)[ \t\n]*\}\}"
)
"""``{{ name.key | filter }}``: an output of a value, without whitespace control."""
_FILTER_NAME = re.compile(r"[a-z]+")
_JINJA_WORDS = frozenset(
    [
        "true",
        "false",
        "none",
        "True",
        "False",
        "None",
        "and",
        "or",
        "not",
        "in",
        "is",
        "if",
        "else",
        "loop",
        "self",
        "super",
        "caller",
        "varargs",
        "kwargs",
    ]
)
"""Names Jinja reads as constants, operators or its own variables."""
_PLAIN = (str, int, float, bool, type(None))
_NOT_PLAIN = object()


def _quoted(pattern: str, text: str | None) -> str | None:
    found = re.search(pattern, text or "")
    return next((g for g in found.groups() if g is not None), None) if found else None


def _label_mappings(value: dict[str, Any], prefix: str, labels: dict[int, str]) -> None:
    """Name every mapping inside ``vars`` by its dotted path (``camera``, ``camera.lens``)."""
    for key, item in value.items():
        if isinstance(item, dict) and id(item) not in labels:
            labels[id(item)] = f"{prefix}{key}"
            _label_mappings(item, f"{prefix}{key}.", labels)
