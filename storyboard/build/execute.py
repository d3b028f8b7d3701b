"""Stage 6, execute: run the compiled takes to finished videos, in dependency order.

For each take, cheapest first: its result is in the cache -> done; the plan found it on the
project's remote (:mod:`storyboard.remote`) -> fetch it, verify every byte, done; the lock
file names a paid result with this key -> download it, verify its hash, done; another take
of this build makes the same request (the same key) -> wait for it and use its result (one
generation serves both); otherwise make the inputs it needs (exact frames of upstream takes,
their videos), write the task UUID to the journal, send the request, wait for the videos and
store them in the cache atomically. Results are found by key, never by take id: a renamed shot is
the same request.

A generation the service failed for good is journaled as failed. When the service says a new
attempt may succeed (``retryable``, e.g. ``timeoutProvider``), a take of one result is sent
again under a new task UUID, at most ``retries`` times; refusals and moderation are never
retried, and neither is anything ambiguous (it stays pending under its UUID, to be resumed).
A take of several results (``numberResults``) is not sent again in the same build; the
results a failed task of it delivered were billed: they are kept in the cache (under
:func:`delivered_key`), the next build asks only for the rest, and the take is stored with
all of them. A refusal of a value the writer wrote (a prompt moderation flagged, an image)
fails the take with what to change and where (:class:`Refused`,
:mod:`storyboard.compiler.origins`).

The journal follows each request: ``submit`` before it is sent, ``accepted`` once the
service said it holds it (so that the plan and ``--max-cost`` know resuming it is no new
charge), ``unsent`` when no byte of it left this machine (a refused connection: the backend
says so with ``not_sent``), so that the next plan says ``generate`` and the next build sends
it as new, under the same UUID.

Nothing a paid backend brings back is trusted as sent: before the cache takes a result it
must be a video that plays (:func:`storyboard.media.probe.check_video`: a container, a video
stream, a first frame that decodes) and last as long as the request asked, within
:data:`DURATION_TOLERANCE`; so must a result downloaded from the lock file. A result that
fails is not cached, not locked and not sent again as a new (paid) task: the take fails
with the provider's task UUID, which stays pending in the journal. The backend is also told
the most the provider may say the job cost (the plan's estimate times :data:`COST_MARGIN`).
URLs are kept redacted wherever they are written (no query, no userinfo).

Independent takes run at the same time, at most ``jobs`` at once. A failed take skips its
dependents; without ``keep_going`` no new take starts after a failure, but takes already
sent are waited for (they are paid for). Nothing here prints: progress goes out as events.

With a remote, every paid take this build stores (made, or downloaded from the lock) is
handed to it (:meth:`RemoteSession.stored`), which pushes it while the build goes on; the
pushes are waited for before :func:`execute` returns. A single-result request carries a
presigned PUT URL of the remote as its upload endpoint where the store can sign one. A take
the plan found on the remote whose copy cannot be used (unreachable, truncated, not its
sha256) goes on to the lock file, and is never paid for: the plan said it was free.

No take the plan counted free (``cached``, ``remote``, ``locked``, ``kept``: see
:attr:`Execution.free`) is paid for: the plan, for speed, does not hash the cache, so an
entry whose video no longer matches its sha256 is planned as cached and found damaged only
here. Such an entry leaves the cache (it can serve no build; the next plan prices the take);
the take is then downloaded from the lock, free, if the lock holds it, and otherwise fails
on a paid backend, unsent, with what was wrong, and its dependents are skipped. The free
preview makes it again.

A take whose length was not known before it was made (an edit of a remote video: see
:mod:`storyboard.compiler.fit`) is measured as soon as its video is here, and the cut and the
hand-offs are checked again with that length. What does not fit is reported at its place in
the storyboard, and the takes that depend on that take are not sent (nor, without
``keep_going``, any other new take): the build fails with status 1, having paid for nothing
it cannot use.
"""

from __future__ import annotations

import contextlib
import math
import subprocess
import time
import uuid
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from storyboard.backends.base import Backend, Job, Output, PartlyDelivered, Segment, Upload
from storyboard.backends.runware.redact import redacted
from storyboard.build.outcome import Outcome
from storyboard.build.state.cache import Cache, CacheEntry
from storyboard.build.state.journal import Journal, Pending
from storyboard.build.state.lockfile import LockedTake, LockFile, locked_take
from storyboard.build.state.safe import Tree, UnsafePath
from storyboard.build.state.workspace import Workspace
from storyboard.compiler.compile import Compiled, CompiledTake
from storyboard.compiler.resolve import Handoff
from storyboard.core.diagnostics import Diagnostic, display_path
from storyboard.core.errors import BuildError, ProviderError
from storyboard.core.events import (
    EventSink,
    Note,
    TakeCached,
    TakeDone,
    TakeFailed,
    TakeProgress,
    TakeSkipped,
    TakeStarted,
    ignore,
)
from storyboard.core.files import disk_error
from storyboard.core.money import usd
from storyboard.language.checked import ShotInfo
from storyboard.language.sources import MediaRef

if TYPE_CHECKING:
    import asyncio  # imported where the executor runs: a no-op build needs only Outcome

if TYPE_CHECKING:
    from storyboard.build.remote_session import RemoteSession


#: A paid result's length may differ from the requested one by this many seconds, or by
#: this fraction of it, whichever is more (a model rounds to whole frames of its rate).
DURATION_TOLERANCE = (1.0, 0.1)
#: How a take is skipped that depends on a length the storyboard does not fit.
NOT_SENT = "not sent: "
#: The most a provider may say a take cost, as a multiple of the plan's estimate for it; an
#: answer above it is refused as not to be trusted (prices change, a thousandfold does not).
COST_MARGIN = 3.0


