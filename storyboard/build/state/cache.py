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
import stat
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from storyboard.backends.namespaces import NAMESPACE as _NAMESPACE
from storyboard.build.state.safe import MAX_STATE_BYTES, Tree, load_json
from storyboard.core.diagnostics import display_path
from storyboard.core.errors import BuildError
from storyboard.core.files import disk_error

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
        staging = self.tree.make_temp_dir(self.staging, f"entry-{key[:12]}-")
        try:
            stored = []
            for index, (source, extra) in enumerate(zip(files, results, strict=True)):
                name = f"{index}{source.suffix or '.mp4'}"
                target = staging / name
                # the entry's folder is synced once, when entry.json is written into it
                # (below), before the folder is renamed into the cache
                self.tree.replace(source, target, sync=False)
                # made private by its writer (mkstemp); the build folder's takes are links
                # to it, and a link has its file's mode
                self.tree.fit_mode(target)
                with self.tree.folder(staging) as fd:
                    size = os.stat(name, dir_fd=fd, follow_symlinks=False).st_size
                    if digests is not None and digests[index][1] == size:
                        digest = digests[index][0]
                        _sync_at(fd, name)
                    else:
                        digest = _sha256_at(fd, name, sync=True)
                stored.append(
                    StoredResult(
                        file=name,
                        sha256=digest,
                        bytes=size,
                        **{k: extra.get(k) for k in ("video_uuid", "url", "cost", "seed")},
                    )
                )
            entry = {
                "version": ENTRY_VERSION,
                "key": key,
                "backend": backend,
                "task_uuid": task_uuid,
                "results": [asdict(r) for r in stored],
                "meta": meta or {},
            }
            text = json.dumps(entry, indent=2, sort_keys=True)
            self.tree.write_atomic(staging / "entry.json", text.encode("utf-8"), staging=staging)
            if self.tree.lstat(final) is not None:  # a damaged entry: replace it
                self.tree.rmtree(final)
            self.tree.replace(staging, final)
        except BaseException:
            with contextlib.suppress(OSError):
                self.tree.rmtree(staging)
            raise
        return CacheEntry(key, backend, final, tuple(stored), task_uuid, meta or {})


def _sync_at(fd: int, name: str) -> None:
    """Flush the file ``name`` of the folder ``fd`` to the disk."""
    handle = os.open(name, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=fd)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def _sha256_at(fd: int, name: str, *, sync: bool = False) -> str:
    """The sha256 of the file ``name`` in the folder ``fd`` (not followed if a link)."""
    digest = hashlib.sha256()
    handle = os.open(name, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=fd)
    try:
        if sync:
            os.fsync(handle)
        while chunk := os.read(handle, 1 << 20):
            digest.update(chunk)
    finally:
        os.close(handle)
    return digest.hexdigest()
