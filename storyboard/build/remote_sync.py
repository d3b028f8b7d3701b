"""``storyboard push``, ``pull`` and ``remote``: what is missing on one side, moved in
parallel; and what the remote is.

Place in the pipeline: beside the build, over :mod:`storyboard.build.remote_transfer`. Which takes
a storyboard has: its compiled takes' keys, in the namespaces its lock file names and the
namespace of Runware at ``RUNWARE_BASE_URL`` (and, with ``previews``, the offline preview's):
paid results are what a team shares; a preview is made again for free.

- **push**: the takes of those that are in the local cache (each verified) and not on the
  remote, media first; and every take left queued by a build whose push failed.
- **pull**: the takes of those the remote holds and the local cache lacks, every byte
  verified before it enters the cache.

Both run ``jobs`` transfers at once and report each take as it ends (``progress``), then a
summary: takes, bytes and seconds. A take that fails is said and the others go on.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from storyboard.build.remote_session import Queue, Unreadable, is_preview
from storyboard.build.remote_transfer import fetch_take, push_take
from storyboard.build.state.cache import Cache, CacheEntry
from storyboard.build.state.lockfile import LockedTake
from storyboard.build.state.workspace import ProjectLock, Workspace
from storyboard.core.errors import BuildError
from storyboard.remote.config import RemoteConfig
from storyboard.remote.store import RemoteError, Store, result_path

Direction = Literal["push", "pull"]
#: The marker a writable remote holds at its root (written once, create-only).
MARKER = "storyboard-remote.json"
MARKER_BODY = {
    "storyboard_remote": 1, "cas": "cas/sha256/XX/SHA256", "results": "results/NS/KEY.json",
}  # fmt: skip


@dataclass(frozen=True)
class Want:
    """One take of a storyboard, in one namespace."""

    namespace: str
    key: str
    take: str
    model: str | None = None
    upload: str | None = None
    locked: LockedTake | None = None
    """The lock file's entry of this take, when it has one: a pull fetches its media by the
    sha256s it records, without reading the remote's record first."""


@dataclass
class Moved:
    """What happened to one take."""

    take: str
    namespace: str
    status: Literal["pushed", "pulled", "present", "other", "absent", "failed"]
    bytes: int = 0
    message: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "take": self.take,
            "backend": self.namespace,
            "status": self.status,
            "bytes": self.bytes,
            "message": self.message,
        }


@dataclass(frozen=True)
class Damaged:
    """A file of the push queue that cannot be read (cut short, not JSON): left in place with
    its bytes, never taken as nothing to push."""

    file: str
    """Its path, from the project folder."""
    problem: str
    on_remote: bool | None
    """Whether the remote holds the record of the take its file name says (``None``: its name
    says no take, or the remote could not be asked)."""
    message: str
    """One line for the writer: what is wrong, and what to do."""

    def to_json(self) -> dict[str, Any]:
        return {"file": self.file, "problem": self.problem, "on_remote": self.on_remote}


@dataclass
class Summary:
    """A push or pull, as a whole."""

    direction: Direction
    url: str
    moved: list[Moved] = field(default_factory=list)
    seconds: float = 0.0
    damaged: list[Damaged] = field(default_factory=list)
    """A push: the files of the queue that cannot be read (each also a failed take, unless
    the remote holds it)."""

    @property
    def done(self) -> list[Moved]:
        return [m for m in self.moved if m.status in ("pushed", "pulled")]

    @property
    def failed(self) -> list[Moved]:
        return [m for m in self.moved if m.status == "failed"]

    @property
    def bytes(self) -> int:
        return sum(m.bytes for m in self.moved)

    def line(self) -> str:
        verb = "pushed" if self.direction == "push" else "pulled"
        there = [m for m in self.moved if m.status in ("present", "other")]
        absent = [m for m in self.moved if m.status == "absent"]
        text = (
            f"{verb} {len(self.done)} takes, {self.bytes / 1e6:.1f} MB in {self.seconds:.1f} s "
            f"({'to' if self.direction == 'push' else 'from'} {self.url})"
        )
        if there:
            text += f"; {len(there)} already {'there' if self.direction == 'push' else 'here'}"
        if absent:
            text += f"; {len(absent)} not on the remote"
        if self.failed:
            text += f"; {len(self.failed)} failed"
        return text

    def to_json(self) -> dict[str, Any]:
        damaged = [d.to_json() for d in self.damaged]
        return {
            "direction": self.direction,
            "remote": self.url,
            "takes": [m.to_json() for m in self.moved],
            "moved": len(self.done),
            "bytes": self.bytes,
            "seconds": round(self.seconds, 3),
            "failed": len(self.failed),
            **({"damaged": damaged} if self.direction == "push" else {}),
        }


Progress = Callable[[Moved, int, int], None]
"""``progress(what happened to a take, how many ended, how many in all)``."""


