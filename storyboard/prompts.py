"""Stage 3, render prompts: Jinja2 in a sandbox, undefined names are errors.

A prompt sees every name of ``vars`` (also as ``vars.NAME``), ``shot`` (``id``, ``duration``,
``index`` counted from 1, ``sequence``) and ``storyboard`` (``title``). ``{% include %}``
reads templates relative to the storyboard's folder and never outside the project.
Element references (``<<<name>>>``) are not Jinja syntax and pass through unchanged.

The sandbox blocks attribute tricks (``''.__class__``) and changes to lists and dicts, and
this module also bounds what a template can spend. Every loop item, ``range`` item and call
takes one step from a budget of :data:`MAX_STEPS` per render, so no template loops or
recurses for long; no string or list a template builds (with ``*``, ``+``, ``~``, ``%``, a
call or a filter) may exceed :data:`MAX_RESULT` items, checked *before* building it where
one operation could build a large result at once (``'x' * 10**9``, ``'x'.center(10**9)``,
``'%999999999s'``), and after every step otherwise, so repeated doubling stops early.
Compiled templates are cached by source text: compiling costs far more than rendering.

Most prompts use Jinja only to put values in: ``{{ name }}``, ``{{ shot.index }}``,
``{{ look | lower }}``. Such a prompt is rendered without compiling it (compiling one costs
about 40 times rendering it; see ``docs/performance.md``, P5) when every value it names is
found and is a plain string, number, boolean or none, and every filter takes nothing but the
value: the result is what Jinja renders, and a test holds the two to it. Anything else,
an undefined name included, goes through Jinja, which renders it or says where it fails.
"""

from __future__ import annotations

import functools
import math
import os
import re
import types
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import jinja2
from jinja2 import nodes
from jinja2.exceptions import SecurityError, TemplateNotFound, TemplateSyntaxError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import missing
from jinja2.visitor import NodeTransformer

from storyboard.diagnostics import closest, did_you_mean
from storyboard.inputs import NotAFile, TooLarge, read_capped

MAX_RESULT = 100_000
"""Largest string or list a template may build."""
MAX_DIGITS = 4_300
"""Most digits of a number a template may make (Python's own limit for printing one)."""
MAX_STEPS = 100_000
"""Loop items, ``range`` items and calls one render may take."""
MAX_TEMPLATE_BYTES = 1024 * 1024

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

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str, Callable[[], bool]]:
        if os.path.isabs(template) or template.startswith(("/", "\\")):
            raise SecurityError(
                f"'{template}' is an absolute path; name templates relative to the storyboard"
            )
        try:
            path = self.folder.joinpath(template).resolve()
        except (OSError, ValueError, RuntimeError) as exc:
            raise TemplateNotFound(template, f"cannot read template '{template}': {exc}") from exc
        if not path.is_relative_to(self.root):
            raise SecurityError(f"'{template}' is outside the project folder {self.root}")
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
    """Routes every loop, ``~`` and ``{% set %}`` block through the environment's bounds."""

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
_FORMAT_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\d*)(?:\.(\d*))?|\{[^{}]*:([^{}]*)\}")


