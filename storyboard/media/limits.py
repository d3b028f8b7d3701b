"""Whether a local image or video meets the model's limits for an input (see the profile),
and what else ``check`` needs to know of local media before anything is sent.

The compiler asks this of every local file a request sends as a frame, reference or element
image, or as the video to edit or refer to, so a file the provider would refuse is reported
at its place in the storyboard before anything is sent. Only headers are read (Pillow for
images; PyAV for videos, which counts the packets but decodes nothing), and each file is read
once per process for as long as its size and modification time stay the same.

The same headers answer the cut's questions before the takes are paid for: the length of a
local video to edit (:func:`video_seconds`: the edit's result takes it), the size of an image
(:func:`image_size`, for the aspect warnings) and whether the music bed is sound the cut can
decode (:func:`audio_problem`: its first audio frame is decoded, as the cut opens it).

Input images are judged by the size the service will see: ``imageUpload`` keeps the longer
side at most :data:`MAX_UPLOAD_SIDE` px (:func:`upload_size`; the emulator shrinks with it).
An element's video is held to no size or length limit, only to being a video
(:func:`element_video_problem`).
"""

from __future__ import annotations

import base64
import binascii
import functools
import io
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from storyboard.profiles.base import ModelProfile

# Pillow and PyAV are imported where a file is read: ``check`` of a storyboard without local
# media (most of them) must not pay for importing them.


def image_problem(path: Path, profile: ModelProfile) -> str | None:
    """What makes the image at ``path`` unfit as an input image, or None."""
    found = _header(path, "images", profile.max_image_bytes, _image_header)
    if isinstance(found, str):
        return found
    return picture_problem(f"'{path.name}' is", *found, profile)


def picture_problem(
    name: str, fmt: str, width: int, height: int, profile: ModelProfile
) -> str | None:
    """What makes an image of format ``fmt`` and that size unfit as an input image, or
    None; ``name`` begins the message (``'a.png' is``: a file; a ``data:`` URI's own words)."""
    # Pillow calls a JPEG that carries a multi-picture index (many cameras and phones write
    # one) "MPO"; it is a JPEG file, and is read, uploaded and sent as one.
    fmt = "JPEG" if fmt == "MPO" else fmt
    if fmt not in profile.image_formats:
        allowed = " or ".join(profile.image_formats)
        return f"{name} a {fmt} image; the model takes {allowed}"
    side = profile.min_image_side
    if min(width, height) < side:
        return f"{name} {width}x{height}; the model needs at least {side} px on each side"
    low, high = profile.min_image_aspect, profile.max_image_aspect
    takes = f"the model takes images from 1:{1 / low:g} to {high:g}:1"
    if not low <= width / height <= high:
        return f"{name} {width}x{height}; {takes}"
    # The model sees the image as uploaded: shrunk to MAX_UPLOAD_SIDE, whose rounding can push
    # an aspect at the limit (2500x1000 -> 2048x819, 2.5006:1) past it.
    for w, h in _upload_sizes(width, height):
        if min(w, h) < side or not low <= w / h <= high:
            return (
                f"{name} {width}x{height}, which the upload shrinks to about {w}x{h} "
                f"({max(w / h, h / w):.4f}:1 on its longer side); {takes}: crop it a little, "
                f"or save it at most {MAX_UPLOAD_SIDE} px on its longer side"
            )
    return None


def data_image_problem(uri: str, profile: ModelProfile) -> str | None:
    """What makes the image in a ``data:`` URI unfit as an input image, or None: the checks
    :func:`storyboard.media.limits.image_problem` makes of a local file. The payload's size
    is known from its length: one over the model's limit is refused before it is decoded."""
    payload = "".join(uri.partition(",")[2].split())
    size = len(payload) * 3 // 4 - len(payload) + len(payload.rstrip("="))
    if size > profile.max_image_bytes:
        return (
            f"the data: URI holds {_mb(size)}; the model takes images of at most "
            f"{_mb(profile.max_image_bytes)}"
        )
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        return "the data: URI is not valid base64"
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            fmt, width, height = str(image.format), int(image.width), int(image.height)
    except (UnidentifiedImageError, OSError, ValueError):
        return "the data: URI does not hold a readable image"
    except Image.DecompressionBombError:
        return "the data: URI holds too large an image to read"
    return picture_problem("the data: URI holds", fmt, width, height, profile)


MAX_UPLOAD_SIDE = 2048
"""The longest side of an uploaded image (protocol §4.1: ``imageUpload`` stores larger images
scaled down to it, keeping the aspect)."""


