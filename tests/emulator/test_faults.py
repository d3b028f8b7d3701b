"""Every fault knob, observed by a plain httpx client over real HTTP."""

from __future__ import annotations

import json
import math
import time

import httpx
import pytest

from storyboard.emulator.faults import FaultRule, parse_spec
from storyboard.emulator.server import EmulatorServer
from tests.emulator.conftest import Receiver
from tests.emulator.helpers import Api, image_bytes, new_uuid, video_task

DRY = {"X-Runware-Dry-Run": "1"}  # status faults hit dry runs too, and they render nothing
STATUS_CODES = {429: "rateLimitExceeded", 503: "serviceUnavailable", 504: "gatewayTimeout"}


@pytest.mark.parametrize("status", [429, 503, 504])
def test_submit_status_fault_refuses_without_a_job(
    emulator: EmulatorServer, api: Api, status: int
) -> None:
    emulator.set_faults(f"submit-{status}*1")
    task = video_task()
    refused = api.submit(task)
    assert refused.status_code == status
    assert refused.json()["errors"][0]["code"] == STATUS_CODES[status]
    assert emulator.ledger() == []
    assert api.poll(task["taskUUID"]).json() == {"data": []}
    retried = api.submit(task)  # the same UUID: not a conflict, the first try created nothing
    assert retried.status_code == 200
    assert len(emulator.ledger()) == 1
    assert emulator.stats()["faults"] == {f"submit-{status}": 1}


@pytest.mark.parametrize("status", [429, 503, 504])
def test_poll_status_fault_leaves_the_job_alone(
    emulator: EmulatorServer, api: Api, status: int
) -> None:
    task = video_task()
    api.submit(task)
    emulator.set_faults(f"poll-{status}*1")
    refused = api.poll(task["taskUUID"])
    assert refused.status_code == status
    assert refused.json()["errors"][0]["code"] == STATUS_CODES[status]
    assert api.wait(task["taskUUID"])[0]["status"] == "success"


def test_dropped_connection_after_acceptance(emulator: EmulatorServer, api: Api) -> None:
    emulator.set_faults("drop*1")
    task = video_task(includeCost=True)
    with pytest.raises(httpx.TransportError):
        api.submit(task)
    [entry] = emulator.ledger()  # the job exists and is billed although nobody heard back
    assert (entry.task_uuid, entry.status, entry.cost) == (task["taskUUID"], "billed", 0.336)
    retried = api.submit(task)
    assert retried.status_code == 400
    assert retried.json()["errors"][0]["code"] == "conflictTaskUUID"
    assert api.wait(task["taskUUID"])[0]["cost"] == 0.336
    assert emulator.total_cost() == 0.336


def test_dropped_connection_on_poll(emulator: EmulatorServer, api: Api) -> None:
    task = video_task()
    api.submit(task)
    emulator.set_faults("poll-drop*1")
    with pytest.raises(httpx.TransportError):
        api.poll(task["taskUUID"])
    assert api.wait(task["taskUUID"])[0]["status"] == "success"


def test_slow_acknowledgement(emulator: EmulatorServer, api: Api) -> None:
    emulator.set_faults("slow-ack*1:delay=0.8")
    task = video_task()
    with pytest.raises(httpx.ReadTimeout):
        api.client.post(api.base_url, json=[task], timeout=0.3)
    # The job was accepted before the answer was delayed: a retry meets a conflict.
    assert api.submit(task).json()["errors"][0]["code"] == "conflictTaskUUID"
    emulator.set_faults("slow-ack*1:delay=0.5")
    started = time.monotonic()
    assert api.submit(video_task()).status_code == 200
    assert time.monotonic() - started >= 0.5
    assert len(emulator.ledger()) == 2


def test_provider_failure_after_n_polls_is_not_billed(emulator: EmulatorServer, api: Api) -> None:
    emulator.configure(latency_s=(5.0, 5.0))
    task = video_task()
    emulator.add_fault("provider-error", after=3, task=task["taskUUID"])
    other = video_task()  # not targeted
    api.post([task, other])
    for _ in range(2):
        assert api.poll(task["taskUUID"]).json()["data"][0]["status"] == "processing"
    failed = api.poll(task["taskUUID"])
    assert failed.status_code == 200
    assert failed.json()["data"] == []
    [error] = failed.json()["errors"]
    assert (error["code"], error["status"], error["taskUUID"]) == (
        "timeoutProvider",
        "error",
        task["taskUUID"],
    )
    assert api.poll(task["taskUUID"]).json()["errors"] == [error]  # terminal and repeated
    entries = {e.task_uuid: e for e in emulator.ledger()}
    assert (entries[task["taskUUID"]].status, entries[task["taskUUID"]].cost) == ("failed", 0.0)
    assert entries[other["taskUUID"]].status == "billed"
    assert api.poll(other["taskUUID"]).json()["data"][0]["status"] == "processing"


