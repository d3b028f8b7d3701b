"""Claims on the remote: two builds of one film at once (two clones, two CI runners) pay for
a take once.

Place in the pipeline: asked by the executor right before a paid request is first sent, when
the project has a remote (:attr:`RemoteSession.claims`). Without claims, two builds that
started before either had pushed a take both paid for it (the remote then kept one result).

The protocol, on the remote's create-only writes alone (no lock service, no clock shared but
each machine's own):

- A build about to pay for the take ``KEY`` writes ``claims/FOLDER/KEY/1.json`` (create-only):
  which clone claims it (:func:`clone_id`, a random name kept in ``.storyboard/``), the take,
  when, and until when (``claimed`` + :data:`TTL`). Written: it pays, as before.
- Already there, and this clone's (an earlier build of this clone stopped after claiming; its
  journal resumes what it sent): it pays, or resumes. Unless this clone released it, or a
  later generation is there (another build claimed the take after it): then the next
  generation, as for another build's claim (never a payment beside the other build's).
- Another build's, and live: it does not pay. Every :data:`POLL` seconds it looks for the
  take's record (``results/FOLDER/KEY.json``, written once the other build has pushed the
  take): there, the executor fetches the take from the remote, as any take the remote holds.
- Released (``N.released``: the other build failed the take for good) or lapsed: the next
  generation, ``N+1.json``, claimed the same way (create-only: of two builds that find a claim
  lapsed, one makes the next). A claim lapses at its ``until``, or :data:`TTL` after this
  build first saw it, whichever is first: a claim written with a far ``until`` (a clock that is
  wrong, a hostile writer) holds a build back for :data:`TTL` at most. A build waits
  :data:`TTL` at most in all, for one take: past it, one more generation is tried, and it
  then pays without a claim (said), never looking through every generation first.
- A build whose credentials may only read makes no claim (said once), but still reads the
  claims of others and waits for a live one as above: a reader that pays does not pay beside
  a writer making the same take.
- A claim that cannot be read (not JSON, not a claim, too large, not a regular file) is taken
  as lapsed; a remote that fails (unreachable, denied, no bucket) or a clone name that cannot
  be read is said once, and the build pays without claims, as it did before them.

:data:`TTL` (45 minutes; ``STORYBOARD_CLAIM_TTL`` seconds) is longer than a build waits for a
task (30 minutes) and its download (10 minutes) together: a live build has pushed its take,
or failed it, before its claim lapses. Clocks that differ by more than the margin can make a
waiter pay early, as it did before claims.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from storyboard.build.state.safe import NotText, UnsafePath, load_json
from storyboard.core import settings
from storyboard.core.errors import BuildError
from storyboard.core.events import EventSink, Note, ignore
from storyboard.remote.store import (
    DOWN,
    MAX_GENERATIONS,
    RemoteError,
    Store,
    claim_path,
    result_path,
)

if TYPE_CHECKING:
    from storyboard.build.state.workspace import Workspace

#: How long a claim holds (seconds), and how often a waiting build looks for the result.
TTL = settings.CLAIM_TTL.default
POLL = settings.CLAIM_POLL.default
TTL_ENV = settings.CLAIM_TTL.name
POLL_ENV = settings.CLAIM_POLL.name
CLAIM_VERSION = 1
_CLONE = re.compile(r"[0-9a-f]{32}")

Answer = Literal["pay", "arrived"]
"""What the executor does: ``pay`` (claimed, or no claim could be made) or fetch the take the
other build pushed (``arrived``)."""


def clone_id(workspace: Workspace) -> str:
    """This clone's name in claims: 32 random hex digits in ``.storyboard/remote/clone``,
    made the first time.

    Raises:
        BuildError: it is there and cannot be read, or is not such a name (never replaced:
            a new name would take this clone's own claims for another build's).
        UnsafePath: a symlink in its way.
    """
    path = workspace.state / "remote" / "clone"
    tree = workspace.tree
    try:
        text = tree.read_text(path)
    except (OSError, NotText) as exc:
        raise BuildError(f"{path} cannot be read ({exc})") from None
    if text is None:
        name = secrets.token_hex(16)
        tree.write_atomic(path, (name + "\n").encode(), staging=workspace.tmp)
        return name
    if not _CLONE.fullmatch(text.strip()):
        raise BuildError(f"{path} is not a clone's name storyboard wrote")
    return text.strip()


@dataclass
class Claims:
    """One build's claims on one remote (see the module docstring)."""

    store: Store
    workspace: Workspace
    emit: EventSink = ignore
    failed: Callable[[RemoteError], None] | None = None
    """Told of a failure of the remote itself (unreachable, denied, no bucket), which it
    says; then no claim is tried again in this build."""
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    down: str | None = None
    """Why no claim is tried in this build (said once)."""
    reading_only: bool = False
    """A claim was refused (the credentials may only read): others' claims are still read."""
    held: dict[tuple[str, str], int] = field(default_factory=dict)
    """``(namespace, key)``: the generation this build claimed."""
    _clone: str | None = None

    @property
    def ttl(self) -> float:
        # checked when the remote was configured (find_remote); read here mid-build
        return settings.value_or_default(settings.CLAIM_TTL, self.env)

    @property
    def poll(self) -> float:
        return settings.value_or_default(settings.CLAIM_POLL, self.env)

    def _off(self, why: str) -> Answer:
        if self.down is None:
            self.down = why
            self.emit(Note("", f"remote: {why}; takes are paid for without a claim"))
        return "pay"

    async def claim(self, namespace: str, key: str, take: str) -> Answer:
        """Claim the take ``key`` before paying for it; wait while another build holds it.

        Returns ``pay`` when this build may pay (its claim is made, it is this clone's, or
        no claim can be made: said once), ``arrived`` when the other build's record of the
        take is on the remote (fetch it; if that fails, the executor pays, as planned).
        """
        if self.down is not None:
            return "pay"
        if self._clone is None:
            try:
                self._clone = clone_id(self.workspace)
            except (OSError, BuildError) as exc:
                return self._off(f"this clone's name for claims: {exc}")
        ttl = self.ttl
        deadline = time.time() + ttl  # (the TTL in all, for this take)
        late = False
        generation = 1
        while generation < MAX_GENERATIONS:
            if time.time() >= deadline:
                if late:  # one more try past the TTL, never a look through every claim
                    return self._unclaimed(
                        take, f"waited {ttl:.0f} s in all for other builds' claims of it "
                        f"({TTL_ENV})"
                    )  # fmt: skip
                late = True
            path = claim_path(namespace, key, generation)
            now = time.time()
            mine = {"version": CLAIM_VERSION, "clone": self._clone, "take": take,
                    "claimed": now, "until": now + ttl}  # fmt: skip
            if not self.reading_only:
                try:
                    if await self.store.create(path, json.dumps(mine).encode()):
                        self.held[(namespace, key)] = generation
                        return "pay"
                except RemoteError as exc:
                    if exc.kind != "denied":
                        return self._failed(exc, take)
                    self._denied(exc)
            try:
                raw = await self.store.read(path)
                found = _claim(raw)
            except RemoteError as exc:
                if exc.kind != "corrupt":
                    return self._failed(exc, take)
                raw, found = b"", None  # a folder, a pipe, a link, too large: not read
            if raw is None and self.reading_only:
                return "pay"  # no build claimed it (claims are made in order): no claim here
            if found is not None and found.clone == self._clone:
                # an earlier build of this clone's: the journal resumes it, unless it gave
                # the claim up (released) or another build claimed the take after it
                try:
                    after = await self._superseded(namespace, key, generation)
                except RemoteError as exc:
                    return self._failed(exc, take)
                if not after:
                    self.held[(namespace, key)] = generation
                    return "pay"
                generation += 1
                continue
            if found is None:  # not a claim (or gone): lapsed
                generation += 1
                continue
            seen = time.time()
            until = min(found.until, seen + ttl, deadline)
            if until > seen:
                answer = await self._wait(namespace, key, take, generation, found, until)
                if answer is not None:
                    return answer
            generation += 1  # (once it has waited the TTL in all, it waits no more)
        return self._unclaimed(take, "every generation of its claims is taken")

    async def _superseded(self, namespace: str, key: str, generation: int) -> bool:
        """Whether this clone's claim ``generation`` was released, or followed by another.

        Raises:
            RemoteError: the remote failed (what cannot be read there counts as there).
        """
        later = [claim_path(namespace, key, generation, released=True)]
        if generation + 1 < MAX_GENERATIONS:
            later.append(claim_path(namespace, key, generation + 1))
        for path in later:
            try:
                if await self.store.exists(path):
                    return True
            except RemoteError as exc:
                if exc.kind != "corrupt":
                    raise
                return True
        return False

    def _unclaimed(self, take: str, why: str) -> Answer:
        self.emit(Note(take, f"{take}: {why} on the remote; paying for it without a claim"))
        return "pay"

    async def _wait(
        self, namespace: str, key: str, take: str, generation: int,
        found: Claim, until: float,
    ) -> Answer | None:  # fmt: skip
        """Wait for the result of a live claim: ``arrived``, ``None`` when it was released
        or lapsed (the next generation), or ``pay`` when the remote failed."""
        record = result_path(namespace, key)
        released = claim_path(namespace, key, generation, released=True)
        said = False
        while True:
            try:
                if await self.store.exists(record):
                    return "arrived"
                if await self.store.exists(released):
                    return None
            except RemoteError as exc:
                return self._failed(exc, take)
            if time.time() >= until:
                return None
            if not said:
                said = True
                age = max(0.0, time.time() - found.claimed)
                self.emit(Note(take, (
                    f"{take}: another build claimed this take on the remote {age:.0f} s ago "
                    f"and is making it; waiting up to {until - time.time():.0f} s for its "
                    f"result rather than paying for it again ({TTL_ENV})"
                )))  # fmt: skip
            await asyncio.sleep(min(self.poll, max(0.0, until - time.time())))

    def _denied(self, exc: RemoteError) -> None:
        """These credentials may not write: no claim is made in this build, but the claims of
        other builds are still read, and waited for (a reader that pays for a take a writer
        is making fetches it instead, once pushed). Said once, by the session."""
        self.reading_only = True
        if self.failed is not None:
            self.failed(exc)
        else:
            self.emit(Note("", f"remote: {exc}; takes are paid for without a claim"))

    def _failed(self, exc: RemoteError, take: str) -> Answer:
        if exc.kind in DOWN:
            if self.failed is None:
                return self._off(str(exc))
            self.down = str(exc)
            self.failed(exc)  # said there, once
            return "pay"
        self.emit(Note(take, f"{take}: no claim on the remote ({exc}); paying without one"))
        return "pay"

    async def release(self, namespace: str, key: str) -> None:
        """Say that this build gave up its claim of ``key`` (it failed the take for good, and
        no request of it is pending): a waiting build claims it next, without waiting for the
        claim to lapse. Quiet: a release that fails only makes others wait longer."""
        generation = self.held.pop((namespace, key), None)
        if generation is None or self.down is not None:
            return
        try:
            await self.store.create(claim_path(namespace, key, generation, released=True), b"{}")
        except RemoteError as exc:
            if exc.kind in DOWN:  # not asked again in this build (each try: its timeouts)
                self.down = str(exc)
        except UnsafePath:
            return

    async def release_own(self, namespace: str, key: str) -> bool:
        """Release this clone's live claim of ``key`` (a request given up by ``storyboard
        doctor --abandon``): the latest generation, if it is this clone's and not released.
        Whether one was released.

        Raises:
            RemoteError: the remote failed.
            BuildError: this clone's name for claims cannot be read.
        """
        clone = self._clone or clone_id(self.workspace)
        latest: tuple[int, Claim | None] | None = None
        for generation in range(1, MAX_GENERATIONS):
            try:
                raw = await self.store.read(claim_path(namespace, key, generation))
            except RemoteError as exc:
                if exc.kind != "corrupt":
                    raise
                raw = b""  # not a claim: the next generation may be
            if raw is None:
                break
            latest = (generation, _claim(raw))
        if latest is None or latest[1] is None or latest[1].clone != clone:
            return False
        generation = latest[0]
        released = claim_path(namespace, key, generation, released=True)
        return await self.store.create(released, b"{}")


@dataclass(frozen=True)
class Claim:
    """A claim as read: whose (a clone's name), when, and until when (its writer's clock)."""

    clone: str | None
    claimed: float
    until: float


def _claim(data: bytes | None) -> Claim | None:
    """A claim as written, or ``None`` (missing, or not a claim: taken as lapsed)."""
    if data is None:
        return None
    try:
        found = load_json(data)
    except ValueError:
        return None
    if not isinstance(found, dict) or found.get("version") != CLAIM_VERSION:
        return None
    claimed, until = found.get("claimed"), found.get("until")
    if not (isinstance(claimed, (int, float)) and isinstance(until, (int, float))):
        return None
    if isinstance(claimed, bool) or isinstance(until, bool):
        return None
    if not (abs(claimed) < 1e12 and abs(until) < 1e12):  # (and not NaN)
        return None
    clone = found.get("clone")
    return Claim(clone if isinstance(clone, str) else None, float(claimed), float(until))
