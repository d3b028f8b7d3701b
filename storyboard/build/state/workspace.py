"""Where a project's state and outputs live, and the lock that keeps two builds apart.

``.storyboard/`` at the project root holds the cache, the journal, the records, the frames
extracted for hand-offs and ``tmp/``, where the state's temporary files are made (the
cache's are made in its own ``.tmp/``, on its file system);
``build/NAME/`` beside ``NAME.yaml`` holds the outputs (:mod:`storyboard.build.state.outputs`), each
backend's in a folder of its own (``build/NAME/preview/``, ``build/NAME/runware/``...);
``NAME.lock`` beside it is the committed lock file. Every path is reached through the
project's :class:`~storyboard.build.state.safe.Tree`: inside the project, no symlink followed.

A build takes an exclusive ``flock`` on ``.storyboard/build.lock`` for its whole run: a second
build of the same project waits for it (up to ``wait`` seconds) or refuses, and never touches
the state meanwhile. Taking the lock also clears what a killed build left behind, by exact
name: everything in ``.storyboard/tmp/`` and ``.storyboard/cache/.tmp/``, everything in the
build folder's ``.storyboard-tmp/`` (a folder storyboard marked as its own) and
``.NAME.lock.storyboard-tmp`` beside the storyboard. No other build can be using them.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import os
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from storyboard.build.state.outputs import BackendOutputs, BuildFolder
from storyboard.build.state.safe import Tree, UnsafePath, cannot_read, sibling_tmp
from storyboard.core.errors import BuildError
from storyboard.core.files import disk_error
from storyboard.core.inputs import NAME_MAX


@dataclass(frozen=True)
class Workspace:
    """The paths of one storyboard's build.

    ``storyboard`` is absolute, in its folder's real place; ``project_root`` is resolved.
    """

    storyboard: Path
    project_root: Path
    build_dir: Path
    """The storyboard's build folder (``build/NAME``): its marker, every backend's folder."""
    backend: str | None = None
    """The namespace of the backend that builds (``preview@0.25``, ``runware``...), if any:
    it says which folder of the build folder its outputs go to (:attr:`output_dir`)."""

    @classmethod
    def for_storyboard(
        cls,
        storyboard: Path,
        project_root: Path,
        build_dir: Path | None = None,
        *,
        backend: str | None = None,
    ) -> Workspace:
        """The paths of ``storyboard``'s build in the project at ``project_root`` (by the
        backend of the namespace ``backend``).

        Raises:
            UnsafePath: the storyboard, or the build folder, is outside the project.
        """
        tree = Tree.at(project_root)
        storyboard = Path(os.path.realpath(storyboard.absolute().parent)) / storyboard.name
        tree.parts(storyboard)  # inside the project, or refused
        if build_dir is None:
            folder = storyboard.parent / "build" / storyboard.stem
        else:
            folder = _placed(tree, build_dir)
        return cls(storyboard, tree.root, folder, backend)

    @functools.cached_property
    def tree(self) -> Tree:
        """The project folder, through which every file of the build is reached."""
        return Tree(self.project_root)

    @functools.cached_property
    def outputs(self) -> BuildFolder:
        """The build folder, and the files storyboard wrote there."""
        return BuildFolder(self.tree, self.build_dir, self.storyboard)

    @functools.cached_property
    def out(self) -> BackendOutputs:
        """The folder of the build folder where this backend's outputs go."""
        if self.backend is None:
            raise ValueError("a workspace without a backend has no backend folder")
        return self.outputs.backend(self.backend)

    @property
    def output_dir(self) -> Path:
        """``build/NAME/FOLDER``: the film, its record, exports and takes of this backend."""
        return self.out.path

    @property
    def state(self) -> Path:
        return self.project_root / ".storyboard"

    @property
    def tmp(self) -> Path:
        """Where every temporary file of the state is made (emptied by the next build)."""
        return self.state / "tmp"

    @property
    def cache(self) -> Path:
        return self.state / "cache"

    @property
    def cache_tmp(self) -> Path:
        """Where results are downloaded and cache entries put together: inside the cache, so
        that an entry is renamed into place even when the cache is a file system of its own."""
        return self.cache / ".tmp"

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
        return self.output_dir / "takes"

    def check_state(self) -> None:
        """Every place of the state a build reads or writes is a real folder or file (or
        missing): checked before anything is sent, so that a symlink in the way is refused
        before a take is paid for, not after.

        Raises:
            UnsafePath: a symlink (or something else) stands where one of them should be, or
                the name of one is longer than file systems allow.
        """
        self._check_names()
        for folder in (
            self.state, self.cache, self.cache_tmp, self.journal.parent, self.frames,
            self.tmp, self.records("-").parent,
        ):  # fmt: skip
            self._check(folder, folder=True)
        lock = self.lockfile
        for file in (self.state / "build.lock", self.journal, lock, sibling(lock)):
            self._check(file, folder=False)
        self.outputs.inspect()

    def _check(self, path: Path, *, folder: bool) -> None:
        try:
            self.tree.check(path, folder=folder)
        except OSError as exc:  # a folder on the way that cannot be read: not missing
            raise UnsafePath(path, cannot_read(path, exc)) from None

    def _check_names(self) -> None:
        """The longest names a build writes from the storyboard's name (the lock's temporary
        file, the records of the backend) and the backend's folder fit a file system: what
        does not is refused before anything is sent, not when the build writes it."""
        names = [(sibling(self.lockfile), "give the storyboard a shorter file name")]
        if self.backend is not None:
            names.append((self.records(self.backend), "give the storyboard a shorter file name"))
            names.append((self.output_dir, "build with an endpoint of a shorter name"))
        for path, advice in names:
            size = len(os.fsencode(path.name))
            if size > NAME_MAX:
                raise UnsafePath(
                    path,
                    f"would be a name of {size} bytes, and file systems allow {NAME_MAX}: "
                    f"{advice}; nothing was sent",
                )


