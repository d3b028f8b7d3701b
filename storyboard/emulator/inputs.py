"""The ``inputs`` object of a videoInference task: its shape (§3.3) and the media it names (§4).

Two passes, because the combination rules (:mod:`rules`) sit between them:

1. :func:`read_inputs` checks the structure (frameImages, referenceImages, video,
   referenceVideos, elements) and returns an :class:`InputsShape`;
2. :func:`resolve_inputs` resolves every media reference through the store (unknown UUIDs
   are refused, naming the reference's path), applies Kling's input limits when enabled, and
   checks that reused elements exist.

An emulator rendering at a ``scale`` below 1 makes videos that much smaller than the service
would (1920x1080 at 1/12: 160x90), and a client cuts, edits and sends such videos back to it.
So the least size of an input video is scaled by the same factor (:func:`scaled_least`): its
own outputs, and anything cut from them, pass its own checks, as the full-size ones would
pass the service's. The other limits stay the service's: a maximum size is never exceeded by
smaller videos (above 1, the maxima are scaled instead), and durations, rates and byte sizes
do not change with the scale. The least image size is not scaled: the images a client sends
are its own (a hand-off frame of a scaled-down take is scaled up to it by the build).
"""

from __future__ import annotations

import dataclasses
import io
import math
from dataclasses import dataclass
from typing import Any, Literal

from PIL import Image

from storyboard.emulator.checks import (
    check_array,
    check_enum,
    check_str,
    check_strings,
    join,
    reject_unknown,
    require_object,
)
from storyboard.emulator.store import MediaStore
from storyboard.emulator.wire import ApiError, invalid
from storyboard.media.probe import MediaError, MediaInfo, probe, sniff_image, sniff_video

MediaRole = Literal["image", "video", "audio"]
FRAME_VALUES: tuple[Any, ...] = ("first", "last", 0, -1)
INPUT_KEYS = ("frameImages", "referenceImages", "video", "referenceVideos", "elements")
ELEMENT_KEYS = ("id", "description", "frontalImage", "images", "videos", "voices", "tags")
MAX_ELEMENT_ID = 20  # Kling: element names up to 20 characters (3P saw longer ids refused)
MAX_ELEMENT_DESCRIPTION = 100  # Kling: descriptions up to 100 characters
# (key, role, most items): images are extra angles (1-3); videos and voices take exactly one.
_ELEMENT_MEDIA: tuple[tuple[str, MediaRole, int], ...] = (
    ("images", "image", 3),
    ("videos", "video", 1),
    ("voices", "audio", 1),
)


@dataclass(frozen=True)
class MediaRef:
    """One media reference in a request, with the parameter path that names it."""

    role: MediaRole
    ref: str
    parameter: str


@dataclass(frozen=True)
class ElementShape:
    index: int
    element_id: str
    new: bool  # defines the element (frontalImage or videos) rather than reusing an id
    media: tuple[MediaRef, ...]


@dataclass(frozen=True)
class InputsShape:
    """The structure of ``inputs``, with frame slots already placed (first/last)."""

    first_frame: MediaRef | None = None
    last_frame: MediaRef | None = None
    frame_count: int = 0
    reference_images: tuple[MediaRef, ...] = ()
    video: MediaRef | None = None
    reference_videos: tuple[MediaRef, ...] = ()
    elements: tuple[ElementShape, ...] = ()
    present: frozenset[str] = frozenset()


@dataclass(frozen=True)
class SourceVideo:
    """What the emulator knows of an edit's source video."""

    seconds: float
    width: int
    height: int


@dataclass(frozen=True)
class ResolvedInputs:
    first_frame: bytes | None
    last_frame: bytes | None
    source: SourceVideo | None
    new_elements: tuple[str, ...]


