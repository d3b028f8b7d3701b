"""The build folder: a folder storyboard made, and the list of the files it wrote there.

Place in the pipeline: execute and finish write into it (requests, take videos, the film, the
record ``build.json``, the exports, the contact sheet, the no-op note), ``report`` adds its
page and thumbnails, and ``clean`` removes exactly what it lists, through
:class:`storyboard.build.state.safe.Tree` like every other write.

A build folder carries a marker, ``.storyboard-build.json``, written when storyboard makes the
folder: which storyboard it belongs to, whether storyboard made the folder itself, the
subfolders it made and every file it wrote there (a name is added *before* its file is
written, so a killed build leaves nothing of its own unlisted). Storyboard writes only into a
folder that is missing (it makes it), empty, or marked as this storyboard's, or one an older
storyboard made (its ``build.json`` names this storyboard: it is adopted and marked). Any other
folder, a folder marked for another storyboard, and a file there that storyboard did not write
are refused with a message saying what to do. Adopting an older storyboard's folder lists every
regular file and real subfolder already in it as storyboard's (what the older storyboard left
is taken as its own; a symlink or other special file is not listed): from then on the folder is
checked as any other, and a file put there later is refused, never overwritten. A marker that
says ``"adopted": "legacy"`` records only that history; it exempts nothing. Temporary files go
in one subfolder, ``.storyboard-tmp/``, which the next build empties.

Where a build folder may be: strictly inside the project, never the project folder itself,
never in ``.git`` or ``.storyboard``, never a folder that holds the storyboard.

Each backend writes in a folder of its own inside it (:func:`backend_folder`):
``build/NAME/preview/`` for the animatics, ``build/NAME/runware/`` for the films Runware made,
``build/NAME/runware@HOST-PORT/`` for another server's (the emulator), so that a preview never
replaces a paid film, nor a paid film a preview. One marker, at the top, lists the files of
every backend folder (``preview/takes/a.mp4``...): :class:`BackendOutputs` is the view of one
of them that the build, finish and the report write through.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from storyboard.build.state.safe import (
    NotText,
    Tree,
    UnsafePath,
    cannot_read,
    describe,
    load_json,
    sibling_tmp,
)
from storyboard.core.diagnostics import display_path
from storyboard.core.errors import BuildError
from storyboard.core.files import disk_error

MARKER = ".storyboard-build.json"
"""The marker of a build folder storyboard made (and the list of what it wrote there)."""
STAGING = ".storyboard-tmp"
"""The subfolder of a build folder where its files are written before they are renamed in."""
MARKER_VERSION = 1
RECORD = "build.json"
_FORBIDDEN_PARTS = frozenset({".git", ".storyboard"})

State = Literal["missing", "ours", "empty", "legacy"]
NOT_OURS = (
    "is in the build folder but was not written by storyboard, which does not overwrite it: "
    "move it out of the build folder, then build again"
)


@dataclass
class Manifest:
    """What the marker says."""

    storyboard: str
    made: bool
    adopted: str | None = None
    files: set[str] = field(default_factory=set)
    folders: set[str] = field(default_factory=set)

    def to_json(self) -> dict[str, Any]:
        return {
            "storyboard-build": MARKER_VERSION,
            "storyboard": self.storyboard,
            "made": self.made,
            "adopted": self.adopted,
            "folders": sorted(self.folders),
            "files": sorted(self.files),
        }


@dataclass
class Removal:
    """What :meth:`BuildFolder.clean` removed (or, dry, would remove) and what it left."""

    removed: list[Path] = field(default_factory=list)
    kept: list[Path] = field(default_factory=list)
    freed: int = 0
    folder_removed: bool = False


class BuildFolder:
    """One storyboard's build folder (see the module docstring)."""

    def __init__(self, tree: Tree, path: Path, storyboard: Path) -> None:
        self.tree = tree
        self.path = tree.path(tree.parts(path))
        self.storyboard = storyboard
        self._manifest: Manifest | None = None

    @property
    def owner(self) -> str:
        """The storyboard, as the marker names it: its path inside the project."""
        return "/".join(self.tree.parts(self.storyboard))

    @property
    def staging(self) -> Path:
        return self.path / STAGING

    def backend(self, namespace: str) -> BackendOutputs:
        """The folder where the backend of ``namespace`` writes (:func:`backend_folder`)."""
        return BackendOutputs(self, backend_folder(namespace))

    def built(self) -> dict[str, int]:
        """The backend folders holding a film record (``build.json``) storyboard wrote, each
        with the time the record was written (ns): which backends built this storyboard, the
        latest last. A ``build.json`` storyboard did not write (a folder of the writer's) is
        not one."""
        found: dict[str, int] = {}
        for name in self.owned():
            folder, slash, rest = name.partition("/")
            if not slash or rest != RECORD or folder in OLDER_LAYOUT_FOLDERS:
                continue
            record = self.tree.lstat(self.path / name)
            if record is not None and stat.S_ISREG(record.st_mode):
                found[folder] = record.st_mtime_ns
        return dict(sorted(found.items(), key=lambda item: (item[1], item[0])))

    def older_layout(self) -> list[str]:
        """The files storyboard listed here outside every backend folder: what a storyboard
        that kept every backend's outputs in one folder wrote (removed by ``clean``, never
        overwritten)."""
        return [n for n in self.owned() if older_layout(n)]

    # -- is it ours? -------------------------------------------------------------------------

    def check_place(self) -> None:
        """Where the folder is may hold a build folder.

        Raises:
            UnsafePath: it is outside the project, the project folder itself, inside ``.git``
                or ``.storyboard``, or holds the storyboard.
        """
        parts = self.tree.parts(self.path)
        if not parts:
            raise UnsafePath(
                self.path,
                "is the project folder itself; a build folder must be a folder of its own "
                "inside the project (the default is build/NAME beside the storyboard)",
            )
        if _FORBIDDEN_PARTS & set(parts):
            raise UnsafePath(
                self.path,
                "is inside .git or .storyboard, which hold the repository and storyboard's "
                "state; choose a build folder of its own",
            )
        holder = self.tree.parts(self.storyboard.parent)
        if holder[: len(parts)] == parts:
            raise UnsafePath(
                self.path,
                f"holds the storyboard {self.storyboard.name}; choose a build folder of its own",
            )

    def inspect(self) -> State:
        """What the folder is now: missing, marked as this storyboard's, empty, or made by an
        older storyboard for this storyboard.

        Raises:
            UnsafePath: anything else (see :meth:`check_place`; a symlink; a folder storyboard
                did not make; the folder of another storyboard; a damaged marker; a folder
                or marker that cannot be read).
        """
        self.check_place()
        try:
            return self._inspect()
        except OSError as exc:  # not readable (no permission...): never taken for missing
            raise UnsafePath(self.path, cannot_read(self.path, exc)) from None

    def _inspect(self) -> State:
        found = self.tree.lstat(self.path)
        if found is None:
            return "missing"
        if stat.S_ISLNK(found.st_mode) or not stat.S_ISDIR(found.st_mode):
            with self.tree.parent(self.path) as (fd, name):
                raise UnsafePath(self.path, describe(fd, name))
        manifest = self._read_marker()
        if manifest is not None:
            if manifest.storyboard != self.owner:
                raise UnsafePath(
                    self.path,
                    f"is the build folder of {manifest.storyboard}, not of {self.owner}: give "
                    "each storyboard a build folder of its own (--build-dir DIR)",
                )
            self._check_contents(manifest)
            self._manifest = manifest
            return "ours"
        names = [n for n, _ in self.tree.names(self.path)]
        if names == [sibling_tmp(MARKER)]:
            # storyboard made it and was killed while writing its marker: it is storyboard's
            # own, half made (the next marker is written over that temporary file)
            return "missing"
        if not names:
            return "empty"
        if self._made_by_older_storyboard():
            return "legacy"
        raise UnsafePath(
            self.path,
            f"was not made by storyboard (it has no {MARKER}), and storyboard writes and "
            "removes files only in folders it made: move it away, or give another --build-dir",
        )

    def _read_marker(self) -> Manifest | None:
        try:
            text = self.tree.read_text(self.path / MARKER)
            if text is None:
                return None
            data = load_json(text)
            version = data.get("storyboard-build")
            if version != MARKER_VERSION:
                raise ValueError(
                    f"of version {version!r}; this storyboard reads version {MARKER_VERSION}"
                )
            files = {_checked(str(f)) for f in data["files"]}
            folders = {_checked(str(f), folder=True) for f in data["folders"]}
            adopted = data.get("adopted")
            return Manifest(
                storyboard=str(data["storyboard"]),
                made=bool(data["made"]),
                adopted=str(adopted) if adopted is not None else None,
                files=files,
                folders=folders,
            )
        except OSError as exc:  # there, but not readable: never a folder without a marker
            raise UnsafePath(self.path / MARKER, cannot_read(self.path / MARKER, exc)) from None
        except NotText as exc:
            raise UnsafePath(
                self.path / MARKER,
                f"is {exc.what} at line {exc.line}, column {exc.col}: storyboard cannot tell "
                f"which files of {display_path(self.path)} it wrote; mend it, or remove the "
                "folder yourself",
            ) from None
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise UnsafePath(
                self.path / MARKER,
                f"is damaged ({exc}): storyboard cannot tell which files of "
                f"{display_path(self.path)} it wrote; remove the folder yourself",
            ) from None

    def _check_contents(self, manifest: Manifest) -> None:
        """What storyboard wrote here is still a real folder or file (or gone): a symlink put
        in its place is refused before anything is written through it. The folder is opened
        once; its subfolders are checked (without following) before the files in them."""
        folders = set(manifest.folders)
        for name in manifest.files:  # the folders on their way too, made by storyboard or not
            parts = name.split("/")
            folders.update("/".join(parts[:depth]) for depth in range(1, len(parts)))
        with self.tree.folder(self.path) as fd:
            for folder in sorted(folders, key=lambda f: (f.count("/"), f)):
                _check_at(fd, folder, self.path, folder=True)
            for name in sorted(manifest.files):
                _check_at(fd, name, self.path, folder=False)

    def _made_by_older_storyboard(self) -> bool:
        """Whether an older storyboard (which left no marker) built this storyboard here."""
        found = self.tree.lstat(self.path / RECORD)
        if found is None or not stat.S_ISREG(found.st_mode) or found.st_size > 64 << 20:
            return False
        try:
            data = load_json(self.tree.read_text(self.path / RECORD) or "")
        except (ValueError, UnicodeDecodeError):
            return False
        return (
            isinstance(data, dict)
            and data.get("storyboard") == self.storyboard.name
            and data.get("name") == self.storyboard.stem
        )

    # -- writing -------------------------------------------------------------------------------

    def open(self) -> Manifest:
        """The folder, ready to be written: made (and marked) if missing, adopted if empty or
        an older storyboard's.

        Raises:
            UnsafePath: it is not a folder storyboard may write in (:meth:`inspect`).
        """
        if self._manifest is not None:
            return self._manifest
        state = self.inspect()
        if state == "ours":
            assert self._manifest is not None
            return self._manifest
        if state == "missing":
            self.tree.makedirs(self.path)
        manifest = Manifest(
            self.owner,
            made=state in ("missing", "legacy"),
            adopted=None if state == "missing" else state,
            folders={STAGING},
        )
        if state == "legacy":
            self._adopt(manifest)
        self._manifest = manifest
        self._save()
        return manifest

    def _adopt(self, manifest: Manifest) -> None:
        """List what an older storyboard left in the folder as storyboard's: every regular
        file (recursively, links never followed) in ``files``, every real subfolder in
        ``folders``; the marker, its temporary file and the staging folder are storyboard's
        bookkeeping, and a symlink or other special file stays unlisted (a build refuses to
        write there, ``clean`` leaves it)."""
        bookkeeping = {MARKER, sibling_tmp(MARKER), STAGING}
        pending = [""]
        while pending:
            prefix = pending.pop()
            for entry, is_dir in self.tree.names(self.path / prefix if prefix else self.path):
                if not prefix and entry in bookkeeping:
                    continue
                name = f"{prefix}/{entry}" if prefix else entry
                try:
                    name.encode("utf-8")  # a name the marker can hold as it is
                    _checked(name, folder=is_dir)
                except (ValueError, UnicodeEncodeError):
                    continue
                if is_dir:
                    manifest.folders.add(name)
                    pending.append(name)
                    continue
                found = self.tree.lstat(self.path / name)
                if found is not None and stat.S_ISREG(found.st_mode):
                    manifest.files.add(name)

    def own(self, names: Iterable[str]) -> None:
        """List ``names`` (paths inside the folder, ``/``-separated) as storyboard's, before
        they are written.

        Raises:
            UnsafePath: a name leaves the folder, or a file storyboard did not write is already
                there (it is not overwritten).
        """
        manifest = self.open()
        new = [n for n in dict.fromkeys(names) if n not in manifest.files]
        if not new:
            return
        for name in new:
            parts = PurePosixPath(_checked(name)).parts
            for depth in range(1, len(parts)):
                sub = "/".join(parts[:depth])
                if sub not in manifest.folders and self.tree.lstat(self.path / sub) is None:
                    manifest.folders.add(sub)
            # in every folder, adopted ones too: what was there at adoption is listed already
            if self.tree.lstat(self.path / name) is not None:
                raise UnsafePath(self.path / name, NOT_OURS)
            manifest.files.add(name)
        self._save()

    def refuse_foreign(self, names: Iterable[str]) -> None:
        """Refuse now what :meth:`own` would refuse once ``names`` are written: a file
        storyboard did not write at one of them. A build asks before it sends anything, so
        that such a file is not found only after its takes are paid for. Nothing is written.

        Raises:
            UnsafePath: as :meth:`own`.
        """
        manifest = self._existing()
        if manifest is None:
            return  # missing or empty, or an older storyboard's: its files are adopted
        for name in dict.fromkeys(names):
            if name in manifest.files:
                continue
            if self.tree.lstat(self.path / _checked(name)) is not None:
                raise UnsafePath(self.path / name, NOT_OURS)

    def _existing(self) -> Manifest | None:
        """The marker of the folder as it is (made or adopted by nothing), ``None`` if it
        is missing or not yet marked."""
        if self._manifest is None and self.inspect() != "ours":
            return None
        return self._manifest

    def owned(self, prefix: str = "") -> list[str]:
        """The names listed as storyboard's that start with ``prefix``."""
        manifest = self._existing()
        return sorted(n for n in manifest.files if n.startswith(prefix)) if manifest else []

    def write_bytes(self, name: str, data: bytes) -> Path:
        """Write the file ``name`` whole (listed first); return its path."""
        self.own([name])
        target = self.path / name
        self.tree.write_atomic(target, data, staging=self.staging)
        return target

    def write_text(self, name: str, text: str) -> Path:
        return self.write_bytes(name, text.encode("utf-8"))

    def read_bytes(self, name: str, limit: int | None = None) -> bytes | None:
        return self.tree.read_bytes(self.path / name, limit)

    def exists(self, name: str) -> bool:
        return self.tree.lstat(self.path / name) is not None

    def write_file(self, path: Path, data: bytes) -> Path:
        """:class:`Writer`: write ``path``, a file of this folder."""
        return self.write_bytes(relative_name(self.path, path), data)

    def remove_file(self, path: Path) -> bool:
        """:class:`Writer`: remove ``path`` if storyboard wrote it."""
        return self.remove(relative_name(self.path, path))

    def link(self, source: Path, name: str) -> Path:
        """Make ``name`` a hard link to (or a copy of) ``source``, a file of the cache; do
        nothing when it already is that file."""
        target = self.path / name
        self.own([name])
        have, want = self.tree.lstat(target), self.tree.lstat(source)
        if have is not None and want is not None and stat.S_ISREG(have.st_mode):
            same = (have.st_dev, have.st_ino) == (want.st_dev, want.st_ino)
            if same and self.tree.fit_mode(source):  # an older link keeps a private mode
                return target
        try:
            self.tree.link(source, target, staging=self.staging)
        except OSError as exc:
            raise _not_put(target, exc) from exc
        return target

    def put(self, produced: Path, name: str) -> Path:
        """Move ``produced`` (made in :meth:`temp_dir`) into place as ``name``."""
        self.own([name])
        target = self.path / name
        try:
            self.tree.replace(produced, target)
        except OSError as exc:
            raise _not_put(target, exc) from exc
        return target

    def temp_dir(self, prefix: str) -> Path:
        """A new folder in the staging folder, for a writer that makes files there (the cut)."""
        self.open()
        return self.tree.make_temp_dir(self.staging, prefix)

    def remove(self, name: str) -> bool:
        """Remove the file ``name`` if storyboard wrote it; return whether it went."""
        manifest = self._existing()
        if manifest is None or name not in manifest.files:
            return False
        gone = self.tree.unlink(self.path / name) is not None
        manifest.files.discard(name)
        self._save()
        return gone

    def forget(self) -> None:
        """Forget the marker as read: read before the project lock was taken, it may be one
        another command (a build, ``clean``) has changed since; it is read again when needed."""
        self._manifest = None

    def clear_staging(self) -> int:
        """Empty the staging folder (what a killed build left); only in a folder marked ours."""
        if self.tree.lstat(self.path / MARKER) is None:
            return 0
        removed = self.tree.empty(self.staging)
        if self.tree.unlink(self.path / sibling_tmp(MARKER)) is not None:
            removed += 1
        return removed

    def _save(self) -> None:
        assert self._manifest is not None
        text = json.dumps(self._manifest.to_json(), indent=1) + "\n"
        # beside itself, not in the staging folder: the marker is written first of all
        self.tree.write_atomic(self.path / MARKER, text.encode())

    # -- clean ---------------------------------------------------------------------------------

    def clean(self, *, dry_run: bool = False) -> Removal:
        """Remove every file storyboard listed here, its staging folder and its marker, then
        the folders it made if they are empty; report what stays.

        Raises:
            UnsafePath: the folder is not one storyboard may remove files from.
        """
        cleaned = Removal()
        state = self.inspect()
        if state == "missing":
            return cleaned
        if state == "empty":
            return cleaned  # a folder storyboard did not make: left alone, nothing to remove
        if state == "legacy":
            raise UnsafePath(
                self.path,
                "was made by an older storyboard, which kept no list of the files it wrote: "
                "build the storyboard once (the build marks the folder), or remove it yourself",
            )
        manifest = self._manifest
        assert manifest is not None
        for name in sorted(manifest.files):
            target = self.path / name
            found = self.tree.lstat(target)
            if found is None:
                continue
            if not stat.S_ISREG(found.st_mode):
                continue  # a link or a folder where storyboard wrote a file: reported as kept
            cleaned.removed.append(target)
            cleaned.freed += found.st_size
            if not dry_run:
                self.tree.unlink(target)
        cleaned.freed += self.tree.size(self.staging)
        skip = {*cleaned.removed, self.path / MARKER, *(self.path / f for f in manifest.folders)}
        if dry_run:
            cleaned.kept = [p for p in self._files() if p not in skip]
            cleaned.folder_removed = manifest.made and not cleaned.kept
            return cleaned
        self.tree.rmtree(self.staging)
        self.tree.unlink(self.path / sibling_tmp(MARKER))
        self.tree.unlink(self.path / MARKER)
        for folder in sorted(manifest.folders, key=lambda f: (-f.count("/"), f)):
            self.tree.rmdir(self.path / folder)
        if manifest.made:
            cleaned.folder_removed = self.tree.rmdir(self.path)
        self._manifest = None
        cleaned.kept = [p for p in self._files() if p not in skip]
        return cleaned

    def _files(self) -> list[Path]:
        """Every entry under the folder but the staging folder (links and files, not folders
        that hold something)."""
        found: list[Path] = []
        pending = [self.path]
        while pending:
            folder = pending.pop()
            entries = self.tree.names(folder)
            if not entries and folder != self.path:
                found.append(folder)
            for name, is_dir in entries:
                path = folder / name
                if path == self.staging:
                    continue
                if is_dir:
                    pending.append(path)
                else:
                    found.append(path)
        return sorted(found)


