"""``storyboard deps``: a make dependency file, so ``make`` rebuilds a film exactly when one
of its inputs changes: the storyboard, its includes, the templates it reads and every local
asset it names, and the folders where a template it looked for and did not find would be
made.
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


def looked_for(checked: CheckedStoryboard, listed: Iterable[Path]) -> list[Path]:
    """Where the templates a prompt asked for and did not read would appear (``ignore
    missing``, the first of a list): for each, the nearest folder above it that exists, whose
    time changes when a file is made in it (the template itself, or a folder on the way);
    a named path that exists and was not read is listed itself. Without them ``make`` would
    keep a film cut before the template was written. ``listed``: the :func:`dependencies`
    already in the rule, not named again."""
    read = set(listed)
    found: dict[Path, None] = {}
    for named in checked.templates_named:
        path = named.absolute()
        if path in read:
            continue
        if os.path.lexists(path):
            found.setdefault(path, None)
            continue
        folder = path.parent
        while not os.path.isdir(folder) and folder != folder.parent:
            folder = folder.parent
        found.setdefault(folder, None)
    return [p for p in found if p not in read]


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