def test_failed_jobs_can_be_billed(emulator: EmulatorServer, api: Api) -> None:
    emulator.configure(bill_failed=True)
    emulator.set_faults("provider-error*1:after=1")
    task = video_task()
    api.submit(task)
    assert api.poll(task["taskUUID"]).json()["errors"][0]["code"] == "timeoutProvider"
    [entry] = emulator.ledger()
    assert (entry.status, entry.cost) == ("failed", 0.336)


def test_moderation_failure_names_the_flagged_input(emulator: EmulatorServer, api: Api) -> None:
    emulator.set_faults("moderation:after=2")
    emulator.register_remote("https://cdn.test/f.jpg", image_bytes())
    framed = video_task(
        width=None, height=None, inputs={"frameImages": [{"image": "https://cdn.test/f.jpg"}]}
    )
    plain = video_task()
    api.post([framed, plain])
    for task, parameter in ((framed, "inputs.frameImages[0].image"), (plain, "positivePrompt")):
        assert api.poll(task["taskUUID"]).json()["data"][0]["status"] == "processing"
        [error] = api.poll(task["taskUUID"]).json()["errors"]
        assert (error["code"], error["parameter"]) == ("providerContentPolicyViolation", parameter)
    assert emulator.total_cost() == 0.0


def test_moderation_names_the_input_it_is_told(emulator: EmulatorServer, api: Api) -> None:
    emulator.set_faults("moderation*1:input=providerSettings.klingai.multiPrompt[1].prompt")
    task = video_task()
    api.post([task])
    [error] = api.poll(task["taskUUID"]).json()["errors"]
    assert error["parameter"] == "providerSettings.klingai.multiPrompt[1].prompt"
    assert "flagged providerSettings.klingai.multiPrompt[1].prompt" in error["message"]


def test_failure_reaches_the_webhook(
    emulator: EmulatorServer, api: Api, receiver: Receiver
) -> None:
    emulator.set_faults("provider-error:after=99")  # nobody polls: it fails when due
    task = video_task(webhookURL=receiver.url)
    api.submit(task)
    [call] = receiver.wait_for(1)
    [error] = json.loads(call.body)["errors"]
    assert (error["code"], error["taskUUID"]) == ("timeoutProvider", task["taskUUID"])


def test_malformed_body_after_acceptance(emulator: EmulatorServer, api: Api) -> None:
    emulator.set_faults("malformed*1")
    task = video_task()
    response = api.submit(task)
    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.content)
    assert [e.task_uuid for e in emulator.ledger()] == [task["taskUUID"]]
    emulator.set_faults("poll-malformed*1")
    with pytest.raises(json.JSONDecodeError):
        json.loads(api.poll(task["taskUUID"]).content)
    assert api.wait(task["taskUUID"])[0]["status"] == "success"


def test_pending_instead_of_processing(emulator: EmulatorServer, api: Api) -> None:
    emulator.set_faults("pending")
    task = video_task()
    api.submit(task)
    assert api.poll(task["taskUUID"]).json()["data"] == [
        {"taskType": "videoInference", "taskUUID": task["taskUUID"], "status": "pending"}
    ]
    assert api.wait(task["taskUUID"])[0]["status"] == "success"


def test_item_error_inside_data(emulator: EmulatorServer, api: Api) -> None:
    emulator.set_faults("item-error:after=1:code=inferenceError")
    task = video_task()
    api.submit(task)
    body = api.poll(task["taskUUID"]).json()
    assert "errors" not in body
    [item] = body["data"]
    assert (item["status"], item["taskUUID"], item["error"]["code"]) == (
        "error",
        task["taskUUID"],
        "inferenceError",
    )


def test_empty_data_acknowledgement(emulator: EmulatorServer, api: Api) -> None:
    emulator.set_faults("empty-ack*1")
    task = video_task()
    response = api.submit(task)
    assert (response.status_code, response.json()) == (200, {"data": []})
    assert api.wait(task["taskUUID"])[0]["status"] == "success"


