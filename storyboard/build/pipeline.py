"""The build narrator: check, compile, plan, then execute and write the outputs.

``build()`` reads top to bottom like the pipeline it runs. Everything it writes goes into
the backend's folder of ``build/NAME/`` (``build/NAME/preview/``, ``build/NAME/runware/``...:
requests, takes, the film), ``.storyboard/`` (cache, journal, records) and, for paid results,
``NAME.lock``. Invalid input stops it before anything is sent or written.

With a remote (:mod:`storyboard.remote`), the plan also asks it which takes it holds (status
``remote``, no charge), the executor fetches those and pushes every paid take it stores, and
the build waits for the pushes before it reports. A build with nothing to do (below) never
asks the remote anything.

A build that found every take in the cache leaves a note, ``build/NAME/BACKEND/.build.json``:
what it was asked (the takes' keys, the storyboard's content, the backend, the film's scale)
and the size, time and inode of every file it read or left behind. The next build asked the same,
finding every one of those files as it was, has nothing to do and does nothing: no take is
looked up or hashed again, nothing is written (a build that did anything else, or that
finds anything changed, runs in full and removes the note first).

The note also holds the state (size, times, inode) of every file the storyboard's check read
(the storyboard, its includes, templates and local assets: what ``storyboard deps`` lists),
taken once the check had read them. A build asked the same (the same storyboard path, project,
backend, film scale and version of storyboard) that finds those files as they were does not
even check the storyboard: its check would read the same bytes and answer the same. A file
changed while a check read it (its time at or after the check began, less two seconds for
file systems that keep coarse times) is not recorded, so such a note is never taken for
unchanged inputs (the ``racy git`` rule).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import math
import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from storyboard.backends.base import Backend
from storyboard.backends.factory import pricing_of
from storyboard.backends.namespaces import endpoint_form
from storyboard.build.noop import (
    UNCHANGED,
    UNCHANGED_VERSION,
    _asked,
    _input_state,
    _noted,
    _nothing_to_do,
    _racy,
    _states,
)
from storyboard.build.noop import film_scale as film_scale_of
from storyboard.build.noop import unchanged_inputs as _unchanged_inputs
from storyboard.build.result import BuildResult as BuildResult
from storyboard.build.result import Prepared as Prepared
from storyboard.build.state import records as take_records
from storyboard.build.state.cache import Cache, CacheEntry
from storyboard.build.state.safe import UnsafePath, load_json
from storyboard.build.state.workspace import ProjectLock, Workspace
from storyboard.compiler.compile import Compiled, FileHashes, compile_storyboard, dumps
from storyboard.compiler.keys import keys_and_materials, why_stale
from storyboard.compiler.plan import PAYABLE, Plan, Pricing, Standing, make_plan
from storyboard.compiler.resolve import Handoff
from storyboard.compiler.select import select_takes
from storyboard.core.diagnostics import Diagnostic, Position, display_path
from storyboard.core.errors import BuildError, InputError
from storyboard.core.events import EventSink, Note, ignore
from storyboard.core.memory import fewer_collections
from storyboard.core.money import usd
from storyboard.language.load import load_document
from storyboard.language.validate import validate_document

if TYPE_CHECKING:
    # what a no-op build does not use is imported where it is used (its start-up)
    from storyboard.build.execute import Execution
    from storyboard.build.keep import Kept
    from storyboard.build.outcome import Outcome
    from storyboard.build.remote_session import RemoteSession
    from storyboard.build.state.journal import Pending
    from storyboard.build.state.lockfile import LockFile
    from storyboard.remote.config import RemoteConfig


def prepare(
    path: str | os.PathLike[str],
    *,
    backend_name: str,
    pricing: Pricing | None = None,
    select: Sequence[str] = (),
    build_dir: Path | None = None,
    project_root: Path | None = None,
    remote: RemoteConfig | None = None,
    emit: EventSink = ignore,
) -> Prepared:
    """Check, compile, key and plan a storyboard; say for each take whether it is cached.

    ``backend_name`` is the backend's namespace (:func:`storyboard.backends.namespaces.namespace`):
    whose cache, lock entries and records to compare with. ``pricing`` says whose money
    the plan counts (:func:`storyboard.backends.factory.pricing`); by default what the
    namespace alone tells. ``remote``: the project's remote, asked which takes it holds (a
    paid backend's only); what it answers wrong is said through ``emit``.

    Raises:
        InputError: the storyboard (or a selector) is invalid.
    """
    whose = pricing or Pricing.for_namespace(backend_name)
    if whose.namespace != backend_name:
        raise ValueError(f"pricing of {whose.namespace} for namespace {backend_name}")
    keyed = _compile_and_key(
        path, backend_name, select=select, build_dir=build_dir, project_root=project_root,
        paid=whose.paid,
    )  # fmt: skip
    return _plan(keyed, whose, select, _remote_session(remote, keyed.workspace, whose, emit))


@dataclass(frozen=True)
class _Keyed:
    """A storyboard checked, compiled and keyed: everything before the cache is asked."""

    compiled: Compiled
    keys: dict[str, str]
    materials: dict[str, dict[str, Any]]
    workspace: Workspace
    selected: set[str] | None
    kept: dict[str, Kept] = field(default_factory=dict)
    inputs: dict[str, list[int] | None] | None = None
    """The state of every file the check read, taken once it had read them; ``None`` when
    one of them may have changed while it was read (see the module docstring)."""
    began: int = 0
    """When the check began (:func:`time.time_ns`)."""


def _compile_and_key(
    path: str | os.PathLike[str],
    backend_name: str,
    *,
    select: Sequence[str],
    build_dir: Path | None,
    project_root: Path | None,
    paid: bool,
) -> _Keyed:
    hashes = FileHashes()
    began = time.time_ns()
    with fewer_collections():
        # 1-3. load, validate, render prompts.
        checked = validate_document(load_document(path, project_root=project_root))
        # 4-5. resolve takes and compile their requests.
        compiled = compile_storyboard(checked, file_hash=hashes)
        # 6. key every take (what the cache, the lock and the last build know: see _plan).
        drawn = backend_name.partition("@")[0] == "preview"  # it draws the lines of dialogue
        keys, materials = keys_and_materials(compiled, file_hash=hashes, draws_lines=drawn)
    with refusing():
        workspace = Workspace.for_storyboard(
            checked.document.path, checked.document.project_root, build_dir, backend=backend_name
        )
    selected = select_takes(compiled.resolved, select)
    # 6a. a take the storyboard keeps has the key of the result it keeps, and what depends
    # on it is keyed on that result.
    kept: dict[str, Kept] = {}
    if any(t.take.keep for t in compiled.takes):
        from storyboard.build.keep import find_kept

        with refusing():
            kept, keys, materials = find_kept(
                compiled,
                lambda known: keys_and_materials(
                    compiled, file_hash=hashes, draws_lines=drawn, kept=known
                ),
                namespace=backend_name, paid=paid, cache=_cache(workspace),
                lock=_lock(workspace) if paid else None,
                records=_read_records(workspace, backend_name),
            )  # fmt: skip
    return _Keyed(
        compiled, keys, materials, workspace, selected, kept, _inputs(checked, began), began
    )


def _inputs(checked: Any, began: int) -> dict[str, list[int] | None] | None:
    """The state of every file the check of ``checked`` read (:func:`_input_state`), or
    ``None`` if one may have changed since the check began."""
    from storyboard.build.depfile import dependencies

    states: dict[str, list[int] | None] = {}
    # and every template asked for as named, found or not: a file written there later, a
    # folder link swapped, is read by the next check
    for path in (*dependencies(checked), *checked.templates_named):
        state = states[str(path)] = _input_state(str(path))
        if state is not None and _racy(state, began):
            return None
    return states


def _plan(
    keyed: _Keyed, pricing: Pricing, select: Sequence[str], remote: RemoteSession | None = None
) -> Prepared:
    backend_name = pricing.namespace
    compiled, keys, materials = keyed.compiled, keyed.keys, keyed.materials
    workspace, selected = keyed.workspace, keyed.selected
    from storyboard.build.state.journal import read_pending

    with refusing():
        cache, lock = _cache(workspace), _lock(workspace)
        records = _read_records(workspace, backend_name)
        sent = read_pending(
            workspace.journal,
            backend=backend_name,
            tree=workspace.tree,
            hint=_doctor_hint(workspace),
        )
        local = {k for k in set(keys.values()) if cache.get(backend_name, k, verify=False)}
    # the remote is asked only of the takes the local cache lacks (none: no request at all)
    held = _held_remotely(remote, backend_name, sorted(set(keys.values()) - local))
    making: dict[str, str] = {}

    def status(take: Any, key: str) -> Standing:
        if take.take.keep:
            standing = _kept_standing(take, keyed, cache, backend_name)
            if standing is not None:
                return standing
        if key in local:
            return Standing("cached", "in the cache")
        if key in held:
            return Standing("remote", "on the remote")
        if lock.find(key, backend_name) is not None:
            return Standing("locked", "download from the lock")
        if selected is not None and take.id not in selected:
            return Standing("skip", "not selected")
        if key in making:
            return Standing("shared", f"the same request as {making[key]}, made once")
        making[key] = take.id
        standing = _to_make(take, key)
        delivered = _delivered_count(cache, backend_name, key, take.take.variations)
        if not delivered:
            return standing
        rest = take.take.variations - delivered
        reason = DELIVERED.format(delivered=delivered, rest=rest, reason=standing.reason)
        return standing._replace(reason=reason, delivered=delivered)

    def _to_make(take: Any, key: str) -> Standing:
        pending = sent.get(key)
        if pending is not None and not pending.unsent and _elsewhere(pending, pricing):
            reason = ELSEWHERE.format(endpoint=pending.endpoint)
            return Standing("resume", reason, accepted=pending.accepted)
        if pending is not None and pending.accepted:
            return Standing("resume", RESUME_ACCEPTED, accepted=True)
        if pending is not None and pending.unsent:
            return Standing("generate", UNSENT)
        if pending is not None:
            return Standing("resume", RESUME_SUBMITTED)
        if take.take.keep:  # on the preview: nothing here to keep yet
            return Standing("generate", NOTHING_KEPT.format(namespace=backend_name))
        return Standing("generate", why_stale(records.get(take.id), materials[take.id]))

    kept = _kept_lengths(keyed, cache, backend_name)
    plan = make_plan(compiled, keys, status=status, pricing=pricing, kept=kept)
    if selected is not None:
        _check_selection(plan, selected, select)
    return Prepared(compiled, keys, materials, workspace, plan, selected, keyed.kept, records)


def _kept_standing(take: Any, keyed: _Keyed, cache: Cache, namespace: str) -> Standing | None:
    """A kept take's line in the plan: what changed since the result it keeps."""
    kept = keyed.kept.get(take.id)
    if kept is None:
        return None
    with refusing():
        here = cache.get(namespace, kept.key, verify=False) is not None
    fetch = "" if here else "; download from the lock"
    return Standing("kept", kept.since(keyed.materials[take.id], take) + fetch)


