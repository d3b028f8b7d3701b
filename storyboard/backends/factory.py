"""Pick a backend by name: ``preview`` (offline, free) or ``runware`` (the service).

``auto`` is ``runware`` when ``RUNWARE_API_KEY`` is set, else ``preview``.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from storyboard.backends.base import Backend
from storyboard.backends.namespaces import RUNWARE_URL, namespace
from storyboard.core.errors import InputError

if TYPE_CHECKING:  # (the compiler, imported where a price is asked: a no-op build asks none)
    from storyboard.compiler.plan import Pricing

NAMES = ("auto", "preview", "runware")
#: The preview scale of ``storyboard build`` when ``--preview-scale`` is not given.
DEFAULT_PREVIEW_SCALE = 0.25


def pricing(name: str, *, preview_scale: float = 1.0, base_url: str | None = None) -> Pricing:
    """Whose prices and money a plan for backend ``name`` counts (``auto`` made concrete);
    the URL comes from ``RUNWARE_BASE_URL`` as the client reads it, redacted."""
    from storyboard.backends.runware.redact import redact_url
    from storyboard.compiler.plan import Pricing

    concrete = resolve_name(name)
    space = namespace(concrete, preview_scale=preview_scale, base_url=base_url)
    if concrete == "preview":
        return Pricing("preview", space, "", paid=False, real_money=False)
    from storyboard.core import settings

    settings.check(settings.RUNWARE)  # what a build would refuse, a plan says
    url = (base_url or os.environ.get("RUNWARE_BASE_URL") or RUNWARE_URL).strip()
    return Pricing("runware", space, redact_url(url), paid=True, real_money=space == "runware")


def pricing_of(backend: Backend) -> Pricing:
    """:func:`pricing` of a backend made already."""
    from storyboard.compiler.plan import Pricing

    real = backend.paid and backend.name == "runware" and backend.namespace == "runware"
    return Pricing(backend.name, backend.namespace, backend.endpoint, backend.paid, real)


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

    if not os.environ.get("RUNWARE_API_KEY"):  # a usage error: nothing was tried
        raise InputError.at(
            None,
            "--backend runware needs a Runware API key: set RUNWARE_API_KEY in the environment",
        )
    return RunwareBackend.from_environment()
