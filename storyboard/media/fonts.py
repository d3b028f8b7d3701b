"""The fonts and colours a storyboard's text may use: what ``check`` and the cut agree on.

Place in the pipeline: read by validation (a font or a colour the cut could not use is
refused at its place in the storyboard) and by the cut's text (:mod:`storyboard.cut.text`).

The fonts come with the package: Lato (SIL Open Font License 1.1), installed by pip from the
``font-lato`` package, so no build fetches a font and the same text is drawn the same way on
every machine. A storyboard may name a ``.ttf`` or ``.otf`` file of its own instead.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL import ImageFont


BUNDLED_FONTS: dict[str, str] = {
    "lato": "Lato-Regular.ttf",
    "lato-bold": "Lato-Bold.ttf",
    "lato-italic": "Lato-Italic.ttf",
    "lato-light": "Lato-Light.ttf",
    "lato-black": "Lato-Black.ttf",
}
"""Font names a storyboard may use without a file: the Lato faces of ``font-lato``."""

RGB = tuple[int, int, int]


def font_file(font: str) -> Path:
    """The file of a bundled font name (see :data:`BUNDLED_FONTS`)."""
    from importlib import resources  # with tempfile, shutil, lzma...: 5 ms of a check's start

    return Path(str(resources.files("font_lato") / "files" / BUNDLED_FONTS[font]))


def looks_like_file(text: str) -> bool:
    """Whether a ``font`` or ``background`` value names a file (it has a suffix or a folder)."""
    return "." in text or "/" in text


def is_colour(text: str) -> bool:
    """Whether ``text`` names a colour (``white``, ``#1a2b3c``) rather than a file."""
    from PIL import ImageColor  # Pillow only where a colour or a font is read

    if looks_like_file(text):
        return False
    try:
        ImageColor.getrgb(text)
    except ValueError:
        return False
    return True


def colour(text: str) -> RGB:
    """``white`` or ``#rrggbb`` as ``(r, g, b)``. Raises ValueError for an unknown name."""
    from PIL import ImageColor  # Pillow only where a colour or a font is read

    found = ImageColor.getrgb(text)
    return (int(found[0]), int(found[1]), int(found[2]))


def colour_names() -> list[str]:
    """Every colour name ``is_colour`` knows (for "did you mean" hints)."""
    from PIL import ImageColor  # Pillow only where a colour or a font is read

    return sorted(ImageColor.colormap)


@functools.lru_cache(maxsize=64)
def truetype(path: Path, size: int) -> ImageFont.FreeTypeFont:
    """The font at ``path`` at ``size`` pixels (cached). Raises OSError if it is not one."""
    from PIL import ImageFont  # Pillow only where a colour or a font is read

    return ImageFont.truetype(str(path), size)


def font_problem(path: Path) -> str | None:
    """What is wrong with a font file, or None if Pillow (and so moviepy) can draw with it."""
    try:
        truetype(path, 12)
    except (OSError, ValueError):
        return f"'{path.name}' is not a font file that can be read"
    return None


__all__ = [
    "BUNDLED_FONTS",
    "colour",
    "colour_names",
    "font_file",
    "font_problem",
    "is_colour",
    "looks_like_file",
    "truetype",
]
