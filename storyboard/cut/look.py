"""How a text of the cut looks: its size, its place, its colour and font (no drawing here, so
that ``check`` can lay the cut out without importing numpy or Pillow; :mod:`storyboard.cut.text`
draws)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from msgspec import Struct

from storyboard.media.fonts import RGB

TITLE_SIZE = 1 / 12
"""A title's or credits' default font size, as a fraction of the frame's height."""
CAPTION_SIZE = 1 / 20
"""A caption's or subtitle's default font size, as a fraction of the frame's height."""
CARD_BOX = (0.84, 0.84)
"""The part of the frame (width, height) a card's text must fit in."""
CAPTION_BOX = (0.80, 1 / 3)
"""The part of the frame (width, height) a caption's or a subtitle's text must fit in."""
MARGIN = 0.05
"""A caption's distance from the frame's edges, as a fraction of the frame's height."""
LINE_SPACING = 1.2
"""Line height as a multiple of the font size."""

Position = Literal[
    "bottom-left", "bottom", "bottom-right", "top-left", "top", "top-right", "center"
]


class Look(Struct, frozen=True):
    """How a text is drawn: its colour, its font file, its size in pixels in the film."""

    color: RGB
    font: Path
    size: int