@dataclass
class Execution:
    """Everything the executor needs for one build."""

    compiled: Compiled
    keys: dict[str, str]
    backend: Backend
    workspace: Workspace
    cache: Cache
    journal: Journal
    lock: LockFile
    jobs: int = 4
    keep_going: bool = False
    retries: int = 1
    """New attempts (new task UUIDs) for a generation that failed in a way that may pass."""
    selected: Collection[str] | None = None
    emit: EventSink = ignore
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    gone_from_lock: set[str] = field(default_factory=set)
    """Keys whose locked result the provider no longer serves (the build drops their lock
    entries, so that the next plan prices them and the next build makes them again)."""
    making: dict[str, tuple[str, asyncio.Future[Outcome]]] = field(default_factory=dict)
    """The take making each key in this build, and its outcome when it has one: a take of
    the same request waits for it instead of sending the request again."""
    lengths: dict[str, int | None] = field(default_factory=dict)
    """Each take's length in frames at 24 fps as known so far: the compile's, and each
    unknown one measured once its take is made."""
    measured: set[str] = field(default_factory=set)
    """Takes measured once made (their length was not known before)."""
    reported: set[Diagnostic] = field(default_factory=set)
    """What was found not to fit a measured length (each reported once)."""
    misfits: dict[str, str] = field(default_factory=dict)
    """Takes whose measured length the storyboard does not fit, and why: their dependents
    are not sent."""
    stopped_by: str = "an earlier take failed"
    """Why no new take starts once ``stop`` is set (without ``keep_going``)."""
    remote: RemoteSession | None = None
    """The project's remote, if it has one (:mod:`storyboard.build.remote_session`)."""
    kept: Collection[str] = ()
    """Takes whose result the storyboard keeps (``keep: true``): their key is the kept
    result's, found in the cache or the lock, and they are never sent."""
    free: Mapping[str, str] = field(default_factory=dict)
    """The takes the plan counted free, each with its status in the plan (``cached``,
    ``remote``, ``locked``, ``kept``): a paid backend never makes one of them in this build.
    If what the plan counted on cannot be used, the take fails, unpaid, and the next plan
    prices it."""
    damaged: dict[str, tuple[str, bool]] = field(default_factory=dict)
    """Keys whose cache entry this build found damaged: what was wrong, and whether the entry
    left the cache."""
    lost: dict[str, CacheEntry] = field(default_factory=dict)
    """The damaged entries, by key, as they were read: their results' URLs may still serve
    the paid result (downloaded again, verified by its sha256, before anything is paid)."""
    materials: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Each take's key material (:func:`storyboard.compiler.keys.key_material`): the sha256 of
    every local input the plan checked and keyed it with. A request sent anew is sent only
    from those bytes (:func:`_changed_inputs`)."""


async def execute(run: Execution) -> dict[str, Outcome]:
    """Run every selected take; return the outcome of each take that was considered."""
    import asyncio

    limit = asyncio.Semaphore(max(1, run.jobs))
    stop = asyncio.Event()
    tasks: dict[str, asyncio.Task[Outcome]] = {}
    selected = set(run.selected) if run.selected is not None else None
    needed = {d for t in run.compiled.takes if t.id in (selected or ()) for d in t.take.depends_on}
    run.lengths = {**run.compiled.lengths, **run.lengths}

    async def one(compiled: CompiledTake) -> Outcome:
        outcome = await made(compiled)
        # a take made now was measured in _run; one from the cache or a twin is, here
        _fit_measured(run, compiled, outcome, stop)
        return outcome

    async def made(compiled: CompiledTake) -> Outcome:
        take = compiled.take
        upstream = [await tasks[dep] for dep in take.depends_on if dep in tasks]
        bad = [o for o in upstream if o.status in ("failed", "skipped", "unselected")]
        if bad and selected is not None and take.id not in selected:
            return _unselected(run, take.id)
        # A selected take whose upstream --select only left out (not built here, not failed)
        # is done if its own result is cached: its key holds what the upstream made, as the
        # lock remembers it, and the plan counted it cached. Otherwise it cannot be made.
        left_out = all(o.status == "unselected" for o in bad)
        if bad and not left_out:
            return _unfinished(run, take.id, bad)
        key = run.keys[take.id]
        try:
            entry = run.cache.get(run.backend.namespace, key)
        except BuildError as exc:  # there, but unreadable: never a miss to pay for again
            run.emit(TakeFailed(take.id, str(exc)))
            return _record(run, Outcome(take.id, "failed", message=str(exc)))
        if bad and entry is None:
            return _unfinished(run, take.id, bad)
        if entry is not None:
            pending = run.journal.pending(key)
            if pending is not None and pending.task_uuid == entry.task_uuid:
                # a build killed between the cache and the journal: the result is in
                run.journal.done(key, pending.task_uuid)
            run.emit(TakeCached(take.id, "kept" if take.id in run.kept else "cache"))
            return _record(run, Outcome(take.id, "cached", entry))
        _drop_damaged(run, take.id, key)  # planned as cached, maybe: the plan does not hash
        # left out, but a selected take needs it, and the plan counted it free from the lock
        # or the remote: fetched from there (never paid for: see _produce), as --select's
        # check of what a selected take needs counted on
        fetched = take.id in needed and run.free.get(take.id) in ("locked", "remote")
        if selected is not None and take.id not in selected and not fetched:
            return _unselected(run, take.id)
        twin = run.making.get(key)
        if twin is not None:  # the same request as another take's: one generation serves both
            return await _share(run, take.id, *twin)
        misfit = [run.misfits[d] for d in take.depends_on if d in run.misfits]
        if misfit:
            return _skip(run, take.id, f"{NOT_SENT}{misfit[0]}")
        if stop.is_set():
            return _skip(run, take.id, f"not started: {run.stopped_by}")
        made: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        run.making[key] = (take.id, made)
        try:
            return await _run(run, compiled, key, limit, stop)
        finally:
            made.set_result(run.outcomes.get(take.id) or Outcome(take.id, "skipped"))

    for compiled in run.compiled.takes:  # dependency order: upstream tasks exist first
        tasks[compiled.id] = asyncio.create_task(one(compiled))
    await asyncio.gather(*tasks.values())
    if run.remote is not None:  # pushed before the build says it is done
        await run.remote.settle()
    return run.outcomes


async def _run(
    run: Execution,
    compiled: CompiledTake,
    key: str,
    limit: asyncio.Semaphore,
    stop: asyncio.Event,
) -> Outcome:
    """Make one take (at most ``run.jobs`` at once); a failure stops new takes unless
    ``keep_going``."""
    take = compiled.take
    async with limit:
        if stop.is_set():
            return _skip(run, take.id, f"not started: {run.stopped_by}")
        before = run.journal.pending(key)
        try:
            outcome = await _produce(run, compiled, key)
        except Exception as exc:
            if isinstance(exc, OSError):  # a frame, a staging folder: the local disk
                exc = disk_error(exc, f"write the files of take '{take.id}'")
            message = str(exc) or type(exc).__name__
            left = run.journal.pending(key)
            if run.remote is not None and (left is None or left.unsent):
                # nothing of it is pending at the provider: others need not wait for it
                await run.remote.release(run.backend.namespace, key)
            way_out = _still_pending(run, take.id, key, before)
            if way_out:
                message = f"{message.rstrip('.')}. {way_out}"
            diagnostic = exc.diagnostic if isinstance(exc, Refused) else None
            where = diagnostic.position if diagnostic is not None else None
            run.emit(TakeFailed(take.id, message, where))
            outcome = Outcome(take.id, "failed", message=message, diagnostic=diagnostic)
        if outcome.status == "failed" and not run.keep_going:
            stop.set()
        # before the next take may start: what does not fit stops new takes like a failure
        _fit_measured(run, compiled, outcome, stop)
        return _record(run, outcome)


def _still_pending(run: Execution, take_id: str, key: str, before: Pending | None) -> str:
    """What to add to the failure of a take whose request an earlier build left pending and
    this one could not bring back either: the way to give it up. A build never does on its
    own (the task may be paid for, and resuming it is free)."""
    after = run.journal.pending(key)
    if before is None or before.unsent or after is None or after.task_uuid != before.task_uuid:
        return ""
    film = display_path(run.workspace.storyboard)
    # the journal names the take as it was called when it was sent (renamed since, or a
    # record recovered without its name): then by its task UUID
    name = take_id if before.take == take_id else before.task_uuid
    return (
        f"Task {before.task_uuid} was pending before this build too: if the provider "
        f"cannot deliver it, `storyboard doctor {film} --abandon {name}` gives it up "
        "(the next build then pays for the take again)"
    )


async def _share(run: Execution, take_id: str, twin: str, made: asyncio.Future[Outcome]) -> Outcome:
    """The outcome of a take whose request another take of this build is making."""
    outcome = await made
    if outcome.entry is None:
        return _skip(run, take_id, f"the same request as '{twin}', which did not finish")
    run.emit(TakeCached(take_id, f"take:{twin}"))
    return _record(run, Outcome(take_id, "cached", outcome.entry, f"same request as '{twin}'"))


def _fit_measured(
    run: Execution, compiled: CompiledTake, outcome: Outcome, stop: asyncio.Event
) -> None:
    """Measure a take whose length was not known before it was made (once), and check the
    cut and the hand-offs with it, before any take that depends on it is sent."""
    from storyboard.compiler.fit import fit_problems, take_lengths
    from storyboard.cut.assemble import measure_videos
    from storyboard.language.timing import FPS, frames_at_fps

    take, entry = compiled.take, outcome.entry
    known = run.compiled.lengths
    if entry is None or take.id not in known or known[take.id] is not None:
        return  # not made, or its length was known before
    if take.id in run.measured:
        return
    run.measured.add(take.id)
    video = entry.path(min(take.pick, len(entry.results)) - 1)
    try:
        # Measured in the loop's own thread (reading an index takes milliseconds): a cached
        # take is measured before any other take of this build gets to start.
        measured = measure_videos({take.id: video})
    except (BuildError, OSError):
        return  # checked as a video when it came in; the cut says what is wrong, if anything
    run.lengths[take.id] = frames_at_fps(*measured[take.id])
    # an edit of this take lasts as long: known now too, before it is sent
    derived = take_lengths(run.compiled.resolved, known=run.lengths)
    run.lengths.update({t: n for t, n in derived.items() if run.lengths.get(t) is None})
    found = fit_problems(run.compiled, run.lengths)
    problems = sorted((d for d in found if d not in run.reported), key=Diagnostic.sort_key)
    if not problems:
        return
    run.reported.update(problems)
    for problem in problems:
        run.emit(Note(take.id, problem.render()))
    seconds = (run.lengths[take.id] or 0) / FPS
    where = ", ".join(str(p.position) for p in problems if p.position is not None)
    run.misfits[take.id] = (
        f"the storyboard does not fit the video of '{take.id}', {seconds:g} s long, known "
        f"only once it was made (at {where})"
    )
    if not run.keep_going:
        run.stopped_by = run.misfits[take.id]
        stop.set()


def _progress(run: Execution, take_id: str) -> Callable[[str, float | None], None]:
    """What a backend tells of a job's progress, as events of ``take_id``."""

    def tell(state: str, fraction: float | None) -> None:
        run.emit(TakeProgress(take_id, state, fraction))

    return tell


