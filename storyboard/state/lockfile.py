"""The lock file ``NAME.lock``: which paid results a storyboard's takes are, for git.

Per take: its key, the backend, the model, the task UUID, the cost, and per variation the
provider's video UUID and URL and the media's sha256 and size. It is JSON with sorted keys
and no timestamps, so a no-op build leaves it byte-identical and ``git diff`` shows exactly
which takes changed. A teammate who clones the repository without the cache gets each locked
result downloaded (and its hash verified) instead of paying for it again. Free preview
results are never locked. The API key never appears here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from storyboard.state.files import atomic_write_text

LOCK_VERSION = 1


@dataclass(frozen=True)
class LockedResult:
    video_uuid: str | None
    url: str | None
    sha256: str
    bytes: int


@dataclass(frozen=True)
class LockedTake:
    key: str
    backend: str
    model: str
    task_uuid: str | None
    cost: float | None
    results: tuple[LockedResult, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "backend": self.backend,
            "model": self.model,
            "task_uuid": self.task_uuid,
            "cost": self.cost,
            "results": [r.__dict__ for r in self.results],
        }


@dataclass
class LockFile:
    """The lock file of one storyboard."""

    path: Path
    storyboard: str
    takes: dict[str, LockedTake] = field(default_factory=dict)

    @classmethod
    def read(cls, path: Path, storyboard: str) -> LockFile:
        """The lock at ``path``; empty when missing. A damaged lock is an empty one."""
        lock = cls(path, storyboard)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            for take_id, entry in data.get("takes", {}).items():
                lock.takes[take_id] = LockedTake(
                    key=entry["key"],
                    backend=entry["backend"],
                    model=entry["model"],
                    task_uuid=entry.get("task_uuid"),
                    cost=entry.get("cost"),
                    results=tuple(LockedResult(**r) for r in entry["results"]),
                )
        except FileNotFoundError:
            pass
        except (ValueError, KeyError, TypeError, AttributeError):
            lock.takes.clear()
        return lock

    def find(self, take_id: str, key: str, backend: str) -> LockedTake | None:
        entry = self.takes.get(take_id)
        if entry is not None and entry.key == key and entry.backend == backend:
            return entry
        return None

    def text(self) -> str:
        body = {
            "version": LOCK_VERSION,
            "storyboard": self.storyboard,
            "takes": {k: self.takes[k].to_json() for k in sorted(self.takes)},
        }
        return json.dumps(body, indent=2, sort_keys=True) + "\n"

    def write(self) -> bool:
        """Write the lock if its content changed; return whether it did."""
        text = self.text()
        try:
            if self.path.read_text(encoding="utf-8") == text:
                return False
        except FileNotFoundError:
            if not self.takes:
                return False
        atomic_write_text(self.path, text)
        return True
