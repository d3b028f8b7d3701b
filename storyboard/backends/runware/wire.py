"""The Runware wire format: task objects going out, envelopes coming back.

Pure functions and frozen types, no I/O. The client builds its request bodies here and
reads every answer through :func:`parse_envelope`, which folds the shapes the service is
known to send into one :class:`Envelope`:

- ``{"data": [...]}``, ``{"errors": [...]}``, or both at once (one task of a batch failed);
- a failed item inside ``data``: ``{"status": "error", "error": {code, message, ...}}``;
- legacy shapes: ``{"error": {...}, "taskUUID": ...}``, the old WebSocket
  ``{"error": true, "errorMessage": ...}``, and ``data`` as a single object.

Items and errors are matched to tasks by ``taskUUID``, never by position. A body that is
not JSON, or not one of these shapes, raises :class:`MalformedBody`; the client decides
what that means (an ambiguous submit, a transient poll).

Nothing a result item says is trusted as sent: :func:`video_result` checks every field's
type and shape (a UUID for ``videoUUID``, an http(s) URL for ``videoURL``, a finite
non-negative JSON number for ``cost``, an integer ``seed``, a boolean ``NSFWContent``) and
raises :class:`BadResult` otherwise. JSON's ``NaN`` and ``Infinity`` (which Python's
parser accepts) are never numbers here.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from storyboard.backends.runware.errors import RunwareError, error_from_api

__all__ = [
    "ApiError",
    "BadResult",
    "Envelope",
    "MalformedBody",
    "VideoResult",
    "encode",
    "get_response_task",
    "image_upload_task",
    "is_success",
    "media_upload_task",
    "parse_envelope",
    "video_result",
    "video_task",
]

Json = dict[str, Any]

#: Statuses that mean a generation finished well. Any other status (``processing``,
#: ``pending``, ``queued``, ``scheduled``, ``waiting``, or one invented tomorrow) means
#: "not yet"; ``error`` items are turned into errors by :func:`parse_envelope`.
SUCCESS_STATUSES = frozenset({"success", "completed", "complete", "succeeded", "done"})


class MalformedBody(ValueError):
    """An answer that is not JSON or not a known envelope shape."""


class BadResult(ValueError):
    """A finished result whose fields are not what the protocol says they are."""


_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)


@dataclass(frozen=True)
class ApiError:
    """One error the service reported, normalized.

    Attributes:
        code: raw server code (``"unsupportedDuration"``), if any.
        message: the service's text.
        parameter: the offending field; a list of fields is joined with ``", "``.
        task_uuid: the task it is about, if the service said.
        task_type: the task type it is about, if the service said.
        documentation: the service's documentation link.
        raw: the error object as received.
    """

    code: str | None
    message: str | None
    parameter: str | None = None
    task_uuid: str | None = None
    task_type: str | None = None
    documentation: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def to_exception(self, status_code: int | None, context: str = "") -> RunwareError:
        """The typed exception for this error (see :mod:`.errors`)."""
        return error_from_api(
            code=self.code,
            message=self.message,
            status_code=status_code,
            task_uuid=self.task_uuid,
            parameter=self.parameter,
            documentation=self.documentation,
            context=context,
        )


@dataclass(frozen=True)
class Envelope:
    """One answer: its HTTP status, its ``data`` items and its errors (in order received)."""

    status_code: int
    data: tuple[Json, ...]
    errors: tuple[ApiError, ...]

    def items_for(self, task_uuid: str) -> list[Json]:
        """The data items about ``task_uuid``."""
        return [item for item in self.data if item.get("taskUUID") == task_uuid]

    def errors_for(self, task_uuid: str) -> list[ApiError]:
        """The errors about ``task_uuid``."""
        return [error for error in self.errors if error.task_uuid == task_uuid]

    def unattributed_errors(self) -> list[ApiError]:
        """The errors that name no task (auth failures, malformed batches...)."""
        return [error for error in self.errors if not error.task_uuid]


@dataclass(frozen=True)
class VideoResult:
    """One finished video, as the service described it.

    Attributes:
        task_uuid: the task that made it.
        video_uuid: the service's id of the video (also usable as an input later).
        video_url: where to download it.
        cost: its cost in USD, when the task asked for ``includeCost``.
        seed: the seed the model used, when reported.
        nsfw: whether the service flagged the output (``NSFWContent``).
        raw: the result item as received.
    """

    task_uuid: str
    video_uuid: str | None
    video_url: str | None
    cost: float | None
    seed: int | None
    nsfw: bool
    raw: Mapping[str, Any] = field(repr=False, compare=False)


# -- outgoing tasks --------------------------------------------------------------------


def video_task(request: Mapping[str, Any], task_uuid: str) -> Json:
    """The ``videoInference`` task for ``request``: async delivery, cost included."""
    given = request.get("taskUUID")
    if given is not None and given != task_uuid:
        raise ValueError(f"request carries taskUUID {given!r}, but {task_uuid!r} was given")
    task = dict(request)
    task.update(
        taskType="videoInference",
        taskUUID=task_uuid,
        deliveryMethod="async",
        includeCost=True,
    )
    return task


def get_response_task(task_uuid: str) -> Json:
    """Ask for the current state of the task ``task_uuid`` (its own UUID, not a new one)."""
    return {"taskType": "getResponse", "taskUUID": task_uuid}


def image_upload_task(task_uuid: str, data_uri: str) -> Json:
    """Upload an image given as a data URI."""
    return {"taskType": "imageUpload", "taskUUID": task_uuid, "image": data_uri}


def media_upload_task(task_uuid: str, data_uri: str) -> Json:
    """Upload any media (video, audio) given as a data URI."""
    return {
        "taskType": "mediaStorage",
        "taskUUID": task_uuid,
        "operation": "upload",
        "media": data_uri,
    }


def encode(tasks: Iterable[Mapping[str, Any]]) -> bytes:
    """The request body: always a JSON array, even for one task."""
    try:
        return json.dumps(list(tasks), separators=(",", ":"), allow_nan=False).encode()
    except (TypeError, ValueError) as exc:
        raise ValueError(f"request is not JSON-serializable: {exc}") from exc


# -- incoming envelopes ----------------------------------------------------------------


def parse_envelope(content: bytes, status_code: int) -> Envelope:
    """Read an answer body into an :class:`Envelope`.

    Raises:
        MalformedBody: the body is not JSON, or not a known envelope shape.
    """
    try:
        body = json.loads(content)
    except (UnicodeDecodeError, ValueError) as exc:
        raise MalformedBody(f"answer is not JSON (HTTP {status_code})") from exc
    if not isinstance(body, dict):
        raise MalformedBody(f"answer is a JSON {type(body).__name__}, not an object")
    if not {"data", "errors", "error"} & body.keys():
        raise MalformedBody("answer has neither data nor errors")

    data: list[Json] = []
    errors: list[ApiError] = []
    for item in _objects(body.get("data"), "data"):
        if str(item.get("status", "")).lower() == "error":
            errors.append(_error_in_data(item))
        else:
            data.append(item)
    errors.extend(_api_error(item) for item in _objects(body.get("errors"), "errors"))
    if "error" in body and body["error"] not in (None, False):
        errors.append(_legacy_error(body))
    return Envelope(status_code, tuple(data), tuple(errors))


def is_success(item: Mapping[str, Any]) -> bool:
    """Whether a data item is a finished generation (any other status keeps polling)."""
    status = item.get("status")
    if isinstance(status, str):
        return status.lower() in SUCCESS_STATUSES
    return status is None and any(item.get(key) for key in ("videoURL", "videoUUID"))


def video_result(item: Mapping[str, Any]) -> VideoResult:
    """The :class:`VideoResult` for a successful data item, every field checked.

    Raises:
        BadResult: a field is missing, of the wrong type or shape (see the module docstring).
    """
    video_uuid = item.get("videoUUID")
    if not (isinstance(video_uuid, str) and _UUID.match(video_uuid)):
        raise BadResult(f"videoUUID is {_kind(video_uuid)}, not a UUID")
    url = item.get("videoURL")
    if not (isinstance(url, str) and url.lower().startswith(("https://", "http://"))):
        raise BadResult(f"videoURL is {_kind(url)}, not an http(s) URL")
    cost = item.get("cost")
    if cost is not None and not _is_number(cost):
        raise BadResult(f"cost is {_kind(cost)}, not a number")
    if cost is not None and not (math.isfinite(_as_float(cost)) and cost >= 0):
        raise BadResult(f"cost is {_kind(cost)}, not a finite amount of at least 0")
    seed = item.get("seed")
    if seed is not None and not (_is_number(seed) and _as_float(seed).is_integer()):
        raise BadResult(f"seed is {_kind(seed)}, not an integer")
    nsfw = item.get("NSFWContent")
    if nsfw is not None and not isinstance(nsfw, bool):
        raise BadResult(f"NSFWContent is {_kind(nsfw)}, not a boolean")
    return VideoResult(
        task_uuid=str(item.get("taskUUID", "")),
        video_uuid=video_uuid.lower(),
        video_url=url,
        cost=None if cost is None else _as_float(cost),
        seed=None if seed is None else int(seed),
        nsfw=nsfw is True,
        raw=dict(item),
    )


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _as_float(value: int | float) -> float:
    try:
        return float(value)
    except OverflowError:  # an integer of hundreds of digits
        return math.inf


def _kind(value: Any) -> str:
    """What a field holds, for a message: its type, never more than a short value."""
    if value is None:
        return "missing"
    if _is_number(value):
        text = repr(value)
        return text if len(text) <= 24 else f"a number of {len(text)} digits"
    if isinstance(value, str):
        return f"a string of {len(value)} characters"
    return f"a JSON {type(value).__name__}"


def _objects(value: Any, name: str) -> list[Json]:
    """``data``/``errors`` as a list of objects; an object alone is a list of one."""
    if value is None:
        return []
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list) and all(isinstance(item, dict) for item in value):
        return value
    raise MalformedBody(f"answer's {name!r} is neither a list of objects nor an object")


def _api_error(raw: Mapping[str, Any], fallback: Mapping[str, Any] | None = None) -> ApiError:
    outer = fallback or {}
    parameter = raw.get("parameter")
    if isinstance(parameter, list):
        parameter = ", ".join(str(part) for part in parameter)
    return ApiError(
        code=_str(raw.get("code")),
        message=_str(raw.get("message") or raw.get("errorMessage")),
        parameter=_str(parameter),
        task_uuid=_str(raw.get("taskUUID") or outer.get("taskUUID")),
        task_type=_str(raw.get("taskType") or outer.get("taskType")),
        documentation=_str(raw.get("documentation")),
        raw=dict(raw),
    )


def _error_in_data(item: Json) -> ApiError:
    """``{"status": "error", "error": {...}}`` (or the fields on the item itself)."""
    inner = item.get("error")
    return _api_error(inner if isinstance(inner, dict) else item, fallback=item)


def _legacy_error(body: Json) -> ApiError:
    """``{"error": {...}, "taskUUID": ...}`` or ``{"error": true, "errorMessage": ...}``."""
    inner = body["error"]
    if isinstance(inner, dict):
        return _api_error(inner, fallback=body)
    if isinstance(inner, str):
        return _api_error({"message": inner}, fallback=body)
    error = _api_error(body)
    if error.code is None and "api key" in (error.message or "").lower():
        # The old WebSocket shape has no code; "Invalid api key" is its auth failure.
        return ApiError("invalidApiKey", error.message, "apiKey", raw=error.raw)
    return error


def _str(value: Any) -> str | None:
    return None if value is None else str(value)
