"""Pick a backend by name: ``preview`` (offline, free) or ``runware`` (the service).

``auto`` is ``runware`` when ``RUNWARE_API_KEY`` is set, else ``preview``.
"""

from __future__ import annotations

import os

from storyboard.backends.base import Backend
from storyboard.errors import InputError

NAMES = ("auto", "preview", "runware")


def resolve_name(name: str) -> str:
    """``auto`` made concrete from the environment."""
    if name == "auto":
        return "runware" if os.environ.get("RUNWARE_API_KEY") else "preview"
    if name not in NAMES:
        raise InputError.at(None, f"unknown backend '{name}' (choose from {', '.join(NAMES)})")
    return name


def make_backend(name: str, *, preview_scale: float = 1.0) -> Backend:
    """A ready backend. The Runware key is read from the environment only."""
    concrete = resolve_name(name)
    if concrete == "preview":
        from storyboard.backends.preview import PreviewBackend

        return PreviewBackend(scale=preview_scale)
    from storyboard.backends.runware.backend import RunwareBackend

    return RunwareBackend.from_environment()
