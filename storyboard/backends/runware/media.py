"""Local media: content sniffing, data URIs, and finding local files inside a request.

Pure helpers, no network. The client uses them to upload a request's local inputs
(:meth:`RunwareClient.upload_inputs <storyboard.backends.runware.client.RunwareClient>`)
and to check that a download really is a video. Which request values are local files is
the caller's knowledge, given as a mapping ``{json path: Path}`` or a callback; this module
only walks and rewrites the JSON.

A JSON path is a tuple of keys and indexes, ``("inputs", "frameImages", 0, "image")``, or the
same written as text, ``"inputs.frameImages[0].image"``.
"""

from __future__ import annotations

import base64
import copy
import mimetypes
import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

__all__ = [
    "FileSpec",
    "JsonPath",
    "data_uri",
    "find_local_files",
    "format_path",
    "guess_mime",
    "parse_path",
    "replace_values",
    "video_container",
]

JsonPath = tuple[str | int, ...]
#: Which values of a request are local files: ``{path: file}`` or ``f(path, value) -> file``.
FileSpec = Mapping[JsonPath | str, Path] | Callable[[JsonPath, Any], Path | None]

_STEP = re.compile(r"\.?([^.\[\]]+)|\[(\d+)\]")

# (offset, signature, mime) for the formats the model takes; checked before the extension.
_SIGNATURES: tuple[tuple[int, bytes, str], ...] = (
    (0, b"\xff\xd8\xff", "image/jpeg"),
    (0, b"\x89PNG\r\n\x1a\n", "image/png"),
    (0, b"GIF87a", "image/gif"),
    (0, b"GIF89a", "image/gif"),
    (0, b"BM", "image/bmp"),
    (0, b"\x1a\x45\xdf\xa3", "video/webm"),
    (0, b"ID3", "audio/mpeg"),
    (0, b"OggS", "audio/ogg"),
    (0, b"fLaC", "audio/flac"),
)
_RIFF = {b"WEBP": "image/webp", b"WAVE": "audio/wav", b"AVI ": "video/x-msvideo"}
# Top-level atoms an old QuickTime file may start with instead of ``ftyp``.
_QUICKTIME_ATOMS = frozenset({b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"})


def parse_path(path: JsonPath | str) -> JsonPath:
    """``"inputs.frameImages[0].image"`` -> ``("inputs", "frameImages", 0, "image")``."""
    if isinstance(path, tuple):
        return path
    steps: list[str | int] = []
    position = 0
    for match in _STEP.finditer(path):
        if match.start() != position:
            break
        key, index = match.groups()
        steps.append(int(index) if index is not None else key)
        position = match.end()
    if position != len(path) or not steps:
        raise ValueError(f"not a JSON path: {path!r}")
    return tuple(steps)


def format_path(path: JsonPath) -> str:
    """``("inputs", "frameImages", 0, "image")`` -> ``"inputs.frameImages[0].image"``."""
    text = ""
    for step in path:
        text += f"[{step}]" if isinstance(step, int) else (f".{step}" if text else step)
    return text


def find_local_files(request: Mapping[str, Any], files: FileSpec) -> dict[JsonPath, Path]:
    """The local files of ``request``, by JSON path.

    Args:
        request: the request as JSON (dicts, lists, scalars).
        files: a mapping ``{path: file}`` (each path must exist in the request), or a
            callback called with every scalar leaf's path and value, returning the file that
            value stands for or ``None``.

    Raises:
        KeyError: a path of the mapping is not in the request.
    """
    if callable(files):
        found: dict[JsonPath, Path] = {}
        for path, value in _leaves(request, ()):
            local = files(path, value)
            if local is not None:
                found[path] = Path(local)
        return found
    result: dict[JsonPath, Path] = {}
    for key, local in files.items():
        path = parse_path(key)
        _get(request, path)  # raises KeyError when the path is not there
        result[path] = Path(local)
    return result


def replace_values(request: Mapping[str, Any], values: Mapping[JsonPath, Any]) -> dict[str, Any]:
    """A deep copy of ``request`` with the value at each path replaced."""
    result: dict[str, Any] = copy.deepcopy(dict(request))
    for path, value in values.items():
        parent = _get(result, path[:-1])
        parent[path[-1]] = value
    return result


def data_uri(data: bytes, mime: str) -> str:
    """``data:<mime>;base64,<data>``."""
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def guess_mime(data: bytes, name: str | None = None) -> str:
    """The media type of ``data``: its signature first, then the file name's extension."""
    for offset, signature, mime in _SIGNATURES:
        if data[offset : offset + len(signature)] == signature:
            return mime
    if data[:4] == b"RIFF" and data[8:12] in _RIFF:
        return _RIFF[data[8:12]]
    if data[4:8] == b"ftyp":
        brand = data[8:12]
        if brand == b"qt  ":
            return "video/quicktime"
        if brand in (b"M4A ", b"M4B "):
            return "audio/mp4"
        return "video/mp4"
    if len(data) >= 2 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0:
        return "audio/mpeg"  # MPEG audio frame sync
    if name:
        guessed, _ = mimetypes.guess_type(name)
        if guessed:
            return guessed
    return "application/octet-stream"


def video_container(head: bytes) -> str | None:
    """``"mp4"``, ``"mov"`` or ``"webm"`` when ``head`` starts a video container, else None.

    MP4 and MOV files start with a box whose type sits at byte 4 (``ftyp``, or ``moov``,
    ``mdat``, ``wide``... in old QuickTime files); WEBM and Matroska start with the EBML
    magic ``1A 45 DF A3``.
    """
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "webm"
    if len(head) >= 8 and head[4:8] == b"ftyp":
        return "mov" if head[8:12] == b"qt  " else "mp4"
    if len(head) >= 8 and head[4:8] in _QUICKTIME_ATOMS:
        return "mov"
    return None


def _leaves(value: Any, path: JsonPath) -> Iterator[tuple[JsonPath, Any]]:
    if isinstance(value, Mapping):
        for key, child in value.items():
            yield from _leaves(child, (*path, key))
    elif isinstance(value, list | tuple):
        for index, child in enumerate(value):
            yield from _leaves(child, (*path, index))
    else:
        yield path, value


def _get(value: Any, path: JsonPath) -> Any:
    for step in path:
        try:
            value = value[step]
        except (KeyError, IndexError, TypeError):
            raise KeyError(f"{format_path(path)} is not in the request") from None
    return value
