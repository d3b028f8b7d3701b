"""The result cache: content-addressed by take key and backend, written atomically.

``.storyboard/cache/<backend>/<key[:2]>/<key>/`` holds ``entry.json`` and one video per
variation (``0.mp4``, ``1.mp4``, ...). An entry is written into a temporary folder and
renamed into place, so a crash never leaves half an entry. Reading verifies every file
against the sha256 recorded for it; a missing, truncated or corrupt entry is a miss, never
an error. Results of different backends never stand in for each other: a free preview is
not a paid take.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from storyboard.compile import sha256_file
from storyboard.state.files import disk_error, fsync_dir

ENTRY_VERSION = 1


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
    """Finished takes by (backend, key)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def folder(self, backend: str, key: str) -> Path:
        return self.root / backend / key[:2] / key

    def get(self, backend: str, key: str, *, verify: bool = True) -> CacheEntry | None:
        """The entry, or ``None`` when it is missing or any part of it is damaged."""
        folder = self.folder(backend, key)
        try:
            data = json.loads((folder / "entry.json").read_text(encoding="utf-8"))
            if data.get("version") != ENTRY_VERSION or data.get("key") != key:
                return None
            results = tuple(StoredResult(**r) for r in data["results"])
            if not results:
                return None
            for result in results:
                path = folder / result.file
                if path.stat().st_size != result.bytes:
                    return None
                if verify and sha256_file(path) != result.sha256:
                    return None
            return CacheEntry(
                key, backend, folder, results, data.get("task_uuid"), data.get("meta")
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def put(
        self,
        backend: str,
        key: str,
        files: list[Path],
        *,
        results: list[dict[str, Any]],
        task_uuid: str | None = None,
        meta: dict[str, Any] | None = None,
    ) -> CacheEntry:
        """Move ``files`` (one per variation) into a new entry, atomically.

        ``results`` carries each variation's metadata (video_uuid, url, cost, seed).

        Raises:
            BuildError: the entry could not be written (full or read-only disk); the cache
                is as it was.
        """
        try:
            return self._put(backend, key, files, results, task_uuid, meta)
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
    ) -> CacheEntry:
        final = self.folder(backend, key)
        final.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{key[:12]}.", dir=final.parent))
        try:
            stored = []
            for index, (source, extra) in enumerate(zip(files, results, strict=True)):
                name = f"{index}{source.suffix or '.mp4'}"
                target = staging / name
                shutil.move(str(source), target)
                with target.open("rb") as handle:
                    os.fsync(handle.fileno())
                stored.append(
                    StoredResult(
                        file=name,
                        sha256=sha256_file(target),
                        bytes=target.stat().st_size,
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
            with (staging / "entry.json").open("w", encoding="utf-8") as handle:
                json.dump(entry, handle, indent=2, sort_keys=True)
                handle.flush()
                os.fsync(handle.fileno())
            if final.exists():  # a damaged entry: replace it
                shutil.rmtree(final)
            os.replace(staging, final)
            fsync_dir(final.parent)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return CacheEntry(key, backend, final, tuple(stored), task_uuid, meta or {})