def sibling(path: Path) -> Path:
    """The one temporary file written beside ``path`` (``.NAME.storyboard-tmp``)."""
    return path.with_name(sibling_tmp(path.name))


def _placed(tree: Tree, build_dir: Path) -> Path:
    """A ``--build-dir``, absolute: as given when that is inside the project, else with the
    folders above it resolved (a symlink above the project, like macOS's ``/var``)."""
    given = Path(os.path.normpath(os.path.abspath(build_dir)))
    if tree.contains(given):
        return given
    resolved = Path(os.path.realpath(given.parent)) / given.name
    return resolved if tree.contains(resolved) else given


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
        # what was read of the build folder's marker before the lock (check_state) may be
        # stale: another build may have listed files there meanwhile, which a marker saved
        # from the old reading would drop (and then refuse as not storyboard's)
        with contextlib.suppress(UnsafePath):
            self.workspace.outputs.forget()
        clear_leftovers(self.workspace)
        return self

    def _take(self) -> None:
        fd = self.workspace.tree.open(self.path, os.O_RDWR | os.O_CREAT, create_parents=True)
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


def clear_leftovers(workspace: Workspace) -> int:
    """Remove the temporary files a killed build left; return how many entries went.

    Only the temporary places storyboard makes, by their exact names (see the module
    docstring). Call it only while holding the :class:`ProjectLock`. A place that is not
    safely storyboard's (a symlink) is left alone: a leftover is untidy, never wrong.
    """
    tree = workspace.tree
    removed = 0
    for staging in (workspace.tmp, workspace.cache_tmp):
        with contextlib.suppress(UnsafePath, OSError):
            removed += tree.empty(staging)
    with contextlib.suppress(UnsafePath, OSError):
        removed += workspace.outputs.clear_staging()
    lock = workspace.lockfile
    with contextlib.suppress(UnsafePath, OSError):
        removed += tree.unlink(sibling(lock)) is not None
    return removed
