"""Mutation audit of the Runware client (storyboard/backends/runware/client.py) and of its
error classification (storyboard/backends/runware/errors.py): each test here fails under a
change of the code that every other test let pass, and each such change is one of the ways
the client exists to prevent: a send that may have reached Runware called "not sent" or
"refused" (the build would mint a new task UUID and pay twice), a refusal taken as an
acceptance (a take waits for a task nobody holds), a stall without end.

What the tests guard (the change they catch in brackets):

* a POST whose answer never completes ends at ``request_deadline``, is retried under the
  same UUID, and is then "may be running", never "not sent" [the deadline removed; its
  timeout marked ``not_sent``: both caught before only by a slow test in tests/faults/];
* a connection dropped after the request was written, on every attempt, is retried the full
  number of times and ends "may be running" [a dropped or reset connection taken as one
  refused before a byte was written];
* a 5xx answer is retried under the same UUID whatever its body says, and when every
  attempt fails the task "may be running": a body that is not JSON (a proxy's 520-524
  page), or an error code that on a 400 is a final refusal (``invalidProviderResponse`` on
  a 502). TWO REAL BUGS, fixed in client.py with these tests: the first was a final
  refusal, not retried; the second ended as a final refusal that may be tried again. On the
  emulator both charged the take twice (the build sent it anew under a new UUID)
  [5xx beyond 500/502/503/504 not retried; the status's retry dropped for the body's code];
* an answer acknowledging the task by its UUID is an acceptance, whatever error beside it
  names no task; a ``conflictTaskUUID`` answer to a retry is an acceptance even when no
  earlier attempt connected [unattributed errors read as the task's; the conflict accepted
  only after an ambiguous attempt];
* a 200 answer carrying only an error that names no task, and a 400 whose body says
  nothing, are refusals, not acknowledgements; a refusal naming another task's UUID tells
  the service's reason [``status < 400 and not errors`` loosened; the stray error dropped];
* a refusal of the request (a validation error) after an ambiguous first send is final: the
  writer fixes the request, no task is left pending [validation errors taken as ambiguous];
* the results a task of several delivered (billed) before it failed travel with the error
  [``RunwareError.evolve`` losing ``delivered``];
* a ``Retry-After`` of days is capped [the cap removed];
* a local file one byte over the model's size limit is refused before anything is read or
  sent [the bound loosened].

The client's tests run on :class:`tests.backends.runware.fakes.ScriptedRunware` (an
``httpx.MockTransport``) and a fake clock: nothing sleeps. The build test runs on the
emulator over loopback and asserts what it charged.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from storyboard.backends.runware import (
    PollPolicy,
    RetryPolicy,
    RunwareClient,
    RunwareConnectionError,
    RunwareError,
    RunwareProviderError,
    RunwareQuotaError,
    RunwareServerError,
    RunwareTimeoutError,
    RunwareValidationError,
)
from storyboard.backends.runware.backend import RunwareBackend
from storyboard.backends.runware.client import MAX_UPLOAD_BYTES, _check_upload_size
from storyboard.build.pipeline import BuildResult, build
from storyboard.emulator.server import EmulatorServer
from tests.backends.runware.conftest import ClientFactory
from tests.backends.runware.fakes import (
    MP4_HEAD,
    REQUEST,
    TASK,
    FakeClock,
    ScriptedRunware,
    ack,
    answer,
    conflict,
    success,
    vid,
)
from tests.conftest import read_lock
from tests.faults.films import billed_per_take
from tests.faults.runner import FILM_SCALE, fast_backend

pytestmark = pytest.mark.anyio

Project = Callable[[dict[str, str | bytes]], Path]

#: Time a test gives a scenario before calling it hung (it finishes in milliseconds).
HUNG = 10.0


def sent(runware: ScriptedRunware) -> list[str]:
    """The taskUUID of every videoInference task the transport saw."""
    return [
        task["taskUUID"]
        for call in runware.calls
        for task in call.tasks
        if task.get("taskType") == "videoInference"
    ]


async def submit_failing(client: RunwareClient, **options: bool) -> RunwareError:
    """The error ``client.submit`` raises (a test fails, not hangs, if it never returns)."""
    async with asyncio.timeout(HUNG):
        with pytest.raises(RunwareError) as caught:
            await client.submit(REQUEST, TASK, **options)
    return caught.value


# -- an answer that never completes --------------------------------------------------------


async def test_a_submit_whose_answer_never_completes_ends_and_may_be_running(
    make_client: ClientFactory, runware: ScriptedRunware
) -> None:
    """The request was written, its answer never came: Runware may hold the task. Each
    attempt ends at the request deadline; after the last, the task is "may be running"
    (resumed by its UUID), never "not sent" (the build would send it anew and pay twice)."""
    written = 0

    async def never_answers(request: httpx.Request) -> httpx.Response:
        nonlocal written
        written += 1
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    async with make_client(
        transport=httpx.MockTransport(never_answers),
        request_deadline=0.01,
        retry=RetryPolicy(max_attempts=3),
    ) as client:
        error = await submit_failing(client)
    assert isinstance(error, RunwareTimeoutError)
    assert "RUNWARE_REQUEST_DEADLINE" in str(error)
    assert error.may_be_running and not error.not_sent
    assert error.task_uuid == TASK
    assert written == 3


# -- a connection lost after the request was written ---------------------------------------


@pytest.mark.parametrize(
    "failure",
    [
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
        httpx.ReadError("connection reset by peer"),
        httpx.WriteError("broken pipe"),
    ],
    ids=lambda failure: type(failure).__name__,
)
async def test_a_connection_lost_on_every_attempt_is_not_called_not_sent(
    make_client: ClientFactory, runware: ScriptedRunware, failure: Exception
) -> None:
    """Lost after connecting, the request may have been read and accepted: every attempt is
    made (not the three of a refused connection), and the task is then "may be running"."""
    runware.defaults["videoInference"] = failure
    async with make_client(retry=RetryPolicy(max_attempts=5, connect_attempts=2)) as client:
        error = await submit_failing(client)
    assert isinstance(error, RunwareConnectionError)
    assert error.may_be_running and not error.not_sent
    assert "may have reached Runware" in str(error) and "nothing was sent" not in str(error)
    assert sent(runware) == [TASK] * 5


# -- 5xx answers -----------------------------------------------------------------------------


@pytest.mark.parametrize("status", [501, 507, 520, 522, 524])
async def test_a_5xx_whose_body_is_not_json_is_retried_under_the_same_uuid(
    client: RunwareClient, runware: ScriptedRunware, status: int
) -> None:
    """A proxy's own page (Cloudflare's 524 "a timeout occurred": the API got the request and
    did not answer in time) says nothing of the task. Before the fix it was a final refusal
    unless its status was 500/502/503/504: not retried, not "may be running", so the build
    recorded the task as failed and sent the take anew under a new UUID, paying twice if
    Runware had accepted it."""
    page = httpx.Response(status, text="<html><h1>A timeout occurred</h1></html>")
    runware.queue("videoInference", page, ack())
    submission = await client.submit(REQUEST, TASK)
    assert submission.attempts == 2
    assert sent(runware) == [TASK, TASK]


async def test_5xx_pages_on_every_attempt_leave_the_task_may_be_running(
    make_client: ClientFactory, runware: ScriptedRunware
) -> None:
    runware.defaults["videoInference"] = httpx.Response(524, text="<html>timeout</html>")
    async with make_client(retry=RetryPolicy(max_attempts=3)) as client:
        error = await submit_failing(client)
    assert isinstance(error, RunwareServerError) and error.status_code == 524
    assert error.may_be_running and not error.not_sent
    assert sent(runware) == [TASK] * 3


@pytest.mark.parametrize("status", [502, 520])
async def test_a_5xx_is_retried_whatever_code_its_body_carries(
    make_client: ClientFactory, runware: ScriptedRunware, status: int
) -> None:
    """The status decides: a gateway's 502 passing on an upstream ``invalidProviderResponse``
    (a code that on a 400 is a final refusal) came from past the gateway, so the task may
    be held; it is sent again under the same UUID, and in the end "may be running"."""
    error = {"code": "invalidProviderResponse", "message": "upstream answered garbage"}
    runware.defaults["videoInference"] = answer(errors=[error], status=status)
    async with make_client(retry=RetryPolicy(max_attempts=3)) as client:
        failure = await submit_failing(client)
    assert failure.retryable and failure.may_be_running and not failure.not_sent
    assert failure.status_code == status
    assert sent(runware) == [TASK] * 3


# -- the same, in a build on the emulator: what it charged -------------------------------------

ONE = """\
storyboard: 1
title: Gateway
shots:
  - {id: only, duration: 3, prompt: '[only] a lighthouse at dusk'}