def read_inputs(value: Any, *, kling_limits: bool) -> InputsShape:
    """Check the structure of ``inputs``; see the module docstring."""
    obj = require_object(value, "inputs")
    reject_unknown(obj, INPUT_KEYS, "inputs")
    first = last = None
    frame_count = 0
    if "frameImages" in obj:
        first, last = _frames(obj["frameImages"])
        frame_count = len(obj["frameImages"])
    references: tuple[MediaRef, ...] = ()
    if "referenceImages" in obj:
        refs = check_strings(obj["referenceImages"], "inputs.referenceImages", 1, 7)
        references = tuple(
            MediaRef("image", r, f"inputs.referenceImages[{i}]") for i, r in enumerate(refs)
        )
    video = None
    if "video" in obj:
        video = MediaRef("video", check_str(obj["video"], "inputs.video", 1), "inputs.video")
    ref_videos: tuple[MediaRef, ...] = ()
    if "referenceVideos" in obj:
        refs = check_strings(obj["referenceVideos"], "inputs.referenceVideos", 1, 1)
        ref_videos = (MediaRef("video", refs[0], "inputs.referenceVideos[0]"),)
    elements: tuple[ElementShape, ...] = ()
    if "elements" in obj:
        items = check_array(obj["elements"], "inputs.elements", 1, 3)
        elements = tuple(_element(item, i, kling_limits) for i, item in enumerate(items))
        seen: set[str] = set()
        for element in elements:
            if element.element_id in seen:
                path = f"inputs.elements[{element.index}].id"
                raise ApiError(
                    "duplicateElementId", f"{path} repeats the id {element.element_id!r}", path
                )
            seen.add(element.element_id)
    return InputsShape(
        first, last, frame_count, references, video, ref_videos, elements, frozenset(obj)
    )


def _frames(value: Any) -> tuple[MediaRef | None, MediaRef | None]:
    """Place 1-2 frame images in the first/last slots (auto placement when ``frame`` is absent)."""
    items = check_array(value, "inputs.frameImages", 1, 2)
    slots: dict[str, MediaRef] = {}
    unplaced: list[MediaRef] = []
    for index, item in enumerate(items):
        path = f"inputs.frameImages[{index}]"
        obj = require_object(item, path)
        reject_unknown(obj, ("image", "frame"), path)
        if "image" not in obj:
            raise ApiError("missingImage", f"{path}.image is required", f"{path}.image")
        ref = MediaRef("image", check_str(obj["image"], f"{path}.image", 1), f"{path}.image")
        if "frame" not in obj:
            unplaced.append(ref)
            continue
        frame = check_enum(obj["frame"], f"{path}.frame", FRAME_VALUES, code="invalidFrame")
        slot = "first" if frame in ("first", 0) else "last"
        if slot in slots:
            raise ApiError(
                "duplicateFramePosition",
                f"two frame images are placed at the {slot} frame",
                f"{path}.frame",
            )
        slots[slot] = ref
    for ref in unplaced:  # at most two images, so a slot is always free
        slots["first" if "first" not in slots else "last"] = ref
    if "first" not in slots:
        raise ApiError(
            "missingFirstFrame",
            "a last frame needs a first frame (last-frame-only is not supported)",
            "inputs.frameImages",
        )
    return slots["first"], slots.get("last")


def _element(value: Any, index: int, kling_limits: bool) -> ElementShape:
    path = f"inputs.elements[{index}]"
    obj = require_object(value, path)
    reject_unknown(obj, ELEMENT_KEYS, path)
    if "id" not in obj:
        raise ApiError("missingElementId", f"{path}.id is required", f"{path}.id")
    element_id = check_str(
        obj["id"],
        f"{path}.id",
        1,
        MAX_ELEMENT_ID if kling_limits else None,
        length_code="invalidElementId",
    )
    if "description" in obj:
        check_str(
            obj["description"],
            f"{path}.description",
            0,
            MAX_ELEMENT_DESCRIPTION if kling_limits else None,
        )
    if "tags" in obj:
        check_strings(obj["tags"], f"{path}.tags", 1, None)
    media: list[MediaRef] = []
    if "frontalImage" in obj:
        ref = check_str(obj["frontalImage"], f"{path}.frontalImage", 1)
        media.append(MediaRef("image", ref, f"{path}.frontalImage"))
    for key, role, high in _ELEMENT_MEDIA:
        if key in obj:
            refs = check_strings(obj[key], join(path, key), 1, high)
            media += [MediaRef(role, r, f"{path}.{key}[{i}]") for i, r in enumerate(refs)]
    has_front, has_videos = "frontalImage" in obj, "videos" in obj
    if has_videos and (has_front or "images" in obj):
        raise ApiError(
            "incompatibleParameters",
            "an element's videos cannot be combined with images",
            f"{path}.videos",
        )
    if has_videos and "voices" in obj:
        raise ApiError(
            "incompatibleParameters",
            "an element's voices go with images, not videos",
            f"{path}.voices",
        )
    if ("images" in obj or "voices" in obj) and not has_front:
        what = "images" if "images" in obj else "voices"
        raise ApiError(
            "missingFrontalImage",
            f"{path}.{what} needs {path}.frontalImage",
            f"{path}.frontalImage",
        )
    return ElementShape(index, element_id, has_front or has_videos, tuple(media))