class _BoundedSandbox(ImmutableSandboxedEnvironment):
    """A sandbox whose templates cannot exhaust memory or time (see the module docstring)."""

    intercepted_binops = frozenset(["*", "**", "+", "%"])

    def __init__(self, loader: jinja2.BaseLoader, undefined: type[jinja2.Undefined]) -> None:
        super().__init__(
            loader=loader, undefined=undefined, autoescape=False, keep_trailing_newline=False
        )
        self.steps_left = MAX_STEPS
        self.globals["range"] = self._range
        del self.globals["lipsum"]  # lorem ipsum of any length has no place in a prompt
        self.filters = {name: self._bounded_filter(name, f) for name, f in self.filters.items()}
        self.filters["bounded"] = self.bounded

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        tree = super()._parse(source, name, filename)
        _Guard().visit(tree)
        return tree

    # -- the budget and the sizes ---------------------------------------------------------

    def step(self, count: int = 1) -> None:
        self.steps_left -= count
        if self.steps_left < 0:
            raise SecurityError(f"the template takes more than {MAX_STEPS:,} steps (loops, calls)")

    def bounded(self, value: Any) -> Any:
        if isinstance(value, str | list | tuple | dict) and len(value) > MAX_RESULT:
            raise SecurityError(f"the template builds a value of more than {MAX_RESULT:,} items")
        return value

    def bounded_iter(self, iterable: Any) -> Iterator[Any]:
        for item in iterable:
            self.step()
            yield item

    def bounded_concat(self, *parts: Any) -> str:
        texts = [str(p) for p in parts]
        if sum(len(t) for t in texts) > MAX_RESULT:
            raise SecurityError(f"'~' would build more than {MAX_RESULT:,} characters")
        return "".join(texts)

    def _range(self, *args: int) -> Iterator[int]:
        items = range(*args)
        try:
            self.step(len(items))
        except OverflowError:  # more items than an index can count
            self.step(MAX_STEPS + 1)
        return iter(items)

    # -- hooks of the sandbox ---------------------------------------------------------------

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        __self.step()
        name = getattr(__obj, "__name__", "")
        target = getattr(__obj, "__self__", None)
        if isinstance(target, str) and isinstance(__obj, types.BuiltinMethodType):
            _check_growth(name, (target, *args), kwargs)
        return __self.bounded(super().call(__context, __obj, *args, **kwargs))

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        numbers = (int, float)
        if operator == "**" and isinstance(left, numbers) and isinstance(right, numbers):
            if abs(left) > 1 and right > 0 and right * math.log10(abs(left)) > MAX_DIGITS:
                raise SecurityError(f"'**' would make a number of more than {MAX_DIGITS:,} digits")
        elif operator == "*":
            if isinstance(right, int) and isinstance(left, str | list | tuple):
                left, right = right, left
            if isinstance(left, int) and isinstance(right, str | list | tuple):
                if left * len(right) > MAX_RESULT:
                    raise SecurityError(f"'*' would build more than {MAX_RESULT:,} items")
            elif isinstance(left, int) and isinstance(right, int):
                if (left.bit_length() + right.bit_length()) * math.log10(2) > MAX_DIGITS:
                    raise SecurityError(
                        f"'*' would make a number of more than {MAX_DIGITS:,} digits"
                    )
        elif operator == "%" and isinstance(left, str):
            _check_format(left, right if isinstance(right, tuple) else (right,))
        return self.bounded(super().call_binop(context, operator, left, right))

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        pattern: str = value.__self__

        def bounded_format(*args: Any, **kwargs: Any) -> str:
            _check_format(pattern, (*args, *kwargs.values()))
            return self.bounded(wrapped(*args, **kwargs))  # type: ignore[no-any-return]

        return bounded_format

    def _bounded_filter(self, name: str, func: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(func)  # keeps jinja's pass_context / pass_environment marks
        def bounded_filter(*args: Any, **kwargs: Any) -> Any:
            _check_growth(name, [a for a in args if not isinstance(a, _PASSED)], kwargs)
            return self.bounded(func(*args, **kwargs))

        return bounded_filter


def _check_growth(name: str, args: Iterable[Any], kwargs: dict[str, Any]) -> None:
    """Refuse a call or filter that would build a result too large, before building it."""
    args = list(args)
    text = args[0] if args and isinstance(args[0], str) else ""
    ints = [
        v for v in (*args[1:], *kwargs.values()) if isinstance(v, int) and not isinstance(v, bool)
    ]
    if name in _SIZED and any(abs(i) > MAX_RESULT for i in ints):
        raise SecurityError(f"'{name}' with a size over {MAX_RESULT:,} is not allowed")
    if name in ("indent", "expandtabs"):
        widths = [*ints, *(len(a) for a in args[1:] if isinstance(a, str))]
        size = len(text) + max(widths, default=8) * (text.count("\n") + text.count("\t") + 1)
    elif name == "replace" and len(args) >= 3:
        old, new = str(args[1]), str(args[2])
        size = len(text) + (text.count(old) if old else len(text) + 1) * len(new)
    elif name == "format":
        _check_format(text, (*args[1:], *kwargs.values()))
        return
    else:
        return
    if size > MAX_RESULT:
        raise SecurityError(f"'{name}' would build more than {MAX_RESULT:,} characters")


def _check_format(text: str, args: Iterable[Any]) -> None:
    """Refuse ``%`` and ``str.format`` patterns whose width or precision is too large.

    A width may be written in the pattern or, as ``*`` or ``{name}``, taken from ``args``;
    and no pattern may repeat its longest argument into a result too large.
    """
    args = list(args)
    if len(args) == 1 and isinstance(args[0], dict):  # '%(name)s' % {...}
        args = list(args[0].values())
    longest = max((len(a) if isinstance(a, str) else 20 for a in args), default=0)
    if len(text) + (text.count("%") + text.count("{")) * longest > MAX_RESULT:
        raise SecurityError(f"the format would build more than {MAX_RESULT:,} characters")
    if any(isinstance(a, int) and abs(a) > MAX_RESULT for a in args) and re.search(
        r"%[^a-zA-Z%]*\*|\{[^{}]*:[^{}]*\{", text
    ):
        raise SecurityError(f"a format width over {MAX_RESULT:,} is not allowed")
    for match in _FORMAT_SPEC.finditer(text):
        numbers = [match.group(1), match.group(2), *re.findall(r"\d+", match.group(3) or "")]
        if any(n and (len(n) > 6 or int(n) > MAX_RESULT) for n in numbers):
            raise SecurityError(f"a format width over {MAX_RESULT:,} is not allowed")


@dataclass(frozen=True)
class ShotContext:
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
        self._cache: dict[str, jinja2.Template] = {}
        self._base = {**variables, "vars": variables, "storyboard": {"title": title}}
        self.names = [*self._base, "shot"]
        """Every top-level name a prompt may use."""
        self.labels: dict[int, str] = {id(self._base["storyboard"]): "storyboard"}
        """How to name each mapping a template sees, by identity."""
        _label_mappings(variables, "", self.labels)
        self.labels[id(variables)] = "vars"

    @property
    def templates_read(self) -> frozenset[Path]:
        """Template files read through ``{% include %}`` so far."""
        return frozenset(self._loader.read)

    def render(self, source: str, shot: ShotContext) -> str:
        """Render one prompt; leading and trailing whitespace is dropped.

        Raises:
            TemplateProblem: with a writer-facing message and, where known, its place.
        """
        if "{" not in source:  # no Jinja syntax at all: nothing to do
            return source.strip()
        quick = self._substitute(source, shot)
        if quick is not None:
            return quick.strip()
        try:
            template = self._cache.get(source)
            if template is None:
                template = self._env.from_string(source)
                self._cache[source] = template
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

    def _substitute(self, source: str, shot: ShotContext) -> str | None:
        """``source`` rendered without Jinja, if it only puts plain values in (see the module
        docstring); None: Jinja must render it."""
        if "{%" in source or "{#" in source or "\r" in source:
            return None
        pieces: list[str] = []
        at = 0
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
            pieces += (text, str(value))
            at = match.end()
        rest = source[at:]
        if "{{" in rest:
            return None
        pieces.append(rest)
        result = "".join(pieces)
        return result if len(result) <= MAX_RESULT else None

    def _plain_value(self, dotted: str, shot: ShotContext) -> Any:
        """The value of ``name.key.key``, if every step is a key of a dict and it ends on a
        plain value; else ``_NOT_PLAIN``."""
        first, *keys = dotted.split(".")
        if first in _JINJA_WORDS:
            return _NOT_PLAIN
        value: Any = shot.__dict__ if first == "shot" else self._base.get(first, _NOT_PLAIN)
        for key in keys:
            # Jinja tries an attribute before a key: a dict's own (``items``) is not plain.
            if not isinstance(value, dict) or hasattr(value, key) or key not in value:
                return _NOT_PLAIN
            value = value[key]
        return value if isinstance(value, _PLAIN) else _NOT_PLAIN

    def _plain_filter(self, name: str, value: Any) -> Any:
        """``value | name`` through the sandbox's own filter, if it takes only the value."""
        func = self._env.filters.get(name)
        if func is None or getattr(func, "jinja_pass_arg", None) is not None:
            return _NOT_PLAIN
        try:
            result = func(value)
        except Exception:  # let Jinja render it, and say what is wrong
            return _NOT_PLAIN
        return result if isinstance(result, _PLAIN) else _NOT_PLAIN

    def _generate(self, template: jinja2.Template, shot: ShotContext) -> str:
        self._env.steps_left = MAX_STEPS
        shot_vars = dict(shot.__dict__)
        self.labels[id(shot_vars)] = "shot"
        try:
            size, pieces = 0, []
            for piece in template.generate({**self._base, "shot": shot_vars}):
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