def _kept_lengths(keyed: _Keyed, cache: Cache, namespace: str) -> dict[str, float | None]:
    """The length in seconds of the result of each kept take that a take edits whole: what
    such an edit sends and is billed on, whatever the kept take's current request says
    (``None`` when it is not known before the build: a result only in the lock file, made
    from a request this project has no record of, or from an edit)."""
    from storyboard.compiler.plan import probe_duration

    edited = {
        t.take.edit.take
        for t in keyed.compiled.takes
        if isinstance(t.take.edit, Handoff) and t.take.edit.span is None
    }
    lengths: dict[str, float | None] = {}
    for take_id in sorted(edited & set(keyed.kept)):
        kept = keyed.kept[take_id]
        with refusing():
            entry = cache.get(namespace, kept.key, verify=False)
        if entry is not None and entry.results:
            pick = keyed.compiled.resolved.take(take_id).pick
            lengths[take_id] = probe_duration(entry.path(min(pick, len(entry.results)) - 1))
            continue
        request = (kept.material or {}).get("request")
        duration = request.get("duration") if isinstance(request, dict) else None
        lengths[take_id] = None
        if isinstance(duration, int) and not isinstance(duration, bool):
            lengths[take_id] = float(duration)
    return lengths


RESUME_SUBMITTED = (
    "a build stopped after journaling it, maybe before sending it; asked for again by its "
    "task UUID, paid once"
)
RESUME_ACCEPTED = (
    "the provider accepted it before a build stopped; asked for again by its task UUID, "
    "not paid again"
)
UNSENT = "not sent: a build could not reach the provider; sent as new, under its task UUID"
DELIVERED = (
    "{delivered} variations kept, delivered by a task that then failed: asks for the other "
    "{rest} ({reason})"
)


