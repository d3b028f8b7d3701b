"""Fakes for the Runware client's logic tests: a fake clock and a scripted Runware.

Nothing here sleeps for real or opens a socket: the client gets an ``httpx.MockTransport``
whose handler is :class:`ScriptedRunware`, and a :class:`FakeClock` whose ``sleep`` only
records the delay and moves the clock on.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

API_KEY = "rw-test-5ecret-KEY-0123456789abcdef"
BASE_URL = "https://api.runware.test/v1"
TASK = "24cd5dff-cb81-4db5-8506-b72a9425f9d1"
REQUEST: dict[str, Any] = {
    "model": "klingai:kling-video@o3-pro",
    "positivePrompt": "A lighthouse at dusk, waves rolling in",
    "width": 1920,
    "height": 1080,
    "duration": 5,
}
MP4_HEAD = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2"
#: The address :class:`StubResolver` gives every name: public, so that downloads are allowed;
#: nothing ever connects to it (the transport is an ``httpx.MockTransport``).
PUBLIC_ADDRESS = "93.184.216.34"

Reply = httpx.Response | Exception | Callable[[list[dict[str, Any]]], "httpx.Response | Exception"]


def text_request(**fields: Any) -> dict[str, Any]:
    """A text-to-video request the emulator takes (3 s, 1080p), with ``fields`` over it."""
    request = {
        "model": REQUEST["model"],
        "positivePrompt": "A lighthouse keeper climbs the spiral stairs at dusk",
        "width": 1920,
        "height": 1080,
        "duration": 3,
    }
    request.update(fields)
    return request


class FakeClock:
    """A monotonic clock that moves only when someone sleeps on it."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


@dataclass
class StubResolver:
    """Resolves names from a table (``PUBLIC_ADDRESS`` for any other), never asking DNS."""

    table: dict[str, list[str]] = field(default_factory=dict)
    asked: list[str] = field(default_factory=list)

    async def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        return self.table.get(host, [PUBLIC_ADDRESS])


def original_url(request: httpx.Request) -> str:
    """The URL a download asked for: the client sends it to the checked address, with the
    name in the ``Host`` header."""
    host = request.headers.get("host")
    if not host:
        return str(request.url)
    name, _, port = host.rpartition(":") if host.count(":") == 1 else (host, "", "")
    url = request.url.copy_with(host=name)
    return str(url.copy_with(port=int(port)) if port else url)


@dataclass
class Call:
    """One request the transport saw."""

    request: httpx.Request
    tasks: list[dict[str, Any]]

    @property
    def kind(self) -> str:
        return str(self.tasks[0].get("taskType")) if self.tasks else ""

    @property
    def uuids(self) -> list[str]:
        return [task.get("taskUUID", "") for task in self.tasks]


@dataclass
class ScriptedRunware:
    """Answers by task type: queued replies first, then the type's default.

    A reply is an ``httpx.Response``, an exception to raise (a dropped connection), or a
    function of the request's tasks returning either.
    """

    calls: list[Call] = field(default_factory=list)
    queued: dict[str, list[Reply]] = field(default_factory=dict)
    defaults: dict[str, Reply] = field(default_factory=dict)
    downloads: dict[str, Reply] = field(default_factory=dict)

    def queue(self, kind: str, *replies: Reply) -> None:
        self.queued.setdefault(kind, []).extend(replies)

    def of_kind(self, kind: str) -> list[Call]:
        return [call for call in self.calls if call.kind == kind]

    def handler(self, request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            self.calls.append(Call(request, []))
            return _resolve(self.downloads[original_url(request)], [])
        tasks = json.loads(request.content)
        call = Call(request, tasks)
        self.calls.append(call)
        replies = self.queued.get(call.kind)
        reply = replies.pop(0) if replies else self.defaults.get(call.kind)
        if reply is None:
            return answer(
                errors=[{"code": "unsupportedTaskType", "message": call.kind}], status=400
            )
        return _resolve(reply, tasks)


def _resolve(reply: Reply, tasks: list[dict[str, Any]]) -> httpx.Response:
    if callable(reply) and not isinstance(reply, httpx.Response | Exception):
        reply = reply(tasks)
    if isinstance(reply, Exception):
        raise reply
    return reply


def answer(
    data: list[dict[str, Any]] | None = None,
    errors: list[dict[str, Any]] | None = None,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    body: dict[str, Any] = {}
    if data is not None:
        body["data"] = data
    if errors is not None:
        body["errors"] = errors
    return httpx.Response(status, json=body, headers=headers)


def ack(task_uuid: str = TASK) -> httpx.Response:
    return answer([{"taskType": "videoInference", "taskUUID": task_uuid}])


def conflict(task_uuid: str = TASK) -> httpx.Response:
    error = {"code": "conflictTaskUUID", "message": "already used", "taskUUID": task_uuid}
    return answer([], [error], status=400)


def processing(task_uuid: str = TASK, status: str = "processing") -> dict[str, Any]:
    return {"taskType": "videoInference", "taskUUID": task_uuid, "status": status}


def vid(label: str) -> str:
    """The videoUUID of the result labelled ``label`` (results carry real UUIDs)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"video:{label}"))


def success(task_uuid: str = TASK, video: str = "v-1", **extra: Any) -> dict[str, Any]:
    item = {
        "taskType": "videoInference",
        "taskUUID": task_uuid,
        "status": "success",
        "videoUUID": vid(video),
        "videoURL": f"https://vm.runware.test/video/{video}.mp4",
        "cost": 0.7,
        "seed": 42,
    }
    item.update(extra)
    return item
