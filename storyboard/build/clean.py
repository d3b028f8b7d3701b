"""``storyboard clean``: remove what a build can make again, and never what was paid for.

Place in the pipeline: beside it; it undoes what execute and finish wrote into the build
folder. The build folder's files that storyboard wrote (the take videos, the requests, the
film, its exports, the report, ``build.json``...: the list its marker keeps, see
:mod:`storyboard.build.state.outputs`) are removed, then the folders it made if they are empty;
anything else in it stays and is reported. The next build remakes everything from the cache
and the lock file. With ``previews``, the project's cached previews go too (they are free to
render again), and the hand-off frames extracted from takes. Paid results in the cache, the
lock file and the journal are never touched: they are what makes a build never pay twice.

A folder storyboard did not make, one outside the project, the project folder itself,
``.git``, ``.storyboard``, and any path through a symlink are refused with a message, before
anything is removed. The storyboard need not be valid (a broken file can still be cleaned),
but its name must make a build folder. Cleaning takes the project lock, so it never pulls
files from under a running build.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from storyboard.build.state.safe import UnsafePath
from storyboard.build.state.workspace import ProjectLock, Workspace
from storyboard.core.errors import InputError
from storyboard.language.load import check_storyboard_name, find_project_root


@dataclass
class Cleaned:
    """What ``clean`` removed (or, for a dry run, would remove), what it left, and the bytes
    it frees."""

    removed: list[Path] = field(default_factory=list)
    """Folders removed whole (the build folder, preview namespaces, frames)."""
    files: list[Path] = field(default_factory=list)
    """Files removed from a build folder that stays (it holds files storyboard did not write)."""
    kept: list[Path] = field(default_factory=list)
    """What stays in the build folder: storyboard did not write it."""
    freed: int = 0
    build_dir: Path | None = None


def clean(
    path: str | os.PathLike[str],
    *,
    build_dir: Path | None = None,
    previews: bool = False,
    dry_run: bool = False,
    wait: float = 0.0,
) -> Cleaned:
    """Remove the files storyboard wrote in the storyboard's build folder (and with
    ``previews``, the cached previews).

    Raises:
        InputError: there is no such storyboard file, its name makes no build folder, or the
            build folder (or a state folder) is not one storyboard may remove files from.
        BuildError: a build of the project is running (after ``wait`` seconds).
    """
    storyboard = Path(path).absolute()
    problem = check_storyboard_name(storyboard)
    if problem is not None:
        raise InputError([problem])
    if not storyboard.is_file():
        raise InputError.at(None, f"{path}: no such storyboard file")
    try:
        workspace = Workspace.for_storyboard(storyboard, find_project_root(storyboard), build_dir)
        workspace.outputs.inspect()  # refused before the lock is taken (again under it)
        if dry_run:
            return _clean(workspace, previews, dry_run=True)
        with ProjectLock(workspace, wait=wait):
            return _clean(workspace, previews, dry_run=False)
    except UnsafePath as exc:
        raise InputError.at(None, f"{exc}; nothing was removed") from None


def _clean(workspace: Workspace, previews: bool, *, dry_run: bool) -> Cleaned:
    tree = workspace.tree
    # check everything before removing anything
    folder = workspace.outputs
    folder.inspect()
    namespaces = []
    if previews:
        namespaces = [
            workspace.cache / name
            for name, is_dir in tree.names(workspace.cache)
            if is_dir and _is_preview(name)
        ]
    cleaned = Cleaned(build_dir=folder.path)
    done = folder.clean(dry_run=dry_run)
    cleaned.freed += done.freed
    if done.folder_removed:
        cleaned.removed.append(folder.path)
    else:
        cleaned.files += done.removed
    cleaned.kept += done.kept
    for target in [*namespaces, workspace.frames] if previews else []:
        if tree.lstat(target) is None:
            continue
        cleaned.removed.append(target)
        cleaned.freed += tree.size(target) if dry_run else tree.rmtree(target)
    return cleaned


def _is_preview(namespace: str) -> bool:
    return namespace == "preview" or namespace.startswith("preview@")