def all_refs(shape: InputsShape) -> list[MediaRef]:
    """Every media reference of ``inputs`` in request order."""
    refs = [r for r in (shape.first_frame, shape.last_frame) if r is not None]
    refs.sort(key=lambda r: r.parameter)
    refs += list(shape.reference_images)
    refs += [shape.video] if shape.video is not None else []
    refs += list(shape.reference_videos)
    for element in shape.elements:
        refs += list(element.media)
    return refs


def resolve_inputs(
    shape: InputsShape,
    store: MediaStore,
    known_elements: frozenset[str],
    *,
    kling_limits: bool,
    default_remote_video_s: float,
    scale: float = 1.0,
) -> ResolvedInputs:
    """Resolve and check every media reference; see the module docstring.

    ``scale`` is the emulator's render scale; it scales the size limits of input videos
    (see the module docstring).

    Raises:
        ApiError: an unknown UUID, undecodable media, an input outside Kling's limits, or a
            reused element id that was never created.
    """
    data: dict[str, bytes | None] = {}
    videos: dict[str, MediaInfo] = {}
    for ref in all_refs(shape):
        data[ref.parameter] = _resolve(ref, store, kling_limits, videos, scale)
    for element in shape.elements:
        if not element.new and element.element_id not in known_elements:
            path = f"inputs.elements[{element.index}].id"
            raise ApiError(
                "invalidElement",
                f"no element {element.element_id!r} was created; "
                "send frontalImage or videos to create it",
                path,
            )
    source = None
    if shape.video is not None:
        info = videos.get(shape.video.parameter)
        if info is None:
            source = SourceVideo(default_remote_video_s, 1920, 1080)  # bytes unknown: defaults
        else:
            source = SourceVideo(info.duration_s, info.width, info.height)
    return ResolvedInputs(
        first_frame=None if shape.first_frame is None else data[shape.first_frame.parameter],
        last_frame=None if shape.last_frame is None else data[shape.last_frame.parameter],
        source=source,
        new_elements=tuple(e.element_id for e in shape.elements if e.new),
    )


def _resolve(
    ref: MediaRef,
    store: MediaStore,
    kling_limits: bool,
    videos: dict[str, MediaInfo],
    scale: float = 1.0,
) -> bytes | None:
    """The bytes of one reference (None for an unknown remote URL); videos are probed."""
    code = {"image": "invalidImage", "video": "invalidVideo", "audio": "invalidAudio"}[ref.role]
    try:
        resolved = store.resolve(ref.ref, inline=ref.role != "video")
    except ValueError as exc:
        raise ApiError(code, f"{ref.parameter} {exc}", ref.parameter) from None
    if resolved.data is None:
        return None  # a remote URL the emulator cannot fetch: accepted, contents unknown
    if ref.role == "image":
        _check_image(resolved.data, ref.parameter, kling_limits)
    elif ref.role == "video":
        # Kling's input-video limits concern the edit source and the reference video only.
        limits = kling_limits and not ref.parameter.startswith("inputs.elements")
        nominal = resolved.media.nominal if resolved.media is not None else None
        videos[ref.parameter] = _check_video(
            resolved.data, ref.parameter, limits, nominal, scale=scale
        )
    return resolved.data


def _check_image(data: bytes, path: str, kling_limits: bool) -> None:
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
    except (OSError, ValueError):
        raise ApiError("invalidImage", f"{path} is not a readable image", path) from None
    if not kling_limits:
        return
    if sniff_image(data[:16]) not in ("jpeg", "png"):
        raise invalid(
            "unsupportedImageFormat",
            f"{path} must be a JPEG or PNG image",
            path,
            allowed=["jpg", "jpeg", "png"],
        )
    if len(data) > 10 * 1024 * 1024:
        raise ApiError("imageTooLarge", f"{path} is larger than 10 MB", path)
    if min(width, height) < 300:
        raise ApiError(
            "imageTooSmall", f"{path} is {width}x{height}; both sides need at least 300 px", path
        )
    if not 1 / 2.5 <= width / height <= 2.5:
        raise ApiError(
            "invalidImageAspectRatio",
            f"{path} is {width}x{height}; the aspect must be within 1:2.5 to 2.5:1",
            path,
        )


