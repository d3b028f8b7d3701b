"""The build narrator: check, compile, plan, then execute and write the outputs.

``build()`` reads top to bottom like the pipeline it runs. Everything it writes goes into
``build/NAME/`` (requests, takes), ``.storyboard/`` (cache, journal, records) and, for paid
results, ``NAME.lock``. Invalid input stops it before anything is sent or written.
"""

from __future__ import annotations

import asyncio
import glob
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from storyboard.backends.base import Backend
from storyboard.compile import Compiled, FileHashes, compile_storyboard, dumps
from storyboard.diagnostics import Diagnostic
from storyboard.errors import BuildError, InputError
from storyboard.events import EventSink, Note, ignore
from storyboard.execute import Execution, Outcome, execute, lock_entry
from storyboard.keys import key_material, take_keys, upstream_refs, why_stale
from storyboard.load import load_document
from storyboard.plan import Plan, make_plan
from storyboard.select import select_takes
from storyboard.state.cache import Cache
from storyboard.state.files import atomic_write_text
from storyboard.state.journal import Journal
from storyboard.state.lockfile import LockFile
from storyboard.state.workspace import ProjectLock, Workspace
from storyboard.validate import validate_document


@dataclass(frozen=True)
class Prepared:
    """A storyboard compiled and planned against one backend's cache."""

    compiled: Compiled
    keys: dict[str, str]
    materials: dict[str, dict[str, Any]]
    workspace: Workspace
    plan: Plan
    selected: set[str] | None


@dataclass(frozen=True)
class BuildResult:
    """What a build did."""

    prepared: Prepared
    outcomes: dict[str, Outcome]
    backend: str
    film: Path | None = None

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes.values() if o.status == "failed"]

    @property
    def skipped(self) -> list[Outcome]:
        return [o for o in self.outcomes.values() if o.status == "skipped"]

    @property
    def spent(self) -> float:
        return round(sum(o.cost for o in self.outcomes.values()), 4)

    @property
    def unselected(self) -> list[Outcome]:
        """Takes ``--select`` left out that are not built yet: not a failure."""
        return [o for o in self.outcomes.values() if o.status == "unselected"]

    @property
    def ok(self) -> bool:
        return not self.failed and not self.skipped

    def to_json(self) -> dict[str, Any]:
        return {
            "storyboard": self.prepared.workspace.storyboard.name,
            "backend": self.backend,
            "ok": self.ok,
            "spent": self.spent,
            "build_dir": str(self.prepared.workspace.build_dir),
            "film": str(self.film) if self.film else None,
            "takes": [
                {
                    "id": o.take,
                    "status": o.status,
                    "message": o.message,
                    "cost": o.cost,
                    "files": [str(o.entry.path(i)) for i in range(len(o.entry.results))]
                    if o.entry
                    else [],
                }
                for o in self.outcomes.values()
            ],
        }


def prepare(
    path: str | os.PathLike[str],
    *,
    backend_name: str,
    select: Sequence[str] = (),
    build_dir: Path | None = None,
    project_root: Path | None = None,
) -> Prepared:
    """Check, compile, key and plan a storyboard; say for each take whether it is cached.

    ``backend_name`` is the backend's namespace (:func:`storyboard.backends.factory.namespace`):
    whose cache, lock entries and records to compare with.

    Raises:
        InputError: the storyboard (or a selector) is invalid.
    """
    hashes = FileHashes()
    # 1-3. load, validate, render prompts.
    checked = validate_document(load_document(path, project_root=project_root))
    # 4-5. resolve takes and compile their requests.
    compiled = compile_storyboard(checked, file_hash=hashes)
    # 6. key every take; find what the cache, the lock and the last build know.
    keys = take_keys(compiled, file_hash=hashes)
    refs = upstream_refs(compiled, keys)
    materials: dict[str, dict[str, Any]] = {}
    for take in compiled.takes:
        materials[take.id] = key_material(take, refs, hashes)
    workspace = Workspace.for_storyboard(
        checked.document.path, checked.document.project_root, build_dir
    )
    selected = select_takes(compiled.resolved, select)
    cache, lock = (
        Cache(workspace.cache),
        LockFile.read(workspace.lockfile, checked.document.path.name),
    )
    records = _read_records(workspace, backend_name)

    def status(take: Any, key: str) -> tuple[str, str]:
        if cache.get(backend_name, key, verify=False) is not None:
            return "cached", "in the cache"
        if lock.find(take.id, key, backend_name) is not None:
            return "locked", "download from the lock"
        if selected is not None and take.id not in selected:
            return "skip", "not selected"
        return "generate", why_stale(records.get(take.id), materials[take.id])

    plan = make_plan(compiled, keys, status=status)
    if selected is not None:
        _check_selection(plan, selected, select)
    return Prepared(compiled, keys, materials, workspace, plan, selected)