def _delivered_count(cache: Cache, namespace: str, key: str, wanted: int) -> int:
    """How many of a take's ``wanted`` results failed tasks delivered, and the cache keeps
    (:func:`storyboard.build.execute.delivered_key`): the rest is all a build asks for."""
    if wanted < 2:
        return 0
    from storyboard.build.execute import delivered

    with refusing():
        entry = delivered(cache, namespace, key, wanted)  # as the build will find it
    return len(entry.results) if entry is not None else 0


NOTHING_KEPT = "kept, but nothing to keep yet in {namespace}: made from the current request, free"
ELSEWHERE = (
    "a build stopped after sending it to {endpoint}: only a build at that endpoint resumes it "
    "(this one refuses to send it again)"
)


def _elsewhere(pending: Pending, pricing: Pricing) -> bool:
    """Whether ``pending`` was sent to another endpoint than the plan's backend's (a plan
    made for a namespace alone knows no endpoint: then no)."""
    at = endpoint_form(pending.endpoint)
    return bool(pricing.endpoint) and at != endpoint_form(pricing.endpoint)


def _check_selection(plan: Plan, selected: set[str], select: Sequence[str]) -> None:
    """A selected take must find what it needs: built already, or selected too.

    Raises:
        InputError: a selected take needs a take that is neither built nor selected.
    """
    ready = {i.take.id for i in plan.items if i.status in ("cached", "remote", "locked", "kept")}
    problems = []
    for item in plan.items:
        take = item.take.take
        if take.id not in selected or item.status not in PAYABLE:
            continue
        missing = [d for d in take.depends_on if d not in ready and d not in selected]
        if missing:
            needs = ", ".join(f"'{m}'" for m in missing)
            problems.append(
                Diagnostic(
                    None,
                    f"--select {' '.join(select)}: take '{take.id}' needs {needs}, which is "
                    f"not built yet; select +{take.shots[0].id} to build what it needs too",
                )
            )
    if problems:
        raise InputError(problems)


