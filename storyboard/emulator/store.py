"""The emulator's media store: uploads, rendered results and bytes registered for remote URLs.

A request names media four ways (§4): a UUID the service issued (an upload or an earlier
result), a URL, a data URI, or raw base64. :meth:`MediaStore.resolve` turns any of them into
bytes when the emulator has them. A remote ``https`` URL the emulator cannot fetch resolves to
``None`` (accepted, contents unknown) unless a test registered bytes for it with
:meth:`MediaStore.register_remote`; URLs the emulator itself served resolve to their file.
Files live in a private temporary folder; nothing is fetched from the network.
"""

from __future__ import annotations

import base64
import binascii
import re
import shutil
import threading
import uuid as uuidlib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from storyboard.emulator.wire import looks_like_uuid
from storyboard.media.probe import sniff_image, sniff_video

MediaKind = Literal["image", "video", "audio", "other"]
Origin = Literal["uuid", "url", "remote", "data-uri", "base64"]

_DATA_URI = re.compile(
    r"^data:(?P<mime>[\w.+-]+/[\w.+-]+)?(?P<params>(;[^;,]*)*),(?P<data>.*)$", re.S
)
_SHARD_DIGITS = 100


@dataclass(frozen=True)
class StoredMedia:
    """One file the emulator holds, under its UUID and the URL path that serves it."""

    uuid: str
    kind: MediaKind
    ext: str
    path: Path
    route: str
    owner: str | None = None
    expires_at: float | None = None  # time.time() after which the URL stops serving (ttl)
    nominal: tuple[int, int] | None = None  # a result's size before the render scale

    def read(self) -> bytes:
        return self.path.read_bytes()

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES.get(self.ext, "application/octet-stream")


CONTENT_TYPES = {
    "jpg": "image/jpeg",
    "png": "image/png",
    "webp": "image/webp",
    "gif": "image/gif",
    "bmp": "image/bmp",
    "mp4": "video/mp4",
    "mov": "video/quicktime",
    "webm": "video/webm",
    "mp3": "audio/mpeg",
    "wav": "audio/wav",
    "ogg": "audio/ogg",
    "flac": "audio/flac",
    "bin": "application/octet-stream",
}


@dataclass(frozen=True)
class Resolved:
    """What a media reference points at: its bytes, or ``None`` for an unknown remote URL."""

    data: bytes | None
    origin: Origin
    media: StoredMedia | None = None


