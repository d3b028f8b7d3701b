"""Fetching a finished video: streamed to disk, capped in size, checked to be a video.

The bytes go to a temporary file beside the destination and are hashed on the way; only
a complete file that starts like a video container (MP4/MOV ``ftyp`` box, WEBM/Matroska
EBML header) is renamed into place, so a crash, a cap or a bad answer never leaves a
partial or bogus file under the final name. The request carries no API key: result URLs
live on another host. Only ``https://`` URLs are fetched (``http://`` only to this
machine, for the emulator), redirects included: a result URL, a tampered lock file or a
redirect never makes the build read a local file or a machine of the inner network.
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import os
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlsplit

import httpx

from storyboard.backends.runware.errors import (
    RETRYABLE_STATUSES,
    RunwareConnectionError,
    RunwareDownloadError,
    RunwareTimeoutError,
)
from storyboard.backends.runware.media import video_container

__all__ = ["DEFAULT_MAX_BYTES", "Download", "fetch_video"]

#: Refuse results larger than this (a 15 s 1080p clip is tens of megabytes).
DEFAULT_MAX_BYTES = 1 << 30
#: Redirects a download follows at most.
MAX_REDIRECTS = 5
_HEAD = 16


@dataclass(frozen=True)
class Download:
    """A downloaded video.

    Attributes:
        path: where it was written.
        sha256: hex digest of its bytes.
        size: its size in bytes.
        container: ``"mp4"``, ``"mov"`` or ``"webm"``, from its first bytes.
    """

    path: Path
    sha256: str
    size: int
    container: str


async def fetch_video(
    http: httpx.AsyncClient, url: str, dest: Path, *, max_bytes: int = DEFAULT_MAX_BYTES
) -> Download:
    """Download ``url`` to ``dest`` (temp file + rename), at most ``max_bytes``.

    Raises:
        RunwareDownloadError: bad status (``retryable`` for 408/429/5xx), too large, not
            a video, or the local disk could not take it; nothing is left on disk.
        RunwareTimeoutError, RunwareConnectionError: the transfer failed (retryable).
    """
    _check_url(url)
    dest = Path(dest)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    except OSError as exc:
        raise _cannot_save(url, dest, exc) from exc
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as out:
            digest, size, head = await _stream(http, url, out, max_bytes)
        container = video_container(head)
        if container is None:
            raise RunwareDownloadError(
                f"{url} is not a video: it starts with {head[:12]!r}, neither an MP4/MOV "
                "ftyp box nor a WEBM/Matroska EBML header"
            )
        os.replace(tmp, dest)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        if isinstance(exc, OSError):  # the local disk (the network's errors are typed)
            raise _cannot_save(url, dest, exc) from exc
        raise
    return Download(dest, digest, size, container)


def _cannot_save(url: str, dest: Path, exc: OSError) -> RunwareDownloadError:
    """A download the local disk could not take (full, read-only): not the service's fault."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    return RunwareDownloadError(f"cannot save the download of {url} in {dest.parent}: {reason}")


async def _stream(
    http: httpx.AsyncClient, url: str, out: BinaryIO, max_bytes: int
) -> tuple[str, int, bytes]:
    """Write the body to ``out``; return its sha256, size and first bytes."""
    hasher = hashlib.sha256()
    size = 0
    head = b""
    try:
        async with _get(http, url) as response:
            status = response.status_code
            if status != 200:
                raise RunwareDownloadError(
                    f"download of {url} failed: HTTP {status}",
                    status_code=status,
                    retryable=status in RETRYABLE_STATUSES,
                )
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise _too_large(url, int(declared), max_bytes)
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise _too_large(url, size, max_bytes)
                if len(head) < _HEAD:
                    head += chunk[: _HEAD - len(head)]
                hasher.update(chunk)
                out.write(chunk)
    except httpx.TimeoutException as exc:
        raise RunwareTimeoutError(f"download of {url} timed out") from exc
    except httpx.RequestError as exc:
        raise RunwareConnectionError(
            f"download of {url} failed: {type(exc).__name__}: {exc}"
        ) from exc
    return hasher.hexdigest(), size, head


@contextlib.asynccontextmanager
async def _get(http: httpx.AsyncClient, url: str) -> AsyncIterator[httpx.Response]:
    """GET ``url``, following at most :data:`MAX_REDIRECTS` redirects, each to a URL
    :func:`_check_url` allows (a redirect must not reach a file or an inner machine)."""
    for _ in range(MAX_REDIRECTS + 1):
        async with http.stream("GET", url, follow_redirects=False) as response:
            location = response.headers.get("location")
            if not (response.is_redirect and location):
                yield response
                return
            url = str(response.url.join(location))
        _check_url(url)
    raise RunwareDownloadError(f"download refused: more than {MAX_REDIRECTS} redirects")


def _check_url(url: str) -> None:
    """Refuse anything but ``https://``, or ``http://`` to this machine (the emulator)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        host, parts = None, None
    scheme = parts.scheme.lower() if parts else ""
    if host and (scheme == "https" or (scheme == "http" and _is_loopback(host))):
        return
    raise RunwareDownloadError(
        f"refusing to download {url!r}: only https:// URLs (or http:// to this machine) are fetched"
    )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _too_large(url: str, size: int, cap: int) -> RunwareDownloadError:
    return RunwareDownloadError(
        f"download of {url} refused: {size} bytes or more, over the cap of {cap} bytes"
    )
