"""Where a project's state and outputs live, and the lock that keeps two builds apart.

``.storyboard/`` at the project root holds the cache, the journal and the frames extracted
for hand-offs; ``build/NAME/`` beside ``NAME.yaml`` holds the outputs; ``NAME.lock`` beside
it is the committed lock file. A build takes an exclusive ``flock`` on
``.storyboard/build.lock`` for its whole run: a second build of the same project waits for
it (up to ``wait`` seconds) or refuses, and never touches the state meanwhile.

Taking the lock also clears what a killed build left behind: its temporary files and folders
(named with a leading dot: ``.incoming-*`` staging folders, ``.NAME.*.tmp`` atomic writes,
half-extracted frames, the cut's work folder). No other build can be using them.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from storyboard.errors import BuildError
from storyboard.state.files import disk_error


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
        self.workspace = workspace
        self.path = workspace.state / "build.lock"
        self.wait = wait
        self._fd: int | None = None

    def __enter__(self) -> ProjectLock:
        try:
            self._take()
        except OSError as exc:
            raise disk_error(exc, f"lock the project's state {self.path}") from exc
        clear_leftovers(self.workspace)
        return self

    def _take(self) -> None:
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
        self._fd = fd
        try:  # who holds it, for the message of a build that finds it taken
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        except OSError:
            pass  # a full disk: the lock holds all the same

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


#: Suffixes of the temporary names a build makes in its build folder (``.NAME.XXXX.tmp``
#: atomic writes, ``.NAME.XXXX.cut`` work folders of the cut, ``.NAME.XXXX.part`` renders).
_TEMPORARY_SUFFIXES = (".tmp", ".part", ".cut")
#: Hidden files a writer may put in the state folder, which are not ours to remove.
_KEPT = frozenset({".gitignore", ".gitkeep", ".gitattributes"})


def clear_leftovers(workspace: Workspace) -> int:
    """Remove the temporary files a killed build left; return how many entries went.

    Everything hidden in the project's state folder is temporary (the state keeps nothing
    under a leading dot; ``.gitignore`` and the like stay); in the build folder and beside
    the lock file only the temporary names a build makes are removed (``.cut.json`` stays).
    Call it only while holding the :class:`ProjectLock`. Failures are ignored: a leftover
    is untidy, never wrong.
    """
    removed = _sweep(workspace.state, depth=4, temporary=lambda name: name not in _KEPT)
    removed += _sweep(
        workspace.build_dir, depth=3, temporary=lambda name: name.endswith(_TEMPORARY_SUFFIXES)
    )
    lock = workspace.lockfile
    removed += _sweep(
        lock.parent,
        depth=1,
        temporary=lambda name: name.startswith(f".{lock.name}.") and name.endswith(".tmp"),
    )
    return removed


def _sweep(folder: Path, *, depth: int, temporary: Callable[[str], bool]) -> int:
    """Remove hidden entries of ``folder`` (``depth`` levels of non-hidden folders down)
    for which ``temporary(name)`` holds."""
    removed = 0
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return 0
    for entry in entries:
        try:
            if entry.name.startswith("."):
                if not temporary(entry.name):
                    continue
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path)
                else:
                    os.unlink(entry.path)
                removed += 1
            elif depth > 1 and entry.is_dir(follow_symlinks=False):
                removed += _sweep(Path(entry.path), depth=depth - 1, temporary=temporary)
        except OSError:
            continue
    return removed
