"""Framing, authentication and the non-inference task types of ``POST /v1``."""

from __future__ import annotations

import httpx
import pytest

from storyboard.emulator.server import EmulatorServer
from tests.emulator.helpers import Api, new_uuid, video_task


def test_only_post(emulator: EmulatorServer) -> None:
    response = httpx.get(emulator.base_url)
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.json()["errors"][0]["code"] == "methodNotAllowed"


@pytest.mark.parametrize("body", [b"{not json", b'{"taskType": "ping"}', b"[]", b"[1, 2]"])
def test_body_must_be_a_json_array_of_tasks(api: Api, body: bytes) -> None:
    response = api.client.post(
        api.base_url, content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json() == {"errors": [response.json()["errors"][0]]}
    assert response.json()["errors"][0]["code"] == "invalidPayload"


def test_missing_and_invalid_api_keys(emulator: EmulatorServer) -> None:
    tasks = [video_task()]
    missing = httpx.post(emulator.base_url, json=tasks)
    assert missing.status_code == 401
    assert missing.json()["errors"][0] | {"message": ""} == {
        "code": "missingApiKey",
        "message": "",
        "parameter": "apiKey",
        "taskType": "authentication",
        "documentation": missing.json()["errors"][0]["documentation"],
    }
    wrong = httpx.post(emulator.base_url, json=tasks, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert wrong.json()["errors"][0]["code"] == "invalidApiKey"
    assert "nope" not in wrong.text
    assert emulator.ledger() == []


def test_payload_authentication(emulator: EmulatorServer) -> None:
    ping = {"taskType": "ping", "ping": True}
    good = httpx.post(
        emulator.base_url, json=[{"taskType": "authentication", "apiKey": emulator.api_key}, ping]
    )
    assert good.json() == {"data": [{"taskType": "ping", "pong": True}]}
    bad = httpx.post(
        emulator.base_url, json=[{"taskType": "authentication", "apiKey": "nope"}, ping]
    )
    assert bad.status_code == 401
    late = httpx.post(
        emulator.base_url,
        json=[ping, {"taskType": "authentication", "apiKey": emulator.api_key}],
        headers={"Authorization": f"Bearer {emulator.api_key}"},
    )
    assert late.status_code == 200
    assert late.json()["data"] == [{"taskType": "ping", "pong": True}]
    assert late.json()["errors"][0]["code"] == "invalidPayload"


def test_any_key_is_accepted_when_none_is_configured(emulator: EmulatorServer) -> None:
    emulator.configure(api_keys=None)
    response = httpx.post(
        emulator.base_url,
        json=[{"taskType": "ping", "ping": True}],
        headers={"Authorization": "Bearer whatever"},
    )
    assert response.status_code == 200


def test_unsupported_and_missing_task_types(api: Api) -> None:
    unsupported = api.post([{"taskType": "imageInference", "taskUUID": new_uuid()}])
    assert unsupported.status_code == 400
    [error] = unsupported.json()["errors"]
    assert (error["code"], error["parameter"], error["taskType"]) == (
        "unsupportedTaskType",
        "taskType",
        "imageInference",
    )
    assert "videoInference" in error["allowedValues"]
    missing = api.post([{"taskUUID": new_uuid()}])
    assert missing.json()["errors"][0]["code"] == "missingTaskType"


def test_stats_count_requests_by_task_type(emulator: EmulatorServer, api: Api) -> None:
    task = video_task()
    api.post([task, {"taskType": "ping", "ping": True}])
    api.poll(task["taskUUID"])
    api.poll(task["taskUUID"])
    stats = emulator.stats()
    assert stats["requests"] == 3
    assert stats["tasks"] == {"videoInference": 1, "ping": 1, "getResponse": 2}
    assert stats["statuses"] == {"200": 3}
    assert httpx.get(emulator.url("/_emulator/stats")).json() == stats
