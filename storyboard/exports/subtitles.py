"""The film's subtitle files: ``NAME.srt`` and ``NAME.vtt`` beside the film.

Place in the pipeline: written by finish (stage 7) for every build whose film has lines of
dialogue, from the cues the cut placed in film time (:func:`storyboard.cut.cues.film_cues`),
one cue per line. The formats are pysubs2's (SubRip and WebVTT), not written by hand; each
cue's speaker is kept as the event's name, which neither format shows. A cue's text is the
line's words on one line: the language refuses the characters these formats read as markup
(``{ } < > \\``), so what a line says is what the file shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import pysubs2

from storyboard.core.files import PLAIN_FILES, Writer
from storyboard.cut.cues import Cue

SubtitleFormat = Literal["srt", "vtt"]
SUBTITLE_FORMATS: tuple[SubtitleFormat, ...] = ("srt", "vtt")
SUBTITLE_FILES = ("{name}.srt", "{name}.vtt")
"""The names of the subtitle files, beside the film (``name``: the storyboard's)."""


def subtitles(cues: Sequence[Cue]) -> pysubs2.SSAFile:
    """The cues as a pysubs2 subtitle file (times in whole milliseconds)."""
    file = pysubs2.SSAFile()
    for cue in cues:
        event = pysubs2.SSAEvent(
            start=round(cue.start * 1000), end=round(cue.end * 1000), name=cue.who
        )
        event.plaintext = cue.text
        file.append(event)
    return file


def subtitle_text(cues: Sequence[Cue], fmt: SubtitleFormat) -> str:
    """The cues as SubRip (``srt``) or WebVTT (``vtt``) text."""
    return subtitles(cues).to_string(fmt)


def write_subtitles(
    cues: Sequence[Cue], folder: Path, name: str, *, writer: Writer = PLAIN_FILES
) -> dict[str, Path]:
    """Write ``NAME.srt`` and ``NAME.vtt`` into ``folder``; returns them by suffix."""
    written: dict[str, Path] = {}
    for fmt in SUBTITLE_FORMATS:
        data = subtitle_text(cues, fmt).encode("utf-8")
        written[f".{fmt}"] = writer.write_file(folder / f"{name}.{fmt}", data)
    return written


__all__ = [
    "SUBTITLE_FILES",
    "SUBTITLE_FORMATS",
    "SubtitleFormat",
    "subtitle_text",
    "subtitles",
    "write_subtitles",
]
