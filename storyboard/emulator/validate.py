"""Validation of a ``videoInference`` task for Kling VIDEO O3 Pro, written from §3 of the reference.

:func:`validate_video` checks a task the way the service does and returns a
:class:`VideoRequest`: the normalised facts the job needs (prompts, output size and length,
price, delivery options, frame images). The first problem found raises an :class:`ApiError`
naming its parameter by dotted path. Order of checks:

    model -> unknown keys -> platform options (§3.1) -> generation parameters (§3.2)
    -> providerSettings (§3.4) -> inputs structure (§3.3) -> combination rules (§3.5)
    -> multiPrompt total -> <<<element_N>>> references -> media references (§4) -> output

This module is independent of the client's wire models on purpose: a rule both sides got
wrong in the same way would otherwise pass unnoticed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from storyboard.emulator.checks import (
    check_array,
    check_bool,
    check_enum,
    check_int,
    check_str,
    check_url,
    reject_unknown,
    require_object,
)
from storyboard.emulator.config import EmulatorConfig
from storyboard.emulator.inputs import InputsShape, image_size, read_inputs, resolve_inputs, snap
from storyboard.emulator.pricing import Price, price
from storyboard.emulator.rules import MULTI, SIZES, Facts, check_rules
from storyboard.emulator.store import MediaStore
from storyboard.emulator.wire import JSON, MODEL, ApiError, invalid

TOP_LEVEL_KEYS = (
    "taskType",
    "taskUUID",
    "model",
    "positivePrompt",
    "width",
    "height",
    "duration",
    "resolution",
    "outputType",
    "outputFormat",
    "outputQuality",
    "webhookURL",
    "deliveryMethod",
    "uploadEndpoint",
    "safety",
    "ttl",
    "includeCost",
    "numberResults",
    "inputs",
    "providerSettings",
)
KLING_KEYS = ("sound", "multiPrompt", "keepOriginalSound", "characterOrientation")
KNOWN_PROVIDERS = (
    "alibaba",
    "bytedance",
    "google",
    "klingai",
    "lightricks",
    "minimax",
    "openai",
    "pixverse",
    "runway",
    "vidu",
)
DEFAULT_DURATION = 5
MULTI_KEY = "multiPrompt"
_ELEMENT_REF = re.compile(r"<<<element_(\d+)>>>")


@dataclass(frozen=True)
class VideoRequest:
    """A valid videoInference task, reduced to what the job needs."""

    task_uuid: str
    task: JSON
    segments: tuple[tuple[str, float], ...]  # (prompt, seconds); one segment without multiPrompt
    width: int  # nominal output size (before the emulator's render scale)
    height: int
    seconds: float  # output length: duration, or the edit source's real length
    price: Price
    sound: bool
    number_results: int
    output_format: str
    output_quality: int
    include_cost: bool
    webhook_url: str | None
    upload_endpoint: str | None
    ttl: int | None
    first_frame: bytes | None
    last_frame: bytes | None
    new_elements: tuple[str, ...]
    flagged_input: str  # the input a moderation failure names


def validate_video(
    task: JSON, *, store: MediaStore, elements: frozenset[str], config: EmulatorConfig
) -> VideoRequest:
    """Check a videoInference task (its taskUUID already checked); see the module docstring.

    Args:
        task: the task object as received.
        store: resolves media references.
        elements: the element ids this API key created earlier.
        config: ``literal_rules``, ``kling_limits``, ``default_remote_video_s`` and
            ``scale`` (input videos' size limits) matter.

    Raises:
        ApiError: the first problem, naming its parameter.
    """
    if "model" not in task:
        raise ApiError("missingModel", "model is required", "model")
    if task["model"] != MODEL:
        raise invalid(
            "invalidModel",
            f"model must be {MODEL!r}, got {task['model']!r}",
            "model",
            allowed=[MODEL],
        )
    reject_unknown(task, TOP_LEVEL_KEYS)
    options = _platform_options(task)
    prompt = None
    if "positivePrompt" in task:
        prompt = check_str(
            task["positivePrompt"],
            "positivePrompt",
            2,
            2500,
            length_code="invalidPositivePromptLength",
        )
    width = check_int(task["width"], "width", 1) if "width" in task else None
    height = check_int(task["height"], "height", 1) if "height" in task else None
    if "resolution" in task:
        check_enum(task["resolution"], "resolution", ["1080p"])
    duration = None
    if "duration" in task:
        duration = check_int(task["duration"], "duration", 3, 15, code="unsupportedDuration")
    kling = _provider_settings(task)
    multi = _multi_prompt(kling[MULTI_KEY]) if MULTI_KEY in kling else None
    shape = (
        read_inputs(task["inputs"], kling_limits=config.kling_limits)
        if "inputs" in task
        else InputsShape()
    )
    check_rules(
        Facts(
            width=width,
            height=height,
            prompt=prompt is not None,
            multi_prompt=multi is not None,
            duration=duration is not None,
            resolution="resolution" in task,
            provider_settings="providerSettings" in task,
            sound=kling.get("sound") is True,
            keep_original_sound="keepOriginalSound" in kling,
            character_orientation="characterOrientation" in kling,
            frame_images=shape.first_frame is not None,
            video=shape.video is not None,
            reference_videos=bool(shape.reference_videos),
            reference_images=len(shape.reference_images),
            elements=bool(shape.elements),
        ),
        literal=config.literal_rules,
    )
    total = duration if duration is not None else DEFAULT_DURATION
    if multi is not None and sum(seconds for _, seconds in multi) != total:
        raise ApiError(
            "invalidMultiPromptDuration",
            f"the multiPrompt durations add up to {sum(s for _, s in multi)} s, "
            f"but duration is {total} s",
            MULTI,
        )
    _element_references(prompt, multi, len(shape.elements))
    resolved = resolve_inputs(
        shape,
        store,
        elements,
        kling_limits=config.kling_limits,
        default_remote_video_s=config.default_remote_video_s,
        scale=config.scale,
    )
    # The output: its shape follows width/height, else the first frame, else the source video.
    if width is not None and height is not None:
        size = (width, height)
    elif resolved.source is not None:
        size = (resolved.source.width, resolved.source.height)
    else:
        first = image_size(resolved.first_frame)
        size = SIZES[0] if first is None else snap(first[0], first[1], SIZES)
    seconds = float(total) if resolved.source is None else resolved.source.seconds
    video_input = shape.video is not None or bool(shape.reference_videos)
    sound = kling.get("sound") is True
    segments = tuple((text, float(s)) for text, s in multi) if multi else ((prompt or "", seconds),)
    return VideoRequest(
        task_uuid=str(task["taskUUID"]),
        task=task,
        segments=segments,
        width=size[0],
        height=size[1],
        seconds=seconds,
        price=price(
            seconds=seconds,
            sound=sound,
            video_input=video_input,
            number_results=options.number_results,
        ),
        sound=sound,
        number_results=options.number_results,
        output_format=options.output_format,
        output_quality=options.output_quality,
        include_cost=options.include_cost,
        webhook_url=options.webhook_url,
        upload_endpoint=options.upload_endpoint,
        ttl=options.ttl,
        first_frame=resolved.first_frame,
        last_frame=resolved.last_frame,
        new_elements=resolved.new_elements,
        flagged_input=_flagged(shape, multi is not None),
    )


@dataclass(frozen=True)
class _Options:
    output_format: str
    output_quality: int
    include_cost: bool
    number_results: int
    webhook_url: str | None
    upload_endpoint: str | None
    ttl: int | None


def _platform_options(task: JSON) -> _Options:
    """The §3.1 options, checked and with their defaults."""
    if "deliveryMethod" in task:
        check_enum(
            task["deliveryMethod"], "deliveryMethod", ["async"], code="unsupportedDeliveryMethod"
        )
    if "outputType" in task:
        check_enum(task["outputType"], "outputType", ["URL"])
    output_format = "MP4"
    if "outputFormat" in task:
        output_format = check_enum(task["outputFormat"], "outputFormat", ["MP4", "WEBM", "MOV"])
    quality = (
        check_int(task["outputQuality"], "outputQuality", 20, 99) if "outputQuality" in task else 95
    )
    webhook = check_url(task["webhookURL"], "webhookURL") if "webhookURL" in task else None
    upload = (
        check_url(task["uploadEndpoint"], "uploadEndpoint") if "uploadEndpoint" in task else None
    )
    if "safety" in task:
        safety = require_object(task["safety"], "safety")
        reject_unknown(safety, ("checkContent", "mode"), "safety")
        if "checkContent" in safety:
            check_bool(safety["checkContent"], "safety.checkContent")
        if "mode" in safety:
            check_enum(
                safety["mode"], "safety.mode", ["none", "fast", "full"], code="invalidSafetyMode"
            )
    ttl = check_int(task["ttl"], "ttl", 60) if "ttl" in task else None
    include_cost = (
        check_bool(task["includeCost"], "includeCost") if "includeCost" in task else False
    )
    number = (
        check_int(task["numberResults"], "numberResults", 1, 20) if "numberResults" in task else 1
    )
    return _Options(output_format, quality, include_cost, number, webhook, upload, ttl)


def _provider_settings(task: JSON) -> JSON:
    """``providerSettings.klingai`` checked (empty when absent)."""
    if "providerSettings" not in task:
        return {}
    settings = require_object(task["providerSettings"], "providerSettings")
    for provider in settings:
        if provider != "klingai":
            where = f"providerSettings.{provider}"
            if provider in KNOWN_PROVIDERS:
                raise ApiError(
                    "mismatchProviderSettingsProvider", f"{where} does not apply to {MODEL}", where
                )
            raise ApiError(
                "unknownProviderSettingsProvider", f"{where} is not a known provider", where
            )
    if "klingai" not in settings:
        return {}
    kling = require_object(settings["klingai"], "providerSettings.klingai")
    reject_unknown(kling, KLING_KEYS, "providerSettings.klingai")
    for key in ("sound", "keepOriginalSound"):
        if key in kling:
            check_bool(kling[key], f"providerSettings.klingai.{key}")
    if "characterOrientation" in kling:
        check_enum(
            kling["characterOrientation"],
            "providerSettings.klingai.characterOrientation",
            ["image", "video"],
        )
    return kling


def _multi_prompt(value: Any) -> list[tuple[str, int]]:
    items = check_array(value, MULTI, 1, 6)
    segments: list[tuple[str, int]] = []
    for index, item in enumerate(items):
        path = f"{MULTI}[{index}]"
        obj = require_object(item, path)
        reject_unknown(obj, ("prompt", "duration"), path)
        for key in ("prompt", "duration"):
            if key not in obj:
                raise ApiError(
                    f"missing{key.title()}", f"{path}.{key} is required", f"{path}.{key}"
                )
        text = check_str(obj["prompt"], f"{path}.prompt", 1, 512)
        seconds = check_int(
            obj["duration"], f"{path}.duration", 1, 15, code="invalidMultiPromptDuration"
        )
        segments.append((text, seconds))
    return segments


def _element_references(
    prompt: str | None, multi: list[tuple[str, int]] | None, count: int
) -> None:
    """Every ``<<<element_N>>>`` must name one of the ``count`` elements (1-based)."""
    texts = [("positivePrompt", prompt)] if prompt is not None else []
    texts += [(f"{MULTI}[{i}].prompt", text) for i, (text, _) in enumerate(multi or [])]
    for path, text in texts:
        for match in _ELEMENT_REF.finditer(text or ""):
            number = int(match.group(1))
            if not 1 <= number <= count:
                have = f"only {count} element(s)" if count else "no inputs.elements"
                raise ApiError(
                    "invalidElementReference",
                    f"{path} refers to <<<element_{number}>>> but the request has {have}",
                    path,
                )


def _flagged(shape: InputsShape, multi: bool) -> str:
    """The input a content-policy failure names: the first image, else the prompt."""
    if shape.first_frame is not None:
        return shape.first_frame.parameter
    if shape.reference_images:
        return shape.reference_images[0].parameter
    return f"{MULTI}[0].prompt" if multi else "positivePrompt"