def build(
    path: str | os.PathLike[str],
    *,
    backend: Backend,
    jobs: int = 4,
    keep_going: bool = False,
    max_cost: float | None = None,
    select: Sequence[str] = (),
    build_dir: Path | None = None,
    project_root: Path | None = None,
    wait: float = 0.0,
    film_scale: float | None = None,
    emit: EventSink = ignore,
    remote: RemoteConfig | None = None,
) -> BuildResult:
    """Build a storyboard's takes with ``backend`` and write them to the build folder.

    The film is cut at the storyboard's output size times ``film_scale`` (default: the
    backend's preview scale, else 1). ``remote``: the project's remote (a paid backend's
    takes are looked up there, and pushed there once made).

    Raises:
        InputError: the storyboard is invalid (nothing sent, nothing written).
        BuildError: the estimate is over ``max_cost``, or another build holds the project.
        LateInputError: the cut does not fit a take's video whose length was known only once
            it was made (exit status 1: the build may have paid).
    """
    scale = film_scale_of(backend, film_scale)
    # 0. asked the same as the last build, which found everything done, and every file it
    # read or left as it was, the storyboard's too: nothing to do, not even a check.
    later = functools.partial(prepared_as_done, path, backend, build_dir, project_root)
    done = None
    if not select:
        done = _unchanged_inputs(path, backend, scale, build_dir, project_root, emit, later)
    if done is not None:
        return done
    # 1-6. check, compile and key (the cut too: it fits the takes' lengths known so far).
    keyed = _compile_and_key(
        path, backend.namespace, select=select, build_dir=build_dir, project_root=project_root,
        paid=backend.paid,
    )  # fmt: skip
    for warning in keyed.compiled.warnings:  # what a writer should know before paying
        emit(Note("", warning.render()))
    # 6a. asked the same as the last build, which found everything done, and every file as
    # that build left it: nothing to do.
    done = None if select else _unchanged(keyed, backend, scale, emit)
    if done is not None:
        return done
    # What only a build with something to do needs: the executor (asyncio, the media
    # libraries) and the backend's client (a TLS context for Runware), made from here on.
    import asyncio

    from storyboard.build.execute import Execution
    from storyboard.build.state.journal import Journal
    from storyboard.build.state.lockfile import locked_take

    opening = getattr(backend, "open", None)
    if opening is not None:
        opening()  # a bad key or URL fails now, before anything is sent
    # 6b. plan against this backend's cache (and the remote's).
    session = _remote_session(remote, keyed.workspace, pricing_of(backend), emit)
    prepared = _plan(keyed, pricing_of(backend), select, session)
    plan, workspace = prepared.plan, prepared.workspace
    # 7. refuse to start over budget: what may be charged anew (a task the provider already
    # accepted was committed by the build that sent it).
    if max_cost is not None and backend.paid:
        _check_budget(plan, max_cost)
    # 7a. the music beds decode to their end, as the cut reads them: check decoded their first
    # frame only (a whole bed is a tenth of a second or more: worth it when a build has work)
    from storyboard.compiler.fit import sound_problems

    problems = sound_problems(prepared.compiled.checked)
    if problems:
        raise InputError(problems)
    # 7b. the state and the build folder are storyboard's own (nothing is sent otherwise).
    with refusing():
        fresh = workspace.tree.lstat(workspace.state) is None  # the project's first build
        workspace.check_state()
    with ProjectLock(workspace, wait=wait):
        if max_cost is not None and backend.paid and plan.accepted:
            # Planned before the lock: a task the plan counted as accepted, and so as no new
            # charge, may have been another build's that ended meanwhile (--wait), failed,
            # to be paid anew here. Planned again now that no other build runs.
            prepared = _plan(keyed, pricing_of(backend), select, session)
            plan = prepared.plan
            _check_budget(plan, max_cost)
        if fresh:
            _ignore_in_git(workspace, emit)
        with refusing():
            cache, lock = _cache(workspace), _lock(workspace)
            journal = Journal(
                workspace.journal, backend=backend.namespace, endpoint=backend.endpoint,
                tree=workspace.tree, staging=workspace.tmp, hint=_doctor_hint(workspace),
            )  # fmt: skip
            # a request pending at another endpoint of this server: not sent anew here
            journal.refuse_elsewhere([i.key for i in plan.items if i.status in PAYABLE])
            if backend.paid:  # a file of the writer's where this build writes its outputs:
                # refused now, not once its takes are paid for
                workspace.out.refuse_foreign(_outputs_named(prepared))
            workspace.out.remove(UNCHANGED)  # this build may change things
            older = workspace.outputs.older_layout()
        if older:
            _note_older_layout(workspace, older, emit)
        run = Execution(
            compiled=prepared.compiled, keys=prepared.keys, backend=backend,
            workspace=workspace, cache=cache, journal=journal, lock=lock, jobs=jobs,
            keep_going=keep_going, selected=prepared.selected, emit=emit, remote=session,
            kept=frozenset(prepared.kept), materials=prepared.materials,
            # what the plan counted free: a paid backend never pays for it in this build
            free={
                i.take.id: i.status
                for i in plan.items
                if i.status in ("cached", "remote", "locked", "kept")
            },
        )  # fmt: skip
        # 8. run the takes.
        outcomes = asyncio.run(_execute_and_close(run))
        # 9. write the outputs, the lock and what the next plan needs.
        _write_outputs(prepared, outcomes)
        if backend.paid:
            for gone in run.gone_from_lock:  # the provider no longer serves it
                lock.drop(gone, backend.namespace)
            # every paid result this build used, whether made now, cached or locked before
            for take in prepared.compiled.takes:
                outcome = outcomes.get(take.id)
                if outcome is not None and outcome.entry is not None:
                    model = str(take.request.get("model"))
                    lock.put(locked_take(outcome.entry, take.id, model, backend.namespace))
            lock.keep_takes(t.id for t in prepared.compiled.takes)
            lock.write()
        _write_records(prepared, outcomes, backend.namespace)
        journal.compact()
        sent = session.summary() if session is not None else None
        result = BuildResult(prepared, outcomes, backend.name, remote=sent)
        # 10. the cut, the build record, the exports and the contact sheet.
        from storyboard.build.finish import finish

        try:
            finished = finish(result, scale=scale, emit=emit)
        finally:  # 10a. a report written before is written again: it is never stale
            _refresh_report(workspace, emit)
        result = BuildResult(prepared, outcomes, backend.name, finished.film, sent)
        # 11. everything was done already: a note that lets the same build skip all of this.
        if not select and result.ok and all(o.status == "cached" for o in outcomes.values()):
            _remember(keyed, result, backend, scale)
    if result.failed or result.skipped:
        for line in _resume_hint(result):  # one note a line: each shown escaped, whole
            emit(Note("", line))
    return result


