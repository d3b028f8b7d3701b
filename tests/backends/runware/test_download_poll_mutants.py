"""Mutation audit of downloads and polling (storyboard/backends/runware/download.py, poll.py,
media.py): each test here fails under a change of the code that every other test let pass,
and each such change is one of the ways these modules stand between a paid result and the
user: a truncated or partial body kept as the take, a video refused for good (its task was
billed, and every build would fail to fetch it), a download that goes where it must not, a
task's wait ended by another task's answer or made to wait out its deadline, a generation's
final failure taken for a passing one (retried as a new, paid task).

Downloads run through the client on the scripted Runware (``httpx.MockTransport``: nothing
connects; names resolve through a stub table); waits run on the fake clock. The bytes on
disk, the requests the transport saw and the error the caller gets are what is asserted.

What each test guards (the change of the code it catches):

- download.py: a 206 (Partial Content) kept as the take (``status != 200`` ->
  ``status >= 400``); a body of exactly ``max_bytes`` refused, declared or streamed (``>`` ->
  ``>=``); a declared Content-Length over the cap read anyway (the check before reading
  dropped); a video arriving in chunks shorter than its signature called "not a video"
  (the first bytes taken from the first chunk only); a folder in the way raised as a bare
  ``OSError`` (the disk's trouble not mapped); a relative redirect resolved against the
  checked address instead of the name, a redirect loop followed past ``MAX_REDIRECTS``, the
  token of a redirect's signed URL not registered for scrubbing; a scheme other than
  http(s) let through to an emulator's port; NAT64 to a multicast address let through; a
  name with no address crashing with an ``IndexError`` instead of a typed, retryable error;
  ``*.localhost`` asked of the resolver (RFC 6761: it is this machine); an IPv4-mapped
  address not checked as the IPv4 address it is; a read timeout reported as a connection
  failure.
- poll.py: a "task cancelled" answer waited on until the deadline; a stray error taken as
  the failure of a task while the answer carries data, or as the failure of tasks polled in
  another batch; the service's own trouble beside a delivered result dropping the result;
  an unknown code in a 400 answer taken as a (retryable) provider failure instead of a
  final one.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from storyboard.backends.runware import (
    PollPolicy,
    RunwareClient,
    RunwareConnectionError,
    RunwareDownloadError,
    RunwareError,
    RunwareTimeoutError,
    RunwareValidationError,
)
from storyboard.backends.runware.download import MAX_REDIRECTS, Destinations
from storyboard.backends.runware.redact import scrub
from tests.backends.runware.conftest import ClientFactory
from tests.backends.runware.fakes import (
    MP4_HEAD,
    PUBLIC_ADDRESS,
    TASK,
    ScriptedRunware,
    StubResolver,
    answer,
    original_url,
    processing,
    success,
    vid,
)

pytestmark = pytest.mark.anyio

URL = "https://vm.runware.test/video/v-1.mp4"
CDN = "https://cdn.runware.test/signed/v-1.mp4"
VIDEO = MP4_HEAD + bytes(range(256)) * 16
EMULATOR = "http://127.0.0.1:8787/v1"
OTHER = "00000000-0000-4000-8000-000000000002"


async def chunks(data: bytes, size: int = 1000) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def leftovers(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


# -- what a download keeps ---------------------------------------------------------------


async def test_a_partial_content_answer_is_not_kept_as_the_video(
    client: RunwareClient, runware: ScriptedRunware, tmp_path: Path
) -> None:
    """A 206 carries part of the file: it starts like a video, so only the status tells."""
    runware.downloads[URL] = httpx.Response(
        206, content=VIDEO[:1000], headers={"content-range": f"bytes 0-999/{len(VIDEO)}"}
    )
    dest = tmp_path / "x.mp4"
    with pytest.raises(RunwareDownloadError, match="HTTP 206"):
        await client.download(URL, dest)
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "streamed"])
async def test_a_body_of_exactly_the_cap_is_kept(
    client: RunwareClient, runware: ScriptedRunware, tmp_path: Path, declared: bool
) -> None:
    body = VIDEO if declared else chunks(VIDEO)
    runware.downloads[URL] = httpx.Response(200, content=body)
    done = await client.download(URL, tmp_path / "x.mp4", max_bytes=len(VIDEO))
    assert done.size == len(VIDEO)
    assert (tmp_path / "x.mp4").read_bytes() == VIDEO


async def test_a_declared_length_over_the_cap_is_refused_without_reading_the_body(
    client: RunwareClient, runware: ScriptedRunware, tmp_path: Path
) -> None:
    read: list[int] = []

    async def body() -> AsyncIterator[bytes]:
        read.append(1)
        yield VIDEO

    runware.downloads[URL] = httpx.Response(
        200, content=body(), headers={"content-length": str(1 << 40)}
    )
    with pytest.raises(RunwareDownloadError, match=r"1099511627776 bytes or more"):
        await client.download(URL, tmp_path / "x.mp4", max_bytes=len(VIDEO))
    assert read == []
    assert leftovers(tmp_path) == []


async def test_a_video_in_chunks_smaller_than_its_signature_is_a_video(
    client: RunwareClient, runware: ScriptedRunware, tmp_path: Path
) -> None:
    runware.downloads[URL] = httpx.Response(200, content=chunks(VIDEO, size=3))
    done = await client.download(URL, tmp_path / "x.mp4")
    assert done.container == "mp4"
    assert (tmp_path / "x.mp4").read_bytes() == VIDEO


async def test_a_folder_in_the_way_is_the_disks_trouble_and_leaves_no_part_file(
    client: RunwareClient, runware: ScriptedRunware, tmp_path: Path
) -> None:
    (tmp_path / "x.mp4").mkdir()
    runware.downloads[URL] = httpx.Response(200, content=VIDEO)
    with pytest.raises(RunwareDownloadError, match="cannot save the download"):
        await client.download(URL, tmp_path / "x.mp4")
    assert leftovers(tmp_path) == ["x.mp4"]
    assert (tmp_path / "x.mp4").is_dir()


# -- redirects -----------------------------------------------------------------------------


async def test_a_relative_redirect_is_resolved_against_the_name_not_the_address(
    client: RunwareClient, runware: ScriptedRunware, tmp_path: Path
) -> None:
    moved = "https://vm.runware.test/video/moved/v-1.mp4"
    runware.downloads[URL] = httpx.Response(301, headers={"location": "/video/moved/v-1.mp4"})
    runware.downloads[moved] = httpx.Response(200, content=VIDEO)
    await client.download(URL, tmp_path / "x.mp4")
    assert [original_url(call.request) for call in runware.calls] == [URL, moved]
    assert runware.calls[1].request.headers["host"] == "vm.runware.test"
    assert runware.calls[1].request.extensions["sni_hostname"] == "vm.runware.test"


async def test_a_redirect_loop_ends_after_the_allowed_redirects(
    client: RunwareClient, runware: ScriptedRunware, tmp_path: Path
) -> None:
    runware.downloads[URL] = httpx.Response(302, headers={"location": URL})
    with pytest.raises(RunwareDownloadError, match="redirects"):
        await client.download(URL, tmp_path / "x.mp4")
    assert len(runware.calls) == MAX_REDIRECTS + 1
    assert leftovers(tmp_path) == []


async def test_the_token_of_a_redirects_signed_url_is_scrubbed_from_messages(
    client: RunwareClient, runware: ScriptedRunware, tmp_path: Path
) -> None:
    token = "tok-REDIRECT-7d1e5c0b9a3f"
    signed = f"{CDN}?token={token}"
    runware.downloads[URL] = httpx.Response(302, headers={"location": signed})
    runware.downloads[signed] = httpx.Response(200, content=VIDEO)
    await client.download(URL, tmp_path / "x.mp4")
    assert token not in scrub(f'HTTP Request: GET {signed} "HTTP/1.1 200 OK"')


# -- where a download may go ---------------------------------------------------------------


async def test_an_emulators_port_takes_http_only() -> None:
    rules = Destinations.for_base_url(EMULATOR, StubResolver())
    for url in ["ftp://127.0.0.1:8787/video/x.mp4", "ws://127.0.0.1:8787/video/x.mp4"]:
        with pytest.raises(RunwareDownloadError, match="only https://"):
            await rules.pin(url)


async def test_nat64_of_a_multicast_address_is_refused() -> None:
    rules = Destinations(StubResolver({"vm.runware.test": ["64:ff9b::e000:1"]}))
    with pytest.raises(RunwareDownloadError, match=r"224\.0\.0\.1"):
        await rules.pin(URL)


async def test_a_name_with_no_address_is_a_typed_connection_error() -> None:
    rules = Destinations(StubResolver({"vm.runware.test": []}))
    with pytest.raises(RunwareConnectionError, match="has no address") as caught:
        await rules.pin(URL)
    assert caught.value.retryable


async def test_a_localhost_subdomain_is_this_machine_without_asking_the_resolver() -> None:
    resolver = StubResolver()  # would answer a public address for any name
    rules = Destinations.for_base_url(EMULATOR, resolver)
    pinned = await rules.pin("http://video.localhost:8787/x.mp4")
    assert pinned.url.host == "127.0.0.1"
    with pytest.raises(RunwareDownloadError, match="loopback port 443"):
        await rules.pin("https://video.localhost/x.mp4")
    assert resolver.asked == []


async def test_an_ipv4_mapped_address_is_checked_as_the_ipv4_address() -> None:
    public = Destinations(StubResolver({"vm.runware.test": [f"::ffff:{PUBLIC_ADDRESS}"]}))
    assert (await public.pin(URL)).url.host == f"::ffff:{PUBLIC_ADDRESS}"
    emulator = Destinations.for_base_url(EMULATOR, StubResolver())
    pinned = await emulator.pin("http://[::ffff:127.0.0.1]:8787/x.mp4")
    assert pinned.server_name is None


# -- polling -------------------------------------------------------------------------------


async def test_a_cancelled_task_ends_the_wait_at_once(
    client: RunwareClient, runware: ScriptedRunware
) -> None:
    cancelled = {"code": "taskCancelled", "message": "cancelled", "taskUUID": TASK}
    runware.defaults["getResponse"] = answer([], [cancelled], status=404)
    with pytest.raises(RunwareError, match="taskCancelled") as caught:
        await client.wait(TASK, deadline=600)
    assert not isinstance(caught.value, RunwareTimeoutError)
    assert len(runware.of_kind("getResponse")) == 1


async def test_a_stray_error_beside_other_tasks_data_does_not_end_a_wait(
    client: RunwareClient, runware: ScriptedRunware
) -> None:
    """An error naming no task, in an answer that carries data (another task's result): it
    is not this task's failure, nor a failed round."""
    stray = {"code": "invalidTaskType", "message": "something was wrong"}
    runware.queue(
        "getResponse",
        answer([success(OTHER, video="other")], [stray], status=400),
        answer([success(TASK), success(OTHER, video="other")]),
    )
    mine, other = await asyncio.gather(client.wait(TASK), client.wait(OTHER))
    assert [r.video_uuid for r in mine] == [vid("v-1")]
    assert [r.video_uuid for r in other] == [vid("other")]
    assert len(runware.of_kind("getResponse")) == 2


async def test_a_batchs_answer_is_read_only_by_the_tasks_it_was_asked_about(
    make_client: ClientFactory, runware: ScriptedRunware
) -> None:
    """With one task per POST, an answer that fails one POST fails its task only."""
    stray = {"code": "invalidTaskType", "message": "refused"}

    def reply(tasks: list[dict[str, object]]) -> httpx.Response:
        (task,) = tasks
        if task["taskUUID"] == OTHER:
            return answer([], [stray], status=400)
        return answer([success(TASK)])

    runware.defaults["getResponse"] = reply
    async with make_client(poll=PollPolicy(max_batch=1)) as client:
        other, mine = await asyncio.gather(
            client.wait(OTHER), client.wait(TASK), return_exceptions=True
        )
    assert isinstance(other, RunwareError) and other.task_uuid == OTHER
    assert isinstance(mine, list) and [r.video_uuid for r in mine] == [vid("v-1")]


async def test_a_result_beside_the_services_trouble_is_taken(
    client: RunwareClient, runware: ScriptedRunware
) -> None:
    trouble = {"code": "serviceUnavailable", "message": "busy", "taskUUID": TASK}
    runware.queue("getResponse", answer([success()], [trouble]))
    runware.defaults["getResponse"] = answer([processing()])
    (result,) = await client.wait(TASK, deadline=60)
    assert result.video_uuid == vid("v-1")
    assert len(runware.of_kind("getResponse")) == 1


async def test_an_unknown_code_in_a_400_answer_is_a_final_failure(
    client: RunwareClient, runware: ScriptedRunware
) -> None:
    """The answer's status classes a code the client does not know: a 400 is final (not
    retried as a new, paid task)."""
    failure = {"code": "somethingNewAndWrong", "message": "no", "taskUUID": TASK}
    runware.queue("getResponse", answer([], [failure], status=400))
    with pytest.raises(RunwareValidationError, match="somethingNewAndWrong") as caught:
        await client.wait(TASK)
    assert not caught.value.retryable and not caught.value.may_be_running


async def test_a_download_that_keeps_timing_out_says_it_timed_out(
    client: RunwareClient, runware: ScriptedRunware, tmp_path: Path
) -> None:
    runware.downloads[URL] = httpx.ReadTimeout("slow")
    with pytest.raises(RunwareTimeoutError, match="timed out") as caught:
        await client.download(URL, tmp_path / "x.mp4")
    assert caught.value.retryable
    assert len(runware.calls) > 1 and leftovers(tmp_path) == []
