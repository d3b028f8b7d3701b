"""The client against the Runware emulator over real loopback HTTP.

The production code path end to end: the client's httpx transport, the emulator's uvicorn
server, its ledger. Timings are real but short (the emulator's test jobs take ~0.3 s; the
client polls from 0.2 s and retries after 0.05 s).
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from storyboard.backends.runware import (
    PollPolicy,
    RetryPolicy,
    RunwareAuthError,
    RunwareClient,
    RunwareProviderError,
    RunwareSafetyError,
    RunwareValidationError,
)
from storyboard.emulator.server import EmulatorServer
from storyboard.media import render_animatic
from storyboard.testing import plugin
from tests.backends.runware.fakes import text_request

pytestmark = pytest.mark.anyio

# The emulator's fixtures (the plugin is not registered project-wide).
emulator_server = plugin.emulator_server
emulator = plugin.emulator

SEED = json.loads(
    (Path(__file__).parents[2] / "emulator" / "data" / "seed_requests.json").read_text()
)["cases"]
MODEL = "klingai:kling-video@o3-pro"
FAST_RETRY = RetryPolicy(max_attempts=5, base_delay=0.05, max_delay=0.2, jitter=0.02)
FAST_POLL = PollPolicy(first_delay=0.2, multiplier=1.5, max_interval=0.5, deadline=60)


class RecordingTransport(httpx.AsyncHTTPTransport):
    """The real HTTP transport, remembering the tasks of every POST."""

    def __init__(self) -> None:
        super().__init__()
        self.posts: list[list[dict[str, Any]]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            self.posts.append(json.loads(request.content))
        return await super().handle_async_request(request)

    def tasks(self, kind: str) -> list[dict[str, Any]]:
        return [task for post in self.posts for task in post if task["taskType"] == kind]

    def batches(self, kind: str) -> list[list[str]]:
        return [
            [task["taskUUID"] for task in post]
            for post in self.posts
            if post and post[0]["taskType"] == kind
        ]


Connect = Callable[..., RunwareClient]


@pytest.fixture
def transport() -> RecordingTransport:
    return RecordingTransport()


@pytest.fixture
async def connect(
    emulator: EmulatorServer, transport: RecordingTransport
) -> AsyncIterator[Connect]:
    """Clients on the emulator, closed after the test."""
    made: list[RunwareClient] = []

    def make(**options: Any) -> RunwareClient:
        options.setdefault("transport", transport)
        client = RunwareClient(
            options.pop("api_key", emulator.api_key),
            base_url=emulator.base_url,
            retry=options.pop("retry", FAST_RETRY),
            poll=options.pop("poll", FAST_POLL),
            env={},
            **options,
        )
        made.append(client)
        return client

    yield make
    for client in made:
        await client.aclose()


@pytest.fixture(scope="module")
def edit_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 6 s, 1280x720, 24 fps MP4: a source the emulator accepts for an edit."""
    path = tmp_path_factory.mktemp("sources") / "source-6s.mp4"
    return render_animatic(path, width=1280, height=720, duration_s=6, segments=[("s", "src", 6)])


def jpeg(width: int = 640, height: int = 360) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (40, 90, 160)).save(buffer, "JPEG")
    return buffer.getvalue()


def new_uuid() -> str:
    return str(uuid.uuid4())


def billed(emulator: EmulatorServer, task_uuid: str) -> list[Any]:
    return [entry for entry in emulator.ledger() if entry.task_uuid == task_uuid]


async def test_the_five_seed_requests_are_billed_once_each(
    emulator: EmulatorServer,
    connect: Connect,
    transport: RecordingTransport,
    edit_source: Path,
    tmp_path: Path,
) -> None:
    for case in SEED:
        inputs = case["request"].get("inputs", {})
        for frame in inputs.get("frameImages", []):
            emulator.register_remote(frame["image"], jpeg())
        if "video" in inputs:
            emulator.register_remote(inputs["video"], edit_source)
    client = connect()

    requests = [
        {k: v for k, v in case["request"].items() if k not in ("taskType", "taskUUID")}
        for case in SEED
    ]
    results = await asyncio.gather(
        *(
            client.run(request, case["request"]["taskUUID"])
            for request, case in zip(requests, SEED, strict=True)
        )
    )

    for case, (result,) in zip(SEED, results, strict=True):
        expected = case["response"]
        assert result.task_uuid == expected["taskUUID"]
        assert result.cost == expected["cost"]
        assert result.video_uuid and result.video_url
        assert isinstance(result.seed, int) and result.nsfw is False
        done = await client.download(result, tmp_path / f"{result.task_uuid}.mp4")
        assert done.container == "mp4"
        assert done.sha256 == hashlib.sha256(done.path.read_bytes()).hexdigest()
    ledger = emulator.ledger()
    assert sorted(e.task_uuid for e in ledger) == sorted(c["request"]["taskUUID"] for c in SEED)
    assert {e.status for e in ledger} == {"billed"}
    assert emulator.total_cost() == pytest.approx(sum(c["response"]["cost"] for c in SEED))
    # One videoInference per seed, and polls batched: fewer POSTs than getResponse objects.
    assert len(transport.tasks("videoInference")) == len(SEED)
    polls = transport.batches("getResponse")
    assert max(len(batch) for batch in polls) >= 2
    assert len(polls) < len(transport.tasks("getResponse"))
    assert all(len(batch) == len(set(batch)) for batch in polls)


