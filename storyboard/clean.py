"""``storyboard clean``: remove what a build can make again, and never what was paid for.

A storyboard's build folder (``build/NAME/``: takes, requests, the film, its exports, the
report) is always removed: the next build remakes it from the cache and the lock file. With
``previews``, the project's cached previews go too (they are free to render again), and the
hand-off frames extracted from takes. Paid results in the cache, the lock file and the
journal are never touched: they are what makes a build never pay twice.

The storyboard need not be valid (a broken file can still be cleaned); cleaning takes the
project lock, so it never pulls files from under a running build.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from storyboard.errors import InputError
from storyboard.load import find_project_root
from storyboard.state.workspace import ProjectLock, Workspace


@dataclass
class Cleaned:
    """What ``clean`` removed (or, for a dry run, would remove), and the bytes it frees."""

    removed: list[Path] = field(default_factory=list)
    freed: int = 0


def clean(
    path: str | os.PathLike[str],
    *,
    build_dir: Path | None = None,
    previews: bool = False,
    dry_run: bool = False,
    wait: float = 0.0,
) -> Cleaned:
    """Remove the storyboard's build folder (and with ``previews``, the cached previews).

    Raises:
        InputError: there is no such storyboard file.
        BuildError: a build of the project is running (after ``wait`` seconds).
    """
    storyboard = Path(path).absolute()
    if not storyboard.is_file():
        raise InputError.at(None, f"{path}: no such storyboard file")
    workspace = Workspace.for_storyboard(storyboard, find_project_root(storyboard), build_dir)
    targets = [workspace.build_dir]
    if previews:
        if workspace.cache.is_dir():
            targets += sorted(p for p in workspace.cache.iterdir() if _is_preview(p.name))
        targets.append(workspace.frames)
    cleaned = Cleaned()
    if dry_run:
        _account(cleaned, targets)
        return cleaned
    with ProjectLock(workspace, wait=wait):
        _account(cleaned, targets)
        for target in cleaned.removed:
            shutil.rmtree(target, ignore_errors=True)
    return cleaned


def _is_preview(namespace: str) -> bool:
    return namespace == "preview" or namespace.startswith("preview@")


def _account(cleaned: Cleaned, targets: list[Path]) -> None:
    for target in targets:
        if target.is_dir():
            cleaned.removed.append(target)
            cleaned.freed += sum(
                p.stat().st_size for p in target.rglob("*") if p.is_file() and not p.is_symlink()
            )
