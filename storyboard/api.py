"""The public Python API: each function narrates the pipeline stages it runs, in order.

The command line is a thin layer over these functions; they never print.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from storyboard.compiler.compile import Compiled
from storyboard.compiler.plan import Plan
from storyboard.language.checked import CheckedStoryboard
from storyboard.language.load import load_document
from storyboard.language.validate import validate_document


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
) -> Plan:
    """What building the storyboard would generate and cost; sends nothing.

    Each take says whether it is cached for ``backend`` (``auto``: runware when
    ``RUNWARE_API_KEY`` is set, else preview; previews at ``preview_scale``, by default
    the scale ``storyboard build`` uses; Runware at ``RUNWARE_BASE_URL``) or will be
    generated, and why. The plan names that backend, its namespace and URL and whether it
    is real money (:attr:`Plan.pricing`), and what may be charged anew
    (:attr:`Plan.chargeable`).

    Raises:
        InputError: every problem found, at its position.
    """
    from storyboard.backends.factory import DEFAULT_PREVIEW_SCALE, pricing
    from storyboard.build.pipeline import prepare

    scale = DEFAULT_PREVIEW_SCALE if preview_scale is None else preview_scale
    whose = pricing(backend, preview_scale=scale)
    # 1-6. check, compile, key, and compare with the cache, the lock and the last build.
    return prepare(
        path, backend_name=whose.namespace, pricing=whose, select=select,
        project_root=project_root,
    ).plan  # fmt: skip