"""


class GatewayPages(httpx.AsyncHTTPTransport):
    """The real transport to the emulator, whose answers to the first ``count`` submits are
    replaced by ``page`` (the request reached the emulator, which accepted and billed it)."""

    def __init__(self, page: httpx.Response, count: int) -> None:
        super().__init__()
        self.page = page
        self.left = count

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await super().handle_async_request(request)
        if self.left and request.method == "POST" and b'"videoInference"' in request.content:
            self.left -= 1
            await response.aread()
            await response.aclose()
            return httpx.Response(
                self.page.status_code, headers=self.page.headers, content=self.page.content
            )
        return response


@pytest.mark.parametrize(
    "page",
    [
        httpx.Response(524, text="<html><h1>A timeout occurred</h1></html>"),
        answer(errors=[{"code": "invalidProviderResponse", "message": "upstream"}], status=502),
    ],
    ids=["524-page", "502-invalid-code"],
)
def test_a_gateway_failing_every_submit_of_a_billed_task_is_not_paid_twice(
    project: Project, paid: EmulatorServer, page: httpx.Response
) -> None:
    """Both sends of the take reached Runware (the first was accepted and billed); both
    answers were a gateway's failure. The take stays pending under its task UUID and the
    next build resumes it: the emulator charges once. (Before the fix: the 524 page was a
    final refusal, so the next build sent the take anew; the 502 ended as a final refusal
    that may be tried again, so the same build sent it anew: charged twice either way.)"""
    film = project({"film.yaml": ONE}) / "film.yaml"
    client = RunwareClient(
        transport=GatewayPages(page, count=2),
        retry=RetryPolicy(max_attempts=2, base_delay=0.01, max_delay=0.01, jitter=0),
        poll=PollPolicy(first_delay=0.1, multiplier=1.2, max_interval=0.3, deadline=60),
    )
    builds: list[BuildResult] = []
    for backend in (RunwareBackend(client), fast_backend()):
        builds.append(build(film, backend=backend, jobs=1, film_scale=FILM_SCALE))
        if builds[-1].ok:
            break

    assert billed_per_take(paid) == {"only": 1}
    assert builds[-1].ok, [f"{o.take}: {o.message}" for o in builds[-1].failed]
    (charged,) = [e for e in paid.ledger() if not e.dry_run and e.cost > 0]
    assert read_lock(film.with_suffix(".lock"))["only"]["task_uuid"] == charged.task_uuid


# -- refusals are not acknowledgements -------------------------------------------------------


async def test_an_ack_naming_the_task_is_an_acceptance_whatever_else_the_answer_says(
    client: RunwareClient, runware: ScriptedRunware
) -> None:
    """The answer acknowledges the task by its UUID, beside an error that names no task:
    Runware holds (and bills) it. Called a refusal, the build would record it as failed and
    send the take anew under a new UUID."""
    body = answer(
        data=[{"taskType": "videoInference", "taskUUID": TASK}],
        errors=[{"code": "unknownParameter", "message": "ignored: 'style'"}],
    )
    runware.queue("videoInference", body)
    submission = await client.submit(REQUEST, TASK)
    assert (submission.attempts, submission.already_accepted) == (1, False)
    assert sent(runware) == [TASK]


async def test_a_conflict_after_attempts_that_did_not_connect_is_an_acceptance(
    client: RunwareClient, runware: ScriptedRunware
) -> None:
    """A retry answered ``conflictTaskUUID``: Runware holds a task under this UUID, so it is
    taken as accepted (and polled), even when no earlier attempt of this call connected;
    called a refusal "not charged", the next build would pay for it again."""
    runware.queue("videoInference", httpx.ConnectError("refused"), conflict())
    submission = await client.submit(REQUEST, TASK)
    assert (submission.attempts, submission.already_accepted) == (2, True)
    assert sent(runware) == [TASK, TASK]


async def test_a_200_carrying_an_error_that_names_no_task_is_a_refusal(
    client: RunwareClient, runware: ScriptedRunware
) -> None:
    """No credits, said in a 200 whose error names no task: the task was not accepted, and
    the take must not go on to wait for a task Runware does not hold."""
    error = {"code": "insufficientCredits", "message": "Not enough credits"}
    runware.queue("videoInference", answer([], [error], status=200))
    with pytest.raises(RunwareQuotaError, match="insufficientCredits") as caught:
        await client.submit(REQUEST, TASK)
    assert caught.value.task_uuid == TASK and not caught.value.may_be_running
    assert sent(runware) == [TASK]


async def test_a_400_whose_body_says_nothing_is_a_refusal(
    client: RunwareClient, runware: ScriptedRunware
) -> None:
    runware.queue("videoInference", answer([], status=400))
    with pytest.raises(RunwareValidationError, match="HTTP 400 without details") as caught:
        await client.submit(REQUEST, TASK)
    assert caught.value.task_uuid == TASK and not caught.value.may_be_running
    assert sent(runware) == [TASK]


async def test_a_refusal_naming_another_task_still_tells_why(
    client: RunwareClient, runware: ScriptedRunware
) -> None:
    """A refusal whose error names a task UUID other than the one sent (a service that
    mangled it): the writer is told the service's reason, not "without details"."""
    other = "0b06a81c-dd0b-435c-918a-5603e69d0a3d"
    error = {"code": "insufficientCredits", "message": "Not enough credits", "taskUUID": other}
    runware.queue("videoInference", answer(errors=[error], status=400))
    with pytest.raises(RunwareQuotaError, match="Not enough credits") as caught:
        await client.submit(REQUEST, TASK)
    assert caught.value.code == "insufficientCredits" and caught.value.task_uuid == TASK
    assert not caught.value.may_be_running
    assert sent(runware) == [TASK]


