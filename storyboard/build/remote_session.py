"""What one build asks of the remote: the executor's and the planner's only view of it.

Place in the pipeline: made by :func:`storyboard.build.pipeline.build` (and ``plan``) when the
project has a remote; the plan asks :meth:`RemoteSession.lookup` which takes the remote holds (one
list request and one look-up per take missing from the local cache; a build with nothing to do asks
nothing), and the executor, for each take, in the order local cache -> remote -> lock file ->
provider:

- :meth:`fetch`: a take the plan found on the remote, into the local cache, verified;
- :meth:`claim`: before a paid request is first sent, the take is claimed on the remote, so
  that two builds at once pay for it once (:mod:`storyboard.build.remote_claims`);
- :meth:`upload_for`: a presigned PUT URL for a single-result request, when the store can
  sign (the provider then writes the result straight into the bucket);
- :meth:`stored`: a paid take now in the local cache (made, or downloaded from the lock):
  queued on disk (``.storyboard/remote/queue/``), then pushed while the build goes on;
- :meth:`settle`: waits for the pushes before the build reports; a push that failed leaves
  its take queued, for ``storyboard push``, and is a warning: it never fails a film.

A file of the queue or of the refused list that cannot be read (cut short, not JSON) is never
taken as none and never deleted (:class:`Unreadable`): ``storyboard push`` names it and exits 1
unless the remote holds the take its file name says; the plan does not count on the remote's
copy of that take, and says so once.

A remote that cannot be reached, refuses the credentials or has no bucket is said once, in
one line, and not asked again in this build: the build goes on as the plan says.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from storyboard.backends.base import Upload
from storyboard.build.remote_claims import Answer, Claims
from storyboard.build.remote_transfer import Check, Pushed, fetch_take, push_take
from storyboard.build.state.cache import Cache, CacheEntry
from storyboard.build.state.lockfile import LockedTake
from storyboard.build.state.safe import MAX_STATE_BYTES, load_json
from storyboard.build.state.workspace import Workspace
from storyboard.core.errors import BuildError
from storyboard.core.events import EventSink, Note, ignore
from storyboard.remote.config import RemoteConfig
from storyboard.remote.store import (
    DOWN,
    RemoteError,
    Store,
    gather_limited,
    result_path,
    upload_path,
)

#: Look-ups and transfers at once.
CONCURRENCY = 8


def is_preview(namespace: str) -> bool:
    """A free preview's namespace (pushed only when asked, with ``--previews``)."""
    return namespace == "preview" or namespace.startswith("preview@")


@dataclass(frozen=True)
class Queued:
    """A take waiting to be pushed (a file of ``.storyboard/remote/queue/``)."""

    namespace: str
    key: str
    take: str = ""
    model: str | None = None
    upload: str | None = None

    @property
    def name(self) -> str:
        return f"{result_path(self.namespace, self.key).split('/')[1]}.{self.key}.json"


@dataclass(frozen=True)
class Unreadable:
    """A file of a queue that cannot be read as a :class:`Queued` (cut short, not JSON, naming
    another take than its name says). Never taken as nothing to do, never deleted: whoever
    reads the queue says so, and leaves it in place with its bytes."""

    path: Path
    why: str

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def folder(self) -> str | None:
        """The remote's folder of its take's namespace, as its file name says (``Queued.name``:
        ``FOLDER.KEY.json``), or ``None`` when the name is not one storyboard writes."""
        return self._parts()[0]

    @property
    def key(self) -> str | None:
        """The take key its file name says, or ``None``."""
        return self._parts()[1]

    @property
    def record(self) -> str | None:
        """Where the remote keeps the record of the take its file name says, or ``None``."""
        folder, key = self._parts()
        return None if folder is None or key is None else f"results/{folder}/{key}.json"

    def where(self, root: Path) -> str:
        """Its path, from the project folder ``root`` when it is inside."""
        try:
            return str(self.path.relative_to(root))
        except ValueError:
            return str(self.path)

    def _parts(self) -> tuple[str | None, str | None]:
        folder, _, key = self.name.removesuffix(".json").rpartition(".")
        if re.fullmatch(r"(?!\.+$)[A-Za-z0-9._-]+", folder) and re.fullmatch(r"[0-9a-f]{64}", key):
            return folder, key
        return None, None


