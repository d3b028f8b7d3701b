"""Answering ``POST /v1``: one task array in, one :class:`Reply` out.

::

    body -> JSON array? -> authentication (header or leading task) -> submit/poll faults
         -> each task on its own: videoInference | getResponse | getTaskDetails
            | imageUpload | mediaStorage | ping   (others: unsupportedTaskType)
         -> after-faults (slow ACK, trickled answer, dropped connection, malformed body,
            empty ACK)
         -> {"data": [...], "errors": [...]} with the status of §9 item 3

Each task is processed independently; its failures become error objects tagged with its
``taskType`` and ``taskUUID``. ``X-Runware-Dry-Run: 1`` validates and prices videoInference
tasks without creating jobs; it answers ``{"taskType", "taskUUID", "dryRun": true, "cost"}``
where ``cost`` is the whole job's price (``numberResults`` included).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from storyboard.emulator.core import Emulator, key_id
from storyboard.emulator.faults import FaultRule, parse_spec
from storyboard.emulator.jobs import Job
from storyboard.emulator.uploads import image_upload, media_storage
from storyboard.emulator.validate import validate_video
from storyboard.emulator.wire import JSON, ApiError, envelope, http_status, invalid, is_uuid4

TASK_TYPES = (
    "authentication",
    "videoInference",
    "getResponse",
    "getTaskDetails",
    "imageUpload",
    "mediaStorage",
    "ping",
)
FAULT_HEADER = "x-emulator-faults"
DRY_RUN_HEADER = "x-runware-dry-run"


@dataclass
class Reply:
    """What the HTTP layer sends: a JSON body (or raw bytes), after ``delay``; or nothing.
    With ``trickle``, the body goes out one byte every ``trickle`` seconds."""

    status: int
    body: JSON | None = None
    raw: bytes | None = None
    delay: float = 0.0
    drop: bool = False
    trickle: float = 0.0


@dataclass
class _Request:
    owner: str
    base_url: str
    dry_run: bool
    header_rules: list[FaultRule]
    created: list[Job] = field(default_factory=list)


def _request_error(code: str, message: str, status: int, parameter: str | None = None) -> Reply:
    error = ApiError(code, message, parameter, status=status)
    return Reply(status, {"errors": [error.to_json()]})


async def handle(
    emulator: Emulator, raw: bytes, headers: Mapping[str, str], base_url: str
) -> Reply:
    """Answer one ``POST /v1`` (see the module docstring)."""
    reply = _handle(emulator, raw, headers, base_url)
    stats = emulator.counters
    stats.count("statuses", str(reply.status))
    if reply.body is not None:
        for error in reply.body.get("errors", []):
            stats.count("errors", str(error.get("code")))
    return reply


def _handle(emulator: Emulator, raw: bytes, headers: Mapping[str, str], base_url: str) -> Reply:
    try:
        tasks = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        emulator.counters.request([])
        return _request_error("invalidPayload", "the body is not valid JSON", 400)
    if not isinstance(tasks, list) or not tasks or not all(isinstance(t, dict) for t in tasks):
        emulator.counters.request([])
        return _request_error(
            "invalidPayload", "the body must be a non-empty JSON array of task objects", 400
        )
    emulator.counters.request([str(t.get("taskType")) for t in tasks])

    api_key = ""
    if tasks[0].get("taskType") == "authentication":
        api_key = str(tasks[0].get("apiKey") or "")
        tasks = tasks[1:]
    else:
        scheme, _, token = headers.get("authorization", "").partition(" ")
        api_key = token.strip() if scheme.lower() == "bearer" else ""
    if not api_key:
        return _auth_error("missingApiKey", "an API key is required (Authorization: Bearer KEY)")
    if not emulator.accepts(api_key):
        return _auth_error("invalidApiKey", "Invalid API key")

    try:
        header_rules = parse_spec(headers.get(FAULT_HEADER, ""))[0]
    except ValueError as exc:
        return _request_error("invalidFaultSpec", f"{FAULT_HEADER}: {exc}", 400, FAULT_HEADER)
    dry_run = headers.get(DRY_RUN_HEADER, "").strip().lower() in ("1", "true", "yes")
    request = _Request(key_id(api_key), base_url, dry_run, header_rules)

    # Status faults refuse the whole request before anything happens.
    submit_uuids = [str(t.get("taskUUID")) for t in tasks if t.get("taskType") == "videoInference"]
    poll_uuids = [str(t.get("taskUUID")) for t in tasks if t.get("taskType") == "getResponse"]
    fired: list[FaultRule] = []
    if submit_uuids:
        fired += emulator.faults.roll("submit", submit_uuids, header_rules, status=True)
    if poll_uuids:
        fired += emulator.faults.roll("poll", poll_uuids, header_rules, status=True)
    for rule in fired:
        emulator.counters.count("faults", rule.kind)
    if fired:
        status = fired[0].status or 503
        error = ApiError(fired[0].error_code, f"emulated {status} ({fired[0].kind})", status=status)
        return Reply(status, {"errors": [error.to_json()]})

    data: list[JSON] = []
    errors: list[ApiError] = []
    for task in tasks:
        task_type = task.get("taskType")
        try:
            data += _task(emulator, request, task)
        except ApiError as error:
            errors.append(
                error.for_task(
                    task_type if isinstance(task_type, str) else None, task.get("taskUUID")
                )
            )
        except _Errors as many:
            data += many.data
            errors += many.errors

    # The other faults act on what was done: only a request that created jobs is "accepted".
    if request.created:
        fired += emulator.faults.roll(
            "submit", [j.task_uuid for j in request.created], header_rules, status=False
        )
    elif submit_uuids:  # a submit that created nothing (a retry's conflict) may trickle too
        fired += emulator.faults.roll(
            "submit", submit_uuids, header_rules, status=False, kinds=("trickle",)
        )
    if poll_uuids:
        fired += emulator.faults.roll("poll", poll_uuids, header_rules, status=False)
    for rule in fired:
        emulator.counters.count("faults", rule.kind)
    reply = Reply(http_status(data, errors))
    kinds = {rule.kind: rule for rule in fired}
    if "slow-ack" in kinds:
        reply.delay = kinds["slow-ack"].delay
    for kind in ("trickle", "poll-trickle"):
        if kind in kinds:
            reply.trickle = max(reply.trickle, kinds[kind].delay)
    if "empty-ack" in kinds:
        acked = {job.task_uuid for job in request.created}
        data = [
            item
            for item in data
            if not (item.get("taskUUID") in acked and set(item) == {"taskType", "taskUUID"})
        ]
    reply.body = envelope(data, errors)
    if "drop" in kinds or "poll-drop" in kinds:
        reply.drop = True
    elif "malformed" in kinds or "poll-malformed" in kinds:
        text = json.dumps(reply.body)
        reply.raw = text[: max(1, len(text) // 2)].encode()
    return reply


def _auth_error(code: str, message: str) -> Reply:
    error = ApiError(code, message, "apiKey", status=401, task_type="authentication")
    return Reply(401, {"errors": [error.to_json()]})


class _Errors(Exception):
    """A task answered with both data items and errors (a poll of a failed job)."""

    def __init__(self, data: list[JSON], errors: list[ApiError]) -> None:
        super().__init__("task answered with errors")
        self.data = data
        self.errors = errors


def _task(emulator: Emulator, request: _Request, task: JSON) -> list[JSON]:
    """The data items of one task; raises ApiError (or _Errors) for its failures."""
    task_type = task.get("taskType")
    if task_type is None:
        raise ApiError("missingTaskType", "taskType is required", "taskType")
    if task_type == "ping":
        item: JSON = {"taskType": "ping", "pong": True}
        if "taskUUID" in task:
            item["taskUUID"] = task["taskUUID"]
        return [item]
    if task_type == "authentication":
        raise ApiError("invalidPayload", "the authentication task must come first", "taskType")
    if task_type not in TASK_TYPES:
        raise invalid(
            "unsupportedTaskType",
            f"taskType {task_type!r} is not supported",
            "taskType",
            allowed=[t for t in TASK_TYPES if t != "authentication"],
        )
    task_uuid = task.get("taskUUID")
    if task_uuid is None:
        raise ApiError("missingTaskUUID", "taskUUID is required", "taskUUID")
    if not is_uuid4(task_uuid):
        raise invalid(
            "invalidTaskUUID", "taskUUID must be a UUID v4 string", "taskUUID", type_="string"
        )
    if task_type == "getResponse":
        return _get_response(emulator, request, str(task_uuid))
    if task_type == "getTaskDetails":
        return [_task_details(emulator, request, str(task_uuid))]
    # A used taskUUID is refused before anything else: a retry of an accepted task is valid.
    key = (request.owner, task_uuid.lower())
    with emulator.lock:
        if key in emulator.used:
            raise _conflict(task_uuid)
    if task_type == "videoInference":
        return _video_inference(emulator, request, task)
    handler = image_upload if task_type == "imageUpload" else media_storage
    result = handler(task, emulator.store, request.owner, request.base_url)
    _claim(emulator, request.owner, task_uuid)
    return [result]


def _conflict(task_uuid: str) -> ApiError:
    return ApiError("conflictTaskUUID", f"taskUUID {task_uuid} was already used", "taskUUID")


def _claim(emulator: Emulator, owner: str, task_uuid: str) -> None:
    """Mark ``task_uuid`` used by an accepted task (atomically: a concurrent twin conflicts)."""
    key = (owner, task_uuid.lower())
    with emulator.lock:
        if key in emulator.used:
            raise _conflict(task_uuid)
        emulator.used.add(key)


def _video_inference(emulator: Emulator, request: _Request, task: JSON) -> list[JSON]:
    task_uuid = str(task["taskUUID"])
    config = emulator.config
    try:
        video = validate_video(
            task,
            store=emulator.store,
            elements=emulator.known_elements(request.owner),
            config=config,
        )
    except ApiError as error:
        if request.dry_run:
            emulator.record_dry_run(task_uuid, None, error)
        raise
    if request.dry_run:
        emulator.record_dry_run(task_uuid, video, None)
        return [
            {
                "taskType": "videoInference",
                "taskUUID": task_uuid,
                "dryRun": True,
                "cost": video.price.total,
            }
        ]
    _claim(emulator, request.owner, task_uuid)
    faults = emulator.faults.roll("job", [task_uuid], request.header_rules)
    for rule in faults:
        emulator.counters.count("faults", rule.kind)
    job = emulator.start_job(request.owner, video, request.base_url, faults)
    request.created.append(job)
    return [{"taskType": "videoInference", "taskUUID": task_uuid}]


def _get_response(emulator: Emulator, request: _Request, task_uuid: str) -> list[JSON]:
    job = emulator.find_job(request.owner, task_uuid)
    if job is None:
        if emulator.config.unknown_task == "error":
            raise ApiError(
                "taskFailedOrNotFound",
                f"no task {task_uuid} is active for this API key",
                "taskUUID",
                status=404,
            )
        return []
    with emulator.lock:
        job.count_poll(time.monotonic())
        if job.failure_due():
            emulator.fail_job(job, job.make_failure())
        data, errors = job.poll_items()
    if errors:
        raise _Errors(data, errors)
    return data


def _task_details(emulator: Emulator, request: _Request, task_uuid: str) -> JSON:
    job = emulator.find_job(request.owner, task_uuid, retained=False)
    if job is None:
        raise ApiError(
            "taskNotFound", f"no task {task_uuid} exists for this API key", "taskUUID", status=404
        )
    data, errors = job.poll_items()
    return {
        "taskType": "getTaskDetails",
        "taskUUID": task_uuid,
        "request": [job.request.task],
        "response": envelope(data, errors),
    }