def wanted(
    compiled_takes: Iterable[tuple[str, str, str | None]],
    locked: Iterable[tuple[str, str]],
    namespaces: Iterable[str],
) -> list[Want]:
    """Every ``(take, key, model)`` in every namespace given, and in the namespace the lock
    names for its key; each ``(namespace, key)`` once."""
    by_key: dict[str, tuple[str, str | None]] = {}
    for take, key, model in compiled_takes:
        by_key.setdefault(key, (take, model))
    spaces: dict[str, set[str]] = {key: set(namespaces) for key in by_key}
    for key, namespace in locked:
        if key in spaces:
            spaces[key].add(namespace)
    found = []
    for key, (take, model) in by_key.items():
        for namespace in sorted(spaces[key]):
            found.append(Want(namespace, key, take, model))
    return found


async def push(
    store: Store,
    workspace: Workspace,
    wants: list[Want],
    *,
    jobs: int = 8,
    progress: Progress | None = None,
) -> Summary:
    """Push every take of ``wants`` the local cache holds (and every queued one) that the
    remote lacks."""
    cache = Cache(workspace.cache, tree=workspace.tree, staging=workspace.cache_tmp)
    queue = Queue(workspace)
    queued = {(q.namespace, q.key): q for q in queue.items()}
    todo: dict[tuple[str, str], Want] = {(w.namespace, w.key): w for w in wants}
    for (namespace, key), item in queued.items():
        todo[(namespace, key)] = Want(namespace, key, item.take, item.model, item.upload)
    summary = Summary("push", store.url)
    started = time.monotonic()
    await store.probe()

    async def one(want: Want) -> Moved:
        entry = await asyncio.to_thread(cache.get, want.namespace, want.key)
        if entry is None:
            return Moved(want.take, want.namespace, "absent", message="not in the local cache")
        try:
            done = await push_take(
                store, entry, take=want.take, model=want.model, upload=want.upload
            )
        except RemoteError as exc:
            return Moved(want.take, want.namespace, "failed", message=str(exc))
        item = queued.get((want.namespace, want.key))
        if item is not None:
            with contextlib.suppress(OSError, BuildError):
                queue.remove(item)
        status: Literal["pushed", "present", "other"] = done.status
        message = (
            f"the remote keeps a record of it that cannot be used ({done.problem}); never "
            "written over: its media were pushed, as its lock file names them"
            if done.problem
            else ""
        )
        return Moved(want.take, want.namespace, status, done.bytes, message)

    await _run(summary, [one(w) for w in todo.values()], jobs, progress)
    summary.seconds = time.monotonic() - started
    for bad in queue.unreadable:
        await _damaged(store, workspace, bad, summary)
    return summary


async def _damaged(store: Store, workspace: Workspace, bad: Unreadable, summary: Summary) -> None:
    """Count a queue file that cannot be read: a failed take, unless the remote holds the
    take its file name says (``FOLDER.KEY.json``); the file stays as it is."""
    where = bad.where(workspace.project_root)
    held: bool | None = None
    unknown = ""
    if bad.record is not None:
        try:
            held = await store.exists(bad.record)
        except RemoteError as exc:
            unknown = f"; whether the remote holds its take is unknown ({exc})"
    if held:
        then = f"the remote holds its take ({bad.record}): the file may be deleted"
    else:
        then = (
            "its take was not pushed: push its storyboard by name (`storyboard push FILE` "
            "finds its takes from the lock file and the local cache), then delete the file"
        )
    message = f"queue entry {where} cannot be read ({bad.why}); left in place{unknown}; {then}"
    summary.damaged.append(Damaged(where, bad.why, held, message))
    if not held:
        take = bad.key[:12] if bad.key is not None else bad.name
        summary.moved.append(Moved(take, bad.folder or "", "failed", message=message))


async def pull(
    store: Store,
    workspace: Workspace,
    wants: list[Want],
    *,
    jobs: int = 8,
    progress: Progress | None = None,
    check: Callable[[Path], str | None] | None = None,
) -> Summary:
    """Fetch every take of ``wants`` the local cache lacks and the remote holds.

    ``jobs`` requests to the remote at most are in flight (records, then media); checking a
    take that is here and putting it into the cache happen beside them, not in their place.
    """
    cache = Cache(workspace.cache, tree=workspace.tree, staging=workspace.cache_tmp)
    summary = Summary("pull", store.url)
    started = time.monotonic()
    gate = asyncio.Semaphore(max(1, jobs))
    # what the cache holds, looked up in one thread while the remote is probed, before any
    # transfer starts (a lookup is a walk from the project's root: done beside 8 transfers,
    # each of its system calls would wait for the interpreter's lock)
    here, _ = await asyncio.gather(
        asyncio.to_thread(
            lambda: [cache.get(w.namespace, w.key, verify=False) is not None for w in wants]
        ),
        store.probe(),
    )

    async def one(want: Want, present: bool) -> Moved:
        if present:
            return Moved(want.take, want.namespace, "present")
        try:
            entry: CacheEntry = await fetch_take(
                store,
                want.namespace,
                want.key,
                cache,
                workspace.tree,
                check=check,
                gate=gate,
                locked=want.locked,
            )
        except RemoteError as exc:
            if exc.kind == "missing":
                return Moved(want.take, want.namespace, "absent")
            return Moved(want.take, want.namespace, "failed", message=str(exc))
        return Moved(want.take, want.namespace, "pulled", sum(r.bytes for r in entry.results))

    await _run(summary, [one(w, h) for w, h in zip(wants, here, strict=True)], len(wants), progress)
    summary.seconds = time.monotonic() - started
    return summary


