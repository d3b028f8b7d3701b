"""The public Python API: each function narrates the pipeline stages it runs, in order.

The command line is a thin layer over these functions; they never print.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from storyboard.compiler.compile import Compiled
from storyboard.language.checked import CheckedStoryboard
from storyboard.language.load import load_document
from storyboard.language.validate import validate_document

if TYPE_CHECKING:
    # what only plan() needs, not imported for check() (the start-up of `storyboard check`)
    from storyboard.compiler.plan import Plan
    from storyboard.core.events import EventSink
    from storyboard.remote.config import RemoteConfig


def check(path: str | os.PathLike[str], *, project_root: Path | None = None) -> CheckedStoryboard:
    """Load and validate a storyboard, rendering its prompts.

    Args:
        path: the storyboard file.
        project_root: the folder no local file may leave (found from ``path`` if omitted).

    Returns:
        The checked storyboard, ready to resolve and compile.

    Raises:
        InputError: every problem found, each with its ``FILE:LINE:COL``.
    """
    # 1. load: YAML with positions; includes merged.
    document = load_document(path, project_root=project_root)
    # 2-3. validate: models, document rules, prompt templates.
    return validate_document(document)


def compile_storyboard(
    path: str | os.PathLike[str], *, project_root: Path | None = None
) -> Compiled:
    """Check a storyboard and compile every take to its request, in dependency order.

    Raises:
        InputError: every problem found, at its position; nothing is sent or written.
    """
    from storyboard.compiler.compile import compile_storyboard as compile_checked
    from storyboard.core.memory import fewer_collections

    with fewer_collections():
        # 1-3. load, validate, render prompts.
        checked = check(path, project_root=project_root)
        # 4-5. resolve takes and hand-offs, compile each take against the model's profile.
        return compile_checked(checked)


def plan(
    path: str | os.PathLike[str],
    *,
    backend: str = "auto",
    select: Sequence[str] = (),
    project_root: Path | None = None,
    preview_scale: float | None = None,
    remote: RemoteConfig | None = None,
    emit: EventSink | None = None,
) -> Plan:
    """What building the storyboard would generate and cost; sends nothing.

    Each take says whether it is cached for ``backend`` (``auto``: runware when
    ``RUNWARE_API_KEY`` is set, else preview; previews at ``preview_scale``, by default
    the scale ``storyboard build`` uses; Runware at ``RUNWARE_BASE_URL``) or will be
    generated, and why. The plan names that backend, its namespace and URL and whether it
    is real money (:attr:`Plan.pricing`), and what may be charged anew
    (:attr:`Plan.chargeable`). With a ``remote`` (:func:`storyboard.remote.configured`), a
    take it holds is ``remote``, at no charge; a remote that fails is said through ``emit``
    (by default, nowhere).

    Raises:
        InputError: every problem found, at its position.
    """
    from storyboard.backends.factory import DEFAULT_PREVIEW_SCALE, pricing
    from storyboard.build.pipeline import prepare
    from storyboard.core.events import ignore

    scale = DEFAULT_PREVIEW_SCALE if preview_scale is None else preview_scale
    whose = pricing(backend, preview_scale=scale)
    # 1-6. check, compile, key, and compare with the cache, the lock and the last build.
    return prepare(
        path, backend_name=whose.namespace, pricing=whose, select=select,
        project_root=project_root, remote=remote, emit=ignore if emit is None else emit,
    ).plan  # fmt: skip


def explain(
    path: str | os.PathLike[str],
    name: str,
    *,
    backend: str = "auto",
    project_root: Path | None = None,
    preview_scale: float | None = None,
) -> list[str]:
    """What ``storyboard plan --explain NAME`` prints: the plan's line of the take that makes
    shot (or take) ``name``, and what changed in its request since the last build in that
    backend recorded it, or, for a kept take, since the result it keeps was made.

    Raises:
        InputError: the storyboard is invalid, or ``name`` is neither a shot nor a take.
    """
    from storyboard.backends.factory import DEFAULT_PREVIEW_SCALE, pricing
    from storyboard.build.pipeline import prepare
    from storyboard.compiler.explain import describe
    from storyboard.core.errors import InputError

    scale = DEFAULT_PREVIEW_SCALE if preview_scale is None else preview_scale
    whose = pricing(backend, preview_scale=scale)
    # 1-6. check, compile, key, and compare with the cache, the lock and the last build.
    prepared = prepare(path, backend_name=whose.namespace, pricing=whose, project_root=project_root)
    resolved = prepared.compiled.resolved
    take_id = resolved.take_of_shot.get(name, name)
    item = next((i for i in prepared.plan.items if i.take.id == take_id), None)
    if item is None:
        raise InputError.at(None, f"--explain: unknown shot or take '{name}'")
    kept = prepared.kept.get(take_id)
    return describe(
        item.take, namespace=whose.namespace, status=item.status, reason=item.reason,
        estimate=item.cost.amount, current=prepared.materials[take_id],
        recorded=prepared.records.get(take_id),
        kept_material=kept.material if kept else None, kept_source=kept.source if kept else None,
    )  # fmt: skip
