"""Where a backend's results belong: its namespace in the cache, the lock and the journal.

Each backend names its own namespace (:attr:`storyboard.backends.base.Backend.namespace`)
from here, and the factory prices a plan by it, so results made by one server never stand in
for another's: a free preview is not a paid take, and an emulator's result is not Runware's.
"""

from __future__ import annotations

import os
import re
from urllib.parse import urlsplit

from storyboard.core.errors import InputError

NAMESPACE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@:\[\]-]{0,199}")
"""What a namespace may be (``runware``, ``preview@0.25``, ``runware@[::1]:8787``): it names a
folder of the cache, so never a path (no slash or backslash, no ``..`` alone, no NUL). A
lock entry or a remote's record naming another is refused."""

#: Where the Runware client sends requests when ``RUNWARE_BASE_URL`` is not set.
RUNWARE_URL = "https://api.runware.ai/v1"


def namespace(name: str, *, preview_scale: float = 1.0, base_url: str | None = None) -> str:
    """The namespace of a concrete backend's results in the cache, lock and journal.

    ``preview`` at full size, ``preview@0.25`` at a quarter of it; ``runware`` for the
    service itself and ``runware@HOST:PORT`` for any other server (the emulator, a proxy),
    whose results must never be taken for the service's.
    """
    if name == "preview":
        return "preview" if preview_scale == 1 else f"preview@{preview_scale:g}"
    url = (base_url or os.environ.get("RUNWARE_BASE_URL") or RUNWARE_URL).strip().rstrip("/")
    if url == RUNWARE_URL:
        return "runware"
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:  # a port out of range, an unclosed "[" of an IPv6 address
        raise _bad_base_url(f"{exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _bad_base_url("it needs http:// or https:// and a host")
    # the host alone: never the URL's text, whose query or userinfo may be a secret (it
    # names the journal's records, the cache's folders and the build's output folder)
    return f"runware@{parts.hostname}:{port}"


def _bad_base_url(why: str) -> InputError:
    """RUNWARE_BASE_URL (or the base URL given) is no server's address: said before anything
    is planned, written or sent (exit 2), not after six attempts to connect, or as a crash.
    The URL is not repeated: its query or userinfo may be a key."""
    return InputError.at(None, f"RUNWARE_BASE_URL is not a server's URL: {why}")


def endpoint_form(url: str) -> str:
    """What two endpoints of a journal are compared by: the URL with its scheme and host in
    lower case, the default port written out and no trailing ``/``. ``http://Host/v1/`` and
    ``http://host:80/v1`` are one endpoint (a task sent to one is resumed at the other);
    ``/v1`` and ``/v2`` are two; who logs in (``user:secret@``, redacted or not) is not part
    of it. A text that is no URL is compared as it is."""
    bare = re.sub(r"^([A-Za-z][A-Za-z0-9+.-]*://)[^/?#]*@", r"\1", url.strip())
    try:
        parts = urlsplit(bare)
    except ValueError:  # not a URL urlsplit reads (a bracket that is no IPv6 address...)
        return url
    if not parts.scheme or not parts.netloc:
        return url
    scheme = parts.scheme.lower()
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        return url
    return f"{scheme}://{parts.hostname or ''}:{port}{parts.path.rstrip('/')}"