async def _run(summary: Summary, coros: list[Any], jobs: int, progress: Progress | None) -> None:
    gate = asyncio.Semaphore(max(1, jobs))
    total = len(coros)

    async def one(coro: Any) -> None:
        async with gate:
            moved = await coro
        summary.moved.append(moved)
        if progress is not None:
            progress(moved, len(summary.moved), total)

    await asyncio.gather(*(one(c) for c in coros))


@dataclass
class Status:
    """What ``storyboard remote`` says."""

    config: RemoteConfig
    reachable: bool = False
    writable: bool | None = None
    problem: str = ""
    locked: int = 0
    held: int = 0
    failed_lookups: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            **self.config.to_json(),
            "reachable": self.reachable,
            "writable": self.writable,
            "problem": self.problem or None,
            "locked_takes": self.locked,
            "held": self.held,
        }


async def status(store: Store, locked: list[tuple[str, str]], *, write: bool = True) -> Status:
    """Whether the remote answers and takes writes, and how many of ``locked`` (``(namespace,
    key)`` of a lock file's entries) it holds."""
    found = Status(store.config, locked=len(locked))
    try:
        await store.probe()
    except RemoteError as exc:
        found.problem = str(exc)
        return found
    found.reachable = True
    if write:
        body = json.dumps(MARKER_BODY, sort_keys=True).encode()
        try:
            await store.create(MARKER, body)  # create-only: an existing marker stays
            found.writable = True
        except RemoteError as exc:
            found.writable = False if exc.kind == "denied" else None
            found.problem = str(exc)
    answers = await asyncio.gather(
        *(store.exists(result_path(ns, key)) for ns, key in locked), return_exceptions=True
    )
    found.held = sum(1 for a in answers if a is True)
    found.failed_lookups = sum(1 for a in answers if isinstance(a, BaseException))
    return found


def lock_entries(workspace: Workspace) -> dict[tuple[str, str], LockedTake]:
    """Every entry of the storyboard's lock file, by ``(namespace, key)``."""
    from storyboard.build.state.lockfile import LockFile

    lock = LockFile.read(workspace.lockfile, workspace.storyboard.name, tree=workspace.tree)
    return {(e.backend, e.key): e for e in lock.entries}


def lock_pairs(workspace: Workspace) -> list[tuple[str, str]]:
    """``(namespace, key)`` of every entry of the storyboard's lock file."""
    return sorted(lock_entries(workspace))


def with_lock(wants: list[Want], entries: dict[tuple[str, str], LockedTake]) -> list[Want]:
    """``wants``, each carrying its lock entry (``entries``, from :func:`lock_entries`) if the
    lock has one."""
    return [dataclasses.replace(w, locked=entries.get((w.namespace, w.key))) for w in wants]


def namespaces(*, previews: bool, preview_scale: float) -> list[str]:
    """The namespaces a storyboard's takes are pushed and pulled in besides its lock's:
    Runware's at ``RUNWARE_BASE_URL`` (and the preview's, when asked)."""
    from storyboard.backends.namespaces import namespace

    found = [namespace("runware")]
    if previews:
        found.append(namespace("preview", preview_scale=preview_scale))
    return found


def playable(path: Path) -> str | None:
    """Why a fetched file is not a video, or ``None``: its container and video stream are
    read, not its frames (its bytes are the sha256 its record names, those of a video the
    pushing build decoded before its cache took it)."""
    from storyboard.media.probe import MediaError, check_video

    try:
        check_video(path, decode=False)
    except MediaError as exc:
        return str(exc).replace(str(path), "the file")
    return None


def keep_paid(wants: list[Want], previews: bool) -> list[Want]:
    return [w for w in wants if previews or not is_preview(w.namespace)]


@contextlib.contextmanager
def locked_project(workspace: Workspace, wait: float) -> Any:
    """The project lock, as a build holds it: a push or pull never meets a build halfway."""
    workspace.check_state()
    with ProjectLock(workspace, wait=wait):
        yield


def project_of(path: Path) -> Path:
    """The project folder of ``path`` (a storyboard, or the current folder)."""
    from storyboard.core.project import find_project_root

    return find_project_root(path if path.suffix else path / "x")
