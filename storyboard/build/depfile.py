"""``storyboard deps``: a make dependency file, so ``make`` rebuilds a film exactly when one
of its inputs changes: the storyboard, its includes, the templates it reads and every local
asset it names.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from storyboard.language.checked import CheckedStoryboard


def dependencies(checked: CheckedStoryboard) -> list[Path]:
    """Every file a build of ``checked`` reads, the storyboard first, without repeats."""
    seen: dict[Path, None] = {}
    for path in (*checked.document.files, *checked.templates, *checked.assets):
        seen.setdefault(path.absolute(), None)
    return list(seen)


def default_target(
    checked: CheckedStoryboard, build_dir: Path | None = None, *, backend: str = "preview"
) -> Path:
    """The film a build on the backend of the namespace ``backend`` writes:
    ``build/NAME/BACKEND/<output.file>`` beside the storyboard."""
    from storyboard.build.state.outputs import backend_folder

    top = build_dir or checked.document.path.parent / "build" / checked.name
    folder = top / backend_folder(backend)
    ext = {"MP4": ".mp4", "WEBM": ".webm", "MOV": ".mov"}[checked.storyboard.output.format]
    return folder / (checked.storyboard.output.file or f"{checked.name}{ext}")


def render_depfile(target: str, deps: Iterable[Path], relative_to: Path) -> str:
    """``target: dep dep ...`` plus an empty rule per dependency (like ``gcc -MP``), so a
    deleted file does not break make."""
    names = [_escape(_rel(p, relative_to)) for p in deps]
    lines = [f"{_escape(target)}: " + " \\\n  ".join(names), ""]
    lines += [f"{name}:" for name in names]
    return "\n".join(lines) + "\n"


def _rel(path: Path, base: Path) -> str:
    return os.path.relpath(path, base)


def _escape(name: str) -> str:
    return name.replace("$", "$$").replace(" ", "\\ ").replace("#", "\\#").replace(":", "\\:")
