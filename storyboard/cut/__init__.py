"""Stage 7, the cut: stitch the finished takes into the film.

Two steps, as the rest of the pipeline: :func:`build_timeline` is pure (the storyboard's
``cut`` and the takes' measured lengths -> a frame-exact :class:`Timeline`), and
:func:`assemble` does the I/O (copy what can be copied, re-encode only what must change,
write the film atomically). See ``docs/cut.md``. :func:`film_cues` places the lines of
dialogue in the film as subtitle :class:`Cue` objects (:mod:`storyboard.cut.cues`).
"""

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