def _remote_session(
    remote: RemoteConfig | None, workspace: Workspace, pricing: Pricing, emit: EventSink
) -> RemoteSession | None:
    """The remote's session of a build or plan on a paid backend (previews are made again
    for free, and pushed only by ``storyboard push --previews``)."""
    if remote is None or not pricing.paid:
        return None
    from storyboard.build.remote_session import RemoteSession

    return RemoteSession.open(remote, workspace, emit=emit)


def _held_remotely(remote: RemoteSession | None, namespace: str, keys: list[str]) -> set[str]:
    """Which of ``keys`` the remote holds (no keys, no request)."""
    if remote is None or not keys:
        return set()
    import asyncio

    return asyncio.run(remote.lookup(namespace, keys))


def _refresh_report(workspace: Workspace, emit: EventSink) -> None:
    """Write ``report.html`` of the backend's folder again from the record this build wrote,
    when storyboard wrote one there before (``storyboard report``, ``storyboard watch``): a
    report older than its build would show takes and a film that are no longer there. A page
    that cannot be written is said, and the build goes on (its takes may be paid for)."""
    from storyboard.exports.record import read_record, record_path
    from storyboard.report import REPORT_NAME, write_report

    if REPORT_NAME not in workspace.out.owned(REPORT_NAME):
        return
    try:
        write_report(read_record(record_path(workspace.output_dir)), writer=workspace.out)
    except (OSError, ValueError, UnsafePath, InputError, BuildError) as exc:
        emit(Note("", f"{REPORT_NAME} was not written again: {exc}"))


def _check_budget(plan: Plan, max_cost: float) -> None:
    """Refuse a build whose new charges may be over ``max_cost``, or cannot be known.

    Raises:
        BuildError: over the budget, or a cost to check is unknown; nothing was sent.
    """
    whose = plan.pricing.namespace + (", real money" if plan.pricing.real_money else "")
    if math.isnan(max_cost):  # no estimate is over it: it would let any build spend
        raise BuildError(f"--max-cost {max_cost} is not a number of USD; nothing was sent")
    if plan.chargeable > max_cost:
        estimate = f"the estimate of what may be charged anew ({whose}) is {usd(plan.chargeable)}"
        if plan.accepted:
            estimate += (
                f" ({usd(plan.total)} in all, less {', '.join(plan.accepted)}, which the "
                "provider already accepted)"
            )
        raise BuildError(f"{estimate}, over --max-cost {usd(max_cost)}; nothing was sent")
    if plan.unknown_chargeable:
        raise BuildError(
            f"--max-cost {usd(max_cost)} cannot be checked: the cost of "
            f"{', '.join(plan.unknown_chargeable)} is not known before it is made (an edit of "
            "a remote video); nothing was sent"
        )


