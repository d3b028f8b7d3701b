"""The public Python API: each function narrates the pipeline stages it runs, in order.

The command line is a thin layer over these functions; they never print.
"""

from __future__ import annotations

import os
from pathlib import Path

from storyboard.compile import Compiled
from storyboard.ir import CheckedStoryboard
from storyboard.load import load_document
from storyboard.plan import Plan
from storyboard.validate import validate_document


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
    from storyboard.compile import compile_storyboard as compile_checked

    # 1-3. load, validate, render prompts.
    checked = check(path, project_root=project_root)
    # 4-5. resolve takes and hand-offs, compile each take against the model's profile.
    return compile_checked(checked)


def plan(path: str | os.PathLike[str], *, project_root: Path | None = None) -> Plan:
    """What building the storyboard would generate and cost; sends nothing.

    Raises:
        InputError: every problem found, at its position.
    """
    from storyboard.compile import FileHashes
    from storyboard.compile import compile_storyboard as compile_checked
    from storyboard.keys import take_keys
    from storyboard.plan import make_plan

    hashes = FileHashes()
    # 1-5. check and compile.
    compiled = compile_checked(check(path, project_root=project_root), file_hash=hashes)
    # 6. keys, cost estimate and critical path.
    return make_plan(compiled, take_keys(compiled, file_hash=hashes))
