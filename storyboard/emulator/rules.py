"""The combination rules of Kling VIDEO O3 Pro (§3.5 "Compatibility & Validation").

1. exactly one of ``inputs.frameImages`` | ``inputs.video`` | ``width`` + ``height``;
2. exactly one of ``positivePrompt`` | ``providerSettings.klingai.multiPrompt``;
3. ``inputs.video`` and ``inputs.referenceVideos`` exclude each other;
4. ``inputs.video`` cannot come with ``duration``;
5. with ``inputs.video`` or ``inputs.referenceVideos``, ``providerSettings`` cannot be used;
6. with ``inputs.video``, ``inputs.elements`` cannot be used;
7. with ``inputs.video`` or ``inputs.referenceVideos``, at most 4 ``inputs.referenceImages``;
8. ``providerSettings`` requires ``inputs.video`` or ``inputs.referenceVideos``;
9. ``resolution`` requires ``inputs.video``;
10. ``width`` and ``height`` come together, as 1920x1080, 1440x1440 or 1080x1920.

Rules 5 and 8 contradict each other and the seed examples when read literally. By default
they are read per sub-field, as the reference recommends: rule 5 forbids ``sound: true`` and
``multiPrompt`` with a video input, rule 8 makes ``keepOriginalSound`` and
``characterOrientation`` require one. ``literal=True`` applies them to ``providerSettings``
as a whole (which refuses seed examples 1, 2, 4 and 5).
"""

from __future__ import annotations

from dataclasses import dataclass

from storyboard.emulator.wire import ApiError, invalid

SIZES: tuple[tuple[int, int], ...] = ((1920, 1080), (1440, 1440), (1080, 1920))
MULTI = "providerSettings.klingai.multiPrompt"


@dataclass(frozen=True)
class Facts:
    """Which parameters a request carries, as far as the rules care."""

    width: int | None
    height: int | None
    prompt: bool
    multi_prompt: bool
    duration: bool
    resolution: bool
    provider_settings: bool
    sound: bool
    keep_original_sound: bool
    character_orientation: bool
    frame_images: bool
    video: bool
    reference_videos: bool
    reference_images: int
    elements: bool


def _clash(parameter: str, message: str) -> ApiError:
    return ApiError("incompatibleParameters", message, parameter)


def check_rules(f: Facts, *, literal: bool) -> None:
    """Raise the first rule the request breaks (in the order of the module docstring)."""
    has_dims = f.width is not None or f.height is not None
    video_input = f.video or f.reference_videos
    # 10: both or neither, and only the allowed pairs.
    if f.width is not None and f.height is None:
        raise ApiError("missingHeight", "width needs height", "height")
    if f.height is not None and f.width is None:
        raise ApiError("missingWidth", "height needs width", "width")
    if f.width is not None and f.height is not None and (f.width, f.height) not in SIZES:
        raise invalid(
            "unsupportedDimensions",
            f"{f.width}x{f.height} is not supported; use 1920x1080, 1440x1440 or 1080x1920",
            "width",
            allowed=[f"{w}x{h}" for w, h in SIZES],
        )
    # 2: one prompt form.
    if f.prompt and f.multi_prompt:
        raise _clash(MULTI, "send either positivePrompt or multiPrompt, not both")
    if not f.prompt and not f.multi_prompt:
        raise ApiError(
            "missingPositivePrompt", "positivePrompt (or multiPrompt) is required", "positivePrompt"
        )
    # 1: one source of the output's shape.
    if f.frame_images and f.video:
        raise _clash("inputs.video", "inputs.video cannot be combined with inputs.frameImages")
    if has_dims and (f.frame_images or f.video):
        source = "inputs.video" if f.video else "inputs.frameImages"
        raise _clash(
            "width", f"width and height cannot be sent with {source}; the output follows it"
        )
    if not (has_dims or f.frame_images or f.video):
        raise ApiError(
            "missingWidth",
            "width and height are required without inputs.frameImages or inputs.video",
            "width",
        )
    # 3, 4, 6, 9
    if f.video and f.reference_videos:
        raise _clash(
            "inputs.referenceVideos", "inputs.video and inputs.referenceVideos exclude each other"
        )
    if f.video and f.duration:
        raise _clash("duration", "an edit lasts as long as its source video; do not send duration")
    if f.video and f.elements:
        raise _clash("inputs.elements", "inputs.elements cannot be used with inputs.video")
    if f.resolution and not f.video:
        raise _clash("resolution", "resolution is only accepted with inputs.video")
    # 5 and 8
    if literal:
        if video_input and f.provider_settings:
            raise _clash("providerSettings", "providerSettings cannot be used with a video input")
        if f.provider_settings and not video_input:
            raise _clash(
                "providerSettings",
                "providerSettings requires inputs.video or inputs.referenceVideos",
            )
    else:
        if video_input and f.sound:
            raise _clash(
                "providerSettings.klingai.sound", "sound cannot be generated with a video input"
            )
        if video_input and f.multi_prompt:
            raise _clash(MULTI, "multiPrompt cannot be used with a video input")
        for name, present in (
            ("keepOriginalSound", f.keep_original_sound),
            ("characterOrientation", f.character_orientation),
        ):
            if present and not video_input:
                raise _clash(
                    f"providerSettings.klingai.{name}",
                    f"{name} requires inputs.video or inputs.referenceVideos",
                )
    # 7
    if video_input and f.reference_images > 4:
        raise invalid(
            "arrayTooLarge",
            "with a video input, inputs.referenceImages takes at most 4 images",
            "inputs.referenceImages",
            type_="array",
        )
