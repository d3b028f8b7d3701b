"""What a source string in a storyboard names: a frame of a shot, a shot, or media.

``start``, ``end``, ``edit``, ``references``, ``reference_videos``, element images and the
music bed all take strings; :func:`classify` turns one into a :class:`FrameRef`,
:class:`ShotRef` or :class:`MediaRef` and says what is wrong with it, without touching the
network. Local files are resolved relative to the file that names them and must stay in the
project folder; URLs must be ``https://`` (or ``http://`` to this machine, for the emulator).
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Collection
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from msgspec import Struct

from storyboard.core.diagnostics import did_you_mean, unprintable

FRAME_REF = re.compile(
    r"^(?P<shot>[a-z0-9][a-z0-9_-]*)(?:\.(?P<which>first|last)|@(?P<time>\d+(?:\.\d+)?)s)$"
)
NEAR_FRAME_REF = re.compile(r"^(?P<shot>[a-z0-9][a-z0-9_-]*)[.@](?P<rest>[^/\\]*)$")
_SUFFIXES = frozenset(
    {"jpg", "jpeg", "png", "mp4", "mov", "mp3", "wav", "m4a", "aac", "ogg", "flac"}
)
UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
SHOT_ID = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
# RFC 2397: data:[TYPE/SUBTYPE][;ATTRIBUTE=VALUE]*;base64,DATA. A media type is
# case-insensitive (RFC 2045 §5.1: image/JPEG is image/jpeg) and a parameter's value may hold
# capitals, dots and the like (;charset=UTF-8, ;name=frame.png): the emulator takes them.
DATA_URI = re.compile(
    r"^data:(?P<mime>[A-Za-z0-9][A-Za-z0-9_.+-]*/[A-Za-z0-9][A-Za-z0-9_.+-]*)?"
    r"(?:;[A-Za-z0-9_.+-]+(?:=[^;,\s]*)?)*;base64,[A-Za-z0-9+/=\s]+$"
)

MediaKind = Literal["image", "video", "audio", "font"]
EXTENSIONS: dict[MediaKind, frozenset[str]] = {
    # Kling takes jpg/jpeg/png images and mp4/mov videos (reference §3.5, §6).
    "image": frozenset({".jpg", ".jpeg", ".png"}),
    "video": frozenset({".mp4", ".mov"}),
    "audio": frozenset({".mp3", ".wav", ".m4a", ".aac", ".ogg", ".flac"}),
    # the cut's text: drawn on this machine, never sent
    "font": frozenset({".ttf", ".otf"}),
}


class FrameRef(Struct, frozen=True):
    """A frame of another shot: its first, its last, or the one shown at ``time`` seconds."""

    shot: str
    which: Literal["first", "last", "time"]
    time: float | None = None

    def __str__(self) -> str:
        return (
            f"{self.shot}@{self.time:g}s" if self.which == "time" else f"{self.shot}.{self.which}"
        )


class ShotRef(Struct, frozen=True):
    """The whole generated video of another shot (for ``edit`` and ``reference_videos``)."""

    shot: str


class MediaRef(Struct, frozen=True):
    """Media given directly: a local ``file`` (absolute path), a ``url``, a provider ``uuid``
    or a ``data`` URI."""

    kind: Literal["file", "url", "uuid", "data"]
    value: str
    path: Path | None = None


Source = FrameRef | ShotRef | MediaRef


class SourceProblem(Exception):
    """A source string that names nothing usable; the message is for the writer."""


def classify(
    text: str,
    *,
    media: MediaKind,
    base: Path,
    project_root: Path,
    shots: Collection[str],
    frames: bool = False,
    shot_refs: bool = False,
) -> Source:
    """Say what ``text`` names.

    Args:
        text: the string as written.
        media: the kind of media the field takes.
        base: the folder relative paths start from (the folder of the file naming it).
        project_root: the folder no local file may leave.
        shots: every shot id of the storyboard.
        frames: whether frame references (``SHOT.last``, ``SHOT@2s``) are allowed here.
        shot_refs: whether a bare shot id (its whole video) is allowed here.

    Raises:
        SourceProblem: the string names nothing usable here.
    """
    match = FRAME_REF.match(text)
    if match and (frames or match.group("shot") in shots):
        shot = match.group("shot")
        if not frames:
            raise SourceProblem(f"'{text}' is a frame reference; this field takes media")
        if shot not in shots:
            raise SourceProblem(f"unknown shot '{shot}' in '{text}'{did_you_mean(shot, shots)}")
        if match.group("which"):
            return FrameRef(shot, "first" if match.group("which") == "first" else "last")
        return FrameRef(shot, "time", float(match.group("time")))
    if shot_refs and text in shots:
        return ShotRef(text)
    near = NEAR_FRAME_REF.match(text)
    if frames and near and near.group("shot") in shots and near.group("rest") not in _SUFFIXES:
        shot = near.group("shot")
        raise SourceProblem(
            f"'{text}' is not a frame reference: write {shot}.first, {shot}.last or {shot}@2.5s"
        )
    lowered = text.lower()
    if lowered.startswith("data:"):
        found = DATA_URI.match(text)
        if not found:
            raise SourceProblem("malformed data: URI (expected data:MIME;base64,...)")
        mime = (found.group("mime") or "").split("/")[0].lower()
        if mime and mime != media:
            raise SourceProblem(
                f"data: URI holds {found.group('mime')}; this field takes {_a(media)}"
            )
        if not _is_base64(text.partition(",")[2]):
            # the service decodes it (an element's voice too, which nothing else reads here)
            raise SourceProblem("the data: URI is not valid base64")
        return MediaRef("data", text)
    if "://" in text:
        _check_url(text)
        return MediaRef("url", text)
    if UUID.match(text):
        return MediaRef("uuid", text.lower())
    if shot_refs and SHOT_ID.match(text) and "." not in text:
        hint = did_you_mean(text, shots)
        if hint or not _exists(base / text):
            raise SourceProblem(f"unknown shot '{text}'{hint}")
    return MediaRef("file", text, _local_file(text, media, base, project_root))


def _is_base64(payload: str) -> bool:
    """Whether ``payload`` decodes as base64 once its whitespace is gone (the compiler sends
    it without: see :meth:`storyboard.compiler.compile._Compiler.ref`)."""
    import base64
    import binascii

    try:
        base64.b64decode("".join(payload.split()), validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


def check_url(text: str) -> None:
    """Raise :class:`SourceProblem` unless ``text`` is an https URL or http to loopback."""
    _check_url(text)


def _check_url(text: str) -> None:
    try:
        parts = urlsplit(text)
        host = parts.hostname
    except ValueError as exc:  # a malformed IPv6 host or port
        raise SourceProblem(f"malformed URL '{text}': {exc}") from exc
    scheme = parts.scheme.lower()
    if scheme in ("http", "https") and not host:
        raise SourceProblem(f"URL '{text}' names no host")
    if scheme == "https":
        return
    if scheme == "http" and host:
        if _is_loopback(host):
            return
        raise SourceProblem(
            f"'{text}' is plain http to another machine; use https:// "
            "(http:// is allowed only to this machine, for the emulator)"
        )
    raise SourceProblem(f"unsupported URL '{text}': only https:// URLs are allowed")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _local_file(text: str, media: MediaKind, base: Path, project_root: Path) -> Path:
    if "\x00" in text:
        raise SourceProblem("file name holds a NUL character")
    bad = unprintable(text)
    if bad is not None:  # it would be printed (storyboard deps) and written (depfiles)
        raise SourceProblem(f"file name holds {bad}")
    path = Path(text)
    if path.is_absolute():
        raise SourceProblem(
            f"absolute path '{text}': name files relative to the storyboard, inside the project"
        )
    full = (base / path).absolute()
    try:
        resolved = full.resolve()
    except (OSError, RuntimeError) as exc:  # symlink loops
        raise SourceProblem(f"cannot resolve '{text}': {exc}") from exc
    root = project_root.resolve()
    if not resolved.is_relative_to(root):
        if Path(os.path.normpath(full)).is_relative_to(root):
            raise SourceProblem(f"'{text}' is a link to a file outside the project folder {root}")
        raise SourceProblem(f"'{text}' is outside the project folder {root}")
    suffix = path.suffix.lower()
    if suffix not in EXTENSIONS[media]:
        allowed = ", ".join(sorted(EXTENSIONS[media]))
        raise SourceProblem(f"'{text}' is not {_a(media)} file (expected {allowed})")
    try:
        found = resolved.is_file()
    except OSError as exc:  # a name too long for the file system, and the like
        raise SourceProblem(f"cannot read '{text}': {exc.strerror or exc}") from exc
    if not found:
        raise SourceProblem(f"file '{text}' not found")
    return full


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except OSError:  # a name too long for the file system, and the like: nothing there
        return False


def _a(kind: str) -> str:
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"