def upload_size(width: int, height: int) -> tuple[int, int]:
    """The size ``imageUpload`` stores an image of ``width`` x ``height`` at: unchanged when
    its longer side is at most :data:`MAX_UPLOAD_SIDE`, else that side becomes
    MAX_UPLOAD_SIDE and the other is the whole number (floor or ceiling, at least 1) whose
    aspect is nearest the original's: Pillow's ``thumbnail`` rounding, which the emulator
    uses (:mod:`storyboard.emulator.uploads`)."""
    if max(width, height) <= MAX_UPLOAD_SIDE:
        return width, height
    aspect = width / height
    if width >= height:
        short = _nearest(MAX_UPLOAD_SIDE / aspect, lambda n: abs(aspect - MAX_UPLOAD_SIDE / n))
        return MAX_UPLOAD_SIDE, short
    short = _nearest(MAX_UPLOAD_SIDE * aspect, lambda n: abs(aspect - n / MAX_UPLOAD_SIDE))
    return short, MAX_UPLOAD_SIDE


def _nearest(exact: float, error: Callable[[int], float]) -> int:
    return max(min(math.floor(exact), math.ceil(exact), key=error), 1)


def _upload_sizes(width: int, height: int) -> list[tuple[int, int]]:
    """Every size the upload may store the image at. The protocol (§4.1) says only "longer
    side <= 2048 px, aspect kept", not how the shorter side is rounded: the emulator rounds
    to the nearest aspect (:func:`upload_size`), and the service might floor or round it
    instead. So, as a margin, both whole numbers around the exact shorter side count."""
    if max(width, height) <= MAX_UPLOAD_SIDE:
        return [(width, height)]
    long_side, exact = MAX_UPLOAD_SIDE, MAX_UPLOAD_SIDE * min(width, height) / max(width, height)
    shorts = sorted({max(math.floor(exact), 1), max(math.ceil(exact), 1)})
    nearest = upload_size(width, height)
    sizes = [(long_side, s) if width >= height else (s, long_side) for s in shorts]
    return [nearest] + [size for size in sizes if size != nearest]


def video_problem(path: Path, profile: ModelProfile) -> str | None:
    """What makes the video at ``path`` unfit as an input video (edit source, reference
    video), or None."""
    found = _header(path, "videos", profile.max_video_bytes, _video_header)
    if isinstance(found, str):
        return found
    container = _container(path)
    if container not in profile.video_formats:
        allowed = " or ".join(f.upper() for f in profile.video_formats)
        what = f"a {container.upper()} video" if container else "in no container the model reads"
        return f"'{path.name}' is {what}; the model takes {allowed} videos"
    seconds, width, height, fps = found
    low, high = profile.min_edit_source, profile.max_edit_source
    if not low <= seconds <= high:
        return f"'{path.name}' lasts {seconds:.2f} s; the model takes videos of {low}..{high} s"
    short = min(width, height)
    if not profile.min_video_side <= short <= profile.max_video_side:
        return (
            f"'{path.name}' is {width}x{height}; the model takes videos of "
            f"{profile.min_video_side}..{profile.max_video_side} px on the shorter side"
        )
    if not profile.min_video_fps <= round(fps) <= profile.max_video_fps:
        return (
            f"'{path.name}' runs at {fps:g} fps; the model takes "
            f"{profile.min_video_fps}..{profile.max_video_fps} fps"
        )
    return None


def video_size(path: Path, profile: ModelProfile) -> tuple[int, int] | None:
    """``(width, height)`` of a local video the model would take as an input (see
    :func:`video_problem`), else None: the size of an edit of it, and of its frames."""
    found = _header(path, "videos", profile.max_video_bytes, _video_header)
    return None if isinstance(found, str) else (found[1], found[2])


def _container(path: Path) -> str:
    """The container a video file starts like (``mp4``, ``mov``, ``webm``), or ``''``: what
    the service goes by (its first bytes, as the emulator sniffs them), not the extension."""
    from storyboard.media.probe import sniff_video

    try:
        with open(path, "rb") as handle:
            head = handle.read(16)
    except OSError:
        return ""
    return sniff_video(head) or ""


def element_video_problem(path: Path) -> str | None:
    """What makes the video at ``path`` unfit as an element's video, or None.

    An element's video is held to no size, length or rate limit (Kling documents none), but
    the service refuses one it cannot read (``invalidVideo``). Only the container's headers
    are read (no packet, no frame: :func:`storyboard.media.probe.check_video` with
    ``decode=False``), once per file as long as its size and time stay the same."""
    return problem_of(path, _element_video_header)


def image_size(path: Path) -> tuple[int, int] | None:
    """``(width, height)`` of a readable local image, else None (read once, as above)."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    found = _image_header(str(path), stat.st_size, stat.st_mtime_ns)
    return None if isinstance(found, str) else (found[1], found[2])


def video_seconds(path: Path, profile: ModelProfile) -> float | None:
    """The length of a local video the model would take as an input (see
    :func:`video_problem`), else None."""
    found = _header(path, "videos", profile.max_video_bytes, _video_header)
    return None if isinstance(found, str) else found[0]


def audio_problem(path: Path) -> str | None:
    """What makes the file at ``path`` unfit as the cut's music bed, or None: it cannot be
    opened, has no audio stream, or its first audio frame does not decode."""
    return problem_of(path, _audio_header)


def audio_seconds(path: Path) -> float | None:
    """The length of a local audio file in seconds, as its header says (None if it does not
    say, or the file cannot be read: :func:`audio_problem` tells why)."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return _audio_seconds(str(path), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=64)
