"""The life of a videoInference job, from ACK to its last result (§9 items 13-17).

::

    accepted --(latency, + stagger per result)--> result i rendered & ready
        |                    --> PUT to uploadEndpoint (if any) --> success item
        |                                                   |--> POST {"data": [item]} to webhookURL
        +--(fault: after N polls, or at ready time when a webhook waits)--> failed

A :class:`Job` answers polls from its state (:meth:`Job.poll_items`): one ``processing`` item
(with ``progress`` rising at every poll) while results are missing, one ``success`` item per
finished result (cumulative: every poll repeats them), and the failure, if any, in ``errors``
(or inside ``data`` for the ``item-error`` fault). :func:`run_job` is the coroutine that drives
a job in the server's event loop: rendering happens in worker threads from the moment the job
is accepted, so results are usually ready when their time comes.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import time
import uuid as uuidlib
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from storyboard.emulator.faults import DEFAULT_TOKEN, FaultRule
from storyboard.emulator.store import CONTENT_TYPES, route_for
from storyboard.emulator.validate import VideoRequest
from storyboard.emulator.webhooks import DeliveryKind, deliver
from storyboard.emulator.wire import JSON, ApiError
from storyboard.media.animatic import AnimaticSpec, Segment

if TYPE_CHECKING:
    from storyboard.emulator.core import Emulator

TASK_TYPE = "videoInference"
FAILURE_KINDS = ("provider-error", "moderation", "item-error")


#: What a ``corrupt-result`` file starts with: an MP4 ``ftyp`` box (it sniffs as a video); the
#: ``corrupt-result`` fault writes it over a result, before the result is uploaded or served.
CORRUPT_HEAD = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2"


def corrupt(path: Path, video_uuid: str) -> None:
    """Replace a rendered result by an ``ftyp`` box and random bytes (seeded by its UUID)."""
    noise = random.Random(video_uuid).randbytes(16 * 1024)
    path.write_bytes(CORRUPT_HEAD + noise)


@dataclass
class Result:
    """One generation of a job (``numberResults`` of them)."""

    index: int
    video_uuid: str
    seed: int
    ready_at: float  # time.monotonic() at which it may be reported
    spec: AnimaticSpec
    path: Path
    done: bool = False


@dataclass
class Job:
    """An accepted videoInference task and everything the emulator knows about it."""

    owner: str
    request: VideoRequest
    base_url: str
    created: float
    finish_at: float  # monotonic time the last result is due
    results: list[Result]
    faults: list[FaultRule]
    epoch: int
    polls: int = 0
    progress: int = 0
    failure: ApiError | None = None
    finished_wall: float | None = None
    renders: list[Future[Path]] = field(default_factory=list)

    @property
    def task_uuid(self) -> str:
        return self.request.task_uuid

    def rule(self, kind: str) -> FaultRule | None:
        """The job's fault of this kind, if it has one."""
        return next((f for f in self.faults if f.kind == kind), None)

    @property
    def token(self) -> str | None:
        """The token its result URLs carry and need (the ``token-url`` fault), if any."""
        rule = self.rule("token-url")
        return None if rule is None else rule.token or DEFAULT_TOKEN

    @property
    def failure_rule(self) -> FaultRule | None:
        return next((f for f in self.faults if f.kind in FAILURE_KINDS), None)

    @property
    def finished(self) -> bool:
        return self.failure is not None or all(r.done for r in self.results)

    @property
    def delivered(self) -> int:
        return sum(r.done for r in self.results)

    def video_url(self, result: Result) -> str:
        ext = self.request.output_format.lower()
        url = self.base_url + route_for("video", result.video_uuid, ext, result=True)
        return url if self.token is None else f"{url}?token={self.token}"

    def success_item(self, result: Result) -> JSON:
        item: JSON = {
            "taskType": TASK_TYPE,
            "taskUUID": self.task_uuid,
            "status": "success",
            "videoUUID": result.video_uuid,
            "videoURL": self.video_url(result),
            "seed": result.seed,
            "NSFWContent": False,
        }
        if self.request.include_cost:
            item["cost"] = self.request.price.per_result
        bad_cost = self.rule("bad-cost")
        if bad_cost is not None:
            item["cost"] = bad_cost.cost_value
        return item

    def extra_items(self) -> list[JSON]:
        """Results beyond ``numberResults`` (the ``extra-results`` fault), each with its own
        videoUUID (the same at every poll) and the first result's URL."""
        rule = self.rule("extra-results")
        if rule is None:
            return []
        count = 25 if rule.count is None else rule.count
        items = []
        for index in range(len(self.results), count):
            item = self.success_item(self.results[0])
            item["videoUUID"] = str(
                uuidlib.uuid5(uuidlib.NAMESPACE_URL, f"{self.task_uuid}:{index}")
            )
            items.append(item)
        return items

    def failure_item(self) -> JSON:
        """The failure encoded inside ``data`` (the ``item-error`` variant)."""
        assert self.failure is not None
        error = self.failure.to_json()
        error.pop("status", None)
        return {
            "taskType": TASK_TYPE,
            "taskUUID": self.task_uuid,
            "status": "error",
            "error": error,
        }

    def failure_in_data(self) -> bool:
        rule = self.failure_rule
        return rule is not None and rule.kind == "item-error"

    def poll_items(self) -> tuple[list[JSON], list[ApiError]]:
        """The cumulative state of every generation, as a getResponse answers it."""
        data = [self.success_item(r) for r in self.results if r.done]
        if data and all(r.done for r in self.results):
            data += self.extra_items()
        errors: list[ApiError] = []
        if self.failure is not None:
            if self.failure_in_data():
                data.append(self.failure_item())
            else:
                errors.append(self.failure)
        elif not all(r.done for r in self.results):
            pending = any(f.kind == "pending" for f in self.faults)
            item: JSON = {"taskType": TASK_TYPE, "taskUUID": self.task_uuid}
            item["status"] = "pending" if pending else "processing"
            if not pending:
                item["progress"] = self.progress
            data.append(item)
        return data, errors

    def count_poll(self, now: float) -> None:
        """A getResponse touched this job: count it and move ``progress`` on (never back)."""
        self.polls += 1
        span = max(self.finish_at - self.created, 1e-6)
        by_time = int(100 * (now - self.created) / span)
        self.progress = min(99, max(by_time, self.progress + 1))

    def failure_due(self) -> bool:
        rule = self.failure_rule
        return rule is not None and self.failure is None and self.polls >= rule.after

    def make_failure(self, rule: FaultRule | None = None) -> ApiError:
        """The error the job's failure fault (or ``rule``) produces."""
        rule = rule or self.failure_rule
        assert rule is not None
        if rule.kind == "moderation":
            where = rule.input or self.request.flagged_input
            error = ApiError(
                rule.error_code,
                f"The provider's content policy flagged {where}.",
                where,
                status=200,
            )
        else:
            error = ApiError(
                rule.error_code, "The provider did not finish the video in time.", status=200
            )
        error.extra["status"] = "error"
        return error.for_task(TASK_TYPE, self.task_uuid)


