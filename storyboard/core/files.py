"""Small file helpers every stage that writes shares: atomic writes, durable appends, the mode
of a new file, the error a writer sees when the disk fails (full, read-only, gone), and the
:class:`Writer` the exports and the report write through."""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from pathlib import Path
from typing import Protocol

from storyboard.core.errors import BuildError

#: The most bytes a state file may hold to be read (a lock file, a journal, records, a
#: marker, a cache entry's ``entry.json``, a note, the build record): far more than storyboard
#: writes (a lock entry is about 600 bytes: 64 MiB is some 100,000 takes). A larger one is
#: refused, never read whole (a 2 GiB file took 30 s and 4.2 GB to find wanting) and never
#: taken for empty.
MAX_STATE_BYTES = 64 << 20

_HINTS = {
    errno.ENOSPC: "free some space and build again",
    errno.EDQUOT: "free some space (or raise the quota) and build again",
    errno.EROFS: "make it writable and build again",
    errno.EACCES: "make it writable and build again",
    errno.EPERM: "make it writable and build again",
}


def disk_error(exc: OSError, action: str) -> BuildError:
    """The :class:`BuildError` for a file system failure while doing ``action``.

    ``cannot write film.lock: No space left on device; free some space and build again``.
    """
    reason = exc.strerror or str(exc) or type(exc).__name__
    where = f" ({exc.filename})" if exc.filename and str(exc.filename) not in action else ""
    hint = _HINTS.get(exc.errno or 0)
    return BuildError(f"cannot {action}{where}: {reason}" + (f"; {hint}" if hint else ""))


#: The mode every new file is created with; the kernel takes the umask away.
NEW_FILE = 0o666


def _umask_from_proc() -> int | None:
    """The umask as Linux (4.7 and later) shows it, read without changing it."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        return None
    return None


def _umask_at_start() -> int:
    """The umask, where ``/proc`` does not show it: read once, at import, before the build
    starts any thread (``os.umask`` sets it while it reads it, which is racy once threads make
    files)."""
    found = _umask_from_proc()
    if found is not None:
        return found
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK_AT_START = _umask_at_start()


def new_file_mode() -> int:
    """The permission bits a plain ``open(path, "w")`` gives a new file now: ``0o666`` less
    the umask (``0o644`` under umask 022, ``0o640`` under 027)."""
    mask = _umask_from_proc()
    return NEW_FILE & ~(mask if mask is not None else _UMASK_AT_START)


def fit_mode(fd: int) -> None:
    """Give the open file ``fd`` the mode of a new file (:func:`new_file_mode`), if it has
    another: for a file another writer made private (``mkstemp``) that storyboard keeps."""
    want = new_file_mode()
    if stat.S_IMODE(os.fstat(fd).st_mode) != want:
        os.fchmod(fd, want)


def write_all(fd: int, data: bytes) -> None:
    """Write every byte of ``data`` to ``fd`` (``os.write`` may write fewer on a full disk)."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        if written <= 0:  # pragma: no cover - POSIX raises instead
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        view = view[written:]


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that a crash leaves the old file or the new one, whole.

    Raises:
        BuildError: the file could not be written (full or read-only disk...), nothing
            changed.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise disk_error(exc, f"write {path}") from exc
    try:
        with os.fdopen(fd, "wb") as handle:
            fit_mode(handle.fileno())  # mkstemp makes it 0o600: the mode of a new file instead
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise disk_error(exc, f"write {path}") from exc
        raise
    fsync_dir(path.parent)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def fsync_dir(path: Path) -> None:
    """Make a rename inside ``path`` durable (no-op where directories cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class Writer(Protocol):
    """Where the exports, the record and the report write their files: a
    :class:`~storyboard.build.state.outputs.BuildFolder` (every file listed as storyboard's, nothing
    followed), or :data:`PLAIN_FILES` for files at paths a caller of the API chose."""

    def write_file(self, path: Path, data: bytes) -> Path: ...

    def remove_file(self, path: Path) -> bool: ...


class PlainFiles:
    """Writes at the paths given (atomically): for exports written where an API caller said."""

    def write_file(self, path: Path, data: bytes) -> Path:
        atomic_write_bytes(path, data)
        return path

    def remove_file(self, path: Path) -> bool:
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        return True


PLAIN_FILES = PlainFiles()
