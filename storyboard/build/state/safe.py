"""Safe files: the one way storyboard reads its state and writes or removes its files.

Place in the pipeline: under everything that touches the disk after compile. The state in
``.storyboard/`` (cache, journal, records, frames, the project lock), the lock file
``NAME.lock`` and the build folder with its outputs are all reached through a :class:`Tree`,
the project folder, and through nothing else.

A path is taken *lexically* below the project's resolved root: one that leaves it is refused.
Then every folder on the way is opened from the root down, each relative to the one above
(``dir_fd``) with ``O_NOFOLLOW | O_DIRECTORY``, and the file itself with ``O_NOFOLLOW``: a
symlink, or a file, where a folder or a file of storyboard's should be is refused with
:class:`UnsafePath`, which names it, and never followed. So a committed symlink
(``.storyboard/build.lock -> ~/.bashrc``, ``build -> ../home``) can neither be written
through nor make storyboard remove anything outside the project.

Files are written whole and renamed into place: in a staging folder of the caller's (every
temporary thing storyboard makes lives in one, which it clears at the next build), or, for a
file outside the folders storyboard owns (the lock file beside a storyboard), in a sibling of
one exact name, ``.NAME.storyboard-tmp``. Removal takes only regular files and folders
storyboard names, never follows a link, and treats a symlink in its way as an error.

Every file storyboard makes has the mode a plain ``open`` gives a new file: ``0o666`` less the
umask (``-rw-r--r--`` under umask 022), because it is created with mode ``0o666`` and the
kernel applies the umask (and a folder's default ACL). A file made by another writer with a
private mode (``tempfile.mkstemp``'s ``0o600``: a download, a rendered preview) and adopted
into the cache is given that mode explicitly (:func:`fit_mode`): the take videos of a build
folder are hard links to the cache's files, and a link is the same file, mode included.
"""

from __future__ import annotations

import errno
import json
import os
import secrets
import shutil
import stat
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from storyboard.core.diagnostics import display_path
from storyboard.core.errors import BuildError
from storyboard.core.files import MAX_STATE_BYTES as MAX_STATE_BYTES  # (its home, re-exported)
from storyboard.core.files import NEW_FILE, disk_error, fit_mode, write_all

_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
_NOFOLLOW_DIR = _DIR | os.O_NOFOLLOW
#: What ``open`` answers for a symlink under ``O_NOFOLLOW`` (Linux, macOS: ELOOP; BSD: EMLINK)
#: and for a file under ``O_DIRECTORY``.
_REFUSED = (errno.ELOOP, errno.EMLINK, errno.ENOTDIR)
#: The suffix of the one temporary name written beside a file outside a staging folder.
SIBLING_TMP = ".storyboard-tmp"


class TooLarge(OSError):
    """A state file larger than :data:`MAX_STATE_BYTES`: not what storyboard wrote, not read."""

    def __init__(self, path: Path, size: int, limit: int) -> None:
        super().__init__(
            errno.EFBIG,
            f"it holds {size:,} bytes, more than storyboard writes in such a file "
            f"({limit >> 20} MiB at most)",
            path.name,
        )
        self.size = size
        self.limit = limit


class UnsafePath(BuildError):
    """A path storyboard would read as its state, write or remove is not safely its own.

    It leaves the project, or a symlink (or a file, or a folder) stands where storyboard's
    folder or file should be. Nothing was read, written or removed through it.
    """

    def __init__(self, path: Path, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"{display_path(path)} {problem}")