def _record(run: Execution, outcome: Outcome) -> Outcome:
    run.outcomes[outcome.take] = outcome
    return outcome


def _unselected(run: Execution, take_id: str) -> Outcome:
    """A take ``--select`` left out, with no result in the cache: not built, not a failure."""
    reason = "not selected, and not built yet"
    run.emit(TakeSkipped(take_id, reason))
    return _record(run, Outcome(take_id, "unselected", message=reason))


def _unfinished(run: Execution, take_id: str, upstream: list[Outcome]) -> Outcome:
    """A take not made because the takes ``upstream`` it needs did not finish."""
    names = ", ".join(o.take for o in upstream)
    return _skip(run, take_id, f"needs {names}, which did not finish")


def _skip(run: Execution, take_id: str, reason: str) -> Outcome:
    run.emit(TakeSkipped(take_id, reason))
    return _record(run, Outcome(take_id, "skipped", message=reason))


async def _produce(run: Execution, compiled: CompiledTake, key: str) -> Outcome:
    take = compiled.take
    backend = run.backend
    held = run.remote is not None and run.remote.holds(backend.namespace, key)
    locked = run.lock.find(key, backend.namespace)
    if held:
        entry = await _from_remote(run, compiled, key, locked)
        if entry is not None:
            run.emit(TakeCached(take.id, "remote"))
            return Outcome(take.id, "remote", entry)
    if backend.paid:
        if locked is not None:
            expected = _expected_seconds(compiled, None)
            entry = await _from_lock(run, locked, expected)
            run.emit(TakeCached(take.id, "lock"))
            _stored(run, compiled, entry, None)
            return Outcome(take.id, "locked", entry)
    if take.id in run.kept:  # its key is a result's that is gone: never sent under it
        damaged = f"{run.damaged[key][0]}; " if key in run.damaged else ""
        raise BuildError(
            f"{damaged}the result that take '{take.id}' keeps (keep: true) is no longer in the "
            "cache or the lock file; nothing was sent. Remove 'keep' to make it again from the "
            "current request"
        )
    if held:  # planned as free: never paid for here (the next plan prices it)
        raise ProviderError(
            f"the remote's copy of take '{take.id}' could not be used (above) and the lock has "
            "none: nothing was paid for it (the plan counted it free); `storyboard plan` says "
            "what building it again costs"
        )
    if backend.paid and take.id in run.free:  # planned as free: never paid for here either
        lost = run.lost.get(key)
        if lost is not None and all(r.url for r in lost.results):
            # the damaged entry names where the provider served the paid result: fetched
            # again and verified byte for byte, as from the lock, before anything is paid
            model = str(compiled.request.get("model"))
            again = locked_take(lost, take.id, model, backend.namespace)
            with contextlib.suppress(ProviderError):
                entry = await _from_lock(run, again, _expected_seconds(compiled, None))
                run.emit(TakeCached(take.id, "lock"))
                _stored(run, compiled, entry, None)
                return Outcome(take.id, "locked", entry)
        raise BuildError(_not_as_planned(run, take.id, key))
    files, provider_ids, source_seconds = await _inputs(run, compiled)
    first = run.journal.pending(key)
    if first is None or first.unsent:  # sent anew: only what the plan checked and keyed
        import asyncio

        changed = await asyncio.to_thread(_changed_inputs, compiled, run.materials.get(take.id))
        if changed:
            raise BuildError(
                f"{', '.join(changed)} changed after the build checked it and keyed take "
                f"'{take.id}' on it: the take was not sent, and nothing was paid for it; build "
                "again to check the file as it is now"
            )
    if backend.paid and run.remote is not None and (first is None or first.unsent):
        # claimed on the remote before it is paid for: another build making it meanwhile
        # pushes it, and this one fetches it instead of paying again
        if await run.remote.claim(backend.namespace, key, take.id) == "arrived":
            entry = await _from_remote(run, compiled, key, None)
            if entry is not None:
                run.emit(TakeCached(take.id, "remote"))
                return Outcome(take.id, "remote", entry)
    started = time.monotonic()
    tree = run.workspace.tree
    staging = tree.make_temp_dir(run.cache.staging, "incoming-")
    # A new attempt is a new paid request: only for a take of one result. Of several, the
    # results a failed task delivered (billed) are kept, and the next build asks for the
    # rest; not this one, while the failed task's other generations might still be running.
    number = compiled.request.get("numberResults", 1)
    wanted = number if isinstance(number, int) else 1
    retries = max(0, run.retries) if wanted == 1 else 0
    try:
        for attempt in range(retries + 1):
            earlier = delivered(run.cache, backend.namespace, key, wanted)
            request = compiled.request
            if earlier is not None:  # the same request, for the results not delivered yet
                request = {**request, "numberResults": wanted - len(earlier.results)}
            pending = run.journal.pending(key)
            # This build sends it first: a new request, or one no earlier build could send.
            fresh = pending is None or pending.unsent
            task_uuid = pending.task_uuid if pending else str(uuid.uuid4())
            if fresh:  # durable before anything is sent (an unsent one: under its old UUID)
                run.journal.submit(take.id, key, task_uuid)
            job = Job(
                take=take.id,
                key=key,
                task_uuid=task_uuid,
                request=request,
                files=files,
                provider_ids=provider_ids,
                resumed=pending is not None,
                segments=tuple(_segment(s) for s in take.shots),
                source_seconds=source_seconds,
                cost_limit=_cost_limit(run, compiled) if backend.paid else None,
                upload=_upload(run, compiled, task_uuid) if number in (None, 1) else None,
                retake=take.retake,
                progress=_progress(run, take.id),
            )
            run.emit(TakeStarted(take.id, task_uuid, not fresh))
            submitted = False
            try:
                ticket = await backend.submit(job)
                submitted = True
                run.journal.accepted(key, task_uuid)  # resuming it is no new charge
                outputs = await backend.collect(ticket, staging)
                break
            except PartlyDelivered as part:
                # Billed for those it delivered: kept (an unusable one leaves the task
                # pending, as any paid result), and never asked for again.
                if backend.paid:
                    await _check_results(compiled, part.outputs, task_uuid, source_seconds)
                earlier = _keep_delivered(run, compiled, key, earlier, part.outputs, task_uuid)
                failure = part.failure
                run.journal.failed(key, task_uuid, str(failure))
                kept = (
                    f"{len(earlier.results)} of its {wanted} variations were delivered and are "
                    f"kept ({usd(earlier.cost)} paid)" if earlier.cost is not None else
                    f"{len(earlier.results)} of its {wanted} variations were delivered and are kept"
                )  # fmt: skip
                rest = wanted - len(earlier.results)
                if attempt >= retries or not getattr(failure, "retryable", False):
                    raise ProviderError(
                        f"{failure}. {kept}: the next build asks only for the other {rest} "
                        "(those delivered are not paid for again)"
                    ) from failure
                run.emit(Note(take.id, f"{take.id}: {failure}; {kept}; asking for the other "
                                       f"{rest} as a new task"))  # fmt: skip
            except ProviderError as exc:
                provider = _provider(run)
                if getattr(exc, "not_sent", False):
                    # No byte of it left this machine: nothing to resume, nothing paid. (One
                    # an earlier build may have sent stays as it was, to be resumed.)
                    if fresh:
                        run.journal.unsent(key, task_uuid, str(exc))
                        raise
                    assert pending is not None
                    sent = "holds" if pending.accepted else "may hold"
                    raise ProviderError(
                        f"{exc}. {provider} {sent} task {task_uuid} from an earlier build: "
                        "the next build asks for it again by this task UUID, and never pays "
                        "for it twice"
                    ) from exc
                # Anything ambiguous (the task may have been accepted, its result not brought
                # back) stays pending under its UUID, to be resumed: never sent again anew.
                if not _definitive(exc):
                    raise
                if pending is not None and pending.accepted and not submitted:
                    # A task the service said it holds, refused when sent again (an upload
                    # of its inputs expired, say): a new UUID could pay for it twice.
                    raise ProviderError(
                        f"{exc}. {provider} accepted task {task_uuid} in an earlier build: "
                        "it stays pending, and the next build asks for it again by this task "
                        "UUID (it is not paid for twice)"
                    ) from exc
                # The service refused the request or failed the generation, for good.
                run.journal.failed(key, task_uuid, str(exc))
                if attempt >= retries or not getattr(exc, "retryable", False):
                    refused = _refusal(run, compiled, exc)
                    if refused is not None:
                        raise refused from exc
                    raise
                run.emit(Note(take.id, f"{take.id}: {exc}; sending it again as a new task"))
        if backend.paid:  # paid for, so sent again by no one: refused, it stays pending
            await _check_results(compiled, outputs, task_uuid, source_seconds)
        made_now = outputs
        if earlier is not None:  # the variations an earlier task delivered come first
            outputs = _linked(tree, earlier, staging) + outputs
        entry = run.cache.put(
            backend.namespace,
            key,
            [o.path for o in outputs],
            results=[_result_of(o) for o in outputs],
            task_uuid=task_uuid,
            meta={"take": take.id, "model": compiled.request.get("model")},
        )
    finally:
        _remove_quietly(tree, staging)
    run.journal.done(key, task_uuid)
    if earlier is not None:  # now in the take's own entry
        _remove_quietly(tree, earlier.folder)
    _stored(run, compiled, entry, job.upload)
    costs = [o.cost for o in made_now]
    paid = None if any(c is None for c in costs) else round(sum(c or 0.0 for c in costs), 4)
    run.emit(TakeDone(take.id, paid, time.monotonic() - started))
    return Outcome(take.id, "generated", entry, cost=paid or 0.0)