def make_specs(request: VideoRequest, scale: float) -> list[AnimaticSpec]:
    """The animatic of each result: prompt segments, frame images, sound, format, size."""
    specs = []
    # The same request draws the same video, whatever its task UUID: a build resumed after a
    # crash ends with the very bytes an uninterrupted one would have.
    content = repr(
        (request.segments, request.width, request.height, request.seconds, request.sound)
    )
    digest = hashlib.sha256(content.encode()).hexdigest()[:8]
    for index in range(request.number_results):
        label = digest
        if request.number_results > 1:
            label += f" #{index + 1}"
        segments = tuple(Segment(label, text, seconds) for text, seconds in request.segments)
        specs.append(
            AnimaticSpec(
                width=request.width,
                height=request.height,
                duration_s=request.seconds,
                segments=segments,
                start_image=request.first_frame,
                end_image=request.last_frame if request.first_frame is not None else None,
                sound=request.sound,
                fmt=request.output_format,  # type: ignore[arg-type]
                quality=request.output_quality,
                scale=scale,
            )
        )
    return specs


async def run_job(emulator: Emulator, job: Job) -> None:
    """Drive ``job`` to its end: wait, collect renders, report results, deliver them."""
    for result, future in zip(job.results, job.renders, strict=True):
        delay = result.ready_at - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        if job.epoch != emulator.epoch:
            return  # the emulator was reset meanwhile; its renders may have been cancelled
        try:
            await asyncio.wrap_future(future)
        except Exception as exc:  # a render that failed is the emulator's fault, reported as such
            emulator.fail_job(
                job, ApiError("processingFailed", f"rendering failed: {exc}", status=200)
            )
            return
        if job.epoch != emulator.epoch or job.failure is not None:
            return
        if job.failure_rule is not None:
            # The failure waits for its poll; with a webhook it comes when the job was due.
            if job.request.webhook_url is not None:
                emulator.fail_job(job, job.make_failure())
            return
        if job.request.upload_endpoint is not None:
            # Uploaded before it is reported, as a service that stores the result where it
            # was asked to and then says it is done: a client that sees the success item
            # finds the object in its bucket (a failed upload does not hold the result back).
            if job.rule("corrupt-result") is not None:  # what is uploaded is what is served
                corrupt(result.path, result.video_uuid)  # seeded: the same bytes again later
            await upload_result(emulator, job, result)
            if job.epoch != emulator.epoch or job.failure is not None:
                return
        emulator.complete(job, result)
        late = job.rule("late-error")
        if late is not None and job.delivered >= min(len(job.results), late.count or 1000):
            # after delivery (in the same step: no poll sees the results without it)
            emulator.fail_job(job, job.make_failure(late))
            return


