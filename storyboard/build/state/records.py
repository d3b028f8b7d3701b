"""The records of the last build of a storyboard on a backend
(``.storyboard/records/NAME.BACKEND.json``): each take's key material, by take id.

Place in the pipeline: the build writes them after its takes are made; the plan reads them to
say why a take is stale, and, on a backend without a lock file (the preview), to find what a
kept take keeps (:mod:`storyboard.build.keep`). A file that cannot be read is never taken for
no records: a kept take would be made again from its current request, and the next build
would write over what it kept. ``storyboard doctor`` reports it and, with ``--fix``, moves it
aside (:data:`DAMAGED`), kept for a person.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from storyboard.build.state.safe import NotText, TooLarge, Tree, load_json

DAMAGED = ".damaged"
"""The suffix ``doctor --fix`` gives a records file it moves aside."""


class Damaged(Exception):
    """A records file that is not what storyboard wrote, and where (1-based line and column)."""

    def __init__(self, why: str, line: int = 1, col: int = 1) -> None:
        super().__init__(why)
        self.why, self.line, self.col = why, line, col


def read(tree: Tree, path: Path) -> dict[str, dict[str, Any]] | None:
    """The records at ``path``; ``None`` when there are none.

    Raises:
        Damaged: it is not UTF-8 text, not JSON, or not an object of objects.
        OSError: it cannot be read.
        UnsafePath: it, or a folder on its way, is a symlink.
    """
    try:
        text = tree.read_text(path)
    except NotText as exc:
        raise Damaged(exc.what, exc.line, exc.col) from None
    except TooLarge as exc:
        raise Damaged(f"too large to be read: {exc.strerror}", 1, 1) from None
    if text is None:
        return None
    try:
        data = load_json(text)
    except json.JSONDecodeError as exc:
        raise Damaged(f"not the JSON storyboard wrote: {exc.msg}", exc.lineno, exc.colno) from None
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise Damaged("not the records storyboard wrote: not an object of objects")
    return data
