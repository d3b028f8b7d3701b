"""The public Python API: each function narrates the pipeline stages it runs, in order.

The command line is a thin layer over these functions; they never print.
"""

from __future__ import annotations

import os
from pathlib import Path

from storyboard.ir import CheckedStoryboard
from storyboard.load import load_document
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
