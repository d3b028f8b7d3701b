"""Text in the film: title cards, credits, captions and burned subtitles, drawn with moviepy.

Place in the pipeline: the cut's timeline (:mod:`storyboard.cut.timeline`) says *what* text
is shown and where; this module lays it out (:func:`layout`, also run by ``check`` so that a
text too long for the frame is refused before anything is paid) and draws it
(:func:`card_frame` for a full-frame card, :func:`overlay_image` for text over the picture),
with moviepy's ``TextClip``, ``ColorClip``/``ImageClip`` and ``CompositeVideoClip``.

The fonts come with the package (:mod:`storyboard.media.fonts`): a build never fetches one.

Layout is done here, not by moviepy: each line is measured with the font (Pillow's FreeType
metrics, the ones moviepy draws with) and words are wrapped at spaces to fit the text box;
moviepy is then handed the wrapped lines, so what ``check`` measured is what is drawn.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from storyboard.cut.look import (
    CAPTION_BOX,
    CAPTION_SIZE,
    CARD_BOX,
    LINE_SPACING,
    MARGIN,
    TITLE_SIZE,
    Look,
    Position,
)
from storyboard.media.fonts import RGB, truetype
from storyboard.media.limits import problem_of

Frame = NDArray[np.uint8]


@dataclass(frozen=True)
class Layout:
    """A text wrapped into a box: its lines and the box they need, in pixels."""

    lines: tuple[str, ...]
    width: int
    height: int
    too_wide: str | None = None
    """A word wider than the box on its own (it cannot be wrapped), if any."""

    def fits(self, box: tuple[int, int]) -> bool:
        return self.too_wide is None and self.width <= box[0] and self.height <= box[1]


def layout(text: str, look: Look, max_width: int) -> Layout:
    """``text`` wrapped at spaces into lines no wider than ``max_width`` pixels (a line break
    in the text always starts a new line)."""
    font = truetype(look.font, look.size)
    lines: list[str] = []
    too_wide: str | None = None
    for paragraph in text.splitlines() or [""]:
        line = ""
        for word in paragraph.split():
            if font.getlength(word) > max_width and too_wide is None:
                too_wide = word
            candidate = f"{line} {word}" if line else word
            if line and font.getlength(candidate) > max_width:
                lines.append(line)
                line = word
            else:
                line = candidate
        lines.append(line)
    width = max((round(font.getlength(line)) for line in lines), default=0)
    return Layout(tuple(lines), width, line_height(look) * len(lines), too_wide)


def line_height(look: Look) -> int:
    return round(look.size * LINE_SPACING)


def box(frame: tuple[int, int], fraction: tuple[float, float]) -> tuple[int, int]:
    """The text box of a frame: ``fraction`` of its width and height, in pixels."""
    return (int(frame[0] * fraction[0]), int(frame[1] * fraction[1]))


def fit_problem(
    text: str, look: Look, frame: tuple[int, int], fraction: tuple[float, float]
) -> str | None:
    """Why ``text`` does not fit its box in a ``frame``-sized picture, or None if it fits."""
    width, height = box(frame, fraction)
    found = layout(text, look, width)
    if found.too_wide is not None:
        word = found.too_wide if len(found.too_wide) <= 40 else found.too_wide[:37] + "..."
        return (
            f"the word '{word}' is wider than the frame allows at {look.size} px "
            f"({width} px of the {frame[0]}x{frame[1]} frame); shorten it or lower 'size'"
        )
    if found.height > height:
        return (
            f"the text does not fit the frame: at {look.size} px it wraps into "
            f"{len(found.lines)} lines, {found.height} px high, and the {frame[0]}x{frame[1]} "
            f"frame holds {height} px; shorten it or lower 'size'"
        )
    return None


# --- drawing (moviepy) -----------------------------------------------------------------------


def _text_clip(text: str, look: Look, align: str, outline: bool) -> Any:
    from moviepy import TextClip

    wrapped = "\n".join(layout(text, look, 1 << 30).lines)
    pad = max(2, look.size // 4)  # room for descenders and the outline
    return TextClip(
        font=str(look.font),
        text=wrapped,
        font_size=look.size,
        color=look.color,
        stroke_color=(0, 0, 0) if outline else None,
        stroke_width=max(1, look.size // 16) if outline else 0,
        method="label",
        text_align=align,
        interline=round(look.size * (LINE_SPACING - 1)),
        margin=(pad, pad),
        transparent=True,
        duration=1,
    )


def card_frame(
    text: str, look: Look, size: tuple[int, int], background: RGB | Path, max_width: int
) -> Frame:
    """A full-frame card: ``text`` centred on a colour or an image (scaled to cover the
    frame, centred, cropped), as an RGB picture of ``size``."""
    from moviepy import ColorClip, CompositeVideoClip, ImageClip
    from PIL import Image, ImageOps

    wrapped = "\n".join(layout(text, look, max_width).lines)
    back: Any
    if isinstance(background, Path):
        with Image.open(background) as image:
            fitted = ImageOps.fit(image.convert("RGB"), size, Image.Resampling.LANCZOS)
        back = ImageClip(np.asarray(fitted)).with_duration(1)
    else:
        back = ColorClip(size=size, color=background).with_duration(1)
    words = _text_clip(wrapped, look, "center", outline=isinstance(background, Path))
    picture = CompositeVideoClip([back, words.with_position("center")], size=size)
    frame: Frame = np.ascontiguousarray(picture.get_frame(0), dtype=np.uint8)
    return frame


def background_problem(path: Path) -> str | None:
    """Why :func:`card_frame` cannot draw a card on the image at ``path``, naming the file;
    ``None`` when it can. Read whole, as the card reads it (a header that opens is not
    enough: a cut-short file fails only once its pixels are read), once as long as the file's
    size and time stay the same: ``check`` runs this, before any take is paid for."""
    return problem_of(path, _background_problem)


@functools.lru_cache(maxsize=64)
def _background_problem(path: str, size: int, mtime_ns: int) -> str | None:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            image.convert("RGB")
    except UnidentifiedImageError:
        return "is not a readable image"
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        return f"is not an image the cut can read whole: {exc}".replace(path, "the file")
    return None


def font_file_problem(path: Path) -> str | None:
    """Why the cut cannot draw with the font file at ``path``, naming the file; ``None`` when
    it can. Read again whenever the file's size or time changed (fonts in use are kept by
    their path alone: :func:`storyboard.media.fonts.truetype`)."""
    return problem_of(path, _font_file_problem)


@functools.lru_cache(maxsize=64)
def _font_file_problem(path: str, size: int, mtime_ns: int) -> str | None:
    from PIL import ImageFont

    try:
        ImageFont.truetype(path, 12)
    except (OSError, ValueError):
        return "is not a font file that can be read"
    return None


def overlay_image(
    text: str, look: Look, size: tuple[int, int], position: Position, max_width: int
) -> tuple[NDArray[np.uint8], tuple[int, int]]:
    """Text to draw over the picture: an RGBA image (an outline keeps it readable on any
    picture) and where its top-left corner goes in a ``size`` frame."""
    wrapped = "\n".join(layout(text, look, max_width).lines)
    vertical, _, horizontal = position.partition("-")
    if position in ("bottom", "top", "center"):
        horizontal = "center"
    align = {"left": "left", "right": "right"}.get(horizontal, "center")
    clip = _text_clip(wrapped, look, align, outline=True)
    rgb = np.asarray(clip.get_frame(0), dtype=np.float64)
    alpha = np.asarray(clip.mask.get_frame(0), dtype=np.float64)
    rgba = np.dstack([rgb, alpha * 255]).round().clip(0, 255).astype(np.uint8)
    height, width = rgba.shape[:2]
    margin = round(MARGIN * size[1])
    x = {"left": margin, "right": size[0] - margin - width}.get(horizontal, (size[0] - width) // 2)
    y = {"top": margin, "bottom": size[1] - margin - height}.get(vertical, (size[1] - height) // 2)
    return rgba, (max(0, x), max(0, y))


__all__ = [
    "CAPTION_BOX",
    "CAPTION_SIZE",
    "CARD_BOX",
    "TITLE_SIZE",
    "Layout",
    "Look",
    "background_problem",
    "box",
    "card_frame",
    "fit_problem",
    "font_file_problem",
    "layout",
    "overlay_image",
]
