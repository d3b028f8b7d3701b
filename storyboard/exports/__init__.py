"""Exports of a finished build, for people and for other tools: the last stage, after the cut.

Everything here reads the *film record* (:mod:`storyboard.exports.record`, written as
``build/NAME/build.json``) and never the storyboard or the cache, so it works on a build
folder that was copied elsewhere:

- :mod:`storyboard.exports.record`: the record's types, building it from a ``BuildResult``,
  reading and writing it;
- :mod:`storyboard.exports.otio`: the cut as an OpenTimelineIO timeline (``.otio``), and as
  a CMX 3600 EDL or FCPXML where the OTIO adapter for it is installed;
- :mod:`storyboard.exports.contact_sheet`: a PNG grid of each shot's first and last frame;
- :mod:`storyboard.exports.subtitles`: the film's subtitles as SubRip and WebVTT files
  (``NAME.srt``, ``NAME.vtt``), from the cut's cues (written by finish, which has them).

The HTML report (:mod:`storyboard.report`) is built on the same record. Submodules are
imported on use: OpenTimelineIO and PyAV are heavy, and the record alone needs neither.
"""

from storyboard.exports.record import (
    RECORD_NAME,
    RECORD_VERSION,
    ClipPlacement,
    FilmRecord,
    OutputInfo,
    TakeRecord,
    Totals,
    read_record,
    record_from_build,
    write_record,
)

__all__ = [
    "RECORD_NAME",
    "RECORD_VERSION",
    "ClipPlacement",
    "FilmRecord",
    "OutputInfo",
    "TakeRecord",
    "Totals",
    "read_record",
    "record_from_build",
    "write_record",
]
