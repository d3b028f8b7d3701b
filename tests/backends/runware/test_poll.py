"""Polling: batching, schedule, deadline, cumulative answers, both failure encodings."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from storyboard.backends.runware import (
    PollPolicy,
    RunwareAuthError,
    RunwareClient,
    RunwareError,
    RunwareProviderError,
    RunwareSafetyError,
    RunwareTimeoutError,
)
from tests.backends.runware.conftest import ClientFactory
from tests.backends.runware.fakes import (
    TASK,
    FakeClock,
    ScriptedRunware,
    answer,
    processing,
    success,
    vid,
)

pytestmark = pytest.mark.anyio

UUIDS = [f"00000000-0000-4000-8000-{n:012d}" for n in range(1, 8)]
Item = dict[str, Any]


def progressing(states: dict[str, list[list[Item]]]) -> Callable[[list[Item]], httpx.Response]:
    """A getResponse handler: the n-th poll of a task answers its n-th state (the last
    one repeats); items with a ``code`` go to ``errors``, the others to ``data``."""
    seen: dict[str, int] = {}

    def reply(tasks: list[Item]) -> httpx.Response:
        data: list[Item] = []
        errors: list[Item] = []
        for task in tasks:
            uuid = task["taskUUID"]
            sequence = states.get(uuid, [[]])
            index = seen.get(uuid, 0)
            seen[uuid] = index + 1
            for item in sequence[min(index, len(sequence) - 1)]:
                (errors if "code" in item else data).append(item)
        return answer(data, errors or None)

    return reply


def batches(runware: ScriptedRunware) -> list[list[str]]:
    return [call.uuids for call in runware.of_kind("getResponse")]


async def test_concurrent_waits_share_one_post_per_round(
    client: RunwareClient, runware: ScriptedRunware
) -> None:
    # Task n finishes on its (n+1)-th poll.
    states = {
        uuid: [[processing(uuid)]] * n + [[success(uuid, video=f"v{n}")]]
        for n, uuid in enumerate(UUIDS[:5])
    }
    runware.defaults["getResponse"] = progressing(states)
    results = await asyncio.gather(*(client.wait(uuid) for uuid in UUIDS[:5]))
    assert [r[0].video_uuid for r in results] == [vid(f"v{n}") for n in range(5)]
    assert batches(runware) == [UUIDS[n:5] for n in range(5)]
    for call in runware.of_kind("getResponse"):
        assert all(
            task == {"taskType": "getResponse", "taskUUID": task["taskUUID"]} for task in call.tasks
        )


async def test_max_batch_splits_a_round_into_several_posts(
    make_client: ClientFactory, runware: ScriptedRunware
) -> None:
    runware.defaults["getResponse"] = progressing(
        {uuid: [[processing(uuid)], [success(uuid, video=uuid)]] for uuid in UUIDS[:5]}
    )
    async with make_client(poll=PollPolicy(max_batch=2)) as client:
        await asyncio.gather(*(client.wait(uuid) for uuid in UUIDS[:5]))
    assert sorted(len(batch) for batch in batches(runware)) == [1, 1, 2, 2, 2, 2]


async def test_two_waits_on_one_task_poll_it_once_per_round(
    client: RunwareClient, runware: ScriptedRunware
) -> None:
    runware.defaults["getResponse"] = progressing({TASK: [[processing()], [success()]]})
    first, second = await asyncio.gather(client.wait(TASK), client.wait(TASK))
    assert first == second
    assert batches(runware) == [[TASK], [TASK]]


async def test_schedule_starts_at_one_second_grows_by_half_and_caps_at_ten(
    client: RunwareClient, runware: ScriptedRunware, clock: FakeClock
) -> None:
    runware.defaults["getResponse"] = progressing({TASK: [[processing()]] * 10 + [[success()]]})
    await client.wait(TASK)
    assert clock.sleeps == pytest.approx(
        [1.0, 1.5, 2.25, 3.375, 5.0625, 7.59375, 10.0, 10.0, 10.0, 10.0, 10.0]
    )


async def test_a_task_joining_later_is_batched_with_the_one_in_flight(
    client: RunwareClient, runware: ScriptedRunware
) -> None:
    early, late = UUIDS[0], UUIDS[1]
    runware.defaults["getResponse"] = progressing(
        {
            early: [[processing(early)]] * 6 + [[success(early, video="e")]],
            late: [[processing(late)]] * 2 + [[success(late, video="l")]],
        }
    )
    first = asyncio.ensure_future(client.wait(early))
    while len(runware.of_kind("getResponse")) < 2:
        await asyncio.sleep(0)
    second = await client.wait(late)
    assert second[0].video_uuid == vid("l")
    assert (await first)[0].video_uuid == vid("e")
    rounds = batches(runware)
    joined = rounds.index([early, late])
    assert rounds[:joined] == [[early]] * joined
    assert rounds[joined : joined + 3] == [[early, late]] * 3  # never a POST per task
    assert all(batch == [early] for batch in rounds[joined + 3 :])


async def test_the_deadline_raises_a_timeout_naming_the_task(
    make_client: ClientFactory, runware: ScriptedRunware, clock: FakeClock
) -> None:
    runware.defaults["getResponse"] = progressing({TASK: [[processing()]]})
    async with make_client(poll=PollPolicy(deadline=60)) as client:
        start = clock.now
        with pytest.raises(RunwareTimeoutError, match="may still be running and billed") as caught:
            await client.wait(TASK)
    assert caught.value.task_uuid == TASK
    assert caught.value.may_be_running and caught.value.retryable
    assert TASK in str(caught.value)
    assert clock.now - start == pytest.approx(60)
    polls = len(runware.of_kind("getResponse"))
    assert polls == 10  # 1, 2.5, 4.75, 8.1, 13.2, 20.8, 30.8, 40.8, 50.8, and one at 60


async def test_a_per_wait_deadline_overrides_the_policy(
    client: RunwareClient, runware: ScriptedRunware, clock: FakeClock
) -> None:
    runware.defaults["getResponse"] = answer([])
    start = clock.now
    with pytest.raises(RunwareTimeoutError, match="empty data"):
        await client.wait(TASK, deadline=5)
    assert clock.now - start == pytest.approx(5)


@pytest.mark.parametrize(
    "status", ["processing", "pending", "queued", "scheduled", "waiting", "??"]
)
async def test_any_non_terminal_status_keeps_polling(
    client: RunwareClient, runware: ScriptedRunware, status: str
) -> None:
    item = {**processing(status=status), "progress": 40}
    runware.defaults["getResponse"] = progressing({TASK: [[item], [item], [success()]]})
    assert len(await client.wait(TASK)) == 1
    assert len(runware.of_kind("getResponse")) == 3


async def test_empty_data_and_not_found_keep_polling_until_a_result(
    client: RunwareClient, runware: ScriptedRunware
) -> None:
    not_found = {"code": "taskFailedOrNotFound", "message": "no such task", "taskUUID": TASK}
    runware.defaults["getResponse"] = progressing({TASK: [[], [not_found], [], [success()]]})
    assert len(await client.wait(TASK)) == 1


async def test_not_found_until_the_deadline_times_out_with_the_code(
    client: RunwareClient, runware: ScriptedRunware
) -> None:
    not_found = {"code": "taskFailedOrNotFound", "message": "no such task", "taskUUID": TASK}
    runware.defaults["getResponse"] = progressing({TASK: [[not_found]]})
    with pytest.raises(RunwareTimeoutError, match="not found") as caught:
        await client.wait(TASK, deadline=20)
    assert caught.value.code == "taskFailedOrNotFound"


async def test_transient_poll_failures_keep_polling(
    client: RunwareClient, runware: ScriptedRunware
) -> None:
    runware.queue(
        "getResponse",
        httpx.ReadTimeout("slow"),
        httpx.RemoteProtocolError("dropped"),
        answer(status=503),
        answer(errors=[{"code": "rateLimitExceeded", "message": "later"}], status=429),
        httpx.Response(200, text="<html>proxy says hi</html>"),
        httpx.Response(200, json={"data": "garbage"}),
        answer([success()]),
    )
    assert len(await client.wait(TASK)) == 1
    assert len(runware.of_kind("getResponse")) == 7


async def test_a_revoked_key_ends_the_wait_saying_the_task_may_still_run(
    client: RunwareClient, runware: ScriptedRunware
) -> None:
    runware.queue(
        "getResponse",
        answer(errors=[{"code": "invalidApiKey", "message": "Invalid API key"}], status=401),
    )
    with pytest.raises(RunwareAuthError, match="may still be running") as caught:
        await client.wait(TASK)
    assert caught.value.task_uuid == TASK
    assert caught.value.may_be_running


async def test_cumulative_answers_are_deduplicated_by_video_uuid(
    client: RunwareClient, runware: ScriptedRunware
) -> None:
    one, two = success(video="v1", cost=0.5), success(video="v2", seed=7)
    runware.defaults["getResponse"] = progressing(
        {TASK: [[processing(), one], [one, one], [one, processing()], [one, two]]}
    )
    results = await client.wait(TASK, number_results=2)
    assert [(r.video_uuid, r.cost, r.seed) for r in results] == [
        (vid("v1"), 0.5, 42),
        (vid("v2"), 0.7, 7),
    ]
    assert len(runware.of_kind("getResponse")) == 4


async def test_a_result_carries_the_item(client: RunwareClient, runware: ScriptedRunware) -> None:
    item = success(video="v9", NSFWContent=True, cost=1.12, seed=123)
    runware.queue("getResponse", answer([item]))
    (result,) = await client.wait(TASK)
    assert result.task_uuid == TASK
    assert result.video_url == "https://vm.runware.test/video/v9.mp4"
    assert (result.cost, result.seed, result.nsfw) == (1.12, 123, True)
    assert result.raw == item


async def test_failure_in_errors_array_ends_the_wait_with_its_class(
    client: RunwareClient, runware: ScriptedRunware
) -> None:
    failure = {
        "code": "timeoutProvider",
        "status": "error",
        "message": "The provider timed out.",
        "taskUUID": TASK,
    }
    runware.queue("getResponse", answer([processing()]), answer([], [failure]))
    with pytest.raises(RunwareProviderError, match="timeoutProvider") as caught:
        await client.wait(TASK)
    assert caught.value.task_uuid == TASK
    assert caught.value.retryable and not caught.value.may_be_running


@pytest.mark.parametrize("code", ["serviceUnavailable", "internalServerError", "rateLimitExceeded"])
async def test_the_services_own_trouble_named_with_the_task_is_a_failed_poll(
    client: RunwareClient, runware: ScriptedRunware, code: str
) -> None:
    """A busy or failing service can answer a poll with an error that names the task it was
    asked about: that is the poll's failure, not the generation's. The wait goes on (it
    ended with a retryable error, and the executor sent a new, paid task while the first
    may still have been running)."""
    trouble = {"code": code, "status": "error", "message": "try again", "taskUUID": TASK}
    runware.queue("getResponse", answer([processing()]), answer([], [trouble]), answer([success()]))
    (result,) = await client.wait(TASK)
    assert result.video_uuid == vid("v-1")
    assert len(runware.of_kind("getResponse")) == 3


async def test_failure_inside_data_ends_the_wait_with_its_class(
    client: RunwareClient, runware: ScriptedRunware
) -> None:
    failure = {
        "taskType": "videoInference",
        "taskUUID": TASK,
        "status": "error",
        "error": {
            "code": "providerContentPolicyViolation",
            "message": "The image in inputs.frameImages[0].image was flagged by moderation.",
        },
    }
    runware.queue("getResponse", answer([failure]))
    with pytest.raises(RunwareSafetyError, match=r"inputs\.frameImages\[0\]\.image") as caught:
        await client.wait(TASK)
    assert caught.value.flagged == "inputs.frameImages[0].image"
    assert caught.value.task_uuid == TASK
    assert not caught.value.retryable


async def test_mixed_bodies_are_matched_by_task_uuid(
    client: RunwareClient, runware: ScriptedRunware
) -> None:
    ok, bad = UUIDS[0], UUIDS[1]
    failure = {"code": "inferenceError", "message": "boom", "taskUUID": bad, "status": "error"}
    # The failure comes first and the success is for the second task: positions lie.
    runware.queue("getResponse", answer([success(ok, video="fine")], [failure]))
    good, broken = await asyncio.gather(client.wait(ok), client.wait(bad), return_exceptions=True)
    assert isinstance(good, list) and good[0].video_uuid == vid("fine")
    assert isinstance(broken, RunwareProviderError) and broken.task_uuid == bad


async def test_a_cancelled_wait_leaves_the_batch(
    client: RunwareClient, runware: ScriptedRunware
) -> None:
    stay, leave = UUIDS[0], UUIDS[1]
    runware.defaults["getResponse"] = progressing(
        {stay: [[processing(stay)]] * 3 + [[success(stay)]], leave: [[processing(leave)]]}
    )
    leaving = asyncio.ensure_future(client.wait(leave))
    staying = asyncio.ensure_future(client.wait(stay))
    while not runware.of_kind("getResponse"):
        await asyncio.sleep(0)
    leaving.cancel()
    await staying
    assert batches(runware)[0] == [leave, stay]
    assert all(batch == [stay] for batch in batches(runware)[1:])


async def test_closing_the_client_fails_pending_waits(
    make_client: ClientFactory, runware: ScriptedRunware
) -> None:
    runware.defaults["getResponse"] = answer([processing()])
    client = make_client()
    waiting = asyncio.ensure_future(client.wait(TASK))
    while not runware.of_kind("getResponse"):
        await asyncio.sleep(0)
    await client.aclose()
    with pytest.raises(RunwareError, match="closed while waiting") as caught:
        await waiting
    assert caught.value.may_be_running and caught.value.task_uuid == TASK
