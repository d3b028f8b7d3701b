"""Small file helpers every state module shares: atomic writes, durable appends, and the
error a writer sees when the disk fails (full, read-only, gone)."""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

from storyboard.errors import BuildError

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
    from storyboard.state.safe import fit_mode  # safe.py builds on this module

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