async def test_a_request_refused_as_invalid_after_a_lost_send_is_final(
    client: RunwareClient, runware: ScriptedRunware
) -> None:
    """The first send's answer was lost; the second is refused for the request itself (the
    same bytes: the first was refused too). The writer fixes the request: nothing is left
    pending, nothing is retried."""
    refusal = {
        "code": "unsupportedDuration",
        "message": "Invalid value for duration parameter.",
        "parameter": "duration",
        "taskUUID": TASK,
    }
    runware.queue(
        "videoInference",
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
        answer(errors=[refusal], status=400),
    )
    with pytest.raises(RunwareValidationError, match="duration") as caught:
        await client.submit(REQUEST, TASK)
    error = caught.value
    assert not error.may_be_running and not error.retryable and not error.not_sent
    assert "may have reached Runware" not in str(error)
    assert sent(runware) == [TASK, TASK]


# -- results billed before a failure -------------------------------------------------------


async def test_results_delivered_before_a_failure_stay_with_the_error(
    client: RunwareClient, runware: ScriptedRunware
) -> None:
    """A task of two results delivered one (billed), then failed: the error carries the
    delivered one, which the build keeps and never asks for again (lost, it would pay for it
    a second time)."""
    failure = {
        "taskType": "videoInference",
        "taskUUID": TASK,
        "status": "error",
        "code": "timeoutProvider",
        "message": "The provider timed out.",
    }
    runware.queue("getResponse", answer([success(video="a"), failure]))
    with pytest.raises(RunwareProviderError, match="timeoutProvider") as caught:
        await client.wait(TASK, number_results=2)
    assert [r.video_uuid for r in caught.value.delivered] == [vid("a")]
    assert not caught.value.may_be_running