def delivered_key(key: str) -> str:
    """The cache key of the results that tasks for the take ``key`` delivered before they
    failed (see :func:`_keep_delivered`): derived from it, never another take's key."""
    import hashlib

    return hashlib.sha256(f"delivered before a failure: {key}".encode()).hexdigest()


def delivered(cache: Cache, namespace: str, key: str, wanted: int) -> CacheEntry | None:
    """The results of the take ``key`` that failed tasks delivered, when fewer than
    ``wanted`` (all of them make the take itself): what the plan prices and the build asks
    for around."""
    entry = cache.get(namespace, delivered_key(key))
    return entry if entry is not None and len(entry.results) < wanted else None


def _keep_delivered(
    run: Execution,
    compiled: CompiledTake,
    key: str,
    held: CacheEntry | None,
    outputs: list[Output],
    task_uuid: str,
) -> CacheEntry:
    """Store the results a failed task delivered, after those held from earlier ones, in the
    cache under :func:`delivered_key`: the next attempt asks only for the rest."""
    tree = run.workspace.tree
    staging = tree.make_temp_dir(run.cache.staging, "delivered-")
    try:
        together = (_linked(tree, held, staging) if held is not None else []) + outputs
        return run.cache.put(
            run.backend.namespace,
            delivered_key(key),
            [o.path for o in together],
            results=[_result_of(o) for o in together],
            task_uuid=task_uuid,
            meta={"take": compiled.take.id, "delivered_for": key},
        )
    finally:
        _remove_quietly(tree, staging)