def _audio_seconds(path: str, size: int, mtime_ns: int) -> float | None:
    import av

    from storyboard.media.containers import open_sound

    try:
        container = open_sound(Path(path))
    except (av.error.FFmpegError, OSError, ValueError):
        return None
    try:
        if not container.streams.audio:
            return None
        stream = container.streams.audio[0]
        if stream.duration is not None and stream.time_base is not None:
            return float(stream.duration * stream.time_base)
        if container.duration is not None:
            return float(container.duration) / 1_000_000
        return None
    finally:
        container.close()


Header = TypeVar("Header", tuple[str, int, int], tuple[float, int, int, float])


def _header(
    path: Path, kind: str, max_bytes: int, read: Callable[[str, int, int], Header | str]
) -> Header | str:
    """What ``read`` finds in the file's header, or what is wrong: the file cannot be read,
    is over ``max_bytes`` (then it is not read at all) or its header is not one."""
    try:
        stat = os.stat(path)
    except OSError as exc:
        return f"cannot read '{path.name}': {exc.strerror or exc}"
    if stat.st_size > max_bytes:
        return (
            f"'{path.name}' is {_mb(stat.st_size)}; the model takes {kind} of at most "
            f"{_mb(max_bytes)}"
        )
    found = read(str(path), stat.st_size, stat.st_mtime_ns)
    return f"'{path.name}' {found}" if isinstance(found, str) else found


@functools.lru_cache(maxsize=1024)
def _image_header(path: str, size: int, mtime_ns: int) -> tuple[str, int, int] | str:
    """``(format, width, height)``, or what is wrong (the file's size and time key the
    cache)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            return str(image.format), int(image.width), int(image.height)
    except (UnidentifiedImageError, OSError, ValueError):
        return "is not a readable image"
    except Image.DecompressionBombError:
        return "is too large an image to read"


@functools.lru_cache(maxsize=256)
def _video_header(path: str, size: int, mtime_ns: int) -> tuple[float, int, int, float] | str:
    """``(seconds, width, height, fps)``, or what is wrong."""
    from storyboard.media.probe import MediaError, probe

    try:
        info = probe(Path(path))
    except MediaError:
        return "is not a readable video"
    return info.duration_s, info.width, info.height, info.fps


@functools.lru_cache(maxsize=256)
def _element_video_header(path: str, size: int, mtime_ns: int) -> str | None:
    """What is wrong with an element's video, or None (its headers only)."""
    from storyboard.media.probe import MediaError, check_video

    try:
        check_video(path, decode=False)
    except MediaError:
        return "is not a readable video"
    return None


@functools.lru_cache(maxsize=64)
def _audio_header(path: str, size: int, mtime_ns: int) -> str | None:
    """What is wrong with a music bed, or None. Opened as the cut opens it
    (:func:`storyboard.media.containers.open_sound`), and its first audio frame decoded."""
    import av

    from storyboard.media.containers import open_sound

    try:
        container = open_sound(Path(path))
    except (av.error.FFmpegError, OSError, ValueError):
        return "is not a readable audio file"
    try:
        if not container.streams.audio:
            return "has no audio stream"
        stream = container.streams.audio[0]
        try:
            frame = next(iter(container.decode(stream)), None)
        except (av.error.FFmpegError, ValueError):
            return f"has an audio stream ({stream.codec_context.name}) that does not decode"
        if frame is None:
            return "has an audio stream without sound"
    finally:
        container.close()
    return None


def problem_of(path: Path, reader: Callable[[str, int, int], str | None]) -> str | None:
    """What ``reader`` (cached by path, size and modification time) finds wrong with the file
    at ``path``, as a message that names it; None when nothing is. The checks of the files a
    request or the cut reads use it: each file is read once while it stays the same."""
    try:
        stat = os.stat(path)
    except OSError as exc:
        return f"cannot read '{path.name}': {exc.strerror or exc}"
    found = reader(str(path), stat.st_size, stat.st_mtime_ns)
    return None if found is None else f"'{path.name}' {found}"


def _mb(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB" if size % (1024 * 1024) else f"{size >> 20} MB"


__all__ = [
    "MAX_UPLOAD_SIDE",
    "audio_problem",
    "audio_seconds",
    "element_video_problem",
    "image_problem",
    "image_size",
    "problem_of",
    "upload_size",
    "video_problem",
    "video_seconds",
    "video_size",
]
