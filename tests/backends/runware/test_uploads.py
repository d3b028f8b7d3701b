"""Uploads: image vs media, de-duplication by content hash, replacing local inputs."""

from __future__ import annotations

import asyncio
import base64
import hashlib
from pathlib import Path
from typing import Any

import httpx
import pytest

from storyboard.backends.runware import RunwareClient, RunwareServerError, RunwareValidationError
from storyboard.backends.runware.media import (
    find_local_files,
    format_path,
    guess_mime,
    parse_path,
    replace_values,
)
from tests.backends.runware.conftest import ClientFactory
from tests.backends.runware.fakes import MP4_HEAD, REQUEST, ScriptedRunware, answer

pytestmark = pytest.mark.anyio

JPEG = b"\xff\xd8\xff\xe0" + b"jpeg-bytes" * 10
PNG = b"\x89PNG\r\n\x1a\n" + b"png-bytes" * 10
MP4 = MP4_HEAD + b"video-bytes" * 10
WAV = b"RIFF\x00\x00\x00\x00WAVEfmt " + b"audio" * 10


def uploads_answering(runware: ScriptedRunware) -> None:
    """Answer each upload with a UUID derived from the uploaded bytes."""

    def reply(tasks: list[dict[str, Any]]) -> httpx.Response:
        (task,) = tasks
        payload = str(task.get("image") or task.get("media"))
        digest = hashlib.sha256(payload.encode()).hexdigest()[:8]
        if task["taskType"] == "imageUpload":
            item = {"taskType": "imageUpload", "imageUUID": f"img-{digest}"}
        else:
            item = {"taskType": "mediaStorage", "operation": "upload", "mediaUUID": f"med-{digest}"}
        return answer([{**item, "taskUUID": task["taskUUID"]}])

    runware.defaults["imageUpload"] = reply
    runware.defaults["mediaStorage"] = reply


async def test_images_use_image_upload_with_a_data_uri(
    client: RunwareClient, runware: ScriptedRunware, tmp_path: Path
) -> None:
    uploads_answering(runware)
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(JPEG)
    image_uuid = await client.upload(photo)
    (call,) = runware.calls
    (task,) = call.tasks
    assert task["taskType"] == "imageUpload"
    assert task["image"] == "data:image/jpeg;base64," + base64.b64encode(JPEG).decode()
    assert image_uuid.startswith("img-")


async def test_an_upload_answer_for_another_task_is_not_taken(
    client: RunwareClient, runware: ScriptedRunware, tmp_path: Path
) -> None:
    """An answer whose only item names another task (a mixed-up answer) gives no image UUID:
    it was taken as this upload's, and that image went into the paid request."""
    other = {"taskType": "imageUpload", "taskUUID": "0" * 8 + "-0000-4000-8000-" + "0" * 12,
             "imageUUID": "img-of-another-task"}  # fmt: skip
    runware.defaults["imageUpload"] = lambda tasks: answer([other])
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(JPEG)
    with pytest.raises(RunwareServerError, match="names no imageUUID"):
        await client.upload(photo)


async def test_an_upload_answer_naming_no_task_is_taken(
    client: RunwareClient, runware: ScriptedRunware, tmp_path: Path
) -> None:
    runware.defaults["imageUpload"] = lambda tasks: answer(
        [{"taskType": "imageUpload", "imageUUID": "img-unnamed"}]
    )
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(JPEG)
    assert await client.upload(photo) == "img-unnamed"


async def test_video_and_audio_use_media_storage(
    client: RunwareClient, runware: ScriptedRunware
) -> None:
    uploads_answering(runware)
    await client.upload(MP4)
    await client.upload(WAV)
    kinds = [
        (c.tasks[0]["taskType"], c.tasks[0]["operation"], c.tasks[0]["media"][:20])
        for c in runware.calls
    ]
    assert kinds == [
        ("mediaStorage", "upload", "data:video/mp4;base6"),
        ("mediaStorage", "upload", "data:audio/wav;base6"),
    ]


async def test_the_same_bytes_are_uploaded_once(
    make_client: ClientFactory, runware: ScriptedRunware, tmp_path: Path
) -> None:
    uploads_answering(runware)
    (tmp_path / "a.png").write_bytes(PNG)
    (tmp_path / "copy-of-a.png").write_bytes(PNG)
    cache: dict[str, str] = {}
    async with make_client(upload_cache=cache) as client:
        first = await asyncio.gather(
            client.upload(tmp_path / "a.png"),
            client.upload(tmp_path / "copy-of-a.png"),
            client.upload(PNG),
        )
    assert len(set(first)) == 1
    assert len(runware.calls) == 1
    assert cache == {hashlib.sha256(PNG).hexdigest(): first[0]}

    # A later build (a new client) reuses the persisted mapping: nothing is sent.
    async with make_client(upload_cache=cache) as client:
        assert await client.upload(tmp_path / "a.png") == first[0]
    assert len(runware.calls) == 1


