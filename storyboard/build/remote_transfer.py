"""One take between the local cache and the remote: :func:`push_take` and :func:`fetch_take`.

Place in the pipeline: used by the build (through :mod:`storyboard.build.remote_session`) and by
``storyboard push`` / ``pull`` (:mod:`storyboard.build.remote_sync`).

Pushing writes the media first (``cas/sha256/..``, each only if missing), then the take's
record (``results/NAMESPACE/KEY.json``): a record is never there before its media. Every
write is create-only, so two builds pushing the same key at once cannot replace each other's
objects: the first record stays, and the second build is told so. A result the provider
already PUT into the bucket (``uploadEndpoint``) is checked against the bytes the build
downloaded and copied into place inside the store, without sending it again.

Fetching reads the record, then each medium, hashing it as it streams in: an object that is
not the bytes its record names (truncated, altered) is refused and nothing of it enters the
local cache; a video that does not play (``check``) neither.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from storyboard.build.state.cache import Cache, CacheEntry
from storyboard.build.state.lockfile import LockedTake, locked_take, read_entry
from storyboard.build.state.safe import Tree
from storyboard.core.errors import BuildError
from storyboard.remote.store import (
    RemoteError,
    Store,
    cas_path,
    checked_path,
    is_upload,
    result_path,
)

RECORD_VERSION = 1

#: ``check(video) -> why it is not usable, or None``: run on every fetched video.
Check = Callable[[Path], "str | None"]


@dataclass(frozen=True)
class Pushed:
    """What pushing one take did."""

    status: Literal["pushed", "present", "other"]
    """``pushed``: written now; ``present``: the remote held this very result already;
    ``other``: the remote holds another result of the same request (made by another build,
    which pushed first), and keeps it."""
    bytes: int = 0
    """Media bytes sent (0 for a result the provider uploaded, or one already there)."""
    adopted: bool = False
    """The provider's upload was copied into place."""
    problem: str = ""
    """``other``: why the record the remote holds is not this take's, when it is not one
    storyboard can read (damaged, of a newer storyboard); this take's media were pushed."""


def record_of(entry: CacheEntry, take: str = "", model: str | None = None) -> bytes:
    """The remote's record of a cached take: the lock's entry, URLs redacted."""
    meta = entry.meta or {}
    take, model = take or str(meta.get("take") or ""), str(model or meta.get("model") or "")
    locked = locked_take(entry, take, model)
    data = {"version": RECORD_VERSION, **locked.to_json()}
    return json.dumps(data, sort_keys=True, separators=(",", ":")).encode()


def parse_record(data: bytes, namespace: str, key: str, where: str) -> LockedTake:
    """A record read from the remote, checked like a lock entry.

    Raises:
        RemoteError: it is not a record storyboard wrote for this key (``corrupt``).
    """
    try:
        raw = json.loads(data)
    except RecursionError:  # a few hundred thousand "[": not a record, never a crash
        raise RemoteError(
            f"{where} is not a record storyboard wrote: nested too deeply to be read", "corrupt"
        ) from None
    except ValueError as exc:  # UnicodeDecodeError too
        raise RemoteError(f"{where} is not a record storyboard wrote: {exc}", "corrupt") from None
    version = raw.get("version") if isinstance(raw, dict) else None
    if isinstance(version, int) and not isinstance(version, bool) and version > RECORD_VERSION:
        raise RemoteError(
            f"{where} is a record of version {version}, written by a newer storyboard (this "
            f"one reads version {RECORD_VERSION}): upgrade storyboard to use it",
            "corrupt",
        )
    try:
        if not isinstance(raw, dict) or type(version) is not int or version != RECORD_VERSION:
            raise ValueError(f"not a record of version {RECORD_VERSION}")
        if not raw.get("take"):
            raw = {**raw, "take": "?"}
        locked = read_entry(raw)
    except ValueError as exc:
        raise RemoteError(f"{where} is not a record storyboard wrote: {exc}", "corrupt") from None
    if locked.key != key or locked.backend != namespace:
        raise RemoteError(f"{where} names another take ({locked.key[:12]}...)", "corrupt")
    return locked