async def _execute_and_close(run: Execution) -> dict[str, Outcome]:
    from storyboard.build.execute import execute

    try:
        return await execute(run)
    finally:
        await run.backend.aclose()


def _outputs_named(prepared: Prepared) -> list[str]:
    """The names in the backend's folder this build may write once its takes are made: those
    of :func:`_write_outputs` (but the videos of takes it leaves out) and of the finish."""
    from storyboard.build.finish import written_names

    names = []
    for item in prepared.plan.items:
        take = item.take
        names.append(f"requests/{take.id}.json")
        if item.status == "skip":
            continue  # not selected, not built: no video of it is written
        for index in range(max(1, take.take.variations)):
            suffix = "" if index == take.take.pick - 1 else f".v{index + 1}"
            names.append(f"takes/{take.id}{suffix}.mp4")
    return names + written_names(prepared.compiled, prepared.workspace.name)


def _write_outputs(prepared: Prepared, outcomes: dict[str, Outcome]) -> None:
    """``requests/TAKE.json`` and ``takes/TAKE.mp4`` (the pick) in the backend's folder."""
    folder = prepared.workspace.out
    requests: dict[str, bytes] = {}
    videos: dict[str, Path] = {}
    for take in prepared.compiled.takes:
        requests[f"requests/{take.id}.json"] = dumps(take.to_json()).encode("utf-8")
        outcome = outcomes.get(take.id)
        if outcome is None or outcome.entry is None:
            continue
        entry = outcome.entry
        for index in range(len(entry.results)):
            suffix = "" if index == take.take.pick - 1 else f".v{index + 1}"
            videos[f"takes/{take.id}{suffix}.mp4"] = entry.path(index)
    folder.own([*requests, *videos])  # listed as storyboard's before any is written
    for name, data in requests.items():
        if folder.read_bytes(name) != data:
            folder.write_bytes(name, data)
    for name, source in videos.items():
        folder.link(source, name)
    # the picked variation is TAKE.mp4, the others TAKE.vN.mp4: a new pick leaves none over
    for take in prepared.compiled.takes:
        if (outcome := outcomes.get(take.id)) is None or outcome.entry is None:
            continue
        prefix = f"takes/{take.id}.v"
        for name in folder.owned(prefix):
            if name not in videos and name[len(prefix) :].removesuffix(".mp4").isdigit():
                folder.remove(name)


@contextmanager
def refusing() -> Iterator[None]:
    """Before anything is sent: a state or build path that is not safely storyboard's (a
    symlink, outside the project, a folder storyboard did not make) is invalid input."""
    try:
        yield
    except UnsafePath as exc:
        raise InputError.at(None, str(exc)) from None


def doctor(workspace: Workspace) -> str:
    """The command that says how to repair ``workspace``'s damaged state, for messages."""
    return f"storyboard doctor {display_path(workspace.storyboard)}"


def _doctor_hint(workspace: Workspace) -> str:
    return f"`{doctor(workspace)}` says how to repair it; nothing was sent"


def _cache(workspace: Workspace) -> Cache:
    return Cache(workspace.cache, tree=workspace.tree, staging=workspace.cache_tmp)


def _lock(workspace: Workspace) -> LockFile:
    from storyboard.build.state.lockfile import LockFile

    return LockFile.read(
        workspace.lockfile, workspace.storyboard.name, tree=workspace.tree,
        doctor=doctor(workspace),
    )  # fmt: skip


def _read_records(workspace: Workspace, backend: str) -> dict[str, dict[str, Any]]:
    """The last build's records on ``backend`` (:mod:`storyboard.build.state.records`); none
    when there are none.

    Raises:
        InputError: they cannot be read, at the damaged place, with the repair ``storyboard
            doctor`` offers; nothing was sent.
    """
    path = workspace.records(backend)
    shown = display_path(path)
    hint = _doctor_hint(workspace)
    try:
        found = take_records.read(workspace.tree, path)
    except take_records.Damaged as exc:
        where = Position(shown, exc.line, exc.col)
        raise InputError.at(where, f"{shown} is {exc.why}; {hint}") from None
    except OSError as exc:
        raise InputError.at(Position(shown), f"cannot read {shown}: {exc}; {hint}") from None
    return found or {}


def _write_records(prepared: Prepared, outcomes: dict[str, Outcome], backend: str) -> None:
    try:
        records = _read_records(prepared.workspace, backend)
    except InputError:  # damaged during this build, which may have paid: what the plan read
        records = dict(prepared.records)
    for take_id, outcome in outcomes.items():
        if outcome.entry is None:
            continue
        kept = prepared.kept.get(take_id)
        if kept is None:
            records[take_id] = prepared.materials[take_id]
        elif kept.material is not None:  # what the kept result was made from, still
            records[take_id] = kept.material
    workspace = prepared.workspace
    text = json.dumps(records, sort_keys=True)
    workspace.tree.write_atomic(workspace.records(backend), text.encode(), staging=workspace.tmp)


