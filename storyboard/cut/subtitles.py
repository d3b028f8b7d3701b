"""Subtitles in the film: a soft track muxed beside the picture, or text burned into it.

Place in the pipeline: the cut. What the cues say and when comes from the storyboard's
dialogue (the words part of the language); this module takes them as :class:`Cue` values in
film time and puts them into the film:

- ``soft``: a subtitle track (``mov_text`` in MP4 and MOV, WebVTT in WEBM), written by the
  joiner beside the copied video (:func:`track`): no video frame is re-encoded;
- ``burn``: each cue becomes text drawn over the frames it covers
  (:func:`storyboard.cut.timeline.with_subtitles` turns cues into overlays), and the cut
  re-encodes only the GOPs under them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

SubtitleMode = Literal["soft", "burn", "off"]


@dataclass(frozen=True)
class Cue:
    """A subtitle: ``text`` shown from ``start`` to ``end`` seconds of the film."""

    start: float
    end: float
    text: str


__all__ = ["Cue", "SubtitleMode"]
