"""What one build asks of the remote: the executor's and the planner's only view of it.

Place in the pipeline: made by :func:`storyboard.build.pipeline.build` (and ``plan``) when the
project has a remote; the plan asks :meth:`RemoteSession.lookup` which takes the remote holds (one
list request and one look-up per take missing from the local cache; a build with nothing to do asks
nothing), and the executor, for each take, in the order local cache -> remote -> lock file ->
provider:

- :meth:`fetch`: a take the plan found on the remote, into the local cache, verified;
- :meth:`upload_for`: a presigned PUT URL for a single-result request, when the store can
  sign (the provider then writes the result straight into the bucket);
- :meth:`stored`: a paid take now in the local cache (made, or downloaded from the lock):
  queued on disk (``.storyboard/remote/queue/``), then pushed while the build goes on;
- :meth:`settle`: waits for the pushes before the build reports; a push that failed leaves
  its take queued, for ``storyboard push``, and is a warning: it never fails a film.

A remote that cannot be reached, refuses the credentials or has no bucket is said once, in
one line, and not asked again in this build: the build goes on as the plan says.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from storyboard.backends.base import Upload
from storyboard.build.remote_transfer import Check, Pushed, fetch_take, push_take
from storyboard.build.state.cache import Cache, CacheEntry
from storyboard.build.state.lockfile import LockedTake
from storyboard.build.state.workspace import Workspace
from storyboard.core.errors import BuildError
from storyboard.core.events import EventSink, Note, ignore
from storyboard.remote.config import RemoteConfig
from storyboard.remote.store import (
    RemoteError,
    Store,
    gather_limited,
    result_path,
    upload_path,
)

#: Look-ups and transfers at once.
CONCURRENCY = 8
#: The kinds of failure after which the remote is not asked again in this build.
_DOWN = ("unreachable", "no-bucket", "denied")


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


class Queue:
    """The takes a build stored that the remote may not hold yet, one file each."""

    def __init__(self, workspace: Workspace, folder: str = "queue") -> None:
        self.workspace = workspace
        self.folder = workspace.state / "remote" / folder

    def add(self, item: Queued) -> None:
        data = json.dumps(item.__dict__, sort_keys=True).encode()
        self.workspace.tree.write_atomic(self.folder / item.name, data, staging=self.workspace.tmp)

    def remove(self, item: Queued) -> None:
        self.workspace.tree.unlink(self.folder / item.name)

    def items(self) -> list[Queued]:
        found = []
        tree = self.workspace.tree
        for name, is_dir in tree.names(self.folder):
            if is_dir or not name.endswith(".json"):
                continue
            try:
                raw = json.loads(tree.read_bytes(self.folder / name) or b"")
                item = Queued(**{k: raw.get(k) for k in ("namespace", "key", "take", "model",
                                                         "upload")})  # fmt: skip
                if item.name == name:
                    found.append(item)
            except (OSError, ValueError, TypeError, AttributeError, BuildError):
                continue  # not one of ours: left alone
        return found


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
    held: set[tuple[str, str]] = field(default_factory=set)
    """``(namespace, key)`` of the takes the plan found on the remote."""
    pushed: list[str] = field(default_factory=list)
    queued: list[str] = field(default_factory=list)
    _pushes: list[asyncio.Task[None]] = field(default_factory=list)

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
        if exc.kind in _DOWN and self.down is None:
            self.down = exc
            self.emit(Note("", f"remote: {exc}; going on without it"))

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
        held -= {q.key for q in self.refused.items() if q.namespace == namespace}
        self.held |= {(namespace, k) for k in held}
        return held

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
            if exc.kind in _DOWN:
                self.down = self.down or exc
            elif exc.kind in ("corrupt", "missing"):
                with contextlib.suppress(OSError, BuildError):
                    self.refused.add(Queued(namespace, key))
            raise

    def upload_for(self, task_uuid: str) -> Upload | None:
        """Where the provider may PUT the single result of ``task_uuid``, and how to get it
        back from there when its own URL is gone; ``None`` when the store cannot sign."""
        if self.down is not None or not self.store.can_sign:
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
        if self.down is not None:
            self.queued.append(take)
            return
        self._pushes.append(asyncio.ensure_future(self._push(queue, item, entry)))

    async def _push(self, queue: Queue, item: Queued, entry: CacheEntry) -> None:
        try:
            done = await push_take(
                self.store, entry, take=item.take, model=item.model, upload=item.upload
            )
        except RemoteError as exc:
            self._fail(exc)
            self.queued.append(item.take)
            if exc.kind not in _DOWN:
                self.emit(Note("", f"remote: take '{item.take}' was not pushed: {exc}"))
            return
        self._said(item.take, done)
        self.pushed.append(item.take)
        with contextlib.suppress(OSError, BuildError):
            queue.remove(item)

    def _said(self, take: str, done: Pushed) -> None:
        if done.status == "other":
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
            await asyncio.gather(*self._pushes)
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
