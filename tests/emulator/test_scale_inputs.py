"""An emulator rendering at a scale below 1 takes back what it renders: a video cut from one of
its tiny results (as a build does for ``edit:`` of a multishot segment) passes its input
checks at that scale, with the limits scaled, while the service's limits hold at scale 1."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from storyboard.emulator import inputs
from storyboard.emulator.server import EmulatorServer
from storyboard.media import render_animatic
from storyboard.media.probe import probe
from tests.emulator.helpers import Api, data_uri, new_uuid, video_task


@pytest.fixture(scope="module")
def tiny_video(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """3 s of 160x90 at 24 fps: a 1920x1080 take as the emulator renders it at 1/12."""
    path = tmp_path_factory.mktemp("scale") / "segment.mp4"
    render_animatic(path, width=160, height=90, duration_s=3, segments=[("b", "segment b", 3)])
    return path.read_bytes()


def _stored(api: Api, data: bytes) -> str:
    """Upload a video as the build does (``mediaStorage``); its mediaUUID."""
    task = {
        "taskType": "mediaStorage",
        "taskUUID": new_uuid(),
        "operation": "upload",
        "media": data_uri(data, "video/mp4"),
    }
    item: dict[str, Any] = api.post([task]).json()["data"][0]
    return str(item["mediaUUID"])


def _edit(video: str) -> dict[str, Any]:
    return video_task(width=None, height=None, duration=None, inputs={"video": video})


def test_a_tiny_edit_source_is_accepted_at_the_emulators_scale(
    emulator: EmulatorServer, api: Api, tiny_video: bytes
) -> None:
    assert emulator.emulator.config.scale == pytest.approx(1 / 12)
    task = _edit(_stored(api, tiny_video))
    response = api.submit(task)
    assert response.status_code == 200 and "errors" not in response.json(), response.json()
    [item] = api.wait(task["taskUUID"])
    # its nominal size is 1920x1080 (160x90 unscaled), so the edit renders at 160x90 again
    info = probe(httpx.get(item["videoURL"]).content)
    assert (info.width, info.height) == (160, 90)


def test_the_same_source_is_refused_at_scale_1(
    emulator: EmulatorServer, api: Api, tiny_video: bytes
) -> None:
    emulator.configure(scale=1.0)
    status, error = api.error(_edit(_stored(api, tiny_video)))
    assert (status, error["code"], error["parameter"]) == (
        400,
        "invalidVideoDimensions",
        "inputs.video",
    )
    assert emulator.ledger() == []


def test_a_source_below_the_scaled_minimum_is_still_refused(
    emulator: EmulatorServer, api: Api, tmp_path: Path
) -> None:
    path = render_animatic(tmp_path / "smaller.mp4", width=96, height=54, duration_s=3)
    _, error = api.error(_edit(_stored(api, path.read_bytes())))
    assert error["code"] == "invalidVideoDimensions"
    assert "60 to 2160 px" in error["message"]  # 720 px at 1/12


def test_a_full_size_source_is_still_accepted_at_a_small_scale(
    api: Api, source_video: Path
) -> None:
    """The maxima are not scaled down: real videos stay valid inputs of a scaled emulator."""
    task = _edit(_stored(api, source_video.read_bytes()))
    assert api.submit(task).status_code == 200
    [item] = api.wait(task["taskUUID"])
    info = probe(httpx.get(item["videoURL"]).content)
    assert (info.width, info.height) == (106, 60)  # 1280x720 at 1/12, as before


@pytest.mark.parametrize("scale", [1 / 12, 0.1, 0.13, 0.5, 1.0])
def test_a_render_of_the_least_nominal_size_meets_the_scaled_limits(scale: float) -> None:
    """A nominal 720p result, rendered at ``scale`` (even sizes), passes at that scale."""
    least, most = inputs.scaled_least, inputs.scaled_most
    rendered = max(2, 2 * round(720 * scale / 2))
    assert least(720, scale) <= rendered <= most(2160, scale)
    assert least(720, 1.0) == 720 and most(2160, 1.0) == 2160
    assert most(2160, 2.0) == 4320  # above 1 the maxima grow instead