@pytest.mark.parametrize(
    "faults",
    [
        "submit-503*1, submit-429*1, submit-504*1",
        "poll-503*1, poll-429*1, poll-504*1, poll-malformed*1, poll-drop*1",
        "empty-ack*1, pending*1",
    ],
)
async def test_faults_are_survived_and_billed_once(
    emulator: EmulatorServer, connect: Connect, transport: RecordingTransport, faults: str
) -> None:
    emulator.set_faults(faults)
    task = new_uuid()
    (result,) = await connect().run(text_request(), task)
    assert result.task_uuid == task and result.cost == pytest.approx(0.336)
    assert [(e.status, e.cost) for e in billed(emulator, task)] == [("billed", 0.336)]
    assert {t["taskUUID"] for t in transport.tasks("videoInference")} == {task}
    assert emulator.stats()["faults"]


@pytest.mark.parametrize("fault", ["drop*1", "malformed*1", "slow-ack*1:delay=1.5"])
async def test_an_answer_lost_after_acceptance_is_billed_exactly_once(
    emulator: EmulatorServer, connect: Connect, transport: RecordingTransport, fault: str
) -> None:
    emulator.set_faults(fault)
    client = connect(timeout=httpx.Timeout(0.5))
    task = new_uuid()
    submission = await client.submit(text_request(), task)
    assert submission.already_accepted and submission.attempts == 2
    (result,) = await client.wait(task)
    assert result.task_uuid == task
    assert len(billed(emulator, task)) == 1
    assert [t["taskUUID"] for t in transport.tasks("videoInference")] == [task, task]
    assert emulator.stats()["errors"].get("conflictTaskUUID") == 1


async def test_a_resumed_build_polls_instead_of_paying_again(
    emulator: EmulatorServer, connect: Connect
) -> None:
    task = new_uuid()
    await connect().submit(text_request(), task)  # the first build dies after this
    resumed = connect()
    with pytest.raises(RunwareValidationError, match="already used by another request"):
        await resumed.submit(text_request(), task)
    submission = await resumed.submit(text_request(), task, resumed=True)
    assert submission.already_accepted
    (result,) = await resumed.wait(task)
    assert result.task_uuid == task
    assert len(billed(emulator, task)) == 1


@pytest.mark.parametrize(
    ("fault", "error", "code"),
    [
        ("provider-error", RunwareProviderError, "timeoutProvider"),
        ("item-error", RunwareProviderError, "timeoutProvider"),
        ("moderation", RunwareSafetyError, "providerContentPolicyViolation"),
    ],
)
async def test_failed_generations_come_typed(
    emulator: EmulatorServer,
    connect: Connect,
    fault: str,
    error: type[Exception],
    code: str,
) -> None:
    task = new_uuid()
    emulator.set_faults(f"{fault}:after=1:task={task}")
    client = connect()
    await client.submit(text_request(), task)
    with pytest.raises(error) as caught:
        await client.wait(task)
    failure = caught.value
    assert getattr(failure, "task_uuid", None) == task
    assert getattr(failure, "code", None) == code
    assert getattr(failure, "may_be_running", True) is False
    if isinstance(failure, RunwareSafetyError):
        assert failure.flagged == "positivePrompt"


async def test_a_refused_request_raises_at_once_and_costs_nothing(
    emulator: EmulatorServer, connect: Connect, transport: RecordingTransport
) -> None:
    with pytest.raises(RunwareValidationError) as caught:
        await connect().submit(text_request(duration=20), new_uuid())
    assert caught.value.parameter == "duration"
    assert caught.value.status_code == 400
    assert emulator.ledger() == []
    assert len(transport.posts) == 1


async def test_a_wrong_key_is_an_auth_error_that_does_not_show_the_key(
    emulator: EmulatorServer, connect: Connect
) -> None:
    wrong = "rw-wrong-key-0123456789abcdef0123"
    with pytest.raises(RunwareAuthError) as caught:
        await connect(api_key=wrong).submit(text_request(), new_uuid())
    assert wrong not in str(caught.value) and wrong not in repr(caught.value)
    assert emulator.ledger() == []


async def test_local_inputs_are_uploaded_once_and_used(
    emulator: EmulatorServer,
    connect: Connect,
    transport: RecordingTransport,
    edit_source: Path,
    tmp_path: Path,
) -> None:
    start = tmp_path / "start.jpg"
    start.write_bytes(jpeg())
    files = {"@start": start, "@source": edit_source}

    def local(_path: Any, value: Any) -> Path | None:
        return files.get(value) if isinstance(value, str) else None

    client = connect()
    frames = {
        "model": MODEL,
        "positivePrompt": "The keeper turns toward the sea",
        "duration": 3,
        "inputs": {"frameImages": [{"image": "@start", "frame": "first"}]},
    }
    edit = {"model": MODEL, "positivePrompt": "Make it snow", "inputs": {"video": "@source"}}
    results = []
    for request in (frames, dict(frames, positivePrompt="Again, at night"), edit):
        resolved = await client.upload_inputs(request, local)
        results += await client.run(resolved, new_uuid())
    assert [r.cost for r in results] == pytest.approx([0.336, 0.336, 1.008])
    assert len(transport.tasks("imageUpload")) == 1  # start.jpg, used twice
    assert len(transport.tasks("mediaStorage")) == 1
    assert len(emulator.ledger()) == 3
