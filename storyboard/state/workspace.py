"""Where a project's state and outputs live, and the lock that keeps two builds apart.

``.storyboard/`` at the project root holds the cache, the journal and the frames extracted
for hand-offs; ``build/NAME/`` beside ``NAME.yaml`` holds the outputs; ``NAME.lock`` beside
it is the committed lock file. A build takes an exclusive ``flock`` on
``.storyboard/build.lock`` for its whole run: a second build of the same project waits for
it (up to ``wait`` seconds) or refuses, and never touches the state meanwhile.
"""

from __future__ import annotations

import fcntl
import os
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from storyboard.errors import BuildError


@dataclass(frozen=True)
class Workspace:
    """The paths of one storyboard's build."""

    storyboard: Path
    project_root: Path
    build_dir: Path

    @classmethod
    def for_storyboard(
        cls, storyboard: Path, project_root: Path, build_dir: Path | None = None
    ) -> Workspace:
        folder = build_dir or storyboard.parent / "build" / storyboard.stem
        return cls(storyboard, project_root, folder)

    @property
    def state(self) -> Path:
        return self.project_root / ".storyboard"

    @property
    def cache(self) -> Path:
        return self.state / "cache"

    @property
    def frames(self) -> Path:
        return self.state / "frames"

    @property
    def journal(self) -> Path:
        return self.state / "journal" / f"{self.name}.jsonl"

    def records(self, backend: str) -> Path:
        """The last build's take records on ``backend`` (for saying why a take is stale)."""
        return self.state / "records" / f"{self.name}.{backend}.json"

    @property
    def lockfile(self) -> Path:
        return self.storyboard.with_suffix(".lock")

    @property
    def name(self) -> str:
        return self.storyboard.stem

    @property
    def takes_dir(self) -> Path:
        return self.build_dir / "takes"


class ProjectLock:
    """An exclusive lock on a project's state for the length of a build."""

    def __init__(self, workspace: Workspace, *, wait: float = 0.0) -> None:
        self.path = workspace.state / "build.lock"
        self.wait = wait
        self._fd: int | None = None

    def __enter__(self) -> ProjectLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + self.wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
                    os.close(fd)
                    raise BuildError(
                        f"another build of this project is running (pid {holder}); "
                        "wait for it to finish, or pass --wait SECONDS"
                    ) from None
                time.sleep(0.1)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