def test_rates_are_seeded_and_repeatable(emulator: EmulatorServer, api: Api) -> None:
    def run() -> list[int]:
        emulator.reset()
        emulator.set_faults("submit-503@0.5", seed=11)
        return [api.submit(video_task(), headers=DRY).status_code for _ in range(16)]

    first, second = run(), run()
    assert first == second
    assert set(first) == {200, 503}
    emulator.reset()
    emulator.set_faults("submit-503@0.5", seed=12)
    third = [api.submit(video_task(), headers=DRY).status_code for _ in range(16)]
    assert third != first


def test_header_faults_apply_to_one_request(emulator: EmulatorServer, api: Api) -> None:
    task = video_task()
    refused = api.submit(task, headers={"X-Emulator-Faults": "submit-429"})
    assert refused.status_code == 429
    assert api.submit(task).status_code == 200
    marked = video_task()
    api.submit(marked, headers={"X-Emulator-Faults": "provider-error:after=1"})
    assert api.poll(marked["taskUUID"]).json()["errors"][0]["code"] == "timeoutProvider"
    bad = api.submit(video_task(), headers={"X-Emulator-Faults": "explode"})
    assert bad.status_code == 400 and bad.json()["errors"][0]["code"] == "invalidFaultSpec"


def test_control_endpoint_installs_and_clears_faults(emulator: EmulatorServer, api: Api) -> None:
    url = emulator.url("/_emulator/faults")
    listed = httpx.post(url, json={"spec": "poll-429*1, seed=3"}).json()
    assert listed == {"rules": [{"kind": "poll-429", "times": 1, "after": 1, "delay": 2.0}]}
    task = video_task()
    api.submit(task)
    assert api.poll(task["taskUUID"]).status_code == 429
    httpx.post(url, json={"spec": "submit-503", "mode": "add"})
    assert api.submit(video_task()).status_code == 503
    assert httpx.delete(url).json() == {"rules": []}
    assert api.submit(video_task()).status_code == 200
    assert httpx.post(url, json={"spec": "nonsense"}).status_code == 400


def test_global_faults_from_the_config(emulator: EmulatorServer, api: Api) -> None:
    emulator.configure(faults="submit-504*2")
    assert [api.submit(video_task()).status_code for _ in range(3)] == [504, 504, 200]
    emulator.reset()  # back to the fixture's settings: no faults
    assert api.submit(video_task()).status_code == 200


def test_spec_parsing() -> None:
    rules, seed = parse_spec(
        "submit-503@0.25, drop*2, moderation:after=3:task=ABC, submit-drop, seed=9,"
        "moderation*1:input=positivePrompt"
    )
    assert seed == 9
    assert rules == [
        FaultRule("submit-503", rate=0.25),
        FaultRule("drop", times=2),
        FaultRule("moderation", after=3, task="ABC"),
        FaultRule("drop"),
        FaultRule("moderation", times=1, input="positivePrompt"),
    ]
    for bad in ("explode", "drop@2", "drop:after", "drop:color=red", "provider-error:after=0"):
        with pytest.raises(ValueError):
            parse_spec(bad)


def test_fault_status_is_counted(emulator: EmulatorServer, api: Api) -> None:
    emulator.set_faults("submit-503*1")
    api.submit(video_task())
    api.submit(video_task(taskUUID=new_uuid()))
    stats = emulator.stats()
    assert stats["statuses"] == {"503": 1, "200": 1}
    assert stats["errors"] == {"serviceUnavailable": 1}


def test_spec_parsing_of_the_untrusted_provider_faults() -> None:
    rules, _ = parse_spec(
        'bad-cost*1:cost="1e308", bad-cost:cost=NaN, redirect:port=9, redirect:host=md.test, '
        "extra-results:count=25, token-url:token=abc, submit-trickle:delay=0.25"
    )
    assert rules[0].cost_value == "1e308"
    assert math.isnan(rules[1].cost_value)  # type: ignore[arg-type]
    assert (rules[2].port, rules[3].host, rules[4].count, rules[5].token) == (
        9, "md.test", 25, "abc",
    )  # fmt: skip
    assert (rules[6].kind, rules[6].delay) == ("trickle", 0.25)
    for bad in ("bad-cost:cost=nope", "redirect:port=0", "extra-results:count=-1"):
        with pytest.raises(ValueError):
            parse_spec(bad)


def test_a_trickled_answer_comes_one_byte_at_a_time(emulator: EmulatorServer, api: Api) -> None:
    emulator.set_faults("trickle*1:delay=0.01")
    started = time.monotonic()
    answer = api.submit(video_task())
    assert answer.status_code == 200 and time.monotonic() - started >= 0.01 * 40
    assert emulator.stats()["faults"] == {"trickle": 1}
