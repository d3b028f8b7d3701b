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

from typing import TYPE_CHECKING

from storyboard.core.lazy import lazy_package

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


lazy_package(__name__, _EXPORTS)
