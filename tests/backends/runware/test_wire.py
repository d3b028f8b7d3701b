"""Envelopes: both failure encodings, mixed bodies, legacy shapes, malformed bodies."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from storyboard.backends.runware import RunwareAuthError, RunwareSafetyError
from storyboard.backends.runware.wire import (
    BadResult,
    MalformedBody,
    encode,
    is_success,
    parse_envelope,
    video_result,
    video_task,
)
from tests.backends.runware.fakes import REQUEST, TASK

OTHER = "0b06a81c-dd0b-435c-918a-5603e69d0a3d"


def parse(body: Any, status: int = 200) -> Any:
    return parse_envelope(json.dumps(body).encode(), status)


def test_data_and_errors_in_one_body_are_split_by_task() -> None:
    envelope = parse(
        {
            "data": [
                {"taskType": "videoInference", "taskUUID": TASK, "status": "processing"},
                {"taskUUID": OTHER, "status": "success", "videoUUID": "v"},
            ],
            "errors": [{"code": "timeoutProvider", "status": "error", "taskUUID": TASK}],
        }
    )
    assert [item["status"] for item in envelope.items_for(TASK)] == ["processing"]
    assert [error.code for error in envelope.errors_for(TASK)] == ["timeoutProvider"]
    assert envelope.errors_for(OTHER) == []
    assert envelope.unattributed_errors() == []


def test_an_error_item_inside_data_becomes_an_error() -> None:
    envelope = parse(
        {
            "data": [
                {
                    "taskType": "videoInference",
                    "taskUUID": TASK,
                    "status": "error",
                    "error": {"code": "inferenceError", "message": "boom", "parameter": ["a", "b"]},
                }
            ]
        }
    )
    assert envelope.data == ()
    (error,) = envelope.errors_for(TASK)
    assert (error.code, error.message, error.parameter, error.task_type) == (
        "inferenceError",
        "boom",
        "a, b",
        "videoInference",
    )


def test_an_error_item_with_fields_on_itself_is_read_too() -> None:
    envelope = parse({"data": [{"taskUUID": TASK, "status": "error", "code": "taskFailed"}]})
    assert [error.code for error in envelope.errors_for(TASK)] == ["taskFailed"]


def test_legacy_error_envelope() -> None:
    envelope = parse(
        {"error": {"code": "invalidModel", "message": "no"}, "taskUUID": TASK, "taskType": "x"},
        status=400,
    )
    (error,) = envelope.errors_for(TASK)
    assert (error.code, error.task_type) == ("invalidModel", "x")


def test_legacy_websocket_auth_failure() -> None:
    envelope = parse(
        {
            "error": True,
            "errorMessageContentId": 1212,
            "errorId": 19,
            "errorMessage": "Invalid api key",
        }
    )
    (error,) = envelope.unattributed_errors()
    assert error.message == "Invalid api key"
    assert isinstance(error.to_exception(200), RunwareAuthError)


def test_legacy_string_error_and_data_object() -> None:
    assert parse({"error": "nope"}).errors[0].message == "nope"
    envelope = parse({"data": {"taskType": "imageUpload", "taskUUID": TASK, "imageUUID": "i"}})
    assert envelope.items_for(TASK)[0]["imageUUID"] == "i"


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"<html>502</html>",
        b"[1, 2]",
        b'"text"',
        b"{}",
        b'{"data": 3}',
        b'{"data": [1]}',
        b'{"errors": "bad"}',
        b"\xff\xfe",
    ],
)
def test_malformed_bodies_are_refused(content: bytes) -> None:
    with pytest.raises(MalformedBody):
        parse_envelope(content, 200)


@pytest.mark.parametrize(
    ("item", "done"),
    [
        ({"status": "success", "videoURL": "u"}, True),
        ({"status": "SUCCESS"}, True),
        ({"status": "completed"}, True),
        ({"videoUUID": "v", "videoURL": "u"}, True),  # seed examples carry no status
        ({"status": "processing", "videoURL": "u"}, False),
        ({"status": "pending"}, False),
        ({"status": "queued"}, False),
        ({}, False),
    ],
)
def test_is_success(item: dict[str, Any], done: bool) -> None:
    assert is_success(item) is done


GOOD_ITEM: dict[str, Any] = {
    "taskType": "videoInference",
    "taskUUID": TASK,
    "status": "success",
    "videoUUID": "5b0c4a38-3f51-4f4a-9d55-0d0f6f2b1a11",
    "videoURL": "https://vm.runware.test/video/5b0c4a38.mp4",
    "cost": 0.56,
    "seed": 3,
    "NSFWContent": False,
}


def test_a_good_result_is_read_whole() -> None:
    result = video_result(GOOD_ITEM)
    assert (result.video_uuid, result.cost, result.seed, result.nsfw) == (
        GOOD_ITEM["videoUUID"], 0.56, 3, False,
    )  # fmt: skip
    assert video_result({**GOOD_ITEM, "cost": None, "seed": 3.0}).seed == 3


@pytest.mark.parametrize(
    ("field", "value", "said"),
    [
        ("cost", float("nan"), "not a finite amount"),
        ("cost", float("inf"), "not a finite amount"),
        ("cost", -1000, "not a finite amount"),
        ("cost", "1e308", "not a number"),
        ("cost", "0.5", "not a number"),
        ("cost", True, "not a number"),
        ("cost", 10**400, "not a finite amount"),
        ("seed", 2.5, "not an integer"),
        ("seed", "7", "not an integer"),
        ("NSFWContent", "yes", "not a boolean"),
        ("videoUUID", "v-1", "not a UUID"),
        ("videoUUID", None, "not a UUID"),
        ("videoURL", "file:///etc/passwd", "not an http(s) URL"),
        ("videoURL", 7, "not an http(s) URL"),
    ],
)
def test_a_result_field_of_the_wrong_type_or_shape_is_refused(
    field: str, value: Any, said: str
) -> None:
    with pytest.raises(BadResult, match=re.escape(said)) as caught:
        video_result({**GOOD_ITEM, field: value})
    assert len(str(caught.value)) < 80  # names the field, never echoes a long value


def test_video_task_adds_delivery_and_cost_without_touching_the_request() -> None:
    original = dict(REQUEST)
    task = video_task(REQUEST, TASK)
    assert task["deliveryMethod"] == "async" and task["includeCost"] is True
    assert original == REQUEST
    with pytest.raises(ValueError, match="JSON"):
        encode([{"x": float("nan")}])


def test_safety_error_without_parameter_names_nothing() -> None:
    error = parse({"errors": [{"code": "nsfwContentDetected", "taskUUID": TASK}]}).errors[0]
    exc = error.to_exception(None)
    assert isinstance(exc, RunwareSafetyError) and exc.flagged is None