async def test_upload_retries_and_redoes_a_conflict_with_a_new_uuid(
    client: RunwareClient, runware: ScriptedRunware
) -> None:
    uploads_answering(runware)
    runware.queue(
        "imageUpload",
        answer(status=503),
        lambda tasks: answer(
            errors=[{"code": "conflictTaskUUID", "taskUUID": tasks[0]["taskUUID"]}], status=400
        ),
    )
    assert (await client.upload(JPEG)).startswith("img-")
    uuids = [call.uuids[0] for call in runware.calls]
    assert uuids[0] == uuids[1] and uuids[2] != uuids[1]


async def test_upload_errors_are_typed(client: RunwareClient, runware: ScriptedRunware) -> None:
    runware.queue(
        "imageUpload",
        lambda tasks: answer(
            errors=[{"code": "invalidImage", "message": "bad", "taskUUID": tasks[0]["taskUUID"]}],
            status=400,
        ),
    )
    with pytest.raises(RunwareValidationError, match="invalidImage"):
        await client.upload(JPEG)


async def test_upload_inputs_replaces_the_local_files_only(
    client: RunwareClient, runware: ScriptedRunware, tmp_path: Path
) -> None:
    uploads_answering(runware)
    (tmp_path / "first.jpg").write_bytes(JPEG)
    (tmp_path / "ref.png").write_bytes(PNG)
    (tmp_path / "clip.mp4").write_bytes(MP4)
    request = {
        **REQUEST,
        "inputs": {
            "frameImages": [{"image": "@first", "frame": "first"}],
            "referenceImages": ["https://example.com/keep.jpg", "@ref", "@first"],
            "referenceVideos": ["@clip"],
        },
    }
    files = {
        "@first": tmp_path / "first.jpg",
        "@ref": tmp_path / "ref.png",
        "@clip": tmp_path / "clip.mp4",
    }
    resolved = await client.upload_inputs(request, lambda path, value: files.get(value))
    inputs = resolved["inputs"]
    assert inputs["frameImages"][0]["image"].startswith("img-")
    assert inputs["frameImages"][0]["frame"] == "first"
    assert inputs["referenceImages"][0] == "https://example.com/keep.jpg"
    assert inputs["referenceImages"][2] == inputs["frameImages"][0]["image"]
    assert inputs["referenceVideos"][0].startswith("med-")
    assert request["inputs"]["frameImages"][0]["image"] == "@first"  # the input is untouched
    assert len(runware.calls) == 3  # first.jpg once, though it is used twice

    by_path = await client.upload_inputs(
        request, {"inputs.referenceVideos[0]": tmp_path / "clip.mp4"}
    )
    assert by_path["inputs"]["referenceVideos"] == [inputs["referenceVideos"][0]]
    assert len(runware.calls) == 3


def test_paths_parse_and_format() -> None:
    path = parse_path("inputs.frameImages[0].image")
    assert path == ("inputs", "frameImages", 0, "image")
    assert format_path(path) == "inputs.frameImages[0].image"
    assert parse_path(path) is path
    for bad in ["", "a..b", "a[x]", "a[0"]:
        with pytest.raises(ValueError):
            parse_path(bad)


def test_unknown_paths_are_refused() -> None:
    with pytest.raises(KeyError, match=r"inputs\.video"):
        find_local_files(REQUEST, {"inputs.video": Path("x.mp4")})
    assert replace_values({"a": [1, {"b": 2}]}, {("a", 1, "b"): 3}) == {"a": [1, {"b": 3}]}


@pytest.mark.parametrize(
    ("data", "name", "mime"),
    [
        (JPEG, None, "image/jpeg"),
        (PNG, "x.jpg", "image/png"),  # the bytes win over the name
        (b"GIF89a...", None, "image/gif"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", None, "image/webp"),
        (MP4, None, "video/mp4"),
        (b"\x00\x00\x00\x14ftypqt  \x00\x00", None, "video/quicktime"),
        (b"\x1a\x45\xdf\xa3rest", None, "video/webm"),
        (WAV, None, "audio/wav"),
        (b"ID3\x04rest", None, "audio/mpeg"),
        (b"\x00\x00\x00\x20ftypM4A ", None, "audio/mp4"),
        (b"unknown", "voice.ogg", "audio/ogg"),
        (b"unknown", None, "application/octet-stream"),
    ],
)
def test_guess_mime(data: bytes, name: str | None, mime: str) -> None:
    assert guess_mime(data, name) == mime
