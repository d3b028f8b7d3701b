"""Retry audit: provider faults that could make a build pay twice or lose a paid result.

The real client and backend drive the emulator over loopback; every test asserts on what the
emulator charged (its ledger), and where a build runs, on the lock file and the cache.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from storyboard.backends.runware import PollPolicy, RetryPolicy, RunwareClient
from storyboard.build.pipeline import build
from storyboard.emulator.server import EmulatorServer
from tests.backends.runware.fakes import text_request
from tests.conftest import read_lock
from tests.faults.films import billed_per_take
from tests.faults.runner import FILM_SCALE, fast_backend

Project = Callable[[dict[str, str | bytes]], Path]
FAST_RETRY = RetryPolicy(max_attempts=5, base_delay=0.05, max_delay=0.2, jitter=0.02)
FAST_POLL = PollPolicy(first_delay=0.2, multiplier=1.5, max_interval=0.5, deadline=60)

ONE = """\
storyboard: 1
title: Audit
shots:
  - {id: only, duration: 3, prompt: '[only] a lighthouse at dusk'}
"""


def charged(emulator: EmulatorServer) -> list[Any]:
    return [e for e in emulator.ledger() if not e.dry_run and e.cost > 0]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def client(emulator: EmulatorServer) -> AsyncIterator[RunwareClient]:
    made = RunwareClient(
        emulator.api_key,
        base_url=emulator.base_url,
        retry=FAST_RETRY,
        poll=FAST_POLL,
        env={},
    )
    try:
        yield made
    finally:
        await made.aclose()


# -- a job reported failed after its result was delivered (and billed) ----------------------


@pytest.mark.anyio
@pytest.mark.parametrize("number", [1, 2])
async def test_results_delivered_before_a_late_failure_are_kept(
    emulator: EmulatorServer, client: RunwareClient, tmp_path: Path, number: int
) -> None:
    emulator.set_faults("late-error*1")
    task = str(uuid.uuid4())
    results = await client.run(text_request(numberResults=number), task)
    assert len(results) == number
    assert all(r.task_uuid == task and r.video_url for r in results)
    for index, result in enumerate(results):
        done = await client.download(result, tmp_path / f"late-{index}.mp4")
        assert done.size > 0
    (entry,) = charged(emulator)
    # every result was delivered, so billed: they are what was paid for
    assert entry.task_uuid == task and entry.cost == pytest.approx(0.336 * number)


def test_a_build_does_not_pay_again_for_a_result_failed_after_delivery(
    project: Project, paid: EmulatorServer
) -> None:
    root = project({"film.yaml": ONE})
    film = root / "film.yaml"
    paid.set_faults("late-error*1")

    result = build(film, backend=fast_backend(), jobs=1, film_scale=FILM_SCALE)

    assert result.ok, [f"{o.take}: {o.message}" for o in result.failed]
    assert billed_per_take(paid) == {"only": 1}
    assert len(charged(paid)) == 1
    (entry,) = charged(paid)
    lock = read_lock(film.with_suffix(".lock"))
    assert lock["only"]["task_uuid"] == entry.task_uuid
    outcome = result.outcomes["only"]
    assert outcome.entry is not None and outcome.entry.task_uuid == entry.task_uuid


# -- a download that fails after the job succeeded -------------------------------------------


def test_a_download_that_fails_is_fetched_again_by_the_next_build_without_paying(
    project: Project, paid: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = project({"film.yaml": ONE})
    film = root / "film.yaml"
    paid.set_faults("download-trickle*1:delay=0.05")
    monkeypatch.setenv("RUNWARE_DOWNLOAD_DEADLINE", "0.3")

    first = build(film, backend=fast_backend(), jobs=1, film_scale=FILM_SCALE)

    assert not first.ok
    assert "was billed" in first.outcomes["only"].message
    assert not film.with_suffix(".lock").exists() or "only" not in read_lock(
        film.with_suffix(".lock")
    )
    for job in paid.emulator.jobs.values():  # the CDN recovers
        job.faults = []
    monkeypatch.delenv("RUNWARE_DOWNLOAD_DEADLINE")

    second = build(film, backend=fast_backend(), jobs=1, film_scale=FILM_SCALE)

    assert second.ok, [f"{o.take}: {o.message}" for o in second.failed]
    (entry,) = charged(paid)
    assert read_lock(film.with_suffix(".lock"))["only"]["task_uuid"] == entry.task_uuid
    assert second.outcomes["only"].entry is not None
    assert second.outcomes["only"].entry.task_uuid == entry.task_uuid