PREVIEW_FOLDER = "preview"
"""The backend folder of every preview namespace (``preview``, ``preview@0.25``...)."""


def backend_folder(namespace: str) -> str:
    """The folder of a build folder where the backend of ``namespace`` writes its outputs.

    Every preview scale shares ``preview`` (each cut replaces the last: all are free); every
    other namespace has its own: ``runware`` for Runware itself, ``runware@127.0.0.1-8787`` for
    ``runware@127.0.0.1:8787`` (``:`` is a make special character, so every character but
    letters, digits, ``.``, ``_``, ``@`` and ``-`` becomes ``-``: a host name has no ``:``, an
    IPv6 address no ``-``, so two servers never share a folder).
    """
    if namespace == "preview" or namespace.startswith("preview@"):
        return PREVIEW_FOLDER
    folder = "".join(c if c.isascii() and (c.isalnum() or c in "._@-") else "-" for c in namespace)
    if folder.startswith(".") or folder in OLDER_LAYOUT_FOLDERS:
        raise ValueError(f"{namespace!r} makes no backend folder")
    return folder


OLDER_LAYOUT_FOLDERS = frozenset({"takes", "requests", "report_files"})
"""The folders a build folder had at its top before backend folders (no backend's folder)."""


def older_layout(name: str) -> bool:
    """Whether ``name`` (a file listed in a build folder's marker) is one the layout before
    backend folders wrote at the top: ``NAME.mp4``, ``build.json``, ``takes/a.mp4``..."""
    first, slash, _ = name.partition("/")
    return not slash or first in OLDER_LAYOUT_FOLDERS


