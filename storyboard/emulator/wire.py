"""The Runware wire format as the emulator speaks it: error objects, envelopes, HTTP status.

Everything the emulator refuses is an :class:`ApiError`; it turns into one Runware-style error
object (``code``, ``message``, ``parameter``, ``taskType``, ``taskUUID`` and, where natural,
``type``, ``allowedValues``, ``documentation``) inside ``{"errors": [...]}``. The reference
(``runware-protocol.md`` §1.3, §1.4, §9) fixes the fields; the names of most codes are the
emulator's choice, following the families the official SDKs classify (``invalid…``,
``missing…``, ``unsupported…``, ``…NotFound``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

JSON = dict[str, Any]

MODEL = "klingai:kling-video@o3-pro"
DOCS = "https://runware.ai/docs/models/klingai-video-o3-pro"

_UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$", re.I)
_UUID_ANY = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)


def is_uuid4(value: object) -> bool:
    """True for a string in the canonical UUID version 4 form."""
    return isinstance(value, str) and bool(_UUID4.match(value))


def looks_like_uuid(value: object) -> bool:
    """True for any canonical UUID string (media references may use any version)."""
    return isinstance(value, str) and bool(_UUID_ANY.match(value))


@dataclass
class ApiError(Exception):
    """One refusal, as the service would report it.

    ``status`` is the HTTP status this error alone would give the response; ``extra`` holds
    additional fields such as ``type``, ``allowedValues`` or ``status: "error"``.
    """

    code: str
    message: str
    parameter: str | None = None
    status: int = 400
    task_type: str | None = None
    task_uuid: str | None = None
    extra: JSON = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(f"{self.code}: {self.message}")

    def for_task(self, task_type: str | None, task_uuid: str | None) -> ApiError:
        """This error, tagged with the task it belongs to (keeps tags already set)."""
        if self.task_type is None:
            self.task_type = task_type
        if self.task_uuid is None and isinstance(task_uuid, str):
            self.task_uuid = task_uuid
        return self

    def to_json(self) -> JSON:
        """The Runware error object."""
        body: JSON = {"code": self.code, "message": self.message}
        if self.parameter is not None:
            body["parameter"] = self.parameter
            anchor = self.parameter.split("[")[0].split(".")[-1].lower()
            body["documentation"] = f"{DOCS}#request-{anchor}"
        if self.task_type is not None:
            body["taskType"] = self.task_type
        if self.task_uuid is not None:
            body["taskUUID"] = self.task_uuid
        body.update(self.extra)
        return body


def invalid(
    code: str,
    message: str,
    parameter: str | None,
    *,
    type_: str | None = None,
    allowed: Sequence[Any] | None = None,
    status: int = 400,
) -> ApiError:
    """An :class:`ApiError` with the optional ``type`` and ``allowedValues`` fields."""
    extra: JSON = {}
    if type_ is not None:
        extra["type"] = type_
    if allowed is not None:
        extra["allowedValues"] = list(allowed)
    return ApiError(code, message, parameter, status=status, extra=extra)


def http_status(data: Sequence[JSON], errors: Sequence[ApiError]) -> int:
    """The status of a response: 200 unless it carries errors only.

    With errors only, the errors' common status (400 if they disagree). A mixed batch (some
    data, some errors) answers 200 with both arrays, as §9 item 3 suggests.
    """
    if not errors or data:
        return 200
    statuses = {error.status for error in errors}
    return statuses.pop() if len(statuses) == 1 else 400


def envelope(data: Sequence[JSON], errors: Sequence[ApiError]) -> JSON:
    """``{"data": [...]}``, plus ``"errors"`` when there are any."""
    body: JSON = {"data": list(data)}
    if errors:
        body["errors"] = [error.to_json() for error in errors]
    return body