async def upload_result(emulator: Emulator, job: Job, result: Result) -> None:
    """PUT the result's file to ``uploadEndpoint`` (retried like a webhook)."""
    request = job.request
    assert request.upload_endpoint is not None
    body = await asyncio.to_thread(result.path.read_bytes)
    ctype = CONTENT_TYPES[request.output_format.lower()]
    await _send(emulator, job, "upload", request.upload_endpoint, body, ctype)


async def deliver_result(emulator: Emulator, job: Job, result: Result) -> None:
    """POST ``{"data": [item]}`` to ``webhookURL`` (the upload, if any, came before)."""
    request = job.request
    if request.webhook_url is not None:
        payload = _json({"data": [job.success_item(result)]})
        await _send(emulator, job, "webhook", request.webhook_url, payload, "application/json")


async def deliver_failure(emulator: Emulator, job: Job) -> None:
    """POST the failure to ``webhookURL`` (``{"errors": [...]}``, or in ``data`` for item-error)."""
    if job.request.webhook_url is None or job.failure is None:
        return
    if job.failure_in_data():
        payload: JSON = {"data": [job.failure_item()]}
    else:
        payload = {"errors": [job.failure.to_json()]}
    await _send(
        emulator, job, "webhook", job.request.webhook_url, _json(payload), "application/json"
    )


async def _send(
    emulator: Emulator, job: Job, kind: DeliveryKind, url: str, body: bytes, content_type: str
) -> None:
    config = emulator.config
    await deliver(
        kind,
        url,
        task_uuid=job.task_uuid,
        body=body,
        content_type=content_type,
        attempts=config.webhook_attempts,
        backoff_s=config.webhook_backoff_s,
        timeout_s=config.webhook_timeout_s,
        record=emulator.record_attempt,
    )


def _json(payload: JSON) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()
