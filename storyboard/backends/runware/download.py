"""Fetching a finished video: streamed to disk, capped in size, checked to be a video.

The bytes go to a temporary file beside the destination and are hashed on the way; only
a complete file that starts like a video container (MP4/MOV ``ftyp`` box, WEBM/Matroska
EBML header) is renamed into place, so a crash, a cap or a bad answer never leaves a
partial or bogus file under the final name. The request carries no API key: result URLs
live on another host.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

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
        RunwareDownloadError: bad status (``retryable`` for 408/429/5xx), too large, or
            not a video; nothing is left on disk.
        RunwareTimeoutError, RunwareConnectionError: the transfer failed (retryable).
    """
    if not url.startswith(("https://", "http://")):
        raise RunwareDownloadError(f"refusing to download {url!r}: not an http(s) URL")
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
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
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    return Download(dest, digest, size, container)


async def _stream(
    http: httpx.AsyncClient, url: str, out: BinaryIO, max_bytes: int
) -> tuple[str, int, bytes]:
    """Write the body to ``out``; return its sha256, size and first bytes."""
    hasher = hashlib.sha256()
    size = 0
    head = b""
    try:
        async with http.stream("GET", url, follow_redirects=True) as response:
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


def _too_large(url: str, size: int, cap: int) -> RunwareDownloadError:
    return RunwareDownloadError(
        f"download of {url} refused: {size} bytes or more, over the cap of {cap} bytes"
    )
