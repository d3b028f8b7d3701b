"""Where a storyboard's project is: the folder its state (``.storyboard/``) and paths belong to.

Light on purpose (``os`` and ``pathlib`` only): commands that need the project before they
know whether they read the storyboard (a no-op build, ``push``, ``pull``, ``remote``) find it
without importing the language's models.
"""

from __future__ import annotations

import os
from pathlib import Path


def find_project_root(storyboard: Path) -> Path:
    """The nearest folder at or above the storyboard's that holds ``.git`` or ``.storyboard``.

    Falls back to the storyboard's own folder. The project is where the file is *named*: a
    storyboard that is a symlink belongs to the folder of the link, not of its target (which
    :func:`link_out_of_project` then refuses if it lies outside).
    """
    folder = Path(os.path.realpath(storyboard.absolute().parent))
    for candidate in (folder, *folder.parents):
        if (candidate / ".git").exists() or (candidate / ".storyboard").exists():
            return candidate
    return folder


def real(path: Path) -> Path:
    """``path`` with every symlink followed, as far as they lead: ``Path.resolve()`` raises
    ``RuntimeError`` at a symlink loop (Python 3.11), which is then read as the missing file
    it is, and said so (``Too many levels of symbolic links``)."""
    return Path(os.path.realpath(path))