async def push_take(
    store: Store,
    entry: CacheEntry,
    *,
    take: str = "",
    model: str | None = None,
    upload: str | None = None,
) -> Pushed:
    """Push a cached take (verified by the caller) to the remote, media first.

    ``upload`` is where the provider PUT the take's single result (``uploads/TASK``), if it
    was asked to: used when it holds exactly the bytes of the cache's file, then removed.

    A record already there that is not this take's (another build's, one that cannot be
    read) is never written over; the take's media are pushed all the same (``other``).

    Raises:
        RemoteError: the remote failed or refused a write, or holds other bytes under a
            medium's sha256 (``corrupt``: no record is written); what was written stays
            (media without a record are harmless, and found again by the next push).
    """
    record_at = result_path(entry.backend, entry.key)
    unreadable = ""
    try:
        existing = await store.read(record_at)
    except RemoteError as exc:
        if exc.kind != "corrupt":
            raise
        existing, unreadable = None, str(exc)  # a pipe, a folder, too large: never replaced
    # the media whatever record is there: a lock file names them by their sha256s, and a
    # build holding this take's lock entry fetches them so, whichever record the remote
    # keeps (another build's, a damaged one, a newer storyboard's); written only if missing.
    # One already there is read back unless this very record names it: a writer who read
    # the sha256s in a lock file may have put other bytes under them first, and a record
    # naming them would send every reader to bytes that are refused (create-only: for good)
    present = existing is not None and _compared(existing, entry, record_at).status == "present"
    sent, adopted = 0, False
    for index, result in enumerate(entry.results):
        target = cas_path(result.sha256)
        if await store.exists(target):
            if not present:
                await _verify(store, target, result.sha256, result.bytes)
            continue
        if index == 0 and upload is not None and await _adopt(store, upload, target, result):
            adopted = True
            continue
        if await store.create(target, entry.path(index)):
            sent += result.bytes
        else:  # put there since the look
            await _verify(store, target, result.sha256, result.bytes)
    await _drop_upload(store, upload)
    if unreadable:
        return Pushed("other", sent, adopted, problem=unreadable)
    if existing is not None:
        return _compared(existing, entry, record_at, sent, adopted)
    if await store.create(record_at, record_of(entry, take, model)):
        return Pushed("pushed", sent, adopted)
    # another build wrote the record between our look and our write: its result stays
    again = await store.read(record_at)
    if again is None:
        raise RemoteError(f"{store.url}/{record_at} could not be written nor read back")
    return _compared(again, entry, record_at, sent, adopted)


async def _verify(store: Store, target: str, sha256: str, size: int) -> None:
    """Check that the medium the remote holds at ``target`` is the bytes its name says.

    Raises:
        RemoteError: it is not (``corrupt``): the take's record is then not written.
    """
    found = await store.digest(target)
    if found is None:
        raise RemoteError(f"{store.url}/{target} could not be read back", "missing")
    if found != (sha256, size):
        raise RemoteError(
            f"{store.url}/{target} is already on the remote and holds other bytes than its "
            f"name says ({found[1]:,} bytes, sha256 {found[0][:16]}...), put there by "
            "something other than storyboard; it is never written over, so the take's record "
            "was not written: remove that object from the bucket, then `storyboard push`",
            "corrupt",
        )


def _compared(
    data: bytes, entry: CacheEntry, where: str, sent: int = 0, adopted: bool = False
) -> Pushed:
    try:
        theirs = parse_record(data, entry.backend, entry.key, where)
    except RemoteError as exc:  # not ours to replace: readers refuse it themselves
        return Pushed("other", sent, adopted, problem=str(exc))
    same = [r.sha256 for r in theirs.results] == [r.sha256 for r in entry.results]
    return Pushed("present" if same else "other", sent, adopted)


async def _adopt(store: Store, upload: str, target: str, result: object) -> bool:
    """Copy the provider's upload to ``target`` if it holds the result's very bytes.

    The presigned URL the provider wrote through stays valid for hours: bytes put at
    ``upload`` after a check of it would be what a copy then took, and (written create-only)
    would stay under the result's sha256 for good. So the upload is first copied where that
    URL cannot write (:func:`checked_path`), that copy is checked, and only that copy goes
    into ``cas/``; it is removed afterwards, as the upload is.
    """
    sha, size = getattr(result, "sha256", ""), getattr(result, "bytes", -1)
    if not is_upload(upload):  # a queue entry naming a record or a medium names no upload
        return False  # not an upload: the bytes are sent from the cache
    checked = checked_path(upload)
    try:
        # False: a copy an earlier push left (killed before removing it), checked the same
        if await store.copy_new(upload, checked) is None:
            return False  # the store cannot copy without overwriting: send the bytes
        if await store.digest(checked) != (sha, size):
            return False  # missing, or not what the build downloaded: send the bytes
        return await store.copy_new(checked, target) is True  # False: one was there
    except RemoteError:
        return False
    finally:
        with contextlib.suppress(RemoteError):
            await store.remove(checked)