def folder_of(namespace: str) -> str:
    """The remote's (and the queue's file names') folder of ``namespace``."""
    return result_path(namespace, "0" * 64).split("/")[1]


class Queue:
    """The takes a build stored that the remote may not hold yet, one file each."""

    def __init__(self, workspace: Workspace, folder: str = "queue") -> None:
        self.workspace = workspace
        self.folder = workspace.state / "remote" / folder
        self.unreadable: list[Unreadable] = []
        """The files :meth:`items` could not read, at its last call (see :meth:`read`)."""

    def add(self, item: Queued) -> None:
        data = json.dumps(item.__dict__, sort_keys=True).encode()
        self.workspace.tree.write_atomic(self.folder / item.name, data, staging=self.workspace.tmp)

    def remove(self, item: Queued) -> None:
        self.workspace.tree.unlink(self.folder / item.name)

    def items(self) -> list[Queued]:
        """The entries that can be read; those that cannot are in :attr:`unreadable` after
        (a caller that acts on the queue says them: see :meth:`read`)."""
        found, self.unreadable = self.read()
        return found

    def read(self) -> tuple[list[Queued], list[Unreadable]]:
        """Every ``*.json`` file of the folder: as an entry, or as one that cannot be read.

        A file that cannot be read is not an empty queue: it names (by its file name, at
        best) a take that may not be on the remote. It is returned, never skipped or removed.

        Raises:
            OSError, BuildError: the folder itself cannot be listed.
        """
        found: list[Queued] = []
        unreadable: list[Unreadable] = []
        tree = self.workspace.tree
        for name, is_dir in tree.names(self.folder):
            if is_dir or not name.endswith(".json"):
                continue
            path = self.folder / name
            try:
                data = tree.read_bytes(path, MAX_STATE_BYTES)
            except (OSError, BuildError) as exc:
                unreadable.append(Unreadable(path, f"cannot be opened: {exc}"))
                continue
            if data is None:
                continue  # removed since the listing: nothing is left to push
            item = _entry(data, name)
            if isinstance(item, str):
                unreadable.append(Unreadable(path, item))
            else:
                found.append(item)
        return found, unreadable


def _entry(data: bytes, name: str) -> Queued | str:
    """The entry the file ``name`` holds, or why it holds none."""
    try:
        raw = load_json(data)  # too deeply nested: not JSON either, never a crash
    except ValueError as exc:
        return f"not JSON, cut short or altered: {exc}"
    if not isinstance(raw, dict):
        return f"not a queue entry: a JSON {type(raw).__name__}"
    namespace, key, take, model, upload = (
        raw.get(k) for k in ("namespace", "key", "take", "model", "upload")
    )
    if not (isinstance(namespace, str) and isinstance(key, str)) or not all(
        v is None or isinstance(v, str) for v in (take, model, upload)
    ):
        return "not a queue entry: a field is missing or not a string"
    item = Queued(namespace, key, take or "", model, upload)
    try:
        if item.name != name:
            return f"its content names another take ({item.name})"
    except BuildError as exc:
        return f"not a queue entry: {exc}"
    return item