def _fingerprint(keyed: _Keyed, backend: Backend, scale: float) -> str:
    """What a build is asked: the same answer, the same build."""
    from storyboard import __version__

    document = keyed.compiled.checked.document
    body = [
        UNCHANGED_VERSION, __version__, backend.name, backend.namespace, backend.endpoint,
        backend.paid, scale, str(keyed.workspace.output_dir), keyed.keys,
        [str(f) for f in document.files], document.data,
    ]  # fmt: skip
    text = json.dumps(body, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _watched(keyed: _Keyed, backend: Backend, entries: Sequence[CacheEntry]) -> list[Path]:
    """The files a no-op build reads or leaves behind, but those of the build folder."""
    workspace, checked = keyed.workspace, keyed.compiled.checked
    paths = [workspace.journal, workspace.records(backend.namespace)]  # the storyboard: its
    # content is in the fingerprint
    if backend.paid:
        paths.append(workspace.lockfile)
    # what the cut reads, but no take's key holds: every music cue, a title's font and
    # background image (the first cue alone was watched: another one, a card's background,
    # changed, left the film cut with the old one)
    for source in checked.cut_sources.values():
        path = getattr(source, "path", None)
        if isinstance(path, Path):
            paths.append(path)
    for entry in entries:
        paths.append(entry.folder / "entry.json")
        paths += [entry.folder / r.file for r in entry.results]
    return paths


def _remember(keyed: _Keyed, result: BuildResult, backend: Backend, scale: float) -> None:
    """Leave the note of a build that found everything done (see the module docstring)."""
    entries = {k: o.entry for k, o in result.outcomes.items() if o.entry is not None}
    if set(entries) != {t.id for t in keyed.compiled.takes}:
        return
    build_dir = keyed.workspace.output_dir
    keyed.workspace.out.own([UNCHANGED])  # before the folder's files are measured
    note = {
        "version": UNCHANGED_VERSION,
        "fingerprint": _fingerprint(keyed, backend, scale),
        **_inputs_noted(keyed, backend, scale),
        "takes": [t.id for t in keyed.compiled.takes],
        "warnings": [w.render() for w in keyed.compiled.warnings],
        "film": str(result.film) if result.film is not None else None,
        "entries": {
            take: {
                "key": e.key, "backend": e.backend, "folder": str(e.folder),
                "results": [asdict(r) for r in e.results], "task_uuid": e.task_uuid,
                "meta": e.meta,
            }
            for take, e in entries.items()
        },
        "files": _states(build_dir, _watched(keyed, backend, list(entries.values()))),
    }  # fmt: skip
    keyed.workspace.out.write_text(UNCHANGED, json.dumps(note, sort_keys=True))


def _unchanged(
    keyed: _Keyed, backend: Backend, scale: float, emit: EventSink
) -> BuildResult | None:
    """The result of a build with nothing to do, if the note says so and every file agrees.

    Read without the project's lock: a build that changes anything removes the note first,
    so what is found here is the state some build left complete.
    """
    try:
        build_dir = keyed.workspace.output_dir
        text = keyed.workspace.tree.read_text(build_dir / UNCHANGED)
        note = load_json(text or "null")
        if note.get("version") != UNCHANGED_VERSION:
            return None
        if note.get("fingerprint") != _fingerprint(keyed, backend, scale):
            return None
        if note.get("takes") != [t.id for t in keyed.compiled.takes]:
            return None
        found = _noted(note, build_dir)
    except (OSError, ValueError, KeyError, TypeError, AttributeError, UnsafePath):
        return None  # the full build says what is wrong, if anything is
    if found is None:
        return None
    if note.get("inputs") is None and keyed.inputs is not None:
        _note_inputs(keyed, note, text, backend, scale)
    return _nothing_to_do(
        note, found, lambda: _prepared_as_done(keyed, backend), backend, emit, keyed.workspace
    )


def prepared_as_done(
    path: str | os.PathLike[str],
    backend: Backend,
    build_dir: Path | None,
    project_root: Path | None,
) -> Prepared:
    """What a build of ``path`` with nothing to do prepared: the storyboard checked, compiled
    and keyed, every take cached (for a result of :mod:`storyboard.build.noop`)."""
    keyed = _compile_and_key(
        path, backend.namespace, select=(), build_dir=build_dir, project_root=project_root,
        paid=backend.paid,
    )  # fmt: skip
    return _prepared_as_done(keyed, backend)


def _prepared_as_done(keyed: _Keyed, backend: Backend) -> Prepared:
    """What a build with nothing to do prepared: every take cached."""
    compiled, keys = keyed.compiled, keyed.keys

    def plan() -> Plan:
        cached = Standing("cached", "in the cache")
        return make_plan(compiled, keys, status=lambda t, k: cached, pricing=pricing_of(backend))

    return Prepared(
        compiled, keys, keyed.materials, keyed.workspace, plan, keyed.selected, keyed.kept
    )


def _inputs_noted(keyed: _Keyed, backend: Backend, scale: float) -> dict[str, Any]:
    """What a note holds for :mod:`storyboard.build.noop` to skip the next check: the inputs'
    states, what the build was asked (none without inputs) and how long after the check
    began the note is written (``span``: the file system's clock, see ``_racy_by_the_note``)."""
    document = keyed.compiled.checked.document
    output_dir = keyed.workspace.output_dir
    asked = _asked(document.path, document.project_root, output_dir, backend, scale)
    return {
        "inputs": keyed.inputs,
        "asked": asked if keyed.inputs is not None else None,
        "span": time.time_ns() - keyed.began,
    }


def _note_inputs(
    keyed: _Keyed, note: dict[str, Any], text: str | None, backend: Backend, scale: float
) -> None:
    """Add the inputs' states to a note left without them (its check began too soon after a
    file changed), so that the next build need not check the storyboard. Without the lock:
    a build that changes anything removes the note first, and one written over it meanwhile
    names the files as they were before (a build finding them changed runs in full)."""
    workspace = keyed.workspace
    output_dir = workspace.output_dir
    if workspace.tree.read_text(output_dir / UNCHANGED) != text:
        return
    note = {**note, **_inputs_noted(keyed, backend, scale)}
    with contextlib.suppress(OSError, BuildError):
        workspace.out.write_text(UNCHANGED, json.dumps(note, sort_keys=True))


def _ignore_in_git(workspace: Workspace, emit: EventSink) -> None:
    """The first build of a project makes its ``.gitignore`` ignore the build folder and
    ``.storyboard/`` (:mod:`storyboard.build.state.gitignore`), and says so. Nothing stops the
    build for it: a file it cannot write is said and left."""
    from storyboard.build.state.gitignore import ensure_ignored

    try:
        done = ensure_ignored(workspace.tree, workspace.build_dir)
    except BuildError as exc:
        emit(Note("", f"left .gitignore as it is: {exc}"))
        return
    where = display_path(done.path)
    if done.problem is not None:
        emit(Note("", f"left {where} as it is: it {done.problem}"))
    elif done.added:
        lines = " and ".join(done.added)
        said = f"made {where} with {lines}" if done.created else f"added {lines} to {where}"
        emit(Note("", f"{said}: git leaves the films and the cache out of the repository"))


def _note_older_layout(workspace: Workspace, older: list[str], emit: EventSink) -> None:
    """Say once per build where the outputs of an older storyboard are, which kept every
    backend's in ``build/NAME/`` itself: they stay (a paid film among them, perhaps) until
    ``storyboard clean`` removes them."""
    films = [n for n in older if "/" not in n and n.rpartition(".")[2] in ("mp4", "webm", "mov")]
    shown = display_path(workspace.build_dir / films[0]) if films else None
    what = f"the film {shown} and " if shown else ""
    emit(
        Note(
            "",
            f"{what}{len(older) - len(films)} other files in {display_path(workspace.build_dir)} "
            "were written by an older storyboard, which kept every backend's outputs in one "
            f"folder; this build writes in {display_path(workspace.output_dir)} and leaves them "
            f"as they are (`storyboard clean {display_path(workspace.storyboard)}` removes them)",
        )
    )


def _resume_hint(result: BuildResult) -> list[str]:
    """What failed, and what to do: a refused value (a prompt moderation flagged) as a
    diagnostic at its ``FILE:LINE:COL``, to be changed first, since building again as it is
    would send it again and be refused again; anything else, build again to resume."""
    parts = []
    refused = [o for o in result.failed if o.diagnostic is not None]
    for outcome in result.failed:
        if outcome.diagnostic is not None:
            parts.append(outcome.diagnostic.render())
        else:
            parts.append(f"take '{outcome.take}' failed: {outcome.message}")
    if result.skipped:
        names = ", ".join(o.take for o in result.skipped)
        parts.append(f"skipped: {names}")
    from storyboard.build.execute import NOT_SENT

    command = f"`storyboard build {os.path.relpath(result.prepared.workspace.storyboard)}`"
    misfit = any(o.message.startswith(NOT_SENT) for o in result.skipped)
    fix = "fix the storyboard where the errors above say; " if misfit else ""
    if refused:
        names = ", ".join(o.take for o in refused)
        parts.append(
            f"{fix}change what was refused for {names} (above), then run {command} again: "
            "finished takes are cached, and no take is paid for twice"
        )
    else:
        parts.append(
            f"{fix}finished takes are cached; run {command} again to resume "
            "(no take is paid for twice)"
        )
    return parts