# -- bounds ----------------------------------------------------------------------------------


async def test_a_retry_after_of_days_is_capped(
    client: RunwareClient, runware: ScriptedRunware, clock: FakeClock
) -> None:
    busy = answer(status=429, headers={"Retry-After": str(3 * 24 * 3600)})
    runware.queue("videoInference", busy, ack())
    await client.submit(REQUEST, TASK)
    assert clock.sleeps == [client.retry.max_retry_after]


@pytest.mark.parametrize(("kind", "head"), [("image", b"\x89PNG\r\n\x1a\n"), ("video", MP4_HEAD)])
async def test_a_file_just_over_the_size_limit_is_refused_before_anything_is_sent(
    client: RunwareClient, runware: ScriptedRunware, tmp_path: Path, kind: str, head: bytes
) -> None:
    """One byte over the limit (a sparse file: nothing is written but its first bytes)."""
    limit = MAX_UPLOAD_BYTES[kind]
    big = tmp_path / f"big.{'png' if kind == 'image' else 'mp4'}"
    with big.open("wb") as handle:
        handle.write(head)
        handle.truncate(limit + 1)
    with pytest.raises(RunwareValidationError, match="was not uploaded"):
        await client.upload(big)
    assert runware.calls == []
    at_limit = tmp_path / f"ok.{'png' if kind == 'image' else 'mp4'}"
    with at_limit.open("wb") as handle:
        handle.write(head)
        handle.truncate(limit)
    _check_upload_size(at_limit, None)  # at the limit: taken