def _check_selection(plan: Plan, selected: set[str], select: Sequence[str]) -> None:
    """A selected take must find what it needs: built already, or selected too.

    Raises:
        InputError: a selected take needs a take that is neither built nor selected.
    """
    ready = {i.take.id for i in plan.items if i.status in ("cached", "locked")}
    problems = []
    for item in plan.items:
        take = item.take.take
        if take.id not in selected or item.status != "generate":
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
) -> BuildResult:
    """Build a storyboard's takes with ``backend`` and write them to the build folder.

    The film is cut at the storyboard's output size times ``film_scale`` (default: the
    backend's preview scale, else 1).

    Raises:
        InputError: the storyboard is invalid (nothing sent, nothing written).
        BuildError: the estimate is over ``max_cost``, or another build holds the project.
    """
    # 1-6. check, compile, key and plan against this backend's cache.
    prepared = prepare(
        path, backend_name=backend.namespace, select=select, build_dir=build_dir,
        project_root=project_root,
    )  # fmt: skip
    plan, workspace = prepared.plan, prepared.workspace
    # 7. refuse to start over budget.
    if max_cost is not None and backend.paid and plan.total > max_cost:
        raise BuildError(
            f"the estimate is ${plan.total:.4f}, over --max-cost ${max_cost:.4f}; nothing was sent"
        )
    if max_cost is not None and backend.paid and plan.unknown:
        raise BuildError(
            f"--max-cost ${max_cost:.4f} cannot be checked: the cost of "
            f"{', '.join(plan.unknown)} is not known before it is made (an edit of a remote "
            "video); nothing was sent"
        )
    with ProjectLock(workspace, wait=wait):
        cache = Cache(workspace.cache)
        lock = LockFile.read(workspace.lockfile, workspace.storyboard.name)
        journal = Journal(workspace.journal, backend=backend.namespace, endpoint=backend.endpoint)
        run = Execution(
            compiled=prepared.compiled, keys=prepared.keys, backend=backend,
            workspace=workspace, cache=cache, journal=journal, lock=lock, jobs=jobs,
            keep_going=keep_going, selected=prepared.selected, emit=emit,
        )  # fmt: skip
        # 8. run the takes.
        outcomes = asyncio.run(_execute_and_close(run))
        # 9. write the outputs, the lock and what the next plan needs.
        _write_outputs(prepared, outcomes)
        if backend.paid:
            # every paid result this build used, whether made now, cached or locked before
            for take in prepared.compiled.takes:
                outcome = outcomes.get(take.id)
                if outcome is not None and outcome.entry is not None:
                    lock.takes[take.id] = lock_entry(backend.namespace, take, outcome.entry)
            current = {t.id for t in prepared.compiled.takes}
            for stale in (set(lock.takes) - current) | run.gone_from_lock:
                lock.takes.pop(stale, None)
            lock.write()
        _write_records(prepared, outcomes, backend.namespace)
        journal.compact()
        result = BuildResult(prepared, outcomes, backend.name)
        # 10. the cut, the build record, the exports and the contact sheet.
        from storyboard.finish import finish

        scale = film_scale if film_scale is not None else getattr(backend, "scale", 1.0)
        finished = finish(result, scale=scale, emit=emit)
        result = BuildResult(prepared, outcomes, backend.name, finished.film)
    if result.failed or result.skipped:
        emit(Note("", _resume_hint(result)))
    return result


async def _execute_and_close(run: Execution) -> dict[str, Outcome]:
    try:
        return await execute(run)
    finally:
        await run.backend.aclose()


def _write_outputs(prepared: Prepared, outcomes: dict[str, Outcome]) -> None:
    """``build/NAME/requests/TAKE.json`` and ``build/NAME/takes/TAKE.mp4`` (the pick)."""
    workspace = prepared.workspace
    for take in prepared.compiled.takes:
        request = workspace.build_dir / "requests" / f"{take.id}.json"
        text = dumps(take.to_json())
        if not request.exists() or request.read_text(encoding="utf-8") != text:
            atomic_write_text(request, text)
        outcome = outcomes.get(take.id)
        if outcome is None or outcome.entry is None:
            continue
        entry = outcome.entry
        for index in range(len(entry.results)):
            suffix = "" if index == take.take.pick - 1 else f".v{index + 1}"
            _link(entry.path(index), workspace.takes_dir / f"{take.id}{suffix}.mp4")
        # the picked variation is TAKE.mp4, the others TAKE.vN.mp4: a new pick leaves none over
        wanted = {f"{take.id}.v{i + 1}.mp4" for i in range(len(entry.results))}
        wanted.discard(f"{take.id}.v{take.take.pick}.mp4")
        for old in workspace.takes_dir.glob(f"{glob.escape(take.id)}.v*.mp4"):
            if old.name not in wanted:
                old.unlink(missing_ok=True)


def _link(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        if os.path.samefile(source, target):
            return
        target.unlink()
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        os.link(source, tmp)
    except OSError:
        import shutil

        shutil.copyfile(source, tmp)
    tmp.replace(target)


def _read_records(workspace: Workspace, backend: str) -> dict[str, dict[str, Any]]:
    try:
        data = json.loads(workspace.records(backend).read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _write_records(prepared: Prepared, outcomes: dict[str, Outcome], backend: str) -> None:
    records = _read_records(prepared.workspace, backend)
    for take_id, outcome in outcomes.items():
        if outcome.entry is not None:
            records[take_id] = prepared.materials[take_id]
    atomic_write_text(prepared.workspace.records(backend), json.dumps(records, sort_keys=True))


def _resume_hint(result: BuildResult) -> str:
    parts = []
    for outcome in result.failed:
        parts.append(f"take '{outcome.take}' failed: {outcome.message}")
    if result.skipped:
        names = ", ".join(o.take for o in result.skipped)
        parts.append(f"skipped: {names}")
    storyboard = result.prepared.workspace.storyboard
    parts.append(
        f"finished takes are cached; run `storyboard build {os.path.relpath(storyboard)}` "
        "again to resume (no take is paid for twice)"
    )
    return "\n".join(parts)
