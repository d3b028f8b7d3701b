"""When polls are sent: from the progress the service reports, from how long earlier tasks
took per second of video, and never more often than ``round_gap`` whatever the number of
tasks in flight (fake time: the scripted service answers from the clock)."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from storyboard.backends.runware import PollPolicy
from tests.backends.runware.conftest import ClientFactory
from tests.backends.runware.fakes import FakeClock, ScriptedRunware, answer, processing, success

pytestmark = pytest.mark.anyio

UUIDS = [f"00000000-0000-4000-8000-{n:012d}" for n in range(1, 100)]


def timed_service(
    clock: FakeClock, ends: dict[str, float], *, progress: bool = True
) -> Callable[[list[dict[str, Any]]], httpx.Response]:
    """A getResponse handler: task ``u`` is done at clock time ``ends[u]``; before that it is
    processing, with ``progress`` as the emulator reports it (the share of its time gone,
    counted from the first time it is asked about)."""
    first_seen: dict[str, float] = {}

    def reply(tasks: list[dict[str, Any]]) -> httpx.Response:
        data = []
        for task in tasks:
            uuid = task["taskUUID"]
            if clock.now >= ends[uuid]:
                data.append(success(uuid, video=uuid))
                continue
            item = processing(uuid)
            if progress:
                start = first_seen.setdefault(uuid, clock.now - 1.0)  # first poll at 1 s
                item["progress"] = int(100 * (clock.now - start) / (ends[uuid] - start))
            data.append(item)
        return answer(data)

    return reply


def runware_times(runware: ScriptedRunware) -> list[float]:
    return [call.at for call in runware.of_kind("getResponse")]  # type: ignore[attr-defined]


@pytest.fixture
def stamped(runware: ScriptedRunware, clock: FakeClock) -> ScriptedRunware:
    """Every call the scripted service gets remembers the fake time it came at."""
    handler = runware.handler

    def stamping(request: httpx.Request) -> httpx.Response:
        response = handler(request)
        runware.calls[-1].at = clock.now  # type: ignore[attr-defined]
        return response

    runware.handler = stamping  # type: ignore[method-assign]
    return runware


async def test_a_task_reporting_progress_is_seen_done_just_after_its_end(
    make_client: ClientFactory, stamped: ScriptedRunware, clock: FakeClock
) -> None:
    start = clock.now
    stamped.defaults["getResponse"] = timed_service(clock, {UUIDS[0]: start + 10})
    async with make_client(transport=httpx.MockTransport(stamped.handler)) as client:
        await client.wait(UUIDS[0])
    done = clock.now - start
    # the shipped schedule without progress polls at 1, 2.5, 4.75, 8.1, 13.2: 3.2 s late
    assert 10 <= done <= 10.3, runware_times(stamped)
    assert len(stamped.of_kind("getResponse")) <= 5


async def test_without_progress_later_tasks_go_by_the_earlier_ones_per_second_of_video(
    make_client: ClientFactory, stamped: ScriptedRunware, clock: FakeClock
) -> None:
    first, second, third = UUIDS[:3]
    start = clock.now
    ends = {first: start + 12, second: start + 12 + 12, third: start + 24 + 24}
    stamped.defaults["getResponse"] = timed_service(clock, ends, progress=False)
    async with make_client(transport=httpx.MockTransport(stamped.handler)) as client:
        await client.wait(first, duration=5)  # no history: 1, 2.5, ... 13.2: seen 1.2 s late
        assert clock.now - start == pytest.approx(13.2, abs=0.1)
        clock.now = start + 12  # the next take starts when the first ended (a hand-off)
        polls = len(stamped.of_kind("getResponse"))
        await client.wait(second, duration=5)  # expected to take as long as the first
        assert ends[second] <= clock.now <= ends[second] + 0.6
        assert len(stamped.of_kind("getResponse")) - polls <= 3  # not 1, 2.5, 4.75...
        clock.now = start + 24
        polls = len(stamped.of_kind("getResponse"))
        await client.wait(third, duration=10)  # twice the video: expected twice the time
        first_poll = runware_times(stamped)[polls]
        assert first_poll - (start + 24) == pytest.approx(10)  # at the cap, not at 1 s
        assert ends[third] <= clock.now <= ends[third] + 1


async def test_rounds_are_never_closer_than_the_round_gap(
    make_client: ClientFactory, stamped: ScriptedRunware, clock: FakeClock
) -> None:
    start = clock.now
    ends = {uuid: start + 5 + 0.1 * n for n, uuid in enumerate(UUIDS[:48])}
    stamped.defaults["getResponse"] = timed_service(clock, ends)
    policy = PollPolicy()
    async with make_client(transport=httpx.MockTransport(stamped.handler), poll=policy) as client:
        await asyncio.gather(*(client.wait(uuid) for uuid in ends))
    times = runware_times(stamped)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= policy.round_gap - 1e-9
    assert clock.now <= max(ends.values()) + 0.3  # the last one still seen just after its end


async def rate(
    make_client: ClientFactory, clock: FakeClock, count: int, policy: PollPolicy, spread: float
) -> float:
    """Poll rounds per second (a round of more than 50 tasks is several POSTs) while ``count``
    tasks of 20 s, ending over ``spread`` seconds, are in flight."""
    runware = ScriptedRunware()
    start = clock.now
    ends = {uuid: start + 20 + spread * n / count for n, uuid in enumerate(UUIDS[:count])}
    runware.defaults["getResponse"] = timed_service(clock, ends)
    async with make_client(transport=httpx.MockTransport(runware.handler), poll=policy) as client:
        await asyncio.gather(*(client.wait(uuid) for uuid in ends))
    posts_a_round = -(-count // policy.max_batch)
    return len(runware.of_kind("getResponse")) / posts_a_round / (clock.now - start)


@pytest.mark.parametrize("policy", [PollPolicy(), PollPolicy(first_delay=0.1, max_interval=0.3)])
async def test_the_request_rate_does_not_grow_with_the_tasks_in_flight(
    make_client: ClientFactory, clock: FakeClock, policy: PollPolicy
) -> None:
    # tasks that run alike share every round: 48 cost what 4 cost
    together = [await rate(make_client, clock, n, policy, spread=0.5) for n in (4, 48)]
    assert together[1] <= 1.2 * together[0]
    # tasks ending apart need a poll after each end, but never more than one a round_gap
    apart = [await rate(make_client, clock, n, policy, spread=10) for n in (4, 48, 96)]
    assert max(apart) <= 1 / policy.least_gap
    assert apart[2] <= 1.2 * apart[1]
