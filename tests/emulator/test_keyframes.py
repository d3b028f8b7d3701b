"""The videos the emulator and the preview backend make have a keyframe every second: the cut
copies whole GOPs, so that is how finely it can cut without re-encoding (and ``.last`` of a
take decodes at most a second of it)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from storyboard.backends.base import Job, Segment
from storyboard.backends.preview import PreviewBackend
from storyboard.media import keyframe_indices, probe
from tests.emulator.helpers import Api, video_task


@pytest.mark.parametrize("fmt", ["MP4", "WEBM"])
def test_emulator_videos_have_a_keyframe_every_second(api: Api, fmt: str) -> None:
    task = video_task(outputFormat=fmt, duration=5)
    api.submit(task)
    [item] = api.wait(task["taskUUID"])
    content = httpx.get(item["videoURL"]).content
    assert probe(content).frame_count == 120
    assert keyframe_indices(content) == [0, 24, 48, 72, 96]


def test_preview_videos_have_a_keyframe_every_second(tmp_path: Path) -> None:
    backend = PreviewBackend(scale=1 / 12)
    request = {"positivePrompt": "a harbour at dawn", "width": 1920, "height": 1080, "duration": 4}
    job = Job(
        take="t",
        key="k" * 64,
        task_uuid="u",
        request=request,
        files={},
        provider_ids={},
        resumed=False,
        segments=(Segment("t", "a harbour at dawn", 4),),
        source_seconds=None,
    )

    async def render() -> Path:
        ticket = await backend.submit(job)
        [output] = await backend.collect(ticket, tmp_path)
        return output.path

    video = asyncio.run(render())
    assert keyframe_indices(video) == [0, 24, 48, 72]