class BackendOutputs:
    """The outputs of one backend: the folder ``build/NAME/FOLDER/`` of a
    :class:`BuildFolder`, whose marker lists them. Names are relative to this folder."""

    def __init__(self, root: BuildFolder, folder: str) -> None:
        self.root = root
        self.folder = _checked(folder, folder=True)
        self.path = root.path / folder
        self.tree = root.tree

    def _name(self, name: str) -> str:
        return f"{self.folder}/{name}"

    def own(self, names: Iterable[str]) -> None:
        """See :meth:`BuildFolder.own`."""
        self.root.own(self._name(n) for n in names)

    def refuse_foreign(self, names: Iterable[str]) -> None:
        """See :meth:`BuildFolder.refuse_foreign`."""
        self.root.refuse_foreign(self._name(n) for n in names)

    def owned(self, prefix: str = "") -> list[str]:
        cut = len(self.folder) + 1
        return [n[cut:] for n in self.root.owned(self._name(prefix))]

    def write_bytes(self, name: str, data: bytes) -> Path:
        return self.root.write_bytes(self._name(name), data)

    def write_text(self, name: str, text: str) -> Path:
        return self.root.write_text(self._name(name), text)

    def read_bytes(self, name: str, limit: int | None = None) -> bytes | None:
        return self.root.read_bytes(self._name(name), limit)

    def exists(self, name: str) -> bool:
        return self.root.exists(self._name(name))

    def write_file(self, path: Path, data: bytes) -> Path:
        """:class:`Writer`: write ``path``, a file of this folder."""
        return self.write_bytes(relative_name(self.path, path), data)

    def remove_file(self, path: Path) -> bool:
        """:class:`Writer`: remove ``path`` if storyboard wrote it."""
        return self.remove(relative_name(self.path, path))

    def link(self, source: Path, name: str) -> Path:
        return self.root.link(source, self._name(name))

    def put(self, produced: Path, name: str) -> Path:
        return self.root.put(produced, self._name(name))

    def temp_dir(self, prefix: str) -> Path:
        return self.root.temp_dir(prefix)

    def remove(self, name: str) -> bool:
        return self.root.remove(self._name(name))


