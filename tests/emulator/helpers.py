"""Plain-httpx helpers for the emulator tests (deliberately not the project's client)."""

from __future__ import annotations

import base64
import io
import time
import uuid
from typing import Any

import httpx
from PIL import Image

MODEL = "klingai:kling-video@o3-pro"


def new_uuid() -> str:
    return str(uuid.uuid4())


def image_bytes(
    width: int = 640,
    height: int = 360,
    color: tuple[int, int, int] = (40, 90, 160),
    fmt: str = "JPEG",
) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, fmt)
    return buffer.getvalue()


def data_uri(data: bytes, mime: str = "image/jpeg") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def video_task(**fields: Any) -> dict[str, Any]:
    """A valid text-to-video task (3 s, 1920x1080), with ``fields`` replacing or adding keys.

    A field set to ``None`` is removed.
    """
    task: dict[str, Any] = {
        "taskType": "videoInference",
        "taskUUID": new_uuid(),
        "model": MODEL,
        "positivePrompt": "A lighthouse keeper climbs the spiral stairs at dusk",
        "width": 1920,
        "height": 1080,
        "duration": 3,
    }
    task.update(fields)
    return {k: v for k, v in task.items() if v is not None}


class Api:
    """The emulator's /v1 over plain httpx, authenticated with the test key."""

    def __init__(self, base_url: str, api_key: str) -> None:
        self.base_url = base_url
        self.client = httpx.Client(timeout=20.0, headers={"Authorization": f"Bearer {api_key}"})

    def close(self) -> None:
        self.client.close()

    def post(self, tasks: Any, headers: dict[str, str] | None = None) -> httpx.Response:
        return self.client.post(self.base_url, json=tasks, headers=headers)

    def submit(self, task: dict[str, Any], headers: dict[str, str] | None = None) -> httpx.Response:
        return self.post([task], headers)

    def poll(self, task_uuid: str) -> httpx.Response:
        return self.post([{"taskType": "getResponse", "taskUUID": task_uuid}])

    def wait(self, task_uuid: str, results: int = 1, timeout: float = 20.0) -> list[dict[str, Any]]:
        """Poll until ``results`` success items (or an error); return the last data items."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            response = self.poll(task_uuid)
            body = response.json()
            if body.get("errors"):
                raise AssertionError(f"task failed: {body['errors']}")
            done = [i for i in body["data"] if i.get("status") == "success"]
            if any(i.get("status") == "error" for i in body["data"]):
                raise AssertionError(f"task failed: {body['data']}")
            if len(done) >= results:
                return list(body["data"])
            time.sleep(0.05)
        raise AssertionError(f"task {task_uuid} did not finish in {timeout} s")

    def error(self, task: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Submit ``task`` expecting a refusal; return the status and the single error."""
        response = self.submit(task)
        body = response.json()
        assert body.get("errors"), f"expected an error, got {body}"
        assert len(body["errors"]) == 1
        return response.status_code, body["errors"][0]