def _linked(tree: Tree, held: CacheEntry, staging: Path) -> list[Output]:
    """The videos of ``held`` as outputs in ``staging`` (links to the cache's files)."""
    outputs = []
    for index, result in enumerate(held.results):
        path = staging / f"held-{index}{Path(result.file).suffix or '.mp4'}"
        tree.link(held.path(index), path, staging=staging)
        outputs.append(Output(path, result.video_uuid, result.url, result.cost, result.seed))
    return outputs


def _result_of(output: Output) -> dict[str, Any]:
    return {
        "video_uuid": output.video_uuid,
        "url": redacted(output.url),
        "cost": output.cost,
        "seed": output.seed,
    }


def _changed_inputs(compiled: CompiledTake, material: Mapping[str, Any] | None) -> list[str]:
    """The names of the local input files of ``compiled`` whose bytes are no longer those its
    key was made from (``material``: its key material), such as a reference image edited
    while the build ran: sent, the result would be paid for and cached under a key that says
    another picture. A file that cannot be read is left to the upload, which sends nothing."""
    from storyboard.compiler.compile import sha256_file

    if material is None:
        return []
    keyed: dict[str, str] = {}
    _keyed_hashes(compiled.request, material.get("request"), keyed)
    changed = set()
    for placeholder, value in compiled.inputs.items():
        if not isinstance(value, MediaRef) or value.path is None or placeholder not in keyed:
            continue
        try:
            now = "sha256:" + sha256_file(value.path)
        except OSError:
            continue
        if now != keyed[placeholder]:
            changed.add(value.path.name)
    return sorted(changed)


