"""A build with nothing to do, known without reading the storyboard: the fast path.

Place in the pipeline: before everything (:func:`storyboard.build.pipeline.build`, and the
``storyboard build`` command before it imports the compiler). A build that found everything
done leaves a note, ``build/NAME/BACKEND/.build.json`` (written by the pipeline); this module
reads it and says whether the same build, asked again, has nothing to do: what it was asked
(:func:`_asked`), every file the storyboard's check read (:func:`_input_state`, git's racy
rule by both clocks: :func:`_racy`, :func:`_racy_by_the_note`) and every file the note names
(:func:`_states`) as they were. Light on purpose: no compiler, no language models, no media
libraries at import (``storyboard build`` of an unchanged film imports none of them).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import stat
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from storyboard.build.result import BuildResult, Prepared
from storyboard.build.state.cache import CacheEntry, StoredResult
from storyboard.build.state.safe import load_json
from storyboard.build.state.workspace import Workspace
from storyboard.core.errors import StoryboardError
from storyboard.core.events import EventSink, Note, TakeCached

if TYPE_CHECKING:
    from storyboard.backends.base import Backend


#: How far back from the start of a check a file's time must be for its state to be recorded:
#: file systems that keep coarse times (FAT: 2 s) give a file changed during the check a time
#: before it began.
_RACY_NS = 2_000_000_000


def _racy(state: list[int], began: int, after: int = 0) -> bool:
    """Whether an input whose state is ``state`` may have changed once a check that began at
    ``began`` had read it: its mtime is too near (the check began), or its ctime (``after``
    the check began, at least), which a tool that gives the old mtime back (``tar x``,
    ``cp -p``, ``rsync -t``) leaves as the only time of the change. A file system that keeps
    times to the millisecond or coarser (ext3 and HFS+: 1 s, FAT: 2 s) gives a change made
    after the check began a ctime before it, as it does an mtime. A link's own ctime is taken
    as an mtime: a link made again to an older file (``ln -sf``) has no other time of the
    change, and nothing gives it back."""
    coarse = state[3] % 1_000_000 == 0
    relinked = stat.S_ISLNK(state[5]) and state[6] >= began - _RACY_NS
    return (
        relinked
        or state[2] >= began - _RACY_NS
        or state[3] >= began + (-_RACY_NS if coarse else after)
    )


#: How much later than a check's start, by the file system's clock, a ctime must be to be
#: taken for a change made during the check (:func:`_racy_by_the_note`): the kernel stamps
#: files by a clock that lags this machine's by up to a tick (1 to 10 ms).
_TICK_NS = 20_000_000


def _input_state(path: str) -> list[int] | None:
    """``[size, inode, mtime, ctime, inode, mode and ctime of the name itself]`` of an input
    (followed, and not: a link swapped in, or its target changed; a link made again, even
    with the inode of the one removed), ``None``: missing."""
    try:
        link = os.lstat(path)
        info = os.stat(path) if stat.S_ISLNK(link.st_mode) else link
    except OSError:
        return None
    return [
        info.st_size, info.st_ino, info.st_mtime_ns, info.st_ctime_ns, link.st_ino,
        link.st_mode, link.st_ctime_ns,
    ]  # fmt: skip


UNCHANGED = ".build.json"
"""The note a build that found everything done leaves in ``build/NAME/BACKEND/``."""
UNCHANGED_VERSION = 4


def _asked(
    storyboard: Path, project_root: Path, output_dir: Path, backend: Backend, scale: float
) -> str:
    """What a build is asked, before its storyboard is read: the same answer, and the same
    inputs (:attr:`_Keyed.inputs`), the same build."""
    from storyboard import __version__

    body = [
        UNCHANGED_VERSION, __version__, _code(), backend.name, backend.namespace,
        backend.endpoint, backend.paid, scale, str(storyboard), str(project_root),
        str(output_dir), os.getcwd(),  # (the warnings name files from there)
    ]  # fmt: skip
    return hashlib.sha256(json.dumps(body, default=str).encode()).hexdigest()


@functools.cache
def _code() -> list[int]:
    """The latest time a module the check runs (language, compiler, profiles, media, core)
    changed: storyboard's own code, edited in a checkout without a new version number, is an
    input of the check too."""
    import storyboard

    top = Path(storyboard.__file__).parent
    latest = 0
    for part in ("language", "compiler", "profiles", "build", "media", "core"):
        with contextlib.suppress(OSError), os.scandir(top / part) as found:
            for item in found:
                if item.name.endswith(".py"):
                    latest = max(latest, item.stat().st_mtime_ns)
    return [latest]


def _states(build_dir: Path, watched: Sequence[Path | str]) -> dict[str, list[int] | None]:
    """Size, modification time and inode of every file of the build folder (but the note)
    and of ``watched`` (``None``: missing)."""
    states: dict[str, list[int] | None] = {}
    folders = [str(build_dir)]
    while folders:
        try:
            listing = os.scandir(folders.pop())
        except OSError:
            continue
        with listing:
            for item in listing:
                if item.is_dir(follow_symlinks=False):
                    folders.append(item.path)
                elif item.name != UNCHANGED or os.path.dirname(item.path) != str(build_dir):
                    states[item.path] = _state(item.path)
    for path in watched:
        states[str(path)] = _state(str(path))
    return states


def _state(path: str) -> list[int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return [info.st_size, info.st_mtime_ns, info.st_ino]


def film_scale(backend: Backend, asked: float | None) -> float:
    """The film's scale a build cuts at: ``asked`` (``--film-scale``), else the backend's
    preview scale, else 1."""
    return asked if asked is not None else float(getattr(backend, "scale", 1.0))


def unchanged_inputs(
    path: str | os.PathLike[str],
    backend: Backend,
    scale: float,
    build_dir: Path | None,
    project_root: Path | None,
    emit: EventSink,
    prepare: Callable[[], Prepared],
) -> BuildResult | None:
    """The result of a build with nothing to do, known before the storyboard is read: the
    note's build was asked the same, and every file it read (:attr:`_Keyed.inputs`) or left
    is as it was. ``None``: the storyboard is checked (and the note asked again after).
    ``prepare`` makes what the build prepared (the storyboard checked and compiled) when the
    result is first asked for it (:attr:`BuildResult.prepared`)."""
    from storyboard.core.project import find_project_root, real

    try:
        storyboard = Path(path).absolute()
        root = real(project_root) if project_root else find_project_root(storyboard)
        workspace = Workspace.for_storyboard(storyboard, root, build_dir, backend=backend.namespace)
        output_dir = workspace.output_dir
        note = load_json(workspace.tree.read_text(output_dir / UNCHANGED) or "null")
        if note.get("version") != UNCHANGED_VERSION:
            return None
        inputs = note.get("inputs")
        if not inputs or note.get("asked") != _asked(storyboard, root, output_dir, backend, scale):
            return None
        if any(_input_state(p) != state for p, state in inputs.items()):
            return None
        if _racy_by_the_note(inputs, output_dir / UNCHANGED, note["span"]):
            return None
        found = _noted(note, output_dir)
    except (OSError, ValueError, KeyError, TypeError, AttributeError, StoryboardError):
        return None  # the check says what is wrong, if anything is
    if found is None:
        return None
    for warning in note.get("warnings") or ():  # as the check would say them
        emit(Note("", str(warning)))

    return _nothing_to_do(note, found, prepare, backend, emit, workspace)


def _racy_by_the_note(inputs: dict[str, Any], note: Path, span: Any) -> bool:
    """Whether an input's state is :func:`_racy` by the clock of the file system (git's
    rule: a file's times against the index's own). The note's time is the file system's
    when it was written, ``span`` after the check began: a file system whose clock is behind
    this machine's (a network share, a virtual machine's shared folder) gives a file changed
    during the check times that :func:`_racy`, by this machine's clock, takes for older.

    Raises:
        OSError: the note cannot be looked at; TypeError: ``span`` is not a whole number.
    """
    if not isinstance(span, int) or isinstance(span, bool) or span < 0:
        raise TypeError(f"span {span!r}")
    began = os.lstat(note).st_mtime_ns - span
    return any(s is not None and _racy(s, began, _TICK_NS) for s in inputs.values())


_Noted = tuple[dict[str, CacheEntry], Path | None]
"""The cache entries and the film a note records."""


def _noted(note: dict[str, Any], build_dir: Path) -> _Noted | None:
    """The cache entries and the film the note records, if every file it names is as it
    was; ``None`` otherwise.

    Raises:
        KeyError, TypeError, ValueError, AttributeError: a note that is not what storyboard
            writes.
    """
    entries = {
        take: CacheEntry(
            e["key"], e["backend"], Path(e["folder"]),
            tuple(StoredResult(**r) for r in e["results"]), e["task_uuid"], e["meta"],
        )
        for take, e in note["entries"].items()
    }  # fmt: skip
    if set(entries) != set(note["takes"]):
        return None
    # the same request names the same files outside the build folder: the note's
    inside = os.path.join(str(build_dir), "")
    outside = [f for f in note["files"] if not f.startswith(inside)]
    if _states(build_dir, outside) != note["files"]:
        return None
    return entries, Path(note["film"]) if note.get("film") else None


def _nothing_to_do(
    note: dict[str, Any],
    found: _Noted,
    prepared: Callable[[], Prepared],
    backend: Backend,
    emit: EventSink,
    workspace: Workspace,
) -> BuildResult:
    from storyboard.build.outcome import Outcome

    entries, film = found
    outcomes: dict[str, Outcome] = {}
    for take in note["takes"]:
        emit(TakeCached(take, "cache"))
        outcomes[take] = Outcome(take, "cached", entries[take])
    return BuildResult(prepared, outcomes, backend.name, film, place=workspace)
