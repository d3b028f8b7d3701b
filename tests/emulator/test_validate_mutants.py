"""Mutation audit of the emulator's request validation (``storyboard/emulator/validate.py``,
``rules.py``, ``checks.py``): the tests that kill the mutants the existing suite let through.

The emulator stands in for the paid Runware service. A request the service refuses must be
refused here too, with the service's error shape (400, ``code`` and dotted ``parameter``),
and never billed; a request it accepts must be priced as the service prices it. Each test
below guards one decision whose mutant survived ``tests/emulator`` and the emulator parity
tests:

* ``rules.py`` rule 8 (sub-field reading): ``characterOrientation`` without a video input is
  refused, like ``keepOriginalSound``;
* ``validate.py`` ``<<<element_N>>>`` references are 1-based: ``<<<element_0>>>`` is refused
  even when elements are present;
* ``validate.py`` pricing: a request with ``inputs.referenceVideos`` is billed at the video
  input rate (0.168 USD/s), not the silent text-to-video rate;
* ``checks.py`` ``check_url``: an http(s) URL without a host (``http:///hook``) is refused
  for ``webhookURL`` and ``uploadEndpoint``;
* ``validate.py`` ``multiPrompt`` segments: an unknown key in a segment and an empty segment
  prompt are refused;
* ``checks.py`` ``check_enum`` compares with the JSON type: ``"frame": false`` is refused, not
  read as the frame index ``0``.

Every refusal also checks that nothing was billed, no job was created and the ledger is empty.
"""

from __future__ import annotations

from typing import Any

import pytest

from storyboard.emulator.server import EmulatorServer
from tests.emulator.helpers import Api, video_task

REMOTE = "https://assets.example.test/"
MULTI = "providerSettings.klingai.multiPrompt"
DRY_RUN = {"X-Runware-Dry-Run": "1"}


def _refused(
    emulator: EmulatorServer, api: Api, task: dict[str, Any], code: str, parameter: str
) -> None:
    """``task`` is refused naming ``parameter``, with no job and no charge."""
    status, error = api.error(task)
    assert (error["code"], error["parameter"]) == (code, parameter), error
    assert status == 400
    assert error["taskUUID"] == task["taskUUID"]
    assert emulator.ledger() == []
    assert emulator.total_cost() == 0
    assert api.poll(task["taskUUID"]).json() == {"data": []}


def test_character_orientation_without_a_video_input_is_refused_unbilled(
    emulator: EmulatorServer, api: Api
) -> None:
    # Rule 8: characterOrientation requires inputs.video or inputs.referenceVideos.
    task = video_task(providerSettings={"klingai": {"characterOrientation": "image"}})
    _refused(
        emulator,
        api,
        task,
        "incompatibleParameters",
        "providerSettings.klingai.characterOrientation",
    )
    with_video = video_task(
        inputs={"referenceVideos": [REMOTE + "r.mp4"]},
        providerSettings={"klingai": {"characterOrientation": "video"}},
    )
    assert api.submit(with_video, headers=DRY_RUN).status_code == 200


@pytest.mark.parametrize(
    ("patch", "parameter"),
    [
        ({"positivePrompt": "<<<element_0>>> waves"}, "positivePrompt"),
        (
            {
                "positivePrompt": None,
                "providerSettings": {
                    "klingai": {
                        "multiPrompt": [
                            {"prompt": "a", "duration": 1},
                            {"prompt": "<<<element_0>>> runs", "duration": 2},
                        ]
                    }
                },
            },
            f"{MULTI}[1].prompt",
        ),
    ],
    ids=["prompt", "multi-prompt"],
)
def test_element_zero_is_refused_unbilled(
    emulator: EmulatorServer, api: Api, patch: dict[str, Any], parameter: str
) -> None:
    # References are 1-based: element_0 names nothing even with an element present.
    element = {"id": "hero", "frontalImage": REMOTE + "frame.jpg"}
    task = video_task(**patch, inputs={"elements": [element]})
    _refused(emulator, api, task, "invalidElementReference", parameter)


def test_reference_video_is_billed_at_the_video_input_rate(
    emulator: EmulatorServer, api: Api
) -> None:
    task = video_task(duration=5, inputs={"referenceVideos": [REMOTE + "r.mp4"]})
    response = api.submit(task, headers=DRY_RUN)
    assert response.status_code == 200, response.text
    assert response.json()["data"][0]["cost"] == 0.84  # 5 s x 0.168, not 5 s x 0.112
    assert emulator.total_cost() == 0
    [entry] = emulator.ledger()
    assert (entry.dry_run, entry.cost, entry.would_cost) == (True, 0.0, 0.84)


@pytest.mark.parametrize("field", ["webhookURL", "uploadEndpoint"])
@pytest.mark.parametrize("url", ["http:///hook", "https://", "https:?x=1"])
def test_url_without_a_host_is_refused_unbilled(
    emulator: EmulatorServer, api: Api, field: str, url: str
) -> None:
    task = video_task(**{field: url})
    _refused(emulator, api, task, f"invalid{field[0].upper()}{field[1:]}", field)


@pytest.mark.parametrize(
    ("segment", "code", "parameter"),
    [
        ({"prompt": "a", "duration": 2, "camera": "pan"}, "unknownParameter", "[1].camera"),
        ({"prompt": "", "duration": 2}, "invalidPromptLength", "[1].prompt"),
    ],
    ids=["unknown-key", "empty-prompt"],
)
def test_bad_multi_prompt_segment_is_refused_unbilled(
    emulator: EmulatorServer, api: Api, segment: dict[str, Any], code: str, parameter: str
) -> None:
    segments = [{"prompt": "first", "duration": 1}, segment]
    task = video_task(positivePrompt=None, providerSettings={"klingai": {"multiPrompt": segments}})
    _refused(emulator, api, task, code, MULTI + parameter)


def test_frame_false_is_not_frame_zero(emulator: EmulatorServer, api: Api) -> None:
    # Enum values compare with their JSON type: false is not the index 0 ("first").
    frames = [{"image": REMOTE + "frame.jpg", "frame": False}]
    task = video_task(width=None, height=None, inputs={"frameImages": frames})
    _refused(emulator, api, task, "invalidFrame", "inputs.frameImages[0].frame")
