"""Downloads: streamed to a temp file and renamed, capped, sniffed, no key sent."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest

from storyboard.backends.runware import (
    RunwareClient,
    RunwareConnectionError,
    RunwareDownloadError,
    VideoResult,
)
from storyboard.backends.runware.download import Destinations
from storyboard.backends.runware.media import video_container
from tests.backends.runware.fakes import (
    MP4_HEAD,
    PUBLIC_ADDRESS,
    TASK,
    ScriptedRunware,
    StubResolver,
    original_url,
)

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
    again = "downloads its video again by this task UUID"
    with pytest.raises(RunwareDownloadError, match=again) as caught:
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


INNER = [
    "127.0.0.1", "127.8.9.10", "::1", "10.0.0.7", "172.16.3.4", "192.168.1.1",
    "169.254.169.254", "fd00:ec2::254", "fe80::1", "fc00::5", "100.64.0.1", "0.0.0.0",
    "::ffff:10.0.0.1", "::ffff:127.0.0.1", "224.0.0.1", "240.0.0.1", "::",
]  # fmt: skip


@pytest.mark.parametrize("address", INNER)
async def test_names_that_resolve_to_an_inner_address_are_refused_before_connecting(
    make_client: Callable[..., RunwareClient],
    runware: ScriptedRunware,
    tmp_path: Path,
    address: str,
) -> None:
    resolver = StubResolver({"vm.runware.test": [address]})
    async with make_client(resolver=resolver) as client:
        with pytest.raises(RunwareDownloadError, match="refusing") as caught:
            await client.download(URL, tmp_path / "x.mp4")
    assert not caught.value.retryable
    assert runware.calls == [] and leftovers(tmp_path) == []
    assert resolver.asked == ["vm.runware.test"]


async def test_one_inner_address_among_public_ones_is_enough_to_refuse(
    make_client: Callable[..., RunwareClient], runware: ScriptedRunware, tmp_path: Path
) -> None:
    resolver = StubResolver({"vm.runware.test": [PUBLIC_ADDRESS, "10.1.2.3"]})
    async with make_client(resolver=resolver) as client:
        with pytest.raises(RunwareDownloadError, match=r"10\.1\.2\.3"):
            await client.download(URL, tmp_path / "x.mp4")
    assert runware.calls == []


async def test_the_request_goes_to_the_address_that_was_checked(
    client: RunwareClient, runware: ScriptedRunware, resolver: StubResolver, tmp_path: Path
) -> None:
    """No second resolution between the check and the connection (DNS rebinding): the URL's
    host is the checked address; the name travels in the Host header and the TLS name."""
    runware.downloads[URL] = httpx.Response(200, content=VIDEO)
    await client.download(URL, tmp_path / "x.mp4")
    (call,) = runware.calls
    assert call.request.url.host == PUBLIC_ADDRESS
    assert call.request.headers["host"] == "vm.runware.test"
    assert call.request.extensions["sni_hostname"] == "vm.runware.test"
    assert resolver.asked == ["vm.runware.test"]


async def test_a_redirect_is_checked_and_pinned_like_the_first_url(
    make_client: Callable[..., RunwareClient], runware: ScriptedRunware, tmp_path: Path
) -> None:
    cdn = "https://cdn.runware.test/v.mp4"
    resolver = StubResolver({"cdn.runware.test": ["192.168.0.9"]})
    runware.downloads[URL] = httpx.Response(302, headers={"location": cdn})
    async with make_client(resolver=resolver) as client:
        with pytest.raises(RunwareDownloadError, match="inner address"):
            await client.download(URL, tmp_path / "x.mp4")
    assert [original_url(c.request) for c in runware.calls] == [URL]  # cdn never asked
    assert resolver.asked == ["vm.runware.test", "cdn.runware.test"]


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("http://127.0.0.1:8787/video/x.mp4", True),
        ("http://localhost:8787/video/x.mp4", True),
        ("http://127.0.0.1:8788/video/x.mp4", False),
        ("http://10.0.0.1:8787/video/x.mp4", False),
        ("https://169.254.169.254/latest/", False),
    ],
)
async def test_with_an_emulator_only_its_own_loopback_port_is_allowed(
    url: str, allowed: bool
) -> None:
    rules = Destinations.for_base_url("http://127.0.0.1:8787/v1", StubResolver())
    if allowed:
        pinned = await rules.pin(url)
        assert pinned.url.host == "127.0.0.1" and pinned.server_name is None
    else:
        with pytest.raises(RunwareDownloadError, match="refusing"):
            await rules.pin(url)


async def test_a_refusal_shows_neither_the_query_nor_the_body(
    make_client: Callable[..., RunwareClient], runware: ScriptedRunware, tmp_path: Path
) -> None:
    signed = f"{URL}?token=tok-SECRET-0f3c9a1b2d7e"
    runware.downloads[signed] = httpx.Response(200, text="<html>secret page 4f1c</html>")
    async with make_client() as client:
        with pytest.raises(RunwareDownloadError, match="not a video") as caught:
            await client.download(signed, tmp_path / "x.mp4")
    text = str(caught.value)
    assert "?[REDACTED]" in text and "tok-SECRET" not in text
    assert "html" not in text and "4f1c" not in text
