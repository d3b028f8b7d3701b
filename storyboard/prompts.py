"""Stage 3, render prompts: Jinja2 in a sandbox, undefined names are errors.

A prompt sees every name of ``vars`` (also as ``vars.NAME``), ``shot`` (``id``, ``duration``,
``index`` counted from 1, ``sequence``) and ``storyboard`` (``title``). ``{% include %}``
reads templates relative to the storyboard's folder and never outside the project.
Element references (``<<<name>>>``) are not Jinja syntax and pass through unchanged.

The sandbox blocks attribute tricks (``''.__class__``), and this module also bounds what a
template can allocate or loop over: ``*`` and ``**`` refuse results past
:data:`MAX_RESULT`, and ``range`` shares a budget of :data:`MAX_ITERATIONS` items per render.
Compiled templates are cached by source text: compiling costs far more than rendering.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from jinja2.exceptions import SecurityError, TemplateNotFound, TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment

MAX_RESULT = 100_000
"""Largest string or list a template may build with ``*``, and largest ``**`` result digits."""
MAX_ITERATIONS = 100_000
"""Items ``range`` may yield over one render."""
MAX_TEMPLATE_BYTES = 1024 * 1024


class TemplateProblem(Exception):
    """A prompt could not be rendered; ``line`` is the line inside the template, if known."""

    def __init__(self, message: str, line: int | None = None, file: Path | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.file = file


class _ProjectLoader(jinja2.BaseLoader):
    """Loads ``{% include %}`` templates from one folder, never leaving the project."""

    def __init__(self, folder: Path, project_root: Path) -> None:
        self.folder = folder
        self.root = project_root.resolve()
        self.read: set[Path] = set()

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str, Callable[[], bool]]:
        pieces = template.replace("\\", "/").split("/")
        if template.startswith("/") or any(p in ("..", "") for p in pieces if p != "."):
            raise TemplateNotFound(
                f"{template} (template paths are relative to the storyboard and stay inside it)"
            )
        path = self.folder.joinpath(*pieces).resolve()
        if not path.is_relative_to(self.root):
            raise TemplateNotFound(f"{template} (outside the project folder)")
        if not path.is_file():
            raise TemplateNotFound(template)
        if path.stat().st_size > MAX_TEMPLATE_BYTES:
            raise TemplateNotFound(f"{template} (larger than {MAX_TEMPLATE_BYTES:,} bytes)")
        self.read.add(path)
        source = path.read_text(encoding="utf-8")
        mtime = path.stat().st_mtime
        return source, str(path), lambda: path.stat().st_mtime == mtime


class _BoundedSandbox(SandboxedEnvironment):
    """A sandbox whose ``*``, ``**`` and ``range`` cannot exhaust memory or time."""

    intercepted_binops = frozenset(["*", "**"])

    def __init__(self, loader: jinja2.BaseLoader) -> None:
        super().__init__(
            loader=loader,
            undefined=jinja2.StrictUndefined,
            autoescape=False,
            keep_trailing_newline=False,
        )
        self.iterations_left = MAX_ITERATIONS
        self.globals["range"] = self._range

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**":
            if isinstance(left, int | float) and isinstance(right, int | float):
                if abs(right) > 64 and abs(left) > 1:
                    raise SecurityError("'**' with an exponent that large is not allowed")
            return left**right
        if isinstance(right, int) and isinstance(left, str | list | tuple):
            left, right = right, left
        if isinstance(left, int) and isinstance(right, str | list | tuple):
            if left * len(right) > MAX_RESULT:
                raise SecurityError(f"'*' would build more than {MAX_RESULT:,} items")
        return left * right

    def _range(self, *args: int) -> Iterator[int]:
        items = range(*args)
        if len(items) > self.iterations_left:
            raise SecurityError(f"range() over more than {MAX_ITERATIONS:,} items in one prompt")
        self.iterations_left -= len(items)
        return iter(items)


@dataclass(frozen=True)
class ShotContext:
    """What a prompt template knows of its shot."""

    id: str
    duration: int | None
    index: int
    sequence: str | None


class PromptRenderer:
    """Renders the prompts of one storyboard."""

    def __init__(self, folder: Path, project_root: Path, title: str, variables: dict[str, Any]):
        self._loader = _ProjectLoader(folder, project_root)
        self._env = _BoundedSandbox(self._loader)
        self._cache: dict[str, jinja2.Template] = {}
        self._base = {**variables, "vars": variables, "storyboard": {"title": title}}

    @property
    def templates_read(self) -> frozenset[Path]:
        """Template files read through ``{% include %}`` so far."""
        return frozenset(self._loader.read)

    def render(self, source: str, shot: ShotContext) -> str:
        """Render one prompt; leading and trailing whitespace is dropped.

        Raises:
            TemplateProblem: with a writer-facing message.
        """
        if "{" not in source:  # no Jinja syntax at all: nothing to do
            return source.strip()
        try:
            template = self._cache.get(source)
            if template is None:
                template = self._env.from_string(source)
                self._cache[source] = template
            self._env.iterations_left = MAX_ITERATIONS
            context = {**self._base, "shot": shot.__dict__}
            return template.render(context).strip()
        except TemplateSyntaxError as exc:
            where = Path(exc.filename) if exc.filename and os.path.isabs(exc.filename) else None
            raise TemplateProblem(
                f"template syntax error: {exc.message}", exc.lineno, where
            ) from exc
        except jinja2.UndefinedError as exc:
            raise TemplateProblem(f"template error: {exc.message}{self._hint(exc)}") from exc
        except SecurityError as exc:
            raise TemplateProblem(f"template not allowed: {exc}") from exc
        except TemplateNotFound as exc:
            raise TemplateProblem(f"template not found: {exc.message}") from exc
        except (RecursionError, MemoryError) as exc:
            raise TemplateProblem("template too complex to render") from exc
        except Exception as exc:
            raise TemplateProblem(f"template error: {type(exc).__name__}: {exc}") from exc

    def _hint(self, exc: jinja2.UndefinedError) -> str:
        from storyboard.diagnostics import did_you_mean

        message = exc.message or ""
        if message.startswith("'") and message.endswith("' is undefined"):
            name = message[1 : -len("' is undefined")]
            return did_you_mean(name, [*self._base, "shot"])
        return ""
