"""The emulator bills as the service does: the mutation audit of its billing.

Each test here failed with one deliberate change to pricing.py, ledger.py, jobs.py, core.py or
dispatch.py that every other emulator test let through (the change is named in the test's
docstring). Money is read from the ledger (what was charged) and from the answers (``cost``).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from storyboard.emulator import pricing
from storyboard.emulator.server import EmulatorServer
from storyboard.media import render_animatic
from tests.emulator.helpers import Api, data_uri, image_bytes, new_uuid, video_task


def _settled(emulator: EmulatorServer, task_uuid: str, timeout: float = 10.0) -> Any:
    """The ledger entry of the job ``task_uuid`` once it is no longer ``billed``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        entries = [e for e in emulator.ledger() if e.task_uuid == task_uuid and not e.dry_run]
        if entries and entries[0].status != "billed":
            return entries[0]
        time.sleep(0.05)
    raise AssertionError(f"job {task_uuid} was not settled in {timeout} s")


@pytest.fixture(scope="module")
def odd_sources(tmp_path_factory: pytest.TempPathFactory) -> dict[float, bytes]:
    """Edit sources of 5.625 s (135 frames) and 6.375 s (153 frames), 1280x720, 24 fps."""
    folder = tmp_path_factory.mktemp("odd-sources")
    out = {}
    for seconds in (5.625, 6.375):
        path = render_animatic(
            folder / f"{seconds}.mp4",
            width=1280,
            height=720,
            duration_s=seconds,
            segments=[("source", "the source clip", seconds)],
        )
        out[seconds] = Path(path).read_bytes()
    return out


@pytest.mark.parametrize(("seconds", "cost"), [(5.625, 1.008), (6.375, 1.008)])
def test_edit_is_billed_on_its_source_rounded_to_the_nearest_second(
    emulator: EmulatorServer, api: Api, odd_sources: dict[float, bytes], seconds: float, cost: float
) -> None:
    """int(seconds) (5 s: 0.84) and ceil (7 s: 1.176) instead of the nearest second."""
    url = f"https://assets.runware.ai/assets/inputs/{new_uuid()}.mp4"
    emulator.register_remote(url, odd_sources[seconds])
    task = video_task(
        width=None, height=None, duration=None, includeCost=True, inputs={"video": url}
    )
    assert api.submit(task).status_code == 200
    [item] = api.wait(task["taskUUID"])
    assert item["cost"] == cost  # 6 s x 0.168
    [entry] = emulator.ledger()
    assert (entry.seconds, entry.cost) == (6, cost)


def test_billed_seconds_round_halves_up_and_never_reach_zero() -> None:
    """round() (halves to even: 6.5 s -> 6) and max(0, ...) instead of max(1, ...)."""
    edit = pricing.price(seconds=6.5, sound=False, video_input=True, number_results=1)
    assert (edit.seconds, edit.total) == (7, 1.176)
    assert pricing.price(seconds=2.5, sound=False, video_input=True, number_results=1).seconds == 3
    tiny = pricing.price(seconds=0.2, sound=False, video_input=True, number_results=2)
    assert (tiny.seconds, tiny.per_result, tiny.total) == (1, 0.168, 0.336)


def test_a_late_failure_charges_exactly_the_results_delivered(
    emulator: EmulatorServer, api: Api
) -> None:
    """Refunding everything, or one result too many or too few, or firing one result late, or
    settling on the whole job's price (not per result) or with no failure code."""
    emulator.set_faults("late-error*1:count=1")
    task = video_task(numberResults=3, includeCost=True)
    assert api.submit(task).status_code == 200
    entry = _settled(emulator, task["taskUUID"])
    assert (entry.status, entry.error) == ("failed", "timeoutProvider")
    assert (entry.cost, entry.would_cost, entry.per_result) == (0.336, 1.008, 0.336)
    assert emulator.total_cost() == 0.336
    body = api.poll(task["taskUUID"]).json()
    assert [i["cost"] for i in body["data"]] == [0.336]  # what it charged, it reported
    assert [e["code"] for e in body["errors"]] == ["timeoutProvider"]
    json_entry = httpx.get(emulator.url("/_emulator/ledger")).json()["entries"][0]
    assert (json_entry["cost"], json_entry["wouldCost"]) == (0.336, 1.008)


def test_a_late_failure_after_every_result_keeps_the_whole_charge(
    emulator: EmulatorServer, api: Api
) -> None:
    """A ``count`` above numberResults: the failure comes after the last result, not never."""
    emulator.set_faults("late-error*1:count=5")
    task = video_task(numberResults=2)
    api.submit(task)
    entry = _settled(emulator, task["taskUUID"])
    assert (entry.status, entry.cost) == ("failed", 0.672)
    assert emulator.total_cost() == 0.672


def test_a_billed_failure_counts_in_the_total(emulator: EmulatorServer, api: Api) -> None:
    """total() summing only ``billed`` entries: a failed job billed by bill_failed vanished."""
    emulator.configure(bill_failed=True)
    emulator.set_faults("provider-error*1:after=1")
    task = video_task(numberResults=2)
    api.submit(task)
    assert api.poll(task["taskUUID"]).json()["errors"][0]["code"] == "timeoutProvider"
    [entry] = emulator.ledger()
    assert (entry.status, entry.cost, entry.would_cost) == ("failed", 0.672, 0.672)
    assert emulator.total_cost() == 0.672
    assert httpx.get(emulator.url("/_emulator/ledger")).json()["total"] == 0.672


