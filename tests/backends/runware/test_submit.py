"""Submitting: the body sent, retries with the same UUID, conflictTaskUUID, back-off."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from storyboard.backends.runware import (
    RetryPolicy,
    RunwareAuthError,
    RunwareClient,
    RunwareConnectionError,
    RunwareError,
    RunwareRateLimitError,
    RunwareServerError,
    RunwareTimeoutError,
    RunwareValidationError,
    Submission,
)
from tests.backends.runware.conftest import ClientFactory
from tests.backends.runware.fakes import (
    API_KEY,
    BASE_URL,
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

pytestmark = pytest.mark.anyio

DROP = httpx.RemoteProtocolError("Server disconnected without sending a response.")


def submitted_uuids(runware: ScriptedRunware) -> list[str]:
    """Every taskUUID of every videoInference task the transport saw."""
    return [
        task["taskUUID"]
        for call in runware.calls
        for task in call.tasks
        if task.get("taskType") == "videoInference"
    ]


async def test_submit_sends_one_async_task_with_cost_and_bearer_key(
    client: RunwareClient, runware: ScriptedRunware
) -> None:
    runware.queue("videoInference", ack())
    submission = await client.submit(REQUEST, TASK)
    assert (submission.task_uuid, submission.attempts, submission.already_accepted) == (
        TASK,
        1,
        False,
    )
    (call,) = runware.calls
    assert call.request.method == "POST"
    assert str(call.request.url) == BASE_URL
    assert call.request.headers["authorization"] == f"Bearer {API_KEY}"
    assert call.request.headers["content-type"] == "application/json"
    assert call.tasks == [
        {
            **REQUEST,
            "taskType": "videoInference",
            "taskUUID": TASK,
            "deliveryMethod": "async",
            "includeCost": True,
        }
    ]
    # The key travels in the header only, never in the body.
    assert API_KEY not in call.request.content.decode()


async def test_an_empty_data_ack_is_an_acceptance(
    client: RunwareClient, runware: ScriptedRunware
) -> None:
    runware.queue("videoInference", answer([]))
    assert (await client.submit(REQUEST, TASK)).attempts == 1


@pytest.mark.parametrize(
    "failure",
    [
        httpx.ReadTimeout("timed out"),
        httpx.ConnectError("connection refused"),
        DROP,
        httpx.ReadError("connection reset by peer"),
        answer(status=408),
        answer(errors=[{"code": "rateLimitExceeded", "message": "slow down"}], status=429),
        answer(status=500),
        httpx.Response(502, text="<html>Bad gateway</html>"),
        answer(errors=[{"code": "serviceUnavailable", "message": "busy"}], status=503),
        answer(status=504),
        httpx.Response(200, text="not json at all"),
        httpx.Response(200, json=["not", "an", "envelope"]),
        httpx.Response(200, json={"unexpected": True}),
    ],
    ids=lambda failure: (
        type(failure).__name__
        if isinstance(failure, Exception)
        else f"{failure.status_code}-{failure.content[:12]!r}"
    ),
)
async def test_each_retryable_failure_resends_the_same_uuid(
    client: RunwareClient,
    runware: ScriptedRunware,
    failure: httpx.Response | Exception,
) -> None:
    runware.queue("videoInference", failure, failure, ack())
    submission = await client.submit(REQUEST, TASK)
    assert submission.attempts == 3
    assert submitted_uuids(runware) == [TASK, TASK, TASK]
    bodies = {call.request.content for call in runware.calls}
    assert len(bodies) == 1  # byte for byte the same task each time


async def test_conflict_on_a_retry_means_accepted_and_nothing_new_is_sent(
    client: RunwareClient, runware: ScriptedRunware
) -> None:
    # The first send was accepted but its answer was lost with the connection.
    runware.queue("videoInference", DROP, conflict())
    submission = await client.submit(REQUEST, TASK)
    assert submission.already_accepted
    assert submission.attempts == 2
    assert submitted_uuids(runware) == [TASK, TASK]


async def test_conflict_carried_inside_a_200_body_is_also_understood(
    client: RunwareClient, runware: ScriptedRunware
) -> None:
    error = {"code": "conflictTaskUUID", "message": "already used", "taskUUID": TASK}
    runware.queue("videoInference", answer(status=500), answer([], [error]))
    assert (await client.submit(REQUEST, TASK)).already_accepted


async def test_a_conflict_that_names_no_task_is_about_the_one_sent(
    client: RunwareClient, runware: ScriptedRunware
) -> None:
    """A retry's conflictTaskUUID without its taskUUID (the reference's legacy SDK reads a
    conflict's fields from elsewhere) still means "accepted": it was a refusal, and the next
    build sent the request anew under a new task UUID, paying twice."""
    error = {"code": "conflictTaskUUID", "message": "already used"}  # no taskUUID
    runware.queue("videoInference", DROP, answer([], [error], status=400))
    submission = await client.submit(REQUEST, TASK)
    assert submission.already_accepted and submission.attempts == 2
    assert submitted_uuids(runware) == [TASK, TASK]


async def test_conflict_on_a_first_send_is_an_error_unless_resumed(
    client: RunwareClient, runware: ScriptedRunware
) -> None:
    runware.queue("videoInference", conflict())
    with pytest.raises(RunwareValidationError, match="already used by another request") as caught:
        await client.submit(REQUEST, TASK)
    assert caught.value.code == "conflictTaskUUID"
    assert caught.value.task_uuid == TASK
    assert not caught.value.retryable
    assert submitted_uuids(runware) == [TASK]  # no retry, and certainly no new UUID

    runware.queue("videoInference", conflict())
    resumed = await client.submit(REQUEST, TASK, resumed=True)
    assert resumed.already_accepted
    assert submitted_uuids(runware) == [TASK, TASK]


async def test_then_the_task_is_polled_under_the_same_uuid(
    client: RunwareClient, runware: ScriptedRunware
) -> None:
    runware.queue("videoInference", httpx.ReadTimeout("lost"), conflict())
    runware.queue("getResponse", answer([success(TASK, video="v")]))
    results = await client.run(REQUEST, TASK)
    assert [r.video_uuid for r in results] == [vid("v")]
    assert submitted_uuids(runware) == [TASK, TASK]
    assert runware.of_kind("getResponse")[0].tasks == [
        {"taskType": "getResponse", "taskUUID": TASK}
    ]


async def test_backoff_doubles_from_one_second_with_jitter_and_a_cap(
    make_client: ClientFactory, runware: ScriptedRunware, clock: FakeClock
) -> None:
    policy = RetryPolicy(max_attempts=8, base_delay=1.0, multiplier=2.0, max_delay=30.0, jitter=1)
    async with make_client(retry=policy, rng=lambda: 0.25) as client:
        runware.queue("videoInference", *[answer(status=503)] * 7, ack())
        await client.submit(REQUEST, TASK)
    assert clock.sleeps == [1.25, 2.25, 4.25, 8.25, 16.25, 30.25, 30.25]


async def test_retry_after_is_honoured_when_longer(
    client: RunwareClient, runware: ScriptedRunware, clock: FakeClock
) -> None:
    runware.queue("videoInference", answer(status=429, headers={"Retry-After": "7"}), ack())
    await client.submit(REQUEST, TASK)
    assert clock.sleeps == [7.0]


async def test_exhausted_ambiguous_retries_say_the_task_may_be_running(
    make_client: ClientFactory, runware: ScriptedRunware
) -> None:
    runware.defaults["videoInference"] = httpx.ReadTimeout("no answer")
    async with make_client(retry=RetryPolicy(max_attempts=3)) as client:
        with pytest.raises(RunwareTimeoutError, match="may have reached Runware") as caught:
            await client.submit(REQUEST, TASK)
    error = caught.value
    assert error.may_be_running and error.retryable
    assert error.task_uuid == TASK
    assert submitted_uuids(runware) == [TASK] * 3


async def test_a_refused_connection_is_not_sent_and_given_up_quickly(
    make_client: ClientFactory, runware: ScriptedRunware, clock: FakeClock
) -> None:
    """Refused before a byte was written, on every attempt: the service cannot hold the
    task. Three attempts (a few seconds, not the 31-36 s of every retry), then an error that
    says so, and what a writer checks, in words (issue 13, item 5)."""
    runware.defaults["videoInference"] = httpx.ConnectError("[Errno 111] Connection refused")
    async with make_client(base_url="http://127.0.0.1:9/v1") as client:
        with pytest.raises(RunwareConnectionError) as caught:
            await client.submit(REQUEST, TASK)
    error = caught.value
    assert error.not_sent and not error.may_be_running and error.task_uuid == TASK
    assert submitted_uuids(runware) == [TASK] * 3
    assert sum(clock.sleeps) < 5
    message = str(error)
    assert "nothing was sent" in message
    assert "Check that RUNWARE_BASE_URL (http://127.0.0.1:9/v1) names the right server" in message
    assert "resumed=True" not in message and "may have been accepted" not in message


async def test_connecting_to_the_default_url_advises_the_network(
    make_client: ClientFactory, runware: ScriptedRunware
) -> None:
    runware.defaults["videoInference"] = httpx.ConnectTimeout("timed out")
    async with make_client(base_url="https://api.runware.ai/v1") as client:
        with pytest.raises(RunwareConnectionError, match="Check the network connection") as e:
            await client.submit(REQUEST, TASK)
    assert e.value.not_sent and "RUNWARE_BASE_URL" not in str(e.value)


async def test_a_send_that_may_have_arrived_is_never_called_not_sent(
    make_client: ClientFactory, runware: ScriptedRunware
) -> None:
    # the first attempt was written (its answer timed out), the next ones were refused
    runware.queue("videoInference", httpx.ReadTimeout("no answer"))
    runware.defaults["videoInference"] = httpx.ConnectError("refused")
    async with make_client(retry=RetryPolicy(max_attempts=4)) as client:
        with pytest.raises(RunwareConnectionError, match="may have reached Runware") as caught:
            await client.submit(REQUEST, TASK)
    assert caught.value.may_be_running and not caught.value.not_sent
    assert submitted_uuids(runware) == [TASK] * 4  # every attempt: it may be accepted


async def test_a_resumed_task_refused_a_connection_may_still_be_running(
    make_client: ClientFactory, runware: ScriptedRunware
) -> None:
    runware.defaults["videoInference"] = httpx.ConnectError("refused")
    async with make_client() as client:
        with pytest.raises(RunwareConnectionError) as caught:
            await client.submit(REQUEST, TASK, resumed=True)
    # nothing was sent this time, but an earlier build may have sent it
    assert caught.value.not_sent and caught.value.may_be_running


async def test_exhausted_rate_limits_keep_their_class(
    make_client: ClientFactory, runware: ScriptedRunware
) -> None:
    runware.defaults["videoInference"] = answer(status=429)
    async with make_client(retry=RetryPolicy(max_attempts=2)) as client:
        with pytest.raises(RunwareRateLimitError) as caught:
            await client.submit(REQUEST, TASK)
    assert caught.value.status_code == 429


async def test_a_validation_error_is_not_retried(
    client: RunwareClient, runware: ScriptedRunware
) -> None:
    error = {
        "code": "unsupportedDuration",
        "message": "Invalid value for duration parameter.",
        "parameter": "duration",
        "type": "float",
        "documentation": "https://runware.ai/docs/...#request-duration",
        "taskUUID": TASK,
        "allowedValues": [6],
    }
    runware.queue("videoInference", answer(errors=[error], status=400))
    with pytest.raises(RunwareValidationError, match="duration") as caught:
        await client.submit(REQUEST, TASK)
    assert (caught.value.parameter, caught.value.code, caught.value.status_code) == (
        "duration",
        "unsupportedDuration",
        400,
    )
    assert caught.value.documentation == error["documentation"]
    assert not caught.value.may_be_running
    assert len(runware.calls) == 1


async def test_errors_are_matched_by_task_uuid_not_position(
    client: RunwareClient, runware: ScriptedRunware
) -> None:
    other = "0b06a81c-dd0b-435c-918a-5603e69d0a3d"
    body = answer(
        data=[{"taskType": "videoInference", "taskUUID": TASK}],
        errors=[{"code": "unsupportedDuration", "taskUUID": other, "message": "not yours"}],
    )
    runware.queue("videoInference", body)
    assert (await client.submit(REQUEST, TASK)).attempts == 1


async def test_an_auth_failure_without_task_uuid_is_raised_at_once(
    client: RunwareClient, runware: ScriptedRunware
) -> None:
    runware.queue(
        "videoInference",
        answer(errors=[{"code": "invalidApiKey", "message": "Invalid API key"}], status=401),
    )
    with pytest.raises(RunwareAuthError) as caught:
        await client.submit(REQUEST, TASK)
    assert caught.value.task_uuid == TASK
    assert len(runware.calls) == 1


async def test_a_5xx_html_body_is_a_server_error_after_retries(
    make_client: ClientFactory, runware: ScriptedRunware
) -> None:
    runware.defaults["videoInference"] = httpx.Response(502, text="<html>oops</html>")
    async with make_client(retry=RetryPolicy(max_attempts=2)) as client:
        with pytest.raises(RunwareServerError) as caught:
            await client.submit(REQUEST, TASK)
    assert caught.value.status_code == 502


async def test_bad_arguments_are_refused_before_sending(
    client: RunwareClient, runware: ScriptedRunware
) -> None:
    with pytest.raises(ValueError, match="UUID"):
        await client.submit(REQUEST, "not-a-uuid")
    with pytest.raises(ValueError, match="taskUUID"):
        await client.submit({**REQUEST, "taskUUID": "0b06a81c-dd0b-435c-918a-5603e69d0a3d"}, TASK)
    with pytest.raises(ValueError, match="JSON"):
        await client.submit({**REQUEST, "inputs": {"video": object()}}, TASK)
    assert runware.calls == []


def test_the_key_and_url_come_from_the_environment() -> None:
    env = {"RUNWARE_API_KEY": f"  {API_KEY}\n", "RUNWARE_BASE_URL": "http://127.0.0.1:9/v1"}
    client = RunwareClient(env=env)
    assert client.base_url == "http://127.0.0.1:9/v1"
    assert RunwareClient(env={"RUNWARE_API_KEY": API_KEY}).base_url == ("https://api.runware.ai/v1")
    with pytest.raises(RunwareAuthError, match="RUNWARE_API_KEY"):
        RunwareClient(env={})
    with pytest.raises(RunwareAuthError, match="whitespace"):
        RunwareClient(env={"RUNWARE_API_KEY": "two words"})
    with pytest.raises(ValueError, match="http"):
        RunwareClient(API_KEY, base_url="ftp://example.com/v1", env={})


async def test_batch_body_is_a_json_array(client: RunwareClient, runware: ScriptedRunware) -> None:
    runware.queue("videoInference", ack())
    await client.submit(REQUEST, TASK)
    assert isinstance(json.loads(runware.calls[0].request.content), list)


FAILURES: list[httpx.Response | Exception] = [
    httpx.ReadTimeout("slow"),
    DROP,
    answer(status=429),
    answer(status=503),
    httpx.Response(200, text="garbage"),
]


@settings(max_examples=60, deadline=None)
@given(
    failures=st.lists(st.sampled_from(range(len(FAILURES))), max_size=7),
    then=st.sampled_from(["ack", "conflict"]),
)
def test_whatever_fails_every_send_carries_the_one_uuid(failures: list[int], then: str) -> None:
    runware = ScriptedRunware()
    clock = FakeClock()
    runware.queue("videoInference", *[FAILURES[i] for i in failures])
    runware.defaults["videoInference"] = ack() if then == "ack" else conflict()
    policy = RetryPolicy(max_attempts=6)

    async def scenario() -> Submission | RunwareError:
        async with RunwareClient(
            API_KEY,
            base_url=BASE_URL,
            transport=httpx.MockTransport(runware.handler),
            retry=policy,
            sleep=clock.sleep,
            clock=clock,
            rng=lambda: 0.5,
            env={},
        ) as client:
            try:
                return await client.submit(REQUEST, TASK)
            except RunwareError as exc:
                return exc

    outcome = asyncio.run(scenario())
    sent = submitted_uuids(runware)
    assert sent == [TASK] * len(sent)
    assert len(sent) == min(len(failures) + 1, policy.max_attempts)
    if len(failures) >= policy.max_attempts:
        assert isinstance(outcome, RunwareError) and outcome.may_be_running
    elif then == "conflict" and not failures:
        assert isinstance(outcome, RunwareValidationError)  # a first send: not ours to claim
    else:
        assert isinstance(outcome, Submission)
        assert outcome.already_accepted is (then == "conflict")