def _keyed_hashes(request: Any, material: Any, found: dict[str, str]) -> None:
    """Walk a request and its key material's request side by side: each local input's
    placeholder in ``request`` is ``sha256:HEX`` of the bytes it was keyed on in ``material``
    (:func:`storyboard.compiler.keys.key_material`), collected into ``found``."""
    if isinstance(request, str):
        if isinstance(material, str) and material.startswith("sha256:"):
            found[request] = material
    elif isinstance(request, list) and isinstance(material, list):
        for one, other in zip(request, material, strict=False):
            _keyed_hashes(one, other, found)
    elif isinstance(request, dict) and isinstance(material, dict):
        for name, value in request.items():
            _keyed_hashes(value, material.get(name), found)


def _drop_damaged(run: Execution, take_id: str, key: str) -> None:
    """Take out of the cache an entry of ``key`` whose files no longer match their sha256s
    (the plan, which checks only their sizes, counts it as cached); say so.

    It is storyboard's own entry, and it can serve no build: the next plan prices the take (a
    paid result's lock entry, if any, is untouched). An entry whose files cannot be read now
    is left as it is: a passing fault of the disk loses nothing.
    """
    from storyboard.compiler.compile import sha256_file

    try:
        entry = run.cache.get(run.backend.namespace, key, verify=False)
    except BuildError:
        return  # there but unreadable now: left as it is
    if entry is None:
        return  # not in the cache at all (or missing a file): the plan did not count it
    try:
        bad = [i for i, r in enumerate(entry.results) if sha256_file(entry.path(i)) != r.sha256]
    except OSError:
        return
    if not bad:
        return  # whole after all: changed while it was read
    which = (
        "its video was"
        if len(entry.results) == 1
        else f"variation {', '.join(str(i + 1) for i in bad)} {'was' if len(bad) == 1 else 'were'}"
    )
    why = (
        f"the cached result of take '{take_id}' does not match its sha256 ({which} changed "
        "after it was stored)"
    )
    run.lost[key] = entry
    try:
        run.cache.tree.rmtree(entry.folder)
    except (OSError, UnsafePath) as exc:
        run.damaged[key] = (f"{why}; its entry {entry.folder} could not be removed ({exc})", False)
    else:
        run.damaged[key] = (f"{why}; its entry left the cache", True)
    run.emit(Note(take_id, f"{take_id}: {run.damaged[key][0]}"))


def _not_as_planned(run: Execution, take_id: str, key: str) -> str:
    """Why a take the plan counted free fails instead of being paid for in this build."""
    status = run.free[take_id]
    why, removed = run.damaged.get(key, ("", True))
    if not why:
        where = "lock file" if status == "locked" else "cache" if status == "cached" else status
        why = f"the result of take '{take_id}' the plan found in the {where} is no longer there"
    then = "The next build" if removed else "Once that entry is removed, the next build"
    return (
        f"{why}, and the lock file holds no copy of it. It was not sent, and nothing was paid "
        f"for it: the plan counted it free ({status}). {then} generates this take again (see "
        "`storyboard plan` for its cost)"
    )


async def _from_remote(
    run: Execution, compiled: CompiledTake, key: str, locked: LockedTake | None
) -> CacheEntry | None:
    """The remote's result of ``key`` in the local cache, or ``None`` (said in one line) when
    it cannot be used: the caller goes on to the lock file. ``locked``: the lock's entry of
    ``key``, whose sha256s name the media to fetch."""
    from storyboard.remote.store import RemoteError

    assert run.remote is not None
    expected = _expected_seconds(compiled, None)
    try:
        return await run.remote.fetch(
            run.backend.namespace,
            key,
            run.cache,
            lambda path: _usable(path, expected, decode=False),  # its sha256 is verified
            locked=locked,
        )
    except RemoteError as exc:
        run.emit(Note(compiled.id, f"{compiled.id}: not fetched from the remote: {exc}"))
        return None


def _upload(run: Execution, compiled: CompiledTake, task_uuid: str) -> Upload | None:
    """A presigned PUT URL of the remote for the single result of a paid request, when the
    remote signs and the writer did not name an upload endpoint of their own."""
    if run.remote is None or not run.backend.paid or "uploadEndpoint" in compiled.request:
        return None
    return run.remote.upload_for(task_uuid)


def _stored(
    run: Execution, compiled: CompiledTake, entry: CacheEntry, upload: Upload | None
) -> None:
    """A take new to the local cache: the remote pushes it (paid takes; previews if asked)."""
    if run.remote is not None:
        model = compiled.request.get("model")
        run.remote.stored(
            entry, take=compiled.id, model=str(model) if model else None, upload=upload
        )


class Refused(ProviderError):
    """The service refused a value the writer wrote (a prompt its content policy flagged, an
    image it would not take): sending it again unchanged is refused again, so the message
    says what to change, and ``diagnostic`` where (``FILE:LINE:COL``)."""

    def __init__(self, message: str, diagnostic: Diagnostic) -> None:
        super().__init__(message)
        self.diagnostic = diagnostic


def _refusal(run: Execution, compiled: CompiledTake, exc: ProviderError) -> Refused | None:
    """A definitive refusal as what to change in the storyboard, and where; ``None`` when it
    is not about a value of the storyboard (a used task UUID, a failed generation)."""
    from storyboard.compiler.origins import Origin, advice, origin

    checked = run.compiled.checked
    policy = hasattr(exc, "flagged")  # a content-policy (moderation) refusal
    field = getattr(exc, "flagged", None) or getattr(exc, "parameter", None)
    found = origin(compiled, checked, field) if isinstance(field, str) else None
    if found is None and not policy:
        return None
    take = compiled.take
    provider = _provider(run)
    if found is None:  # moderation, without saying of what
        found = Origin(
            f"an input of take '{take.id}' ({provider} did not say which)",
            take.shots[0].id, take.path, checked.position(take.path), "prompt",
        )  # fmt: skip
        todo = "change its prompt or its inputs"
    else:
        todo = advice(found)
    by = f"{provider}'s content policy" if policy else provider
    then = (
        f"{todo}, then build again (sent unchanged, it would be refused again). "
        f"{provider} said: {exc}"
    )
    message = f"{found.what} ({found.position}) was refused by {by}: {then}"
    return Refused(
        message,
        Diagnostic(found.position, f"take '{take.id}': {found.what} was refused by {by}: {then}"),
    )