def test_a_failure_leaves_the_dry_run_of_its_uuid_alone(emulator: EmulatorServer, api: Api) -> None:
    """settle_failure matching every entry of the taskUUID: the free dry run became a
    failed job. And the dry run's entry says what it priced (numberResults, seconds, rate)."""
    emulator.set_faults("late-error*1:count=1")
    task = video_task(numberResults=2, duration=4)
    dry = api.submit(task, headers={"X-Runware-Dry-Run": "1"})
    assert dry.json()["data"][0]["cost"] == 0.896
    assert api.submit(task).status_code == 200
    _settled(emulator, task["taskUUID"])
    dry_entry, job_entry = emulator.ledger()
    assert (dry_entry.status, dry_entry.cost, dry_entry.error) == ("dryRun", 0.0, None)
    assert (dry_entry.number_results, dry_entry.seconds, dry_entry.rate) == (2, 4, 0.112)
    assert (job_entry.status, job_entry.cost) == ("failed", 0.448)
    assert emulator.total_cost() == 0.448


def test_a_failure_refunds_only_its_own_api_key(emulator: EmulatorServer, api: Api) -> None:
    """Bug found: a taskUUID is unique per API key, but a failure refunded every billed job
    of that taskUUID, another key's successful job included."""
    emulator.configure(api_keys=[emulator.api_key, "other-key"])
    emulator.set_faults("provider-error*1:after=1")
    task = video_task(includeCost=True)
    assert api.submit(task).status_code == 200  # this job takes the one provider error
    other = Api(emulator.base_url, "other-key")
    try:
        assert other.submit(task).status_code == 200
        assert api.poll(task["taskUUID"]).json()["errors"][0]["code"] == "timeoutProvider"
        [item] = other.wait(task["taskUUID"])
    finally:
        other.close()
    assert item["cost"] == 0.336
    assert sorted((e.status, e.cost) for e in emulator.ledger()) == [
        ("billed", 0.336),
        ("failed", 0.0),
    ]
    assert emulator.total_cost() == 0.336


def test_cost_is_reported_only_when_asked(emulator: EmulatorServer, api: Api) -> None:
    """``cost`` in every success item, includeCost or not."""
    task = video_task()
    api.submit(task)
    [item] = api.wait(task["taskUUID"])
    assert "cost" not in item
    assert emulator.total_cost() == 0.336


def test_a_bad_cost_fault_lies_in_the_answer_not_in_the_ledger(
    emulator: EmulatorServer, api: Api
) -> None:
    """The bad-cost fault ignored: the answer kept the true cost."""
    emulator.set_faults("bad-cost*1:cost=99")
    task = video_task(includeCost=True)
    api.submit(task)
    [item] = api.wait(task["taskUUID"])
    assert item["cost"] == 99
    assert emulator.total_cost() == 0.336


def test_a_render_that_fails_is_refunded(
    emulator: EmulatorServer, api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failed render swallowed: the job stayed billed and processing for ever."""

    def broken(*args: object, **kwargs: object) -> Path:
        raise RuntimeError("no encoder")

    monkeypatch.setattr("storyboard.emulator.core.render", broken)
    task = video_task()
    api.submit(task)
    entry = _settled(emulator, task["taskUUID"])
    assert (entry.status, entry.cost, entry.error) == ("failed", 0.0, "processingFailed")
    [error] = api.poll(task["taskUUID"]).json()["errors"]
    assert error["code"] == "processingFailed"


def test_a_resent_task_conflicts_even_when_it_would_now_be_refused(
    emulator: EmulatorServer, api: Api
) -> None:
    """Validation before the used-UUID check: the retry of an accepted task whose image was
    deleted meanwhile was answered invalid, which a client reads as "never accepted"."""
    upload = api.post(
        [{"taskType": "imageUpload", "taskUUID": new_uuid(), "image": data_uri(image_bytes())}]
    ).json()["data"][0]
    frame = {"frameImages": [{"image": upload["imageUUID"]}]}
    task = video_task(width=None, height=None, inputs=frame)
    assert api.submit(task).status_code == 200
    deleted = api.post(
        [
            {
                "taskType": "mediaStorage",
                "taskUUID": new_uuid(),
                "operation": "delete",
                "media": upload["imageUUID"],
            }
        ]
    )
    assert deleted.status_code == 200
    retried = api.submit(task)
    assert retried.status_code == 400
    assert retried.json()["errors"][0]["code"] == "conflictTaskUUID"
    assert [e.task_uuid for e in emulator.ledger()] == [task["taskUUID"]]
    assert emulator.total_cost() == 0.336
    assert httpx.get(emulator.url("/_emulator/ledger")).json()["total"] == 0.336


def test_a_job_of_several_results_costs_a_rounded_sum(emulator: EmulatorServer, api: Api) -> None:
    """The total not rounded to 4 decimals: 5 x 0.336 answered 1.6800000000000002."""
    task = video_task(numberResults=5)
    dry = api.submit(task, headers={"X-Runware-Dry-Run": "1"})
    assert dry.json()["data"][0]["cost"] == 1.68
    assert api.submit(task).status_code == 200
    assert [e.would_cost for e in emulator.ledger()] == [1.68, 1.68]
    assert emulator.total_cost() == 1.68


def test_a_refused_task_leaves_its_uuid_free(emulator: EmulatorServer, api: Api) -> None:
    """A refused task claiming its taskUUID: the corrected resend met a conflict, which a
    client reads as "accepted", and waited for a job that was never made (nor billed)."""
    task = video_task(duration=2, includeCost=True)
    status, error = api.error(task)
    assert (status, error["code"]) == (400, "unsupportedDuration")
    assert emulator.ledger() == []
    task["duration"] = 3
    assert api.submit(task).status_code == 200
    [item] = api.wait(task["taskUUID"])
    assert item["cost"] == emulator.total_cost() == 0.336