@dataclass
class RemoteSession:
    """One build's (or one command's) use of one remote; see the module docstring."""

    store: Store
    workspace: Workspace
    emit: EventSink = ignore
    previews: bool = False
    """Push preview takes too (``--previews``); otherwise only paid ones."""
    down: RemoteError | None = None
    """Why the remote is not asked again in this build, once it failed that way."""
    read_only: RemoteError | None = None
    """Why nothing is written to the remote in this build (a write was denied: the
    credentials may only read), while it is still read: the takes it holds are fetched."""
    held: set[tuple[str, str]] = field(default_factory=set)
    """``(namespace, key)`` of the takes the plan found on the remote."""
    pushed: list[str] = field(default_factory=list)
    queued: list[str] = field(default_factory=list)
    _pushes: list[asyncio.Task[None]] = field(default_factory=list)
    _told: set[Path] = field(default_factory=set)
    """The unreadable files of the refused list already said."""
    _claims: Claims | None = None

    @classmethod
    def open(
        cls, config: RemoteConfig, workspace: Workspace, *, emit: EventSink = ignore,
        previews: bool = False,
    ) -> RemoteSession:  # fmt: skip
        return cls(Store(config), workspace, emit, previews)

    @property
    def url(self) -> str:
        return self.store.url

    def _fail(self, exc: RemoteError) -> None:
        """Remember a failure that makes asking again pointless, and say it once."""
        if exc.kind in DOWN and self.down is None:
            self.down = exc
            self.emit(Note("", f"remote: {exc}; going on without it"))

    def _write_failed(self, exc: RemoteError) -> None:
        """A write failed: a denied one stops the writes of this build, not its reads (said
        once); any other failure is as :meth:`_fail`."""
        if exc.kind != "denied":
            self._fail(exc)
        elif self.read_only is None and self.down is None:
            self.read_only = exc
            self.emit(Note("", f"remote: {exc}; going on without writing to it"))

    @property
    def refused(self) -> Queue:
        """Takes whose remote copy was refused (not its sha256, not a video, its media gone):
        the next plan does not count on it, and prices the take."""
        return Queue(self.workspace, "refused")

    # -- the plan --------------------------------------------------------------------------

    async def lookup(self, namespace: str, keys: list[str]) -> set[str]:
        """Which of ``keys`` (made in ``namespace``) the remote holds a record of. A remote
        that fails holds none (said once); no keys, no request."""
        if not keys or self.down is not None:
            return set()
        try:
            refused = self._refused(namespace)
        except (OSError, BuildError) as exc:
            where = self.refused.folder.relative_to(self.workspace.project_root)
            self.emit(Note("", f"remote: {where} cannot be read ({exc}): planned without it"))
            return set()
        try:
            await self.store.probe()
        except RemoteError as exc:
            self._fail(exc)
            if self.down is None:
                self.emit(Note("", f"remote: {exc}; planned without it"))
            return set()
        answers = await gather_limited(
            CONCURRENCY, *(self.store.exists(result_path(namespace, k)) for k in keys)
        )
        failed = [a for a in answers if isinstance(a, BaseException)]
        if failed:
            error = failed[0]
            if isinstance(error, RemoteError):
                self._fail(error)
            if self.down is None:
                self.emit(Note("", f"remote: {error}; {len(failed)} look-ups failed"))
        held = {k for k, a in zip(keys, answers, strict=True) if a is True}
        held -= refused
        self.held |= {(namespace, k) for k in held}
        return held

    def _refused(self, namespace: str) -> set[str]:
        """The keys of ``namespace`` whose remote copy was refused: a file of the list that
        cannot be read refuses the take its name says (said once, left in place).

        Raises:
            OSError, BuildError: the list's folder cannot be listed.
        """
        entries, unreadable = self.refused.read()
        keys = {q.key for q in entries if q.namespace == namespace}
        folder = folder_of(namespace)
        for bad in unreadable:
            if bad.key is not None and bad.folder == folder:
                keys.add(bad.key)
            if bad.path in self._told:
                continue
            self._told.add(bad.path)
            then = (
                f"the remote's copy of take {bad.key[:12]}... is not counted on"
                if bad.key is not None
                else "its name names no take"
            )
            where = bad.where(self.workspace.project_root)
            self.emit(
                Note("", f"remote: {where} cannot be read ({bad.why}): {then}; left in place")
            )
        return keys

    def holds(self, namespace: str, key: str) -> bool:
        return (namespace, key) in self.held

    # -- the executor ------------------------------------------------------------------------

    async def fetch(
        self,
        namespace: str,
        key: str,
        cache: Cache,
        check: Check,
        locked: LockedTake | None = None,
    ) -> CacheEntry:
        """The remote's result of ``key``, now in the local cache and verified (by the sha256s
        of ``locked``, the lock's entry of it, if given: see :func:`fetch_take`).

        Raises:
            RemoteError: it could not be fetched, or is not what its record says.
        """
        if self.down is not None:
            raise self.down
        try:
            return await fetch_take(
                self.store, namespace, key, cache, self.workspace.tree, check=check, locked=locked
            )
        except RemoteError as exc:
            if exc.kind in DOWN:
                self.down = self.down or exc
            elif exc.kind in ("corrupt", "missing"):
                with contextlib.suppress(OSError, BuildError):
                    self.refused.add(Queued(namespace, key))
            raise

    @property
    def claims(self) -> Claims:
        if self._claims is None:
            self._claims = Claims(self.store, self.workspace, self.emit, self._write_failed)
        return self._claims

    async def claim(self, namespace: str, key: str, take: str) -> Answer:
        """Claim the take ``key`` before paying for it (:meth:`Claims.claim`): ``pay``, or
        ``arrived`` when another build that held it has pushed it (fetch it)."""
        if self.down or (is_preview(namespace) and not self.previews):
            return "pay"  # (read-only, it still waits for a build that claimed the take)
        return await self.claims.claim(namespace, key, take)

    async def release(self, namespace: str, key: str) -> None:
        """This build failed the take ``key`` for good: others need not wait for it."""
        if self._claims is not None and self.down is None:
            await self._claims.release(namespace, key)

    def upload_for(self, task_uuid: str) -> Upload | None:
        """Where the provider may PUT the single result of ``task_uuid``, and how to get it
        back from there when its own URL is gone; ``None`` when the store cannot sign."""
        if self.down is not None or self.read_only is not None or not self.store.can_sign:
            return None
        where = upload_path(task_uuid)
        url = self.store.sign_put(where)
        if url is None:
            return None
        store, tree = self.store, self.workspace.tree

        async def fetch(dest: Path) -> None:
            await store.download(where, tree, dest, sha256=None)

        return Upload(url=url, path=where, fetch=fetch)

    def stored(
        self, entry: CacheEntry, *, take: str, model: str | None, upload: Upload | None
    ) -> None:
        """A take is in the local cache: queue it (on disk first), and push it meanwhile."""
        if is_preview(entry.backend) and not self.previews:
            return
        item = Queued(entry.backend, entry.key, take, model, upload.path if upload else None)
        queue = Queue(self.workspace)
        try:
            queue.add(item)
        except (OSError, BuildError) as exc:
            self.emit(Note("", f"remote: cannot queue take '{take}' for the remote: {exc}"))
        if self.down is not None or self.read_only is not None:
            self.queued.append(take)
            return
        self._pushes.append(asyncio.ensure_future(self._push(queue, item, entry)))

    async def _push(self, queue: Queue, item: Queued, entry: CacheEntry) -> None:
        try:
            done = await push_take(
                self.store, entry, take=item.take, model=item.model, upload=item.upload
            )
        except RemoteError as exc:
            self._write_failed(exc)
            self.queued.append(item.take)
            if exc.kind not in DOWN:
                self.emit(Note("", f"remote: take '{item.take}' was not pushed: {exc}"))
            return
        except Exception as exc:  # a push that fails never fails the film: it stays queued
            from storyboard.backends.runware.redact import scrub

            self.queued.append(item.take)
            why = scrub(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
            self.emit(Note("", f"remote: take '{item.take}' was not pushed: {why[:300]}"))
            return
        self._said(item.take, done)
        self.pushed.append(item.take)
        with contextlib.suppress(OSError, BuildError):
            queue.remove(item)

    def _said(self, take: str, done: Pushed) -> None:
        if done.status == "other" and done.problem:
            self.emit(
                Note(
                    "",
                    f"remote: the remote keeps a record of take '{take}' that cannot be used "
                    f"({done.problem}); it is never written over: this build pushed the take's "
                    "media, which its lock file names, and uses its own result",
                )
            )
        elif done.status == "other":
            self.emit(
                Note(
                    "",
                    f"remote: another build pushed a result of take '{take}' first (the same "
                    "request, made twice); the remote keeps that one, this build uses its own",
                )
            )

    async def settle(self) -> None:
        """Wait for every push; say what stays queued (one line)."""
        if self._pushes:
            # each push says its own failure: none is the build's (return_exceptions)
            await asyncio.gather(*self._pushes, return_exceptions=True)
            self._pushes.clear()
        if self.queued:
            names = ", ".join(sorted(set(self.queued)))
            self.emit(
                Note(
                    "",
                    f"remote: {len(set(self.queued))} takes stay queued for {self.url} "
                    f"({names}): `storyboard push` sends them",
                )
            )

    def summary(self) -> dict[str, Any]:
        return {"url": self.url, "pushed": sorted(self.pushed), "queued": sorted(self.queued)}


def make_check(check: Callable[[Path, float | None], str | None], seconds: float | None) -> Check:
    """``check(video, seconds)`` bound to the length a take was asked for."""
    return lambda path: check(path, seconds)