def _provider(run: Execution) -> str:
    """The service, named for a writer."""
    return "Runware" if run.backend.name == "runware" else "the provider"


def _definitive(exc: ProviderError) -> bool:
    """Whether the service answered for good: it refused the request or the generation
    failed, so nothing of this task is running or billed beyond what it said."""
    definitive = getattr(exc, "definitive", None)
    if definitive is None:
        definitive = not getattr(exc, "may_be_running", True)
    return bool(definitive)


def _segment(info: ShotInfo) -> Segment:
    """A shot for the backend: its prompt, length and lines (timed as the subtitles would be
    without detected speech)."""
    from storyboard.cut.cues import time_lines

    seconds = info.duration or 0
    lines = tuple((t.start, t.end, t.line.says) for t in time_lines(info.dialogue, float(seconds)))
    return Segment(info.id, info.prompt, seconds, lines)


def _cost_limit(run: Execution, compiled: CompiledTake) -> float:
    """The most a provider may say this take cost: the plan's estimate times
    :data:`COST_MARGIN`, or, when the estimate is unknown (an edit of a remote video),
    the take's dearest rate for the model's longest output."""
    from storyboard.compiler.plan import estimate, probe_duration

    cost = estimate(compiled.take, run.compiled, probe_duration)
    if cost.amount is not None:
        return round(COST_MARGIN * cost.amount, 4) + 0.01
    profile = compiled.take.profile
    dearest = max(profile.price_silent, profile.price_sound, profile.price_video_input)
    return round(COST_MARGIN * dearest * profile.max_duration * cost.results, 4)


def _expected_seconds(compiled: CompiledTake, source_seconds: float | None) -> float | None:
    """How long the request asked the result to be: its ``duration``, or for an edit the
    length of its source, when known."""
    duration = compiled.request.get("duration")
    if isinstance(duration, int | float) and not isinstance(duration, bool):
        return float(duration)
    return source_seconds


def _usable(path: Path, expected: float | None, *, decode: bool = True) -> str | None:
    """Why a result is not a usable video of about ``expected`` seconds, or ``None``.

    ``decode=False`` for a remote's copy: its bytes were verified against the sha256 its
    record names, those of a result the pushing build checked with its first frame decoded
    (see :func:`storyboard.media.probe.check_video`); the headers and the length still are."""
    from storyboard.media.probe import MediaError, check_video

    try:
        seconds = check_video(path, decode=decode)
    except MediaError as exc:
        return str(exc).replace(str(path), "the file")
    if expected is not None:
        slack = max(DURATION_TOLERANCE[0], DURATION_TOLERANCE[1] * expected)
        if abs(seconds - expected) > slack:
            return f"it lasts {seconds:.2f} s where {expected:g} s were asked (± {slack:g} s)"
    return None


async def _check_results(
    compiled: CompiledTake, outputs: list[Output], task_uuid: str, source_seconds: float | None
) -> None:
    """Refuse a paid job's results unless each is a usable video of the asked length.

    The task was paid for; its UUID stays pending in the journal (the caller has not said
    ``done``), so the next build asks for the same result again instead of paying anew.
    """
    import asyncio

    expected = _expected_seconds(compiled, source_seconds)
    for index, output in enumerate(outputs):
        why = await asyncio.to_thread(_usable, output.path, expected)
        if why is None:
            continue
        variation = f" (variation {index + 1})" if len(outputs) > 1 else ""
        spent = f" ({usd(output.cost)})" if output.cost is not None else ""
        raise ProviderError(
            f"the result of task {task_uuid}{variation} is not a usable video: {why}. "
            f"The task was paid for{spent}; nothing of it was cached or locked, and it was not "
            "sent again. It stays pending under its task UUID: the next build downloads the "
            "same result again, at no charge. If it stays broken, report task "
            f"{task_uuid} to Runware to ask for a refund"
        )


#: HTTP statuses of a result URL that has expired or been deleted: it will not come back.
_GONE = (403, 404, 410)


async def _from_lock(
    run: Execution, locked: LockedTake, expected: float | None = None
) -> CacheEntry:
    """Download a locked result, verify it byte for byte and as a video of about
    ``expected`` seconds, and cache it."""
    import asyncio

    tree = run.workspace.tree
    staging = tree.make_temp_dir(run.cache.staging, "locked-")
    try:
        files = []
        for index, result in enumerate(locked.results):
            if not result.url:
                raise ProviderError(f"the lock has no URL for variation {index + 1}")
            path = staging / f"{index}.mp4"
            try:
                await run.backend.fetch(result.url, path)
            except ProviderError as exc:
                if getattr(exc, "status_code", None) not in _GONE:
                    raise
                run.gone_from_lock.add(locked.key)
                raise ProviderError(
                    f"the locked result is no longer served ({exc}); its entry leaves the "
                    "lock file, so the next build generates this take again (see "
                    "`storyboard plan` for its cost)"
                ) from exc
            from storyboard.compiler.compile import sha256_file

            if sha256_file(path) != result.sha256:
                raise ProviderError(
                    f"the locked result at {redacted(result.url)} does not match the lock's sha256"
                )
            why = await asyncio.to_thread(_usable, path, expected)
            if why is not None:  # locked as good by an earlier version: it never will be
                run.gone_from_lock.add(locked.key)
                raise ProviderError(
                    f"the locked result of task {locked.task_uuid} is not a usable video: "
                    f"{why}. Its entry leaves the lock file, so the next build generates this "
                    "take again and pays for it (see `storyboard plan` for its cost); report "
                    f"task {locked.task_uuid} to Runware to ask for a refund"
                )
            files.append(path)
        return run.cache.put(
            run.backend.namespace,
            locked.key,
            files,
            results=[
                {
                    "video_uuid": r.video_uuid,
                    "url": redacted(r.url),
                    "cost": locked.cost if i == 0 else 0,
                }
                for i, r in enumerate(locked.results)
            ],
            task_uuid=locked.task_uuid,
        )
    finally:
        _remove_quietly(tree, staging)


