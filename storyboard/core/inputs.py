"""Reading the text files a storyboard is made of: regular files only, never more than a cap.

Stage 1 (:mod:`storyboard.language.load`), ``fmt`` and the prompt templates read their files here.
A name may point anywhere: at a FIFO (which blocks a reader until a writer comes), at a
device such as ``/dev/zero`` (which never ends) or at a folder. :func:`read_capped` refuses
what is not a regular file before reading a byte of it, and opens without blocking
(``O_NONBLOCK``) and checks again on the open file, so a FIFO swapped in between the two
looks is refused as well, not waited on. It reads at most the cap and one byte more, so a
file that grows after it was measured is refused without being read whole.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

NAME_MAX = 255
"""The longest file name, in bytes, that common file systems take (ext4, APFS, NTFS...)."""

_NONBLOCK = getattr(os, "O_NONBLOCK", 0)  # POSIX; Windows has no FIFOs to open by name
_NOCTTY = getattr(os, "O_NOCTTY", 0)  # a terminal device must not become ours
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_BINARY = getattr(os, "O_BINARY", 0)  # Windows: no newline translation


class NotAFile(OSError):
    """The name exists but is not a regular file; ``kind`` says what it is (``a folder``)."""

    def __init__(self, path: Path, kind: str) -> None:
        super().__init__(f"'{path}' is {kind}, not a regular file")
        self.kind = kind


class TooLarge(OSError):
    """The file holds more than the cap: ``size`` bytes, or ``None`` if it did not say so
    (it grew, or has more than its size says) and was read only up to the cap."""

    def __init__(self, path: Path, size: int | None, cap: int) -> None:
        self.size = size
        self.cap = cap
        super().__init__(f"'{path}' is {self.shown}; the largest file read is {cap:,}")

    @property
    def shown(self) -> str:
        """``9,437,184 bytes``, or ``more than 8,388,608 bytes``."""
        return f"{self.size:,} bytes" if self.size is not None else f"more than {self.cap:,} bytes"


def read_capped(path: Path, cap: int) -> bytes:
    """The bytes of the regular file ``path``, if it holds at most ``cap`` of them.

    Raises:
        NotAFile: ``path`` is a folder, a FIFO, a device or a socket (symlinks are followed).
        TooLarge: the file holds more than ``cap`` bytes (its size, or more bytes than it said).
        OSError: it cannot be read (missing, no permission, a name too long...).
    """
    _check_kind(path, os.stat(path).st_mode)  # before opening: opening a device can act
    fd = os.open(path, os.O_RDONLY | _NONBLOCK | _NOCTTY | _CLOEXEC | _BINARY)
    with os.fdopen(fd, "rb", buffering=0) as handle:
        info = os.fstat(handle.fileno())
        _check_kind(path, info.st_mode)  # the file opened is the one looked at
        if info.st_size > cap:
            raise TooLarge(path, info.st_size, cap)
        # One read for a file as large as it says (a read past the end returns less); more
        # only for a file that grows, or says 0 bytes and has more (as /proc files do).
        data = handle.read(info.st_size + 1) or b""
        while len(data) <= cap:
            more = handle.read(cap + 1 - len(data))
            if not more:
                break
            data += more
    if len(data) > cap:  # it grew since it was measured
        raise TooLarge(path, None, cap)
    return data


def _check_kind(path: Path, mode: int) -> None:
    if stat.S_ISREG(mode):
        return
    raise NotAFile(path, _KINDS.get(stat.S_IFMT(mode), "a special file"))


_KINDS = {
    stat.S_IFDIR: "a folder",
    stat.S_IFIFO: "a FIFO (named pipe)",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
}