class NotText(UnicodeDecodeError):
    """A state file that is not UTF-8 text, and where its first byte that cannot be read is.

    A :class:`UnicodeDecodeError` still (a caller that takes such a file for no record, as
    it takes one that is not JSON, goes on doing so); a caller that must not take it for
    empty reports :attr:`line` and :attr:`col` (1-based, the column in characters, as a JSON
    error's) and :attr:`what`.
    """

    def __init__(self, path: Path, cause: UnicodeDecodeError) -> None:
        super().__init__(cause.encoding, cause.object, cause.start, cause.end, cause.reason)
        data = bytes(cause.object)
        self.path = path
        self.byte = data[cause.start]
        self.line, self.col = text_position(data, cause.start)
        self.bad_lines = sum(1 for line in data.split(b"\n") if not _decodes(line))

    @property
    def what(self) -> str:
        """What is wrong, for a message: ``not UTF-8 text (the byte 0xff cannot be read)``."""
        return f"not UTF-8 text (the byte 0x{self.byte:02x} cannot be read)"


def text_position(data: bytes, offset: int) -> tuple[int, int]:
    """``(line, column)`` of the byte at ``offset`` of ``data``, both from 1; the column
    counts the characters before it on its line (bytes that cannot be read count one each)."""
    start = data.rfind(b"\n", 0, offset) + 1
    before = data[start:offset].decode("utf-8", errors="replace")
    return data.count(b"\n", 0, offset) + 1, len(before) + 1


def load_json(text: str | bytes) -> Any:
    """``json.loads`` of a state file's text, where JSON nested too deeply for Python to read
    (some thousands of ``[``: nothing storyboard writes) is a :class:`json.JSONDecodeError` at
    its first character, as any other text that is not the JSON storyboard wrote, and never a
    :class:`RecursionError` (a traceback)."""
    try:
        return json.loads(text)
    except RecursionError:
        shown = text if isinstance(text, str) else text.decode("utf-8", errors="replace")
        raise json.JSONDecodeError("nested too deeply to be read", shown, 0) from None


