"""What became of one take in a build: its :class:`Outcome`.

Its own module, light to import: a build with nothing to do reports every take cached
without loading the executor (:mod:`storyboard.build.execute`, which makes the outcomes of a
build that runs).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from storyboard.build.state.cache import CacheEntry
from storyboard.core.diagnostics import Diagnostic

Status = Literal["cached", "remote", "locked", "generated", "failed", "skipped", "unselected"]


@dataclass
class Outcome:
    """What became of one take."""

    take: str
    status: Status
    entry: CacheEntry | None = None
    message: str = ""
    cost: float = 0.0
    diagnostic: Diagnostic | None = None
    """For a take the service refused for a value of the storyboard: what to change, at its
    ``FILE:LINE:COL`` (see :class:`storyboard.build.execute.Refused`)."""
