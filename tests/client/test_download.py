"""Downloads: streamed to a temp file and renamed, capped, sniffed, no key sent."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from storyboard.backends.runware import (
    RunwareClient,
    RunwareConnectionError,
    RunwareDownloadError,
    VideoResult,
)
from storyboard.backends.runware.media import video_container
from tests.client.fakes import MP4_HEAD, TASK, ScriptedRunware

pytestmark = pytest.mark.anyio

URL = "https://vm.runware.test/video/os/a1/ws/5/vi/v-1.mp4"
VIDEO = MP4_HEAD + bytes(range(256)) * 64


def result(url: str | None = URL) -> VideoResult:
    return VideoResult(TASK, "v-1", url, 0.7, 1, False, raw={})


async def chunks(data: bytes, size: int = 1000) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def leftovers(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


async def test_download_writes_hashes_and_sends_no_key(
    client: RunwareClient, runware: ScriptedRunware, tmp_path: Path
) -> None:
    runware.downloads[URL] = httpx.Response(200, content=chunks(VIDEO))
    dest = tmp_path / "takes" / "shot-1.mp4"
    done = await client.download(result(), dest)
    assert dest.read_bytes() == VIDEO
    assert (done.path, done.size, done.container) == (dest, len(VIDEO), "mp4")
    assert done.sha256 == hashlib.sha256(VIDEO).hexdigest()
    assert leftovers(dest.parent) == ["shot-1.mp4"]
    (call,) = runware.calls
    assert "authorization" not in call.request.headers


async def test_over_the_cap_is_refused_and_deleted(
    client: RunwareClient, runware: ScriptedRunware, tmp_path: Path
) -> None:
    # No Content-Length: the cap is enforced while streaming.
    runware.downloads[URL] = httpx.Response(200, content=chunks(VIDEO))
    with pytest.raises(RunwareDownloadError, match="cap"):
        await client.download(URL, tmp_path / "big.mp4", max_bytes=len(VIDEO) - 1)
    assert leftovers(tmp_path) == []


async def test_a_declared_length_over_the_cap_is_refused_before_reading(
    client: RunwareClient, runware: ScriptedRunware, tmp_path: Path
) -> None:
    runware.downloads[URL] = httpx.Response(200, content=VIDEO)  # sets Content-Length
    with pytest.raises(RunwareDownloadError, match="cap"):
        await client.download(URL, tmp_path / "big.mp4", max_bytes=100)
    assert leftovers(tmp_path) == []


async def test_a_body_that_is_not_a_video_is_refused(
    client: RunwareClient, runware: ScriptedRunware, tmp_path: Path
) -> None:
    runware.downloads[URL] = httpx.Response(200, text="<html>Access denied</html>")
    with pytest.raises(RunwareDownloadError, match="not a video"):
        await client.download(URL, tmp_path / "x.mp4")
    assert leftovers(tmp_path) == []


async def test_the_existing_file_survives_a_failed_download(
    client: RunwareClient, runware: ScriptedRunware, tmp_path: Path
) -> None:
    dest = tmp_path / "x.mp4"
    dest.write_bytes(b"previous")
    runware.downloads[URL] = httpx.Response(404)
    with pytest.raises(RunwareDownloadError, match="404") as caught:
        await client.download(URL, dest)
    assert not caught.value.retryable
    assert not caught.value.may_be_running  # a bare URL: no task to resume
    assert dest.read_bytes() == b"previous"
    assert leftovers(tmp_path) == ["x.mp4"]


async def test_transient_failures_are_retried_from_scratch(
    client: RunwareClient, runware: ScriptedRunware, tmp_path: Path
) -> None:
    replies: Iterator[httpx.Response | Exception] = iter(
        [httpx.Response(503), httpx.ReadError("reset"), httpx.Response(200, content=VIDEO)]
    )

    def reply(_: object) -> httpx.Response | Exception:
        return next(replies)

    runware.downloads[URL] = reply
    done = await client.download(URL, tmp_path / "x.mp4")
    assert done.size == len(VIDEO)
    assert len(runware.calls) == 3
    assert leftovers(tmp_path) == ["x.mp4"]


async def test_a_failed_download_of_a_result_says_resume_not_resubmit(
    client: RunwareClient, runware: ScriptedRunware, tmp_path: Path
) -> None:
    runware.downloads[URL] = httpx.Response(200, text="<html>Access denied</html>")
    with pytest.raises(RunwareDownloadError, match="do not resubmit") as caught:
        await client.download(result(), tmp_path / "x.mp4")
    assert caught.value.may_be_running and caught.value.task_uuid == TASK


async def test_connection_failures_surface_typed_after_retries(
    client: RunwareClient, runware: ScriptedRunware, tmp_path: Path
) -> None:
    runware.downloads[URL] = httpx.ConnectError("refused")
    with pytest.raises(RunwareConnectionError):
        await client.download(URL, tmp_path / "x.mp4")
    assert leftovers(tmp_path) == []


async def test_no_url_or_a_strange_scheme_is_refused(client: RunwareClient, tmp_path: Path) -> None:
    with pytest.raises(RunwareDownloadError, match="no videoURL"):
        await client.download(result(None), tmp_path / "x.mp4")
    with pytest.raises(RunwareDownloadError, match="http"):
        await client.download("file:///etc/passwd", tmp_path / "x.mp4")


@pytest.mark.parametrize(
    ("head", "container"),
    [
        (MP4_HEAD, "mp4"),
        (b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00", "mov"),
        (b"\x00\x00\x00\x08wide\x00\x00\x00\x00", "mov"),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81", "webm"),
        (b"<html><body>", None),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", None),
        (b"", None),
    ],
)
def test_video_container(head: bytes, container: str | None) -> None:
    assert video_container(head) == container
