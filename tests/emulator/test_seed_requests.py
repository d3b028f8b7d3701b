"""The five real requests of the model's API page are accepted and billed as the page says."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from storyboard.emulator.server import EmulatorServer
from storyboard.media import probe
from tests.emulator.helpers import Api, image_bytes

SEED = json.loads((Path(__file__).parent / "data" / "seed_requests.json").read_text())["cases"]
SEED_IDS = [case["title"] for case in SEED]
EDIT_SOURCE = "https://assets.runware.ai/assets/inputs/64792608-38ea-49bd-9e90-4353bcfb1d45.mp4"


def _register_inputs(emulator: EmulatorServer, request: dict[str, Any], source: Path) -> None:
    """Give the seed's remote inputs real bytes: 640x360 frames, a 6 s source video."""
    for frame in request.get("inputs", {}).get("frameImages", []):
        emulator.register_remote(frame["image"], image_bytes(640, 360))
    if request.get("inputs", {}).get("video") == EDIT_SOURCE:
        emulator.register_remote(EDIT_SOURCE, source)


@pytest.mark.parametrize("case", SEED, ids=SEED_IDS)
def test_seed_request_is_accepted_billed_and_delivered(
    case: dict[str, Any], emulator: EmulatorServer, api: Api, source_video: Path
) -> None:
    request = dict(case["request"], includeCost=True)
    expected = case["response"]
    _register_inputs(emulator, request, source_video)

    ack = api.submit(request)
    assert ack.status_code == 200, ack.text
    assert ack.json() == {"data": [{"taskType": "videoInference", "taskUUID": request["taskUUID"]}]}

    [item] = api.wait(request["taskUUID"])
    assert item["cost"] == expected["cost"]
    assert item["taskUUID"] == expected["taskUUID"]
    assert item["status"] == "success" and item["NSFWContent"] is False
    assert isinstance(item["seed"], int)
    [entry] = emulator.ledger()
    assert (entry.task_uuid, entry.status, entry.cost) == (
        request["taskUUID"],
        "billed",
        expected["cost"],
    )
    assert emulator.total_cost() == expected["cost"]

    video = httpx.get(item["videoURL"], timeout=20)
    assert video.status_code == 200
    info = probe(video.content)
    seconds = 6 if "video" in request.get("inputs", {}) else request["duration"]
    assert info.frame_count == seconds * 24
    assert info.fps == 24
    sound = request.get("providerSettings", {}).get("klingai", {}).get("sound", False)
    assert info.has_audio is sound
    # 1920x1080 (given, or the 16:9 frame images snapped) or the 1280x720 source, at 1/12.
    assert (info.width, info.height) == ((106, 60) if seconds == 6 else (160, 90))


def test_the_seed_edit_without_registered_bytes_assumes_a_5_s_source(api: Api) -> None:
    request = dict(SEED[2]["request"], includeCost=True)
    assert api.submit(request).status_code == 200
    [item] = api.wait(request["taskUUID"])
    assert item["cost"] == 0.84  # 5 s x 0.168: the documented default for unknown remote sources
