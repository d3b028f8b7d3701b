"""``storyboard clean``: remove what a build can make again, and never what was paid for.

Place in the pipeline: beside it; it undoes what execute and finish wrote into the build
folder. The build folder's files that storyboard wrote (the take videos, the requests, the
film, its exports, the report, ``build.json``...: the list its marker keeps, see
:mod:`storyboard.build.state.outputs`) are removed, then the folders it made if they are empty;
anything else in it stays and is reported. The next build remakes everything from the cache
and the lock file. With ``previews``, the project's cached previews go too (they are free to
render again), and the hand-off frames extracted from takes: in each preview namespace of the
cache, the entries (``<key[:2]>/<key>/``: ``entry.json`` and the results it lists), and in
``.storyboard/frames/`` the frames named as a build names them; then those folders if they are
empty. Anything else there (a file of the user's) stays and is reported as kept, as in the
build folder: storyboard never removes a file it did not write. Paid results in the cache, the
lock file and the journal are never touched: they are what makes a build never pay twice.

A folder storyboard did not make, one outside the project, the project folder itself,
``.git``, ``.storyboard``, and any path through a symlink are refused with a message, before
anything is removed. The storyboard need not be valid (a broken file can still be cleaned),
but its name must make a build folder. Cleaning takes the project lock, so it never pulls
files from under a running build.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

from storyboard.build.state.cache import KEY
from storyboard.build.state.safe import Tree, UnsafePath, load_json
from storyboard.build.state.workspace import ProjectLock, Workspace
from storyboard.core.errors import InputError
from storyboard.core.project import find_project_root
from storyboard.language.load import check_storyboard_name


@dataclass
class Cleaned:
    """What ``clean`` removed (or, for a dry run, would remove), what it left, and the bytes
    it frees."""

    removed: list[Path] = field(default_factory=list)
    """Folders removed whole (the build folder, preview namespaces, frames), and the preview
    entries and frames removed from a folder that stays (it holds something kept)."""
    files: list[Path] = field(default_factory=list)
    """Files removed from a build folder that stays (it holds files storyboard did not write)."""
    kept: list[Path] = field(default_factory=list)
    """What stays in the build folder (and with ``previews``, in the preview namespaces and
    the frames folder): storyboard did not write it."""
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
    ``previews``, the cached previews and the hand-off frames); keep, and report, the rest.

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
    # check everything before removing anything: a symlink in the way is refused here
    folder = workspace.outputs
    folder.inspect()
    sweep = _Sweep()
    if previews:
        for name, _ in tree.names(workspace.cache):
            if _is_preview(name):
                sweep.namespace(tree, workspace.cache / name)
        sweep.frames(tree, workspace.frames)
    cleaned = Cleaned(build_dir=folder.path)
    done = folder.clean(dry_run=dry_run)
    cleaned.freed += done.freed
    if done.folder_removed:
        cleaned.removed.append(folder.path)
    else:
        cleaned.files += done.removed
    cleaned.kept += done.kept
    if previews:
        removed, freed = sweep.remove(tree, dry_run=dry_run)
        cleaned.removed += removed
        cleaned.freed += freed
        cleaned.kept += sweep.kept
    return cleaned


def _is_preview(namespace: str) -> bool:
    return namespace == "preview" or namespace.startswith("preview@")


_SHARD = re.compile(r"[0-9a-f]{2}")
#: A result of a preview entry, when its ``entry.json`` cannot be read: ``0.mp4``, ``1.mp4``...
_RESULT = re.compile(r"[0-9]+\.mp4")
#: A hand-off frame or span: the first 20 hex digits of the take video's sha256, ``n`` or ``p``
#: (an older storyboard: of the take's key, and the pick), then where in the take.
_FRAME = re.compile(
    r"[0-9a-f]{20}-(?:[np]|[0-9]+)-(?:(?:first|last|frame-[0-9]+)\.png|video-[0-9]+-[0-9]+\.mp4)"
)


@dataclass
class _Sweep:
    """What storyboard made in the state's preview namespaces and frames folder, found before
    anything is removed: the files it wrote, the folders it made, and everything else (kept).

    A preview namespace is ``<namespace>/<key[:2]>/<key>/`` folders, each holding
    ``entry.json`` and the results it lists (:mod:`storyboard.build.state.cache`); the frames
    folder holds hand-off frames and spans named by the take video they come from
    (:func:`storyboard.build.execute._handoff_file`). Only regular files are storyboard's: a
    symlink is kept, never followed.
    """

    files: list[tuple[Path, int]] = field(default_factory=list)
    folders: list[Path] = field(default_factory=list)
    kept: list[Path] = field(default_factory=list)

    def namespace(self, tree: Tree, namespace: Path) -> None:
        self.folders.append(namespace)
        for shard, is_dir in tree.names(namespace):
            if not (is_dir and _SHARD.fullmatch(shard)):
                self.kept.append(namespace / shard)
                continue
            self.folders.append(namespace / shard)
            for key, is_dir in tree.names(namespace / shard):
                if is_dir and KEY.fullmatch(key) and key.startswith(shard):
                    self._entry(tree, namespace / shard / key)
                else:
                    self.kept.append(namespace / shard / key)

    def _entry(self, tree: Tree, entry: Path) -> None:
        self.folders.append(entry)
        listed = _entry_files(tree, entry)
        for name, is_dir in tree.names(entry):
            ours = name == "entry.json" or (
                name in listed if listed is not None else bool(_RESULT.fullmatch(name))
            )
            self._file(tree, entry / name, ours=ours and not is_dir)

    def frames(self, tree: Tree, frames: Path) -> None:
        if tree.lstat(frames) is None:
            return
        self.folders.append(frames)  # a symlink or a file in its place: refused by names()
        for name, is_dir in tree.names(frames):
            self._file(tree, frames / name, ours=not is_dir and bool(_FRAME.fullmatch(name)))

    def _file(self, tree: Tree, path: Path, *, ours: bool) -> None:
        found = tree.lstat(path) if ours else None
        if found is not None and stat.S_ISREG(found.st_mode):
            self.files.append((path, found.st_size))
        else:
            self.kept.append(path)

    def remove(self, tree: Tree, *, dry_run: bool) -> tuple[list[Path], int]:
        """Remove storyboard's files, then its folders left empty; return what went, each
        folder removed whole named alone, and the bytes freed."""
        freed = 0
        for path, size in self.files:
            gone = size if dry_run else tree.unlink(path)
            freed += gone or 0
        gone_folders: set[Path] = set()
        for folder in sorted(self.folders, key=lambda f: -len(f.parts)):
            if dry_run:
                empty = not any(p == folder or folder in p.parents for p in self.kept)
            else:
                empty = tree.rmdir(folder)
            if empty:
                gone_folders.add(folder)
        removed = [f for f in self.folders if f in gone_folders and f.parent not in gone_folders]
        removed += [p for p, _ in self.files if p.parent not in gone_folders]
        return removed, freed


def _entry_files(tree: Tree, entry: Path) -> set[str] | None:
    """The result files a cache entry's ``entry.json`` lists; ``None`` when it cannot be read
    (missing or damaged)."""
    try:
        found = tree.lstat(entry / "entry.json")
        if found is None or not stat.S_ISREG(found.st_mode):
            return None
        data = load_json(tree.read_text(entry / "entry.json") or "")
        names = {r["file"] for r in data["results"]}
    except (OSError, ValueError, KeyError, TypeError, UnsafePath):
        return None
    return {n for n in names if isinstance(n, str) and "/" not in n and n not in ("", ".", "..")}