def cannot_read(path: Path, exc: OSError) -> str:
    """What to say of a state file or folder that is there but cannot be opened or read (no
    permission, an I/O error): never taken for a missing one."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    name = f" ({exc.filename})" if exc.filename and str(exc.filename) != path.name else ""
    if isinstance(exc, TooLarge):
        return (
            f"is too large to be read: {reason}; storyboard does not take it for missing: "
            "restore it (from git, or a backup), or move it aside (a paid result only it "
            "records is then paid for again)"
        )
    return (
        f"cannot be read{name}: {reason}; storyboard does not take it for missing: let it "
        "be read (check its owner and mode), then run again"
    )


def _decodes(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def sibling_tmp(name: str) -> str:
    """The exact temporary name a file ``name`` is written under beside itself."""
    return f".{name}{SIBLING_TMP}"


@dataclass(frozen=True)
class Tree:
    """The project folder: everything storyboard owns lies strictly inside ``root``.

    ``root`` is absolute and resolved (a symlink above the project, like macOS's ``/var``,
    is the user's business); nothing below it is followed.
    """

    root: Path

    @classmethod
    def at(cls, root: str | os.PathLike[str]) -> Tree:
        return cls(Path(os.path.realpath(root)))

    @classmethod
    def around(cls, path: str | os.PathLike[str]) -> Tree:
        """The tree of the nearest existing folder above ``path``: for a state file used on
        its own (a test, a tool), where no project says how far up it may reach."""
        folder = Path(os.path.abspath(path)).parent
        while not folder.is_dir() and folder != folder.parent:
            folder = folder.parent
        return cls.at(folder)

    # -- where a path is -------------------------------------------------------------------

    def parts(self, path: str | os.PathLike[str]) -> tuple[str, ...]:
        """The names leading from the root to ``path`` (``()``: the root itself).

        Raises:
            UnsafePath: ``path`` is outside the project.
        """
        absolute = os.path.normpath(os.path.abspath(path))
        rel = os.path.relpath(absolute, self.root)
        if rel == ".":
            return ()
        if rel == os.pardir or rel.startswith(os.pardir + os.sep) or os.path.isabs(rel):
            raise UnsafePath(Path(absolute), f"is outside the project {self.root}")
        return tuple(rel.split(os.sep))

    def contains(self, path: str | os.PathLike[str]) -> bool:
        """Whether ``path`` lies lexically inside the project (the root included)."""
        try:
            self.parts(path)
        except UnsafePath:
            return False
        return True

    def path(self, parts: tuple[str, ...]) -> Path:
        return self.root.joinpath(*parts)

    # -- folders ---------------------------------------------------------------------------

    @contextmanager
    def folder(self, path: str | os.PathLike[str], *, create: bool = False) -> Iterator[int]:
        """A descriptor of the folder ``path``, every folder on the way opened without
        following a link (and made, with ``create``).

        Raises:
            FileNotFoundError: it (or a folder above it) is missing, and not ``create``.
            UnsafePath: outside the project, or a symlink or a file on the way.
        """
        fd = self._walk(self.parts(path), create=create)
        try:
            yield fd
        finally:
            os.close(fd)

    def _walk(self, parts: tuple[str, ...], *, create: bool) -> int:
        fd = os.open(self.root, _DIR)  # the root: resolved, trusted
        try:
            for depth, name in enumerate(parts):
                below = _open_dir(fd, name, self.path(parts[: depth + 1]), create=create)
                os.close(fd)
                fd = below
        except BaseException:
            os.close(fd)
            raise
        return fd

    @contextmanager
    def parent(
        self, path: str | os.PathLike[str], *, create: bool = False
    ) -> Iterator[tuple[int, str]]:
        """``(descriptor of the folder holding path, its name)``; see :meth:`folder`."""
        parts = self.parts(path)
        if not parts:
            raise UnsafePath(Path(path), "is the project folder itself")
        fd = self._walk(parts[:-1], create=create)
        try:
            yield fd, parts[-1]
        finally:
            os.close(fd)

    def makedirs(self, path: str | os.PathLike[str]) -> None:
        """Make the folder ``path`` and every folder above it that is missing."""
        with self.folder(path, create=True):
            pass

    def lstat(self, path: str | os.PathLike[str]) -> os.stat_result | None:
        """What is at ``path`` (a link is not followed), ``None`` when nothing is."""
        try:
            with self.parent(path) as (fd, name):
                return os.stat(name, dir_fd=fd, follow_symlinks=False)
        except FileNotFoundError:
            return None

    def check(self, path: str | os.PathLike[str], *, folder: bool) -> bool:
        """Whether a real folder (``folder``) or a regular file is at ``path``: ``False`` when
        nothing is.

        Raises:
            UnsafePath: something else is there (a symlink above all), or on the way.
        """
        try:
            with self.parent(path) as (fd, name):
                found = _lstat(fd, name)
                if found is None:
                    return False
                if not (stat.S_ISDIR if folder else stat.S_ISREG)(found.st_mode):
                    raise UnsafePath(self.path(self.parts(path)), describe(fd, name))
                return True
        except FileNotFoundError:
            return False

    def names(self, path: str | os.PathLike[str]) -> list[tuple[str, bool]]:
        """``(name, is a real folder)`` of every entry of the folder ``path`` (none if missing)."""
        try:
            with self.folder(path) as fd, os.scandir(fd) as listing:
                return sorted((e.name, e.is_dir(follow_symlinks=False)) for e in listing)
        except FileNotFoundError:
            return []

    # -- reading and writing files -----------------------------------------------------------

    def open(
        self,
        path: str | os.PathLike[str],
        flags: int,
        mode: int = NEW_FILE,
        *,
        create_parents: bool = False,
    ) -> int:
        """``os.open`` of ``path`` without following a link on the way or at the end.

        Raises:
            FileNotFoundError: it is missing (and ``flags`` do not create it).
            UnsafePath: a symlink or a folder is there, or on the way.
        """
        with self.parent(path, create=create_parents) as (fd, name):
            return open_file_at(fd, name, flags, self.path(self.parts(path)), mode)

    def read_bytes(self, path: str | os.PathLike[str], limit: int | None = None) -> bytes | None:
        """The bytes of the file ``path``, ``None`` when it is missing.

        Raises:
            TooLarge: it holds more than ``limit`` bytes (when given); nothing was read.
            UnsafePath: as :meth:`open`.
        """
        try:
            fd = self.open(path, os.O_RDONLY)
        except FileNotFoundError:
            return None
        with os.fdopen(fd, "rb") as handle:
            if limit is None:
                return handle.read()
            size = os.fstat(handle.fileno()).st_size
            data = handle.read(limit + 1) if size <= limit else b""
            if size > limit or len(data) > limit:  # (or it grew while being read)
                raise TooLarge(self.path(self.parts(path)), max(size, len(data)), limit)
            return data

    def read_text(self, path: str | os.PathLike[str], limit: int = MAX_STATE_BYTES) -> str | None:
        """The UTF-8 text of the state file ``path``, ``None`` when it is missing.

        Raises:
            NotText: it is not UTF-8 text (where its first byte that cannot be read is).
            TooLarge: it holds more than ``limit`` bytes; nothing was read.
            UnsafePath: as :meth:`open`.
        """
        data = self.read_bytes(path, limit)
        if data is None:
            return None
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise NotText(Path(path), exc) from None

    def write_atomic(
        self, path: str | os.PathLike[str], data: bytes, *, staging: Path | None = None
    ) -> None:
        """Write ``data`` to ``path`` whole: in ``staging`` (a folder inside the project on the
        same file system) or in the sibling ``.NAME.storyboard-tmp``, then renamed into place.

        Raises:
            UnsafePath: a symlink or a folder stands at ``path`` or on the way.
            BuildError: the disk refused (full, read-only...); ``path`` is as it was.
        """
        target = self.path(self.parts(path))
        try:
            with self.parent(target, create=True) as (fd, name):
                _refuse_non_file(fd, name, target)
                if staging is None:
                    tmp_name = sibling_tmp(name)
                    _refuse_non_file(fd, tmp_name, target.with_name(tmp_name))
                    # made anew, not reused: a leftover keeps the mode it was made with
                    _unlink_quietly(fd, tmp_name)
                    handle = os.open(tmp_name, _NEW | os.O_EXCL, NEW_FILE, dir_fd=fd)
                    _fill_and_rename(handle, data, (fd, tmp_name), (fd, name))
                else:
                    with self.folder(staging, create=True) as tmp_fd:
                        tmp_name, handle = _new_file(tmp_fd, name)
                        _fill_and_rename(handle, data, (tmp_fd, tmp_name), (fd, name))
                sync_quietly(fd)
        except UnsafePath:
            raise
        except OSError as exc:
            raise disk_error(exc, f"write {display_path(target)}") from exc

    def replace(
        self, source: str | os.PathLike[str], target: str | os.PathLike[str], *, sync: bool = True
    ) -> None:
        """Rename ``source`` (a file or folder made in a staging folder) to ``target``, and
        sync ``target``'s folder, unless ``sync`` is false: a writer that syncs that folder
        itself later (before anything depends on the rename) need not pay for it twice.

        Raises:
            UnsafePath: a symlink stands at ``target``, or on either way.
            OSError: the rename failed.
        """
        with self.parent(source) as (src_fd, src_name):
            self.move_in(src_fd, src_name, target, sync=sync)

    def move_in(
        self,
        src_fd: int,
        src_name: str,
        target: str | os.PathLike[str],
        *,
        sync: bool = True,
        over_folder: bool = False,
    ) -> None:
        """:meth:`replace` of ``src_name`` in the open folder ``src_fd`` (a writer that holds
        its staging folder open walks only to ``target``). With ``over_folder``, a folder at
        ``target`` (a damaged cache entry) is removed first, links in it not followed.

        Raises:
            UnsafePath: a symlink stands at ``target`` (or, with ``over_folder``, anything
                but a folder), or on the way to it.
            OSError: the rename failed.
        """
        with self.parent(target, create=True) as (dst_fd, dst_name):
            found = _lstat(dst_fd, dst_name)
            if found is not None and (
                stat.S_ISLNK(found.st_mode) or (over_folder and not stat.S_ISDIR(found.st_mode))
            ):
                raise UnsafePath(self.path(self.parts(target)), describe(dst_fd, dst_name))
            if found is not None and over_folder:
                shutil.rmtree(dst_name, dir_fd=dst_fd)  # fd-based: no link followed
            os.replace(src_name, dst_name, src_dir_fd=src_fd, dst_dir_fd=dst_fd)
            if sync:
                sync_quietly(dst_fd)

    def fit_mode(self, path: str | os.PathLike[str]) -> bool:
        """Give the regular file ``path`` the mode of a new file (:func:`fit_mode`); return
        whether it has it (``False``: it is not storyboard's to change, another user's).

        Raises:
            UnsafePath: something else than a regular file is there.
        """
        try:
            fd = self.open(path, os.O_RDONLY)
        except FileNotFoundError:
            return False
        try:
            fit_mode(fd)
        except PermissionError:
            return False
        finally:
            os.close(fd)
        return True

    def link(self, source: Path, target: Path, *, staging: Path) -> None:
        """Make ``target`` the same bytes as the file ``source``: a hard link where the file
        system allows, else a copy; written in ``staging`` and renamed into place.

        A link is the same file as ``source``, mode included: ``source`` is given the mode of
        a new file first (a cache file an older storyboard made private), and copied when
        that cannot be done."""
        linkable = self.fit_mode(source)
        with self.parent(source) as (src_fd, src_name):
            if not stat.S_ISREG(os.stat(src_name, dir_fd=src_fd, follow_symlinks=False).st_mode):
                raise UnsafePath(self.path(self.parts(source)), describe(src_fd, src_name))
            with self.folder(staging, create=True) as tmp_fd:
                tmp_name = f"link-{secrets.token_hex(8)}"
                try:
                    if not linkable:
                        raise PermissionError(errno.EPERM, "not the owner", src_name)
                    os.link(src_name, tmp_name, src_dir_fd=src_fd, dst_dir_fd=tmp_fd,
                            follow_symlinks=False)  # fmt: skip
                except OSError:
                    reader = os.open(src_name, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=src_fd)
                    with os.fdopen(reader, "rb") as src:
                        tmp_name, handle = _new_file(tmp_fd, "copy")
                        with os.fdopen(handle, "wb") as dst:
                            shutil.copyfileobj(src, dst, 1 << 20)
                try:
                    self.replace(self.path(self.parts(staging)) / tmp_name, target)
                except BaseException:
                    _unlink_quietly(tmp_fd, tmp_name)
                    raise

    def make_temp_dir(self, staging: Path, prefix: str) -> Path:
        """A new empty folder in ``staging`` (made if missing), for a writer that makes
        several files (a cache entry, a download, the cut's work) before renaming them in."""
        with self.folder(staging, create=True) as fd:
            return self.path(self.parts(staging)) / make_dir_at(fd, prefix, staging)

    # -- removing ----------------------------------------------------------------------------

    def unlink(self, path: str | os.PathLike[str]) -> int | None:
        """Remove the regular file ``path``; return its size, ``None`` when it was not there.

        Raises:
            UnsafePath: something else than a regular file is there (it stays).
        """
        try:
            with self.parent(path) as (fd, name):
                found = _lstat(fd, name)
                if found is None:
                    return None
                if not stat.S_ISREG(found.st_mode):
                    raise UnsafePath(self.path(self.parts(path)), describe(fd, name))
                os.unlink(name, dir_fd=fd)
                return found.st_size
        except FileNotFoundError:
            return None

    def rmdir(self, path: str | os.PathLike[str]) -> bool:
        """Remove the folder ``path`` if it is empty; return whether it went."""
        try:
            with self.parent(path) as (fd, name):
                found = _lstat(fd, name)
                if found is None or not stat.S_ISDIR(found.st_mode):
                    return False
                os.rmdir(name, dir_fd=fd)
                return True
        except OSError as exc:
            if exc.errno in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOENT):
                return False
            raise

    def rmtree(self, path: str | os.PathLike[str]) -> int:
        """Remove the folder ``path`` and all it holds, links removed and never followed;
        return the bytes of the regular files it held (0 when it was not there).

        Raises:
            UnsafePath: ``path`` itself is a symlink or a file (it stays).
        """
        try:
            with self.parent(path) as (fd, name):
                found = _lstat(fd, name)
                if found is None:
                    return 0
                if not stat.S_ISDIR(found.st_mode):
                    raise UnsafePath(self.path(self.parts(path)), describe(fd, name))
                size = _tree_bytes(fd, name)
                shutil.rmtree(name, dir_fd=fd)  # fd-based: avoids symlink attacks (3.11+)
                return size
        except FileNotFoundError:
            return 0

    def size(self, path: str | os.PathLike[str]) -> int:
        """The bytes of the regular files at or under ``path`` (links not followed)."""
        try:
            with self.parent(path) as (fd, name):
                found = _lstat(fd, name)
                if found is None:
                    return 0
                if stat.S_ISREG(found.st_mode):
                    return found.st_size
                return _tree_bytes(fd, name) if stat.S_ISDIR(found.st_mode) else 0
        except FileNotFoundError:
            return 0

    def empty(self, path: str | os.PathLike[str]) -> int:
        """Remove everything inside the folder ``path`` (a staging folder); return how many
        entries went. The folder itself stays."""
        removed = 0
        try:
            with self.folder(path) as fd:
                with os.scandir(fd) as listing:
                    entries = [(e.name, e.is_dir(follow_symlinks=False)) for e in listing]
                for name, is_dir in entries:
                    if is_dir:
                        shutil.rmtree(name, dir_fd=fd)
                    else:
                        os.unlink(name, dir_fd=fd)
                    removed += 1
        except FileNotFoundError:
            return 0
        return removed


# -- helpers ----------------------------------------------------------------------------------

_NEW = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC


def _open_dir(fd: int, name: str, shown: Path, *, create: bool) -> int:
    try:
        return os.open(name, _NOFOLLOW_DIR, dir_fd=fd)
    except FileNotFoundError:
        if not create:
            raise
    except OSError as exc:
        if exc.errno in _REFUSED:
            raise UnsafePath(shown, describe(fd, name)) from None
        raise
    with suppress(FileExistsError):  # made meanwhile: opened (and checked) below like any other
        os.mkdir(name, 0o777, dir_fd=fd)
    return _open_dir(fd, name, shown, create=False)


def make_dir_at(fd: int, prefix: str, shown: Path) -> str:
    """The name of a new empty folder made in the open folder ``fd`` (shown as ``shown``),
    a name no other writer uses."""
    for _ in range(100):
        name = f"{prefix}{secrets.token_hex(6)}"
        try:
            os.mkdir(name, 0o777, dir_fd=fd)
        except FileExistsError:
            continue
        return name
    raise BuildError(f"cannot make a temporary folder in {display_path(shown)}")


def open_file_at(fd: int, name: str, flags: int, shown: Path, mode: int = NEW_FILE) -> int:
    """``os.open`` of the regular file ``name`` of the open folder ``fd`` (shown as
    ``shown``), not followed if a link: :meth:`Tree.open` for a folder already reached.

    Raises:
        FileNotFoundError: it is missing (and ``flags`` do not create it).
        UnsafePath: a symlink, a folder, a FIFO or a device is there.
    """
    # O_NONBLOCK: a FIFO put in a file's place must not hang the build on open
    flags |= os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
    try:
        handle = os.open(name, flags, mode, dir_fd=fd)
    except OSError as exc:
        if exc.errno in _REFUSED or exc.errno in (errno.EISDIR, errno.ENXIO):
            raise UnsafePath(shown, describe(fd, name)) from None
        raise
    if not stat.S_ISREG(os.fstat(handle).st_mode):  # a folder, a FIFO, a device
        os.close(handle)
        raise UnsafePath(shown, describe(fd, name))
    os.set_blocking(handle, True)
    return handle


def open_dir_at(fd: int, name: str) -> int:
    """A descriptor of the folder ``name`` of the open folder ``fd``, not followed if a link."""
    return os.open(name, _NOFOLLOW_DIR, dir_fd=fd)


def new_file_at(fd: int, name: str) -> int:
    """A descriptor of the new file ``name`` (write only, made by this call) in ``fd``."""
    return os.open(name, _NEW | os.O_EXCL, NEW_FILE, dir_fd=fd)


def _lstat(fd: int, name: str) -> os.stat_result | None:
    try:
        return os.stat(name, dir_fd=fd, follow_symlinks=False)
    except FileNotFoundError:
        return None


def describe(fd: int, name: str) -> str:
    """Why storyboard will not use what is at ``name`` in the folder ``fd``, for a message."""
    found = _lstat(fd, name)
    if found is None:
        return "is missing"
    if stat.S_ISLNK(found.st_mode):
        try:
            target = os.readlink(name, dir_fd=fd)
        except OSError:
            target = "?"
        return (
            f"is a symlink (to {target}); storyboard does not follow symlinks in its state "
            "or build folder: remove the link (or replace it with a real folder or file)"
        )
    if stat.S_ISDIR(found.st_mode):
        return "is a folder where storyboard keeps a file: move it away"
    if stat.S_ISREG(found.st_mode):
        return "is a file where storyboard needs a folder: move it away"
    return "is neither a file nor a folder (a pipe, a device...): move it away"


def _refuse_non_file(fd: int, name: str, shown: Path) -> None:
    found = _lstat(fd, name)
    if found is not None and not stat.S_ISREG(found.st_mode):
        raise UnsafePath(shown, describe(fd, name))


def _new_file(fd: int, stem: str) -> tuple[str, int]:
    """A new file in the folder ``fd``, of a name no other writer uses."""
    for _ in range(100):
        name = f".{stem[:80]}.{secrets.token_hex(6)}.tmp"
        try:
            return name, os.open(name, _NEW | os.O_EXCL, NEW_FILE, dir_fd=fd)
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no free temporary name", stem)


def _fill_and_rename(
    handle: int, data: bytes, written: tuple[int, str], target: tuple[int, str]
) -> None:
    """Write ``data`` to ``handle`` (the file ``written``: a folder's fd, a name), sync it,
    and rename it to ``target``; on any failure the temporary file goes."""
    try:
        try:
            write_all(handle, data)
            os.fsync(handle)
        finally:
            os.close(handle)
        os.replace(written[1], target[1], src_dir_fd=written[0], dst_dir_fd=target[0])
    except BaseException:
        _unlink_quietly(*written)
        raise


def sync_quietly(fd: int) -> None:
    """fsync ``fd``, a folder; some file systems cannot sync one, and the rename stands."""
    with suppress(OSError):  # a folder that cannot be synced (some file systems): the rename stands
        os.fsync(fd)


def _unlink_quietly(fd: int, name: str) -> None:
    with suppress(OSError):
        os.unlink(name, dir_fd=fd)


def _tree_bytes(fd: int, name: str) -> int:
    """The bytes of the regular files under the folder ``name`` (links not followed)."""
    total = 0
    try:
        sub = os.open(name, _NOFOLLOW_DIR, dir_fd=fd)
    except OSError:
        return 0
    try:
        with os.scandir(sub) as listing:
            entries = list(listing)
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                total += _tree_bytes(sub, entry.name)
            elif entry.is_file(follow_symlinks=False):
                total += entry.stat(follow_symlinks=False).st_size
    finally:
        os.close(sub)
    return total