def _not_put(target: Path, exc: OSError) -> BuildError:
    """The error of a file that could not be put in place in a build folder (after a build
    paid for its takes, perhaps): said as a write's is, never an internal error."""
    if isinstance(exc, IsADirectoryError):
        return UnsafePath(target, "is a folder where storyboard keeps a file: move it away")
    return disk_error(exc, f"write {display_path(target)}")


def _check_at(fd: int, name: str, root: Path, *, folder: bool) -> None:
    """Raise :class:`UnsafePath` unless ``name`` (below the folder ``fd``, whose folders on
    the way were checked already) is missing, or a real folder (``folder``) or regular file."""
    try:
        found = os.stat(name, dir_fd=fd, follow_symlinks=False)
    except (FileNotFoundError, NotADirectoryError):
        return
    if not (stat.S_ISDIR if folder else stat.S_ISREG)(found.st_mode):
        parent, _, leaf = name.rpartition("/")
        with Tree(root).folder(root / parent) if parent else _dup(fd) as where:
            raise UnsafePath(root / name, describe(where, leaf))


def _checked(name: str, *, folder: bool = False) -> str:
    """``name`` if it is a relative ``/``-separated path that stays inside its folder (and is
    not storyboard's bookkeeping: the marker, the staging folder but as a ``folder``)."""
    parts = name.split("/")
    if (
        not name
        or name.startswith("/")
        or "\\" in name
        or "\x00" in name
        or any(p in ("", ".", "..") for p in parts)
    ):
        raise ValueError(f"{name!r} is not a name inside the build folder")
    if name == MARKER or (parts[0] == STAGING and not (folder and name == STAGING)):
        raise ValueError(f"{name!r} is storyboard's own bookkeeping")
    return name


@contextmanager
def _dup(fd: int) -> Iterator[int]:
    copy = os.dup(fd)
    try:
        yield copy
    finally:
        os.close(copy)


def relative_name(folder: Path, path: Path) -> str:
    """The ``/``-separated name of ``path`` inside ``folder`` (for writers given full paths)."""
    rel = os.path.relpath(os.path.normpath(path), os.path.normpath(folder))
    return _checked(rel.replace(os.sep, "/"))
