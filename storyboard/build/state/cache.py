"""The result cache: content-addressed by take key and backend, written atomically.

``.storyboard/cache/<backend>/<key[:2]>/<key>/`` holds ``entry.json`` and one video per variation
(``0.mp4``, ``1.mp4``, ...). An entry is put together in the cache's ``.tmp/`` folder and renamed
into place, so a crash never leaves half an entry; every folder is reached without following a
symlink (:mod:`storyboard.build.state.safe`). Reading verifies every file against the sha256
recorded for it; a missing, truncated or corrupt entry is a miss, never an error (but one a
newer storyboard wrote, or one that cannot be read, is: see :meth:`Cache.get`). Results of
different backends never stand in for each other: a free preview is not a paid take.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import shutil
import stat
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from storyboard.backends.namespaces import NAMESPACE as _NAMESPACE
from storyboard.build.state.safe import (
    MAX_STATE_BYTES,
    Tree,
    load_json,
    make_dir_at,
    new_file_at,
    open_dir_at,
    open_file_at,
    sync_quietly,
)
from storyboard.core.diagnostics import display_path
from storyboard.core.errors import BuildError
from storyboard.core.files import disk_error, fit_mode, write_all

ENTRY_VERSION = 1
UNREADABLE = frozenset({errno.EACCES, errno.EPERM, errno.EIO})
"""Errors that say an entry is there but cannot be read now, not that it is missing."""
KEY = re.compile(r"[0-9a-f]{64}")
"""A take key: the sha256 of its request, in hex."""


@dataclass(frozen=True)
class StoredResult:
    """One variation of a finished take."""

    file: str
    sha256: str
    bytes: int
    video_uuid: str | None = None
    url: str | None = None
    cost: float | None = None
    seed: int | None = None


@dataclass(frozen=True)
class CacheEntry:
    """A finished take in the cache."""

    key: str
    backend: str
    folder: Path
    results: tuple[StoredResult, ...]
    task_uuid: str | None = None
    meta: dict[str, Any] | None = None

    def path(self, index: int) -> Path:
        """The video of variation ``index`` (0-based)."""
        return self.folder / self.results[index].file

    @property
    def cost(self) -> float | None:
        costs = [r.cost for r in self.results]
        return None if any(c is None for c in costs) else round(sum(c or 0 for c in costs), 4)


class Cache:
    """Finished takes by (backend, key), reached through the project's :class:`Tree`.

    ``staging`` is where results are downloaded and entries put together before they are
    renamed into place: ``.tmp/`` in the cache (on its file system), emptied by the next build.
    """

    def __init__(
        self, root: Path, *, tree: Tree | None = None, staging: Path | None = None
    ) -> None:
        self.root = root
        self.tree = tree or Tree.around(root)
        self.staging = staging or root / ".tmp"

    def folder(self, backend: str, key: str) -> Path:
        """The folder of an entry.

        Raises:
            ValueError: ``backend`` is no namespace or ``key`` no take key (64 hex digits):
                neither may make a path that leaves the cache.
        """
        if not (_NAMESPACE.fullmatch(backend) and KEY.fullmatch(key)):
            raise ValueError(f"no cache entry for backend {backend[:40]!r}, key {key[:70]!r}")
        return self.root / backend / key[:2] / key

    def get(self, backend: str, key: str, *, verify: bool = True) -> CacheEntry | None:
        """The entry, or ``None`` when it is missing or any part of it is damaged.

        An entry that is there but cannot be read (permission denied, an I/O error) is not
        missing: it may hold a paid result, which a miss would pay for again. Nor is one a
        newer storyboard wrote (a later ``version``): a miss would pay for it again, and
        storing the new result would remove it.

        Raises:
            UnsafePath: a symlink stands where a folder of the cache should be.
            BuildError: the entry cannot be read, or is of a newer version (what to do is in
                the message).
        """
        try:
            folder = self.folder(backend, key)
            with self.tree.folder(folder) as fd:
                return self._read(fd, folder, backend, key, verify)
        except OSError as exc:
            if exc.errno in UNREADABLE:
                raise disk_error(exc, f"read the cache entry {key[:12]}... of {backend}") from None
            return None  # missing, or not what an entry is (a link, a FIFO...): damaged
        except (ValueError, KeyError, TypeError):
            return None

    @staticmethod
    def _read(fd: int, folder: Path, backend: str, key: str, verify: bool) -> CacheEntry | None:
        handle = os.open("entry.json", os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=fd)
        if not stat.S_ISREG(os.fstat(handle).st_mode):
            os.close(handle)
            return None
        with os.fdopen(handle, "rb") as stream:
            too_large = os.fstat(stream.fileno()).st_size > MAX_STATE_BYTES
            raw = b"" if too_large else stream.read(MAX_STATE_BYTES + 1)
        if too_large or len(raw) > MAX_STATE_BYTES:
            return None  # damaged: not what storyboard wrote (the lock says what was paid)
        data = load_json(raw)
        if not isinstance(data, dict):
            return None  # damaged: not the object storyboard wrote
        version = data.get("version")
        if isinstance(version, int) and not isinstance(version, bool) and version > ENTRY_VERSION:
            raise BuildError(
                f"the cache entry {display_path(folder / 'entry.json')} is of version {version}, "
                f"written by a newer storyboard (this one reads version {ENTRY_VERSION}): build "
                "with that storyboard, or move the entry out of the cache to make the take again "
                "(a paid take is then paid for again)"
            )
        if version != ENTRY_VERSION or data.get("key") != key:
            return None
        results = tuple(StoredResult(**r) for r in data["results"])
        if not results:
            return None
        for result in results:
            if "/" in result.file or result.file in ("", ".", ".."):
                return None  # only files of the entry's own folder
            found = os.stat(result.file, dir_fd=fd, follow_symlinks=False)
            if not stat.S_ISREG(found.st_mode) or found.st_size != result.bytes:
                return None
            if verify and _sha256_at(fd, result.file) != result.sha256:
                return None
        return CacheEntry(key, backend, folder, results, data.get("task_uuid"), data.get("meta"))

    def put(
        self,
        backend: str,
        key: str,
        files: list[Path],
        *,
        results: list[dict[str, Any]],
        task_uuid: str | None = None,
        meta: dict[str, Any] | None = None,
        digests: list[tuple[str, int]] | None = None,
    ) -> CacheEntry:
        """Move ``files`` (one per variation, made in the staging folder) into a new entry,
        atomically.

        ``results`` carries each variation's metadata (video_uuid, url, cost, seed).
        ``digests``: each file's sha256 and size, as its writer computed them while writing
        it (a remote's download, checked against its record): not read again, only synced.

        Raises:
            BuildError: the entry could not be written (full or read-only disk, a symlink in
                the cache); the cache is as it was.
        """
        try:
            return self._put(backend, key, files, results, task_uuid, meta, digests)
        except OSError as exc:
            raise disk_error(exc, f"store a result in the cache {self.root}") from exc

    def _put(
        self,
        backend: str,
        key: str,
        files: list[Path],
        results: list[dict[str, Any]],
        task_uuid: str | None,
        meta: dict[str, Any] | None,
        digests: list[tuple[str, int]] | None = None,
    ) -> CacheEntry:
        final = self.folder(backend, key)
        # the staging folder is reached once and the entry put together by descriptors in
        # it: a walk from the project's root is a dozen system calls, each one a wait for the
        # interpreter's lock while other takes are being hashed (a pull puts 8 at a time)
        with self.tree.folder(self.staging, create=True) as stage_fd:
            name = make_dir_at(stage_fd, f"entry-{key[:12]}-", self.staging)
            try:
                entry_fd = open_dir_at(stage_fd, name)
                try:
                    stored = self._fill(stage_fd, entry_fd, name, files, results, digests)
                    self._write_entry(entry_fd, key, backend, stored, task_uuid, meta)
                finally:
                    os.close(entry_fd)
                # a damaged entry there is replaced; the rename is made durable
                self.tree.move_in(stage_fd, name, final, over_folder=True)
            except BaseException:
                with contextlib.suppress(OSError):
                    shutil.rmtree(name, dir_fd=stage_fd)
                raise
        return CacheEntry(key, backend, final, tuple(stored), task_uuid, meta or {})

    @staticmethod
    def _write_entry(
        entry_fd: int,
        key: str,
        backend: str,
        stored: list[StoredResult],
        task_uuid: str | None,
        meta: dict[str, Any] | None,
    ) -> None:
        """Write ``entry.json`` into the new entry's folder, and sync the folder."""
        entry = {
            "version": ENTRY_VERSION,
            "key": key,
            "backend": backend,
            "task_uuid": task_uuid,
            "results": [asdict(r) for r in stored],
            "meta": meta or {},
        }
        text = json.dumps(entry, indent=2, sort_keys=True).encode("utf-8")
        # a new name in a folder no other writer knows: written in place, and the folder
        # (synced with it) is renamed into the cache whole
        handle = new_file_at(entry_fd, "entry.json")
        try:
            write_all(handle, text)
            os.fsync(handle)
        finally:
            os.close(handle)
        sync_quietly(entry_fd)

    def _fill(
        self,
        stage_fd: int,
        entry_fd: int,
        name: str,
        files: list[Path],
        results: list[dict[str, Any]],
        digests: list[tuple[str, int]] | None,
    ) -> list[StoredResult]:
        """Move ``files`` into the new entry ``name`` of the staging folder (``entry_fd``
        open), each given the mode of a new file and synced (hashed too, unless its writer's
        digest is given)."""
        stored = []
        staging = self.tree.path(self.tree.parts(self.staging))
        for index, (source, extra) in enumerate(zip(files, results, strict=True)):
            target = f"{index}{source.suffix or '.mp4'}"
            if os.path.dirname(os.path.abspath(source)) == str(staging):  # a download
                os.replace(source.name, target, src_dir_fd=stage_fd, dst_dir_fd=entry_fd)
            else:
                with self.tree.parent(source) as (src_fd, src_name):
                    os.replace(src_name, target, src_dir_fd=src_fd, dst_dir_fd=entry_fd)
            handle = open_file_at(entry_fd, target, os.O_RDONLY, staging / name / target)
            try:
                found = os.fstat(handle)
                # made private by its writer (mkstemp); the build folder's takes are
                # links to it, and a link has its file's mode
                with contextlib.suppress(PermissionError):
                    fit_mode(handle)
                os.fsync(handle)
                size = found.st_size
                if digests is not None and digests[index][1] == size:
                    digest = digests[index][0]
                else:
                    digest = _sha256_of(handle)
            finally:
                os.close(handle)
            stored.append(
                StoredResult(
                    file=target,
                    sha256=digest,
                    bytes=size,
                    **{k: extra.get(k) for k in ("video_uuid", "url", "cost", "seed")},
                )
            )
        return stored


def _sha256_at(fd: int, name: str) -> str:
    """The sha256 of the file ``name`` in the folder ``fd`` (not followed if a link)."""
    handle = os.open(name, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=fd)
    try:
        return _sha256_of(handle)
    finally:
        os.close(handle)


def _sha256_of(handle: int) -> str:
    """The sha256 of the open file ``handle``, read from its start."""
    digest = hashlib.sha256()
    os.lseek(handle, 0, os.SEEK_SET)
    while chunk := os.read(handle, 1 << 20):
        digest.update(chunk)
    return digest.hexdigest()