async def _inputs(
    run: Execution, compiled: CompiledTake
) -> tuple[dict[str, Path], dict[str, str], float | None]:
    """Make every input of a take: local files, exact frames, upstream videos."""
    import asyncio

    files: dict[str, Path] = {}
    provider_ids: dict[str, str] = {}
    source_seconds: float | None = None
    for placeholder, value in compiled.inputs.items():
        if isinstance(value, MediaRef):
            if value.path is not None:
                files[placeholder] = value.path
            continue
        upstream = run.outcomes.get(value.take)
        if upstream is None or upstream.entry is None:
            raise RuntimeError(f"take '{value.take}' has no result to hand off")
        pick = run.compiled.resolved.take(value.take).pick
        entry = upstream.entry
        video = entry.path(min(pick, len(entry.results)) - 1)
        result = entry.results[min(pick, len(entry.results)) - 1]
        files[placeholder] = await asyncio.to_thread(_handoff_file, run, value, entry, video, pick)
        if value.frame is None and value.span is None and result.video_uuid:
            provider_ids[placeholder] = result.video_uuid
        if value.frame is None:
            from storyboard.media.probe import probe

            source_seconds = (await asyncio.to_thread(probe, files[placeholder])).duration_s
    return files, provider_ids, source_seconds


def _handoff_file(
    run: Execution, handoff: Handoff, entry: CacheEntry, video: Path, pick: int
) -> Path:
    if handoff.frame is None and handoff.span is None:
        return video
    # Named by the video's own bytes (and whether it is scaled for a paid request): a frame of
    # a preview never stands in for a frame of a paid result of the same take key.
    index = min(pick, len(entry.results)) - 1
    scaled = "n" if run.backend.paid else "p"
    where = handoff.placeholder().split("/", 1)[1].replace("/", "-")
    name = f"{entry.results[index].sha256[:20]}-{scaled}-{where}"
    tree, workspace = run.workspace.tree, run.workspace
    out = workspace.frames / (f"{name}.png" if handoff.frame is not None else f"{name}.mp4")
    if tree.lstat(out) is not None and not (run.backend.paid and _over_upload_side(out)):
        return out  # (a frame an older storyboard kept larger than the service takes: made again)
    # made whole in the state's tmp/ and renamed in: a crash never leaves half a frame
    work = tree.make_temp_dir(workspace.tmp, "frame-")
    try:
        partial = work / out.name
        if handoff.frame is not None:
            from storyboard.media.frames import extract_frame  # PyAV and numpy: only here

            extract_frame(video, handoff.frame, partial)
            if run.backend.paid:
                profile = run.compiled.resolved.take(handoff.take).profile
                _to_sent_size(partial, profile.min_image_side)
        else:
            assert handoff.span is not None
            _cut_span(video, handoff.span, partial)
        tree.replace(partial, out)
    finally:
        _remove_quietly(tree, work)
    return out


def _to_sent_size(image: Path, min_side: int) -> None:
    """Give a hand-off frame the size the service works with.

    Smaller than the model's least image (a take from a scaled-down emulator): scaled up by a
    whole factor until both sides are ``min_side`` or more, each pixel repeated (nearest
    neighbour), its aspect ratio (from which the model sizes its output) exactly kept. A real
    take is far larger than that.

    Larger than ``imageUpload`` keeps (an edit of a 4K source makes 3840x2160 frames): scaled
    down to :func:`storyboard.media.limits.upload_size`, the size the service would make of
    it. Sent whole, such a frame (a PNG of 10 to 25 MB) was over the model's 10 MB for an
    image, refused by the client after the edit it came from was paid for.
    """
    from PIL import Image

    from storyboard.media.limits import MAX_UPLOAD_SIDE, upload_size

    with Image.open(image) as frame:
        frame.load()
    if max(frame.width, frame.height) > MAX_UPLOAD_SIDE:
        smaller = frame.resize(upload_size(frame.width, frame.height), Image.Resampling.LANCZOS)
        smaller.save(image, "PNG", compress_level=1)
        return
    factor = math.ceil(min_side / max(1, min(frame.width, frame.height)))
    if factor <= 1:
        return
    bigger = frame.resize((frame.width * factor, frame.height * factor), Image.Resampling.NEAREST)
    bigger.save(image, "PNG", compress_level=1)


def _over_upload_side(image: Path) -> bool:
    """Whether a kept frame is larger than the service takes (its header, nothing decoded)."""
    from PIL import Image

    from storyboard.media.limits import MAX_UPLOAD_SIDE

    try:
        with Image.open(image) as frame:
            longer: int = max(frame.width, frame.height)
    except (OSError, ValueError):
        return False  # not read here: the upload says what is wrong with it
    return longer > MAX_UPLOAD_SIDE


def _cut_span(video: Path, span: tuple[int, int], out: Path) -> None:
    """Frames ``span[0]..span[1]-1`` of ``video`` as a new file (re-encoded, frame-exact)."""
    import imageio_ffmpeg

    first, end = span
    command = [
        imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-i", str(video),
        "-vf", f"trim=start_frame={first}:end_frame={end},setpts=PTS-STARTPTS",
        "-af", f"atrim=start={first / 24}:end={end / 24},asetpts=PTS-STARTPTS",
        "-c:v", "libx264", "-g", "24", "-c:a", "aac", str(out),
    ]  # fmt: skip
    subprocess.run(command, check=True, capture_output=True)


def _remove_quietly(tree: Tree, folder: Path) -> None:
    """Remove a staging folder (what is left of it is cleared by the next build anyway)."""
    with contextlib.suppress(OSError):
        tree.rmtree(folder)