async def _drop_upload(store: Store, upload: str | None) -> None:
    """Remove the provider's upload once its take is pushed (a bucket that forbids deletes
    keeps it: a lifecycle rule on ``uploads/`` clears it, see docs/remote.md)."""
    if upload is not None and is_upload(upload):
        with contextlib.suppress(RemoteError):
            await store.remove(upload)


async def fetch_take(
    store: Store,
    namespace: str,
    key: str,
    cache: Cache,
    tree: Tree,
    *,
    check: Check | None = None,
    gate: asyncio.Semaphore | None = None,
    locked: LockedTake | None = None,
) -> CacheEntry:
    """Bring the remote's result of ``key`` into the local cache, every byte verified.

    ``gate``, if given, is held for each request to the remote (the record, each medium) and
    for nothing else: a caller moving many takes limits the transfers in flight with it, while
    the checks and the cache's writes of the takes already here go on beside them.

    ``locked``, if given, is the lock file's entry of this take: it records what the remote's
    record does (the same sha256s, sizes and provider UUIDs), so its media are fetched by
    those sha256s without reading the record first, one request a take fewer. Should the
    remote not hold them (it keeps another build's result of the same request), the record
    is read and its media fetched, as without ``locked``.

    Raises:
        RemoteError: no record (``missing``), a record or medium that is not what it says
            (``corrupt``), a video that does not play, or the remote failed. Nothing of it
            is in the local cache then.
    """
    if locked is not None and (locked.key, locked.backend) == (key, namespace) and locked.results:
        try:
            return await _fetch_media(store, locked, cache, tree, check, gate)
        except RemoteError as exc:
            if exc.kind != "missing":
                raise
    record_at = result_path(namespace, key)
    async with gate or contextlib.nullcontext():
        data = await store.read(record_at)
    if data is None:
        raise RemoteError(f"{store.url}/{record_at} is missing", "missing")
    recorded = parse_record(data, namespace, key, f"{store.url}/{record_at}")
    return await _fetch_media(store, recorded, cache, tree, check, gate)


async def _fetch_media(
    store: Store,
    locked: LockedTake,
    cache: Cache,
    tree: Tree,
    check: Check | None,
    gate: asyncio.Semaphore | None,
) -> CacheEntry:
    """Every medium of ``locked`` from the remote's ``cas/``, hashed as it streams in and
    checked, then the take into the cache under ``locked.key``."""
    namespace, key = locked.backend, locked.key
    # each medium straight into a new file of the cache's staging folder (no folder of its
    # own to make and remove: two fewer walks of the project's tree per take); the folder is
    # made once (a walk from the project's root is a dozen system calls, each a wait for the
    # interpreter's lock while other takes are hashed and written)
    if not os.path.isdir(cache.staging):
        await asyncio.to_thread(tree.makedirs, cache.staging)
    files: list[Path] = []
    try:
        digests = []
        for result in locked.results:
            dest = cache.staging / f"remote-{secrets.token_hex(8)}.mp4"
            files.append(dest)
            async with gate or contextlib.nullcontext():
                digests.append(
                    await store.download(
                        cas_path(result.sha256), tree, dest, sha256=result.sha256,
                        size=result.bytes,
                    )
                )  # fmt: skip

        def keep() -> CacheEntry:
            """Check every video, then put the take into the cache (in a thread: the loop goes
            on with the other transfers)."""
            for path in files if check is not None else ():
                assert check is not None
                why = check(path)
                if why is not None:
                    raise RemoteError(
                        f"the remote's result of take '{locked.take}' is not a usable video: "
                        f"{why}; nothing of it was kept",
                        "corrupt",
                    )
            return cache.put(
                namespace,
                key,
                files,
                results=[
                    {"video_uuid": r.video_uuid, "url": r.url, "cost": locked.cost if i == 0 else 0}
                    for i, r in enumerate(locked.results)
                ],
                task_uuid=locked.task_uuid,
                meta={"take": locked.take, "model": locked.model, "from": "remote"},
                digests=digests,
            )

        return await asyncio.to_thread(keep)
    except BaseException:
        for path in files:  # what the cache did not take (a download removes its own)
            with contextlib.suppress(OSError, BuildError):
                tree.unlink(path)
        raise