def detect(data: bytes) -> tuple[MediaKind, str]:
    """The kind and file extension of a payload, from its first bytes."""
    image = sniff_image(data[:16])
    if image is not None:
        return "image", {"jpeg": "jpg"}.get(image, image)
    video = sniff_video(data[:16])
    if video is not None:
        return "video", video
    if data[:3] == b"ID3" or data[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2"):
        return "audio", "mp3"
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "audio", "wav"
    if data[:4] == b"OggS":
        return "audio", "ogg"
    if data[:4] == b"fLaC":
        return "audio", "flac"
    return "other", "bin"


def route_for(kind: MediaKind, media_uuid: str, ext: str, *, result: bool = False) -> str:
    """The URL path a stored file is served under, shaped like the service's URLs."""
    if result:
        digits = int(media_uuid.replace("-", "")[:8], 16)
        shard = f"a{digits % _SHARD_DIGITS:02d}d{(digits // _SHARD_DIGITS) % _SHARD_DIGITS:02d}"
        return f"/video/os/{shard}/ws/5/vi/{media_uuid}.{ext}"
    if kind == "image":
        return f"/image/ws/0.5/ii/{media_uuid}.{ext}"
    return f"/media/ws/5/mi/{media_uuid}.{ext}"


class MediaStore:
    """Stored media by UUID and by route, plus bytes registered for remote URLs (thread-safe)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock = threading.Lock()
        self._by_uuid: dict[str, StoredMedia] = {}
        self._by_route: dict[str, StoredMedia] = {}
        self._remote: dict[str, bytes] = {}
        root.mkdir(parents=True, exist_ok=True)

    def put(
        self,
        data: bytes,
        *,
        kind: MediaKind | None = None,
        ext: str | None = None,
        owner: str | None = None,
    ) -> StoredMedia:
        """Store ``data`` under a new UUID (kind and extension sniffed unless given)."""
        sniffed_kind, sniffed_ext = detect(data)
        media_uuid = str(uuidlib.uuid4())
        final_kind, final_ext = kind or sniffed_kind, ext or sniffed_ext
        path = self.root / "uploads" / f"{media_uuid}.{final_ext}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return self._add(
            StoredMedia(
                media_uuid,
                final_kind,
                final_ext,
                path,
                route_for(final_kind, media_uuid, final_ext),
                owner,
            )
        )

    def add_result(
        self,
        media_uuid: str,
        path: Path,
        ext: str,
        owner: str | None,
        expires_at: float | None = None,
        nominal: tuple[int, int] | None = None,
    ) -> StoredMedia:
        """Register a rendered result (already on disk) under its videoUUID.

        ``nominal`` is the size the service would have made; a scaled-down emulator's result
        used as an input later is checked at that size, as the real one would be.
        """
        route = route_for("video", media_uuid, ext, result=True)
        media = StoredMedia(media_uuid, "video", ext, path, route, owner, expires_at, nominal)
        return self._add(media)

    def _add(self, media: StoredMedia) -> StoredMedia:
        with self._lock:
            self._by_uuid[media.uuid] = media
            self._by_route[media.route] = media
        return media

    def get(self, media_uuid: str) -> StoredMedia | None:
        with self._lock:
            return self._by_uuid.get(media_uuid.lower())

    def by_route(self, route: str) -> StoredMedia | None:
        with self._lock:
            return self._by_route.get(route)

    def delete(self, media_uuid: str) -> StoredMedia | None:
        """Forget a stored file; the UUID stops resolving and its URL stops serving."""
        with self._lock:
            media = self._by_uuid.pop(media_uuid.lower(), None)
            if media is not None:
                self._by_route.pop(media.route, None)
            return media

    def register_remote(self, url: str, data: bytes) -> None:
        """Make the remote ``url`` resolve to ``data`` (the emulator never fetches URLs)."""
        with self._lock:
            self._remote[url] = data

    def clear(self) -> None:
        """Forget everything (files of uploads are deleted; rendered results are kept)."""
        with self._lock:
            self._by_uuid.clear()
            self._by_route.clear()
            self._remote.clear()
        shutil.rmtree(self.root / "uploads", ignore_errors=True)

    def resolve(self, ref: str, *, inline: bool = True) -> Resolved:
        """The bytes behind a media reference.

        Args:
            ref: a UUID, an ``http(s)`` URL, a data URI, or base64.
            inline: whether data URIs and base64 are allowed (not for videos on this model).

        Raises:
            ValueError: with a message saying what is wrong with ``ref``.
        """
        ref = ref.strip()
        if looks_like_uuid(ref):
            media = self.get(ref)
            if media is None:
                raise ValueError(f"no uploaded media or earlier result has the UUID {ref}")
            return Resolved(media.read(), "uuid", media)
        if ref.startswith(("http://", "https://")):
            return self._resolve_url(ref)
        if not inline:
            raise ValueError("must be a UUID or an http(s) URL")
        if ref.startswith("data:"):
            return Resolved(_decode_data_uri(ref), "data-uri")
        if re.match(r"^[a-z][a-z0-9+.-]*:", ref, re.I):
            raise ValueError("only http(s) URLs are accepted")
        try:
            data = base64.b64decode(ref, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("is neither a UUID, a URL, a data URI nor base64") from None
        if len(data) < 8:
            raise ValueError("is too short to be base64-encoded media")
        return Resolved(data, "base64")

    def _resolve_url(self, url: str) -> Resolved:
        with self._lock:
            registered = self._remote.get(url)
        if registered is not None:
            return Resolved(registered, "remote")
        parts = urlsplit(url)
        if not parts.netloc:
            raise ValueError("is not a valid URL")
        media = self.by_route(parts.path)
        if media is not None:
            return Resolved(media.read(), "url", media)
        return Resolved(None, "remote")


def _decode_data_uri(ref: str) -> bytes:
    # RFC 2397: data:[<mediatype>][;base64],<data>: ";base64" is the last parameter, whole
    # (not ";base64x", nor ";base64;charset=x")
    match = _DATA_URI.match(ref)
    if match is None or not (match.group("params") or "").endswith(";base64"):
        raise ValueError("is not a base64 data URI (data:<mime>;base64,<data>)")
    try:
        return base64.b64decode(match.group("data"), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("holds invalid base64") from None
