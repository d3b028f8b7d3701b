"""videoInference validation: each broken request is refused, naming the right parameter.

Every case starts from a valid 3 s text-to-video task (``video_task``) and breaks one thing.
A refused task creates no job and no charge.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from storyboard.emulator.server import EmulatorServer
from storyboard.media import render_animatic
from tests.emulator.helpers import Api, data_uri, image_bytes, new_uuid, video_task

MULTI = "providerSettings.klingai.multiPrompt"
REMOTE = "https://assets.example.test/"
NO_DIMS: dict[str, Any] = {"width": None, "height": None}
EDIT: dict[str, Any] = {**NO_DIMS, "duration": None, "inputs": {"video": REMOTE + "source.mp4"}}


def frames(*items: dict[str, Any]) -> dict[str, Any]:
    return {**NO_DIMS, "inputs": {"frameImages": list(items)}}


def img(name: str = "frame.jpg") -> str:
    return REMOTE + name


def multi(*segments: tuple[str, int]) -> dict[str, Any]:
    items = [{"prompt": p, "duration": d} for p, d in segments]
    return {"positivePrompt": None, "providerSettings": {"klingai": {"multiPrompt": items}}}


def element(**fields: Any) -> dict[str, Any]:
    return {"id": "hero", "frontalImage": img(), **fields}


Setup = Callable[[EmulatorServer, Path], None]


def _register(name: str, data: bytes) -> Setup:
    def setup(emulator: EmulatorServer, tmp: Path) -> None:
        emulator.register_remote(REMOTE + name, data)

    return setup


def _register_video(name: str, **spec: Any) -> Setup:
    def setup(emulator: EmulatorServer, tmp: Path) -> None:
        path = render_animatic(tmp / name, **spec)
        emulator.register_remote(REMOTE + name, path)

    return setup


@dataclass(frozen=True)
class Case:
    id: str
    patch: dict[str, Any]
    code: str
    parameter: str
    setup: Setup | None = field(default=None)


CASES = [
    # model and unknown keys
    Case("other-model", {"model": "klingai:kling-video@3-pro"}, "invalidModel", "model"),
    Case("no-model", {"model": None}, "missingModel", "model"),
    Case("seed", {"seed": 42}, "unknownParameter", "seed"),
    Case("negative-prompt", {"negativePrompt": "blur"}, "unknownParameter", "negativePrompt"),
    Case("fps", {"fps": 30}, "unknownParameter", "fps"),
    Case("frameImages-top-level", {"frameImages": []}, "unknownParameter", "frameImages"),
    # platform options (§3.1)
    Case(
        "sync-delivery", {"deliveryMethod": "sync"}, "unsupportedDeliveryMethod", "deliveryMethod"
    ),
    Case("output-type", {"outputType": "base64Data"}, "invalidOutputType", "outputType"),
    Case("output-format", {"outputFormat": "GIF"}, "invalidOutputFormat", "outputFormat"),
    Case("quality-low", {"outputQuality": 19}, "invalidOutputQuality", "outputQuality"),
    Case("quality-high", {"outputQuality": 100}, "invalidOutputQuality", "outputQuality"),
    Case("webhook-scheme", {"webhookURL": "ftp://hooks.test/x"}, "invalidWebhookURL", "webhookURL"),
    Case(
        "upload-not-url",
        {"uploadEndpoint": "bucket/key"},
        "invalidUploadEndpoint",
        "uploadEndpoint",
    ),
    Case("safety-mode", {"safety": {"mode": "strict"}}, "invalidSafetyMode", "safety.mode"),
    Case("safety-key", {"safety": {"level": 2}}, "unknownParameter", "safety.level"),
    Case("ttl-short", {"ttl": 59}, "invalidTtl", "ttl"),
    Case("include-cost-type", {"includeCost": "yes"}, "invalidIncludeCost", "includeCost"),
    Case("results-zero", {"numberResults": 0}, "invalidNumberResults", "numberResults"),
    Case("results-21", {"numberResults": 21}, "invalidNumberResults", "numberResults"),
    Case("results-bool", {"numberResults": True}, "invalidNumberResults", "numberResults"),
    # generation parameters (§3.2)
    Case("prompt-short", {"positivePrompt": "A"}, "invalidPositivePromptLength", "positivePrompt"),
    Case(
        "prompt-long",
        {"positivePrompt": "a" * 2501},
        "invalidPositivePromptLength",
        "positivePrompt",
    ),
    Case("prompt-type", {"positivePrompt": 7}, "invalidPositivePrompt", "positivePrompt"),
    Case("no-prompt", {"positivePrompt": None}, "missingPositivePrompt", "positivePrompt"),
    Case("duration-2", {"duration": 2}, "unsupportedDuration", "duration"),
    Case("duration-16", {"duration": 16}, "unsupportedDuration", "duration"),
    Case("duration-float", {"duration": 5.5}, "unsupportedDuration", "duration"),
    Case("duration-string", {"duration": "5"}, "unsupportedDuration", "duration"),
    Case("width-alone", {"height": None}, "missingHeight", "height"),
    Case("height-alone", {"width": None}, "missingWidth", "width"),
    Case("720p", {"width": 1280, "height": 720}, "unsupportedDimensions", "width"),
    Case("swapped-square", {"width": 1080, "height": 1440}, "unsupportedDimensions", "width"),
    Case("no-shape", NO_DIMS, "missingWidth", "width"),
    Case("resolution-no-video", {"resolution": "1080p"}, "incompatibleParameters", "resolution"),
    Case("resolution-value", {**EDIT, "resolution": "720p"}, "invalidResolution", "resolution"),
    # combination rules (§3.5)
    Case(
        "frames-and-dims",
        {**frames({"image": img()}), "width": 1920, "height": 1080},
        "incompatibleParameters",
        "width",
    ),
    Case(
        "frames-and-video",
        {**NO_DIMS, "inputs": {"frameImages": [{"image": img()}], "video": img("v.mp4")}},
        "incompatibleParameters",
        "inputs.video",
    ),
    Case("edit-with-duration", {**EDIT, "duration": 5}, "incompatibleParameters", "duration"),
    Case(
        "edit-with-reference-video",
        {**EDIT, "inputs": {"video": img("v.mp4"), "referenceVideos": [img("r.mp4")]}},
        "incompatibleParameters",
        "inputs.referenceVideos",
    ),
    Case(
        "edit-with-elements",
        {**EDIT, "inputs": {"video": img("v.mp4"), "elements": [element()]}},
        "incompatibleParameters",
        "inputs.elements",
    ),
    Case(
        "edit-with-sound",
        {**EDIT, "providerSettings": {"klingai": {"sound": True}}},
        "incompatibleParameters",
        "providerSettings.klingai.sound",
    ),
    Case(
        "reference-video-with-multiprompt",
        {**multi(("a", 3)), "inputs": {"referenceVideos": [img("r.mp4")]}},
        "incompatibleParameters",
        MULTI,
    ),
    Case(
        "keep-sound-without-video",
        {"providerSettings": {"klingai": {"keepOriginalSound": True}}},
        "incompatibleParameters",
        "providerSettings.klingai.keepOriginalSound",
    ),
    Case(
        "five-references-with-video",
        {"inputs": {"referenceVideos": [img("r.mp4")], "referenceImages": [img()] * 5}},
        "arrayTooLarge",
        "inputs.referenceImages",
    ),
    Case(
        "both-prompts", multi(("a", 3)) | {"positivePrompt": "two"}, "incompatibleParameters", MULTI
    ),
    # providerSettings (§3.4)
    Case(
        "other-provider",
        {"providerSettings": {"google": {}}},
        "mismatchProviderSettingsProvider",
        "providerSettings.google",
    ),
    Case(
        "unknown-provider",
        {"providerSettings": {"acme": {}}},
        "unknownProviderSettingsProvider",
        "providerSettings.acme",
    ),
    Case(
        "kling-unknown-key",
        {"providerSettings": {"klingai": {"cameraControl": {}}}},
        "unknownParameter",
        "providerSettings.klingai.cameraControl",
    ),
    Case(
        "sound-type",
        {"providerSettings": {"klingai": {"sound": "yes"}}},
        "invalidSound",
        "providerSettings.klingai.sound",
    ),
    Case(
        "orientation-value",
        {"providerSettings": {"klingai": {"characterOrientation": "side"}}},
        "invalidCharacterOrientation",
        "providerSettings.klingai.characterOrientation",
    ),
    Case("multi-empty", multi(), "arrayTooSmall", MULTI),
    Case("multi-seven", multi(*[("s", 1)] * 7) | {"duration": 7}, "arrayTooLarge", MULTI),
    Case("multi-sum", multi(("a", 1), ("b", 1)), "invalidMultiPromptDuration", MULTI),
    Case(
        "multi-long-prompt",
        multi(("a", 1), ("b" * 513, 2)),
        "invalidPromptLength",
        f"{MULTI}[1].prompt",
    ),
    Case(
        "multi-zero-seconds",
        multi(("a", 0), ("b", 3)),
        "invalidMultiPromptDuration",
        f"{MULTI}[0].duration",
    ),
    Case(
        "multi-no-duration",
        {
            "positivePrompt": None,
            "providerSettings": {"klingai": {"multiPrompt": [{"prompt": "a"}]}},
        },
        "missingDuration",
        f"{MULTI}[0].duration",
    ),
    # inputs (§3.3)
    Case("inputs-type", {"inputs": []}, "invalidInputs", "inputs"),
    Case("inputs-audio", {"inputs": {"audio": "x"}}, "unknownParameter", "inputs.audio"),
    Case("frames-empty", frames(), "arrayTooSmall", "inputs.frameImages"),
    Case("frames-three", frames(*[{"image": img()}] * 3), "arrayTooLarge", "inputs.frameImages"),
    Case(
        "frame-value",
        frames({"image": img(), "frame": "middle"}),
        "invalidFrame",
        "inputs.frameImages[0].frame",
    ),
    Case(
        "frame-true",
        frames({"image": img(), "frame": True}),
        "invalidFrame",
        "inputs.frameImages[0].frame",
    ),
    Case(
        "two-firsts",
        frames({"image": img(), "frame": "first"}, {"image": img(), "frame": 0}),
        "duplicateFramePosition",
        "inputs.frameImages[1].frame",
    ),
    Case(
        "last-only",
        frames({"image": img(), "frame": "last"}),
        "missingFirstFrame",
        "inputs.frameImages",
    ),
    Case(
        "frame-no-image", frames({"frame": "first"}), "missingImage", "inputs.frameImages[0].image"
    ),
    Case(
        "frame-unknown-uuid",
        frames({"image": str(uuid.UUID(int=7, version=4))}),
        "invalidImage",
        "inputs.frameImages[0].image",
    ),
    Case(
        "reference-not-base64",
        {"inputs": {"referenceImages": [img(), "@@not base64@@"]}},
        "invalidImage",
        "inputs.referenceImages[1]",
    ),
    Case(
        "reference-file-url",
        {"inputs": {"referenceImages": ["file:///etc/passwd"]}},
        "invalidImage",
        "inputs.referenceImages[0]",
    ),
    Case(
        "references-eight",
        {"inputs": {"referenceImages": [img()] * 8}},
        "arrayTooLarge",
        "inputs.referenceImages",
    ),
    Case(
        "references-empty",
        {"inputs": {"referenceImages": []}},
        "arrayTooSmall",
        "inputs.referenceImages",
    ),
    Case(
        "reference-videos-two",
        {"inputs": {"referenceVideos": [img("a.mp4"), img("b.mp4")]}},
        "arrayTooLarge",
        "inputs.referenceVideos",
    ),
    Case(
        "video-data-uri",
        {**EDIT, "inputs": {"video": data_uri(b"\x00" * 64, "video/mp4")}},
        "invalidVideo",
        "inputs.video",
    ),
    Case(
        "elements-four",
        {"inputs": {"elements": [element(id=f"e{i}") for i in range(4)]}},
        "arrayTooLarge",
        "inputs.elements",
    ),
    Case(
        "element-no-id",
        {"inputs": {"elements": [{"frontalImage": img()}]}},
        "missingElementId",
        "inputs.elements[0].id",
    ),
    Case(
        "element-id-long",
        {"inputs": {"elements": [element(id="x" * 21)]}},
        "invalidElementId",
        "inputs.elements[0].id",
    ),
    Case(
        "element-ids-repeat",
        {"inputs": {"elements": [element(), element()]}},
        "duplicateElementId",
        "inputs.elements[1].id",
    ),
    Case(
        "element-never-created",
        {"inputs": {"elements": [{"id": "ghost"}]}},
        "invalidElement",
        "inputs.elements[0].id",
    ),
    Case(
        "element-video-and-image",
        {"inputs": {"elements": [element(videos=[img("e.mp4")])]}},
        "incompatibleParameters",
        "inputs.elements[0].videos",
    ),
    Case(
        "element-voice-and-video",
        {"inputs": {"elements": [{"id": "v", "videos": [img("e.mp4")], "voices": [img("a.mp3")]}]}},
        "incompatibleParameters",
        "inputs.elements[0].voices",
    ),
    Case(
        "element-images-no-front",
        {"inputs": {"elements": [{"id": "e", "images": [img()]}]}},
        "missingFrontalImage",
        "inputs.elements[0].frontalImage",
    ),
    Case(
        "element-four-images",
        {"inputs": {"elements": [element(images=[img()] * 4)]}},
        "arrayTooLarge",
        "inputs.elements[0].images",
    ),
    Case(
        "element-tags-empty",
        {"inputs": {"elements": [element(tags=[])]}},
        "arrayTooSmall",
        "inputs.elements[0].tags",
    ),
    Case(
        "element-2-of-1",
        {
            "positivePrompt": "<<<element_1>>> meets <<<element_2>>>",
            "inputs": {"elements": [element()]},
        },
        "invalidElementReference",
        "positivePrompt",
    ),
    Case(
        "element-without-elements",
        {"positivePrompt": "<<<element_1>>> walks"},
        "invalidElementReference",
        "positivePrompt",
    ),
    Case(
        "element-in-multiprompt",
        multi(("a", 1), ("<<<element_3>>> runs", 2)),
        "invalidElementReference",
        f"{MULTI}[1].prompt",
    ),
    # Kling's input limits, on bytes the emulator has
    Case(
        "frame-too-small",
        frames({"image": img("small.jpg")}),
        "imageTooSmall",
        "inputs.frameImages[0].image",
        _register("small.jpg", image_bytes(299, 400)),
    ),
    Case(
        "frame-too-wide",
        frames({"image": img("wide.jpg")}),
        "invalidImageAspectRatio",
        "inputs.frameImages[0].image",
        _register("wide.jpg", image_bytes(1200, 400)),
    ),
    Case(
        "frame-webp",
        frames({"image": img("frame.webp")}),
        "unsupportedImageFormat",
        "inputs.frameImages[0].image",
        _register("frame.webp", image_bytes(640, 360, fmt="WEBP")),
    ),
    Case(
        "frame-not-an-image",
        frames({"image": img("text.jpg")}),
        "invalidImage",
        "inputs.frameImages[0].image",
        _register("text.jpg", b"this is not an image at all"),
    ),
    Case(
        "source-webm",
        {**EDIT, "inputs": {"video": img("clip.webm")}},
        "unsupportedVideoFormat",
        "inputs.video",
        _register_video("clip.webm", width=160, height=90, duration_s=3, fmt="WEBM"),
    ),
    Case(
        "source-small",
        {**EDIT, "inputs": {"video": img("tiny.mp4")}},
        "invalidVideoDimensions",
        "inputs.video",
        # under the 720 px minimum even scaled to this emulator's 1/12 (60 px)
        _register_video("tiny.mp4", width=96, height=54, duration_s=3),
    ),
    Case(
        "reference-video-short",
        {"inputs": {"referenceVideos": [img("short.mp4")]}},
        "invalidVideoDuration",
        "inputs.referenceVideos[0]",
        _register_video("short.mp4", width=1280, height=720, duration_s=2),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_invalid_request_is_refused_naming_its_parameter(
    case: Case, emulator: EmulatorServer, api: Api, tmp_path: Path
) -> None:
    if case.setup is not None:
        case.setup(emulator, tmp_path)
    task = video_task(**case.patch)
    status, error = api.error(task)
    assert (error["code"], error["parameter"]) == (case.code, case.parameter), error
    assert status == 400
    assert error["taskType"] == "videoInference"
    assert error["taskUUID"] == task["taskUUID"]
    assert error["message"]
    assert emulator.ledger() == []
    assert api.poll(task["taskUUID"]).json() == {"data": []}  # no job was created


def test_there_are_enough_cases() -> None:
    assert len(CASES) >= 30
    assert len({c.id for c in CASES}) == len(CASES)


def test_errors_carry_type_and_allowed_values(api: Api) -> None:
    _, error = api.error(video_task(outputFormat="GIF"))
    assert error["allowedValues"] == ["MP4", "WEBM", "MOV"]
    _, error = api.error(video_task(duration=20))
    assert error["type"] == "integer"
    _, error = api.error(video_task(width=1280, height=720))
    assert error["allowedValues"] == ["1920x1080", "1440x1440", "1080x1920"]


@pytest.mark.parametrize(
    ("task_uuid", "code"),
    [
        ("c232ab00-9414-11ec-b3c8-9f6bdeced846", "invalidTaskUUID"),  # a version 1 UUID
        ("not-a-uuid", "invalidTaskUUID"),
        (None, "missingTaskUUID"),
    ],
    ids=["uuid1", "not-a-uuid", "missing"],
)
def test_task_uuid_must_be_a_uuid4(api: Api, task_uuid: str | None, code: str) -> None:
    _, error = api.error(video_task(taskUUID=task_uuid))
    assert (error["code"], error["parameter"]) == (code, "taskUUID")


# --- valid variants: what the rules must not refuse ------------------------------------------

VALID = {
    "frames-auto-placed": frames({"image": img()}, {"image": img("b.jpg")}),
    "frames-by-index": frames({"image": img(), "frame": -1}, {"image": img("b.jpg"), "frame": 0}),
    "multi-prompt-default-duration": multi(("a", 2), ("b", 3)) | {"duration": None},
    "reference-video-silent": {"inputs": {"referenceVideos": [img("r.mp4")]}},
    "reference-video-keeps-sound": {
        "inputs": {"referenceVideos": [img("r.mp4")]},
        "providerSettings": {"klingai": {"keepOriginalSound": True, "sound": False}},
    },
    "edit-with-resolution": {**EDIT, "resolution": "1080p"},
    "elements-created-and-named": {
        "positivePrompt": "<<<element_1>>> and <<<element_2>>> dance",
        "inputs": {
            "elements": [element(tags=["Character"]), {"id": "ghost", "videos": [img("e.mp4")]}]
        },
    },
    "all-options": {
        "outputFormat": "WEBM",
        "outputQuality": 20,
        "outputType": "URL",
        "deliveryMethod": "async",
        "ttl": 60,
        "includeCost": False,
        "numberResults": 1,
        "safety": {"checkContent": True, "mode": "full"},
        "duration": 15,
        "width": 1080,
        "height": 1920,
    },
}


@pytest.mark.parametrize("patch", list(VALID.values()), ids=list(VALID))
def test_valid_variants_are_accepted_with_dry_run(api: Api, patch: dict[str, Any]) -> None:
    response = api.submit(video_task(**patch), headers={"X-Runware-Dry-Run": "1"})
    assert response.status_code == 200, response.text
    assert response.json()["data"][0]["dryRun"] is True


def test_a_created_element_can_be_reused_by_id(api: Api) -> None:
    first = video_task(positivePrompt="<<<element_1>>> waves", inputs={"elements": [element()]})
    assert api.submit(first).status_code == 200
    again = video_task(positivePrompt="<<<element_1>>> bows", inputs={"elements": [{"id": "hero"}]})
    assert api.submit(again).status_code == 200


def test_literal_reading_of_rules_5_and_8(emulator: EmulatorServer, api: Api) -> None:
    sound = {"providerSettings": {"klingai": {"sound": True}}}
    assert api.submit(video_task(**sound)).status_code == 200  # the default, sub-field reading
    emulator.configure(literal_rules=True)
    _, error = api.error(video_task(**sound))
    assert (error["code"], error["parameter"]) == ("incompatibleParameters", "providerSettings")
    keep = {
        "inputs": {"referenceVideos": [img("r.mp4")]},
        "providerSettings": {"klingai": {"keepOriginalSound": True}},
    }
    _, error = api.error(video_task(**keep))
    assert (error["code"], error["parameter"]) == ("incompatibleParameters", "providerSettings")
    assert api.submit(video_task()).status_code == 200  # no providerSettings: fine either way


def test_kling_limits_can_be_switched_off(emulator: EmulatorServer, api: Api) -> None:
    emulator.register_remote(img("small.jpg"), image_bytes(200, 200))
    task = frames({"image": img("small.jpg")})
    _, error = api.error(video_task(**task))
    assert error["code"] == "imageTooSmall"
    emulator.configure(kling_limits=False)
    assert api.submit(video_task(**task)).status_code == 200


def test_one_bad_task_does_not_spoil_the_batch(emulator: EmulatorServer, api: Api) -> None:
    good, bad = video_task(), video_task(duration=99)
    response = api.post([good, bad])
    assert response.status_code == 200
    body = response.json()
    assert body["data"] == [{"taskType": "videoInference", "taskUUID": good["taskUUID"]}]
    assert [(e["code"], e["taskUUID"]) for e in body["errors"]] == [
        ("unsupportedDuration", bad["taskUUID"])
    ]
    assert [e.task_uuid for e in emulator.ledger()] == [good["taskUUID"]]


def test_uploaded_media_become_valid_references(api: Api) -> None:
    upload = api.post(
        [
            {
                "taskType": "imageUpload",
                "taskUUID": new_uuid(),
                "image": data_uri(image_bytes(1080, 1920)),
            }
        ]
    )
    image_uuid = upload.json()["data"][0]["imageUUID"]
    task = video_task(**frames({"image": image_uuid}), includeCost=True)
    assert api.submit(task).status_code == 200
    [item] = api.wait(task["taskUUID"])
    assert item["cost"] == 0.336  # 3 s silent