MIN_VIDEO_SIDE, MAX_VIDEO_SIDE = 720, 2160  # Kling: 720p to 2160p (the shorter side)


def scaled_least(side: int, scale: float) -> int:
    """The least side an input video needs on an emulator rendering at ``scale``: ``side``
    at scale 1 or more, else ``side`` scaled down as a render is (to an even number) or
    floored, whichever is smaller, so that a scaled-down render of the least nominal size
    (and a cut of it) passes."""
    if scale >= 1:
        return side
    exact = side * scale
    return max(1, min(math.floor(exact), 2 * round(exact / 2)))


def scaled_most(side: int, scale: float) -> int:
    """The most side an input video may have at ``scale``: ``side`` at scale 1 or less
    (smaller renders never reach it), else ``side`` scaled up as a render is."""
    return side if scale <= 1 else math.ceil(side * scale)


def _check_video(
    data: bytes,
    path: str,
    kling_limits: bool,
    nominal: tuple[int, int] | None = None,
    *,
    scale: float = 1.0,
) -> MediaInfo:
    container = sniff_video(data[:16])
    if kling_limits and container not in ("mp4", "mov"):
        raise invalid(
            "unsupportedVideoFormat",
            f"{path} must be an MP4 or MOV video",
            path,
            allowed=["mp4", "mov"],
        )
    try:
        info = probe(data)
    except MediaError:
        raise ApiError("invalidVideo", f"{path} is not a readable video", path) from None
    # The size held to the limits: one of our own results is judged by its nominal size (the
    # service's limits); any other file by its own size, against the limits at our scale.
    width, height = info.width, info.height
    low, high = scaled_least(MIN_VIDEO_SIDE, scale), scaled_most(MAX_VIDEO_SIDE, scale)
    if nominal is not None:  # one of our own results: the size the service would have made
        info = dataclasses.replace(info, width=nominal[0], height=nominal[1])
        width, height = nominal
        low, high = MIN_VIDEO_SIDE, MAX_VIDEO_SIDE
    elif scale < 1 and min(info.width, info.height) < MIN_VIDEO_SIDE:
        # smaller than the service takes, so made at the emulator's scale (a cut of one of its
        # results): its nominal size, which an edit's output keeps, is the size unscaled
        nominal_size = (round(info.width / scale), round(info.height / scale))
        info = dataclasses.replace(info, width=nominal_size[0], height=nominal_size[1])
    if not kling_limits:
        return info
    if len(data) > 200 * 1024 * 1024:
        raise ApiError("videoTooLarge", f"{path} is larger than 200 MB", path)
    if not 3 <= info.duration_s <= 10:
        raise ApiError(
            "invalidVideoDuration",
            f"{path} lasts {info.duration_s:.2f} s; 3 to 10 s are accepted",
            path,
        )
    if not low <= min(width, height) <= high:
        at = f" (the emulator's scale {scale:g}: {low} to {high} px)"
        if (low, high) == (MIN_VIDEO_SIDE, MAX_VIDEO_SIDE):
            at = ""
        raise ApiError(
            "invalidVideoDimensions",
            f"{path} is {width}x{height}; 720p to 2160p are accepted{at}",
            path,
        )
    if not 24 <= round(info.fps) <= 60:
        raise ApiError(
            "invalidVideoFps", f"{path} runs at {info.fps:g} fps; 24 to 60 are accepted", path
        )
    return info


def image_size(data: bytes | None) -> tuple[int, int] | None:
    """The pixel size of an image payload, or None when unknown or unreadable."""
    if data is None:
        return None
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            return (int(width), int(height))
    except (OSError, ValueError):
        return None


def snap(width: int, height: int, sizes: tuple[tuple[int, int], ...]) -> tuple[int, int]:
    """The allowed size whose aspect is nearest (in log ratio) to ``width x height``."""
    target = math.log(width / height)
    return min(sizes, key=lambda s: abs(math.log(s[0] / s[1]) - target))
