"""Stage 7, the cut: stitch the finished takes into the film.

Two steps, as the rest of the pipeline: :func:`build_timeline` is pure (the storyboard's
``cut`` and the takes' measured lengths -> a frame-exact :class:`Timeline`), and
:func:`assemble` does the I/O (copy what can be copied, re-encode only what must change,
write the film atomically). See ``docs/cut.md``. :func:`film_cues` places the lines of
dialogue in the film as subtitle :class:`Cue` objects (:mod:`storyboard.cut.cues`).

The names below load on first use (PEP 562): ``check`` reads :mod:`.timeline` alone, and must
not pay for PyAV and numpy, which only :func:`assemble` needs.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from storyboard.cut.assemble import (
        AssemblyReport,
        PieceReport,
        assemble,
        index_videos,
        measure_videos,
    )
    from storyboard.cut.cues import Cue, film_cues, subtitle_mode
    from storyboard.cut.ffmpeg import Encoder
    from storyboard.cut.timeline import FPS, Edge, Timeline, TimelineClip, build_timeline

_EXPORTS = {
    "AssemblyReport": "assemble",
    "PieceReport": "assemble",
    "assemble": "assemble",
    "index_videos": "assemble",
    "measure_videos": "assemble",
    "Cue": "cues",
    "film_cues": "cues",
    "subtitle_mode": "cues",
    "Encoder": "ffmpeg",
    "FPS": "timeline",
    "Edge": "timeline",
    "Timeline": "timeline",
    "TimelineClip": "timeline",
    "build_timeline": "timeline",
}

__all__ = [
    "FPS",
    "AssemblyReport",
    "Cue",
    "Edge",
    "Encoder",
    "PieceReport",
    "Timeline",
    "TimelineClip",
    "assemble",
    "build_timeline",
    "film_cues",
    "index_videos",
    "measure_videos",
    "subtitle_mode",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'storyboard.cut' has no attribute {name!r}")
    return getattr(importlib.import_module(f"storyboard.cut.{module}"), name)


class _Package(types.ModuleType):
    """The package, whose exported names stay what they are when a submodule of the same
    name loads (``probe``, ``assemble``): the import system binds each submodule it loads
    to its package's attribute, which would replace the function by its module."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _EXPORTS and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
