"""The job lifecycle over real HTTP: ACK, progress, cumulative polls, results, deliveries."""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
import pytest
from PIL import Image

from storyboard.emulator.server import EmulatorServer
from storyboard.media import probe
from tests.emulator.conftest import Receiver
from tests.emulator.helpers import Api, data_uri, image_bytes, new_uuid, video_task

URL = re.compile(
    r"^http://127\.0\.0\.1:\d+/video/os/a\d{2}d\d{2}/ws/5/vi/(?P<uuid>[0-9a-f-]{36})\.(?P<ext>\w+)$"
)


def test_ack_is_immediate_and_progress_rises_until_success(
    emulator: EmulatorServer, api: Api
) -> None:
    emulator.configure(latency_s=(1.0, 1.0))
    task = video_task()
    started = time.monotonic()
    ack = api.submit(task)
    assert time.monotonic() - started < 0.5
    assert ack.json() == {"data": [{"taskType": "videoInference", "taskUUID": task["taskUUID"]}]}
    progress = []
    for _ in range(4):
        [item] = api.poll(task["taskUUID"]).json()["data"]
        assert item["status"] == "processing"
        progress.append(item["progress"])
        time.sleep(0.05)
    assert progress == sorted(set(progress)) and all(0 <= p < 100 for p in progress)
    [done] = api.wait(task["taskUUID"])
    assert done["status"] == "success"
    assert time.monotonic() - started >= 1.0


def test_results_are_staggered_and_polls_cumulative(emulator: EmulatorServer, api: Api) -> None:
    emulator.configure(latency_s=(0.2, 0.2), stagger_s=0.4)
    task = video_task(numberResults=3, includeCost=True)
    api.submit(task)
    seen: list[list[str]] = []
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        data = api.poll(task["taskUUID"]).json()["data"]
        done = [i["videoUUID"] for i in data if i["status"] == "success"]
        if seen and seen[-1] != done:
            assert done[: len(seen[-1])] == seen[-1]  # what was reported stays reported
        seen.append(done)
        if len(done) == 3:
            assert all(i["status"] == "success" for i in data)
            break
        assert data[-1]["status"] == "processing"
        time.sleep(0.05)
    counts = {len(s) for s in seen}
    assert {0, 1, 2, 3} <= counts  # every partial state was observable
    final = api.poll(task["taskUUID"]).json()["data"]
    assert len({i["videoUUID"] for i in final}) == 3
    assert len({i["seed"] for i in final}) == 3
    assert {i["cost"] for i in final} == {0.336}
    [entry] = emulator.ledger()
    assert (entry.number_results, entry.per_result, entry.cost) == (3, 0.336, 1.008)


def test_several_polls_in_one_request(api: Api) -> None:
    first, second = video_task(), video_task(duration=4)
    api.post([first, second])
    api.wait(first["taskUUID"])
    api.wait(second["taskUUID"])
    body = api.post(
        [
            {"taskType": "getResponse", "taskUUID": first["taskUUID"]},
            {"taskType": "getResponse", "taskUUID": new_uuid()},
            {"taskType": "getResponse", "taskUUID": second["taskUUID"]},
        ]
    ).json()
    assert [i["taskUUID"] for i in body["data"]] == [first["taskUUID"], second["taskUUID"]]
    assert "errors" not in body


def test_reused_task_uuid_conflicts_without_a_new_job_or_charge(
    emulator: EmulatorServer, api: Api
) -> None:
    task = video_task(includeCost=True)
    assert api.submit(task).status_code == 200
    again = api.submit(task)
    assert again.status_code == 400
    assert again.json()["data"] == []
    [error] = again.json()["errors"]
    assert (error["code"], error["taskUUID"]) == ("conflictTaskUUID", task["taskUUID"])
    [item] = api.wait(task["taskUUID"])
    assert [e.task_uuid for e in emulator.ledger()] == [task["taskUUID"]]
    assert emulator.total_cost() == item["cost"] == 0.336
    assert emulator.stats()["tasks"]["videoInference"] == 2


def test_dry_run_prices_without_a_job_or_charge(emulator: EmulatorServer, api: Api) -> None:
    task = video_task(duration=8, numberResults=2, providerSettings={"klingai": {"sound": True}})
    response = api.submit(task, headers={"X-Runware-Dry-Run": "1"})
    assert response.status_code == 200
    assert response.json() == {
        "data": [
            {
                "taskType": "videoInference",
                "taskUUID": task["taskUUID"],
                "dryRun": True,
                "cost": 2.24,
            }
        ]
    }
    assert emulator.total_cost() == 0
    [entry] = emulator.ledger()
    assert (entry.status, entry.dry_run, entry.cost, entry.would_cost) == (
        "dryRun",
        True,
        0.0,
        2.24,
    )
    assert api.poll(task["taskUUID"]).json() == {"data": []}
    # The UUID was not used up: the real submission goes through and is billed once.
    assert api.submit(task).status_code == 200
    assert emulator.total_cost() == 2.24


def test_refused_dry_run_is_noted_but_free(emulator: EmulatorServer, api: Api) -> None:
    response = api.submit(video_task(duration=1), headers={"X-Runware-Dry-Run": "1"})
    assert response.status_code == 400
    [entry] = emulator.ledger()
    assert (entry.status, entry.error, entry.cost) == ("dryRun", "unsupportedDuration", 0.0)


def test_unknown_task_answers_empty_or_not_found(emulator: EmulatorServer, api: Api) -> None:
    missing = new_uuid()
    response = api.poll(missing)
    assert (response.status_code, response.json()) == (200, {"data": []})
    emulator.configure(unknown_task="error")
    response = api.poll(missing)
    assert response.status_code == 404
    [error] = response.json()["errors"]
    assert (error["code"], error["taskUUID"]) == ("taskFailedOrNotFound", missing)


def test_success_item_and_served_file(api: Api) -> None:
    task = video_task(outputFormat="WEBM", duration=3)
    api.submit(task)
    [item] = api.wait(task["taskUUID"])
    assert set(item) == {
        "taskType",
        "taskUUID",
        "status",
        "videoUUID",
        "videoURL",
        "seed",
        "NSFWContent",
    }
    match = URL.match(item["videoURL"])
    assert match is not None and match["uuid"] == item["videoUUID"] and match["ext"] == "webm"
    response = httpx.get(item["videoURL"])
    assert response.headers["content-type"] == "video/webm"
    info = probe(response.content)
    assert (info.video_codec, info.has_audio, info.frame_count) == ("vp9", False, 72)
    assert httpx.get(item["videoURL"].replace(item["videoUUID"], new_uuid())).status_code == 404


@pytest.mark.parametrize(
    ("size", "expected"),
    [((1080, 1920), (90, 160)), ((800, 800), (120, 120)), ((1280, 700), (160, 90))],
)
def test_output_size_follows_the_first_frame(
    api: Api, size: tuple[int, int], expected: tuple[int, int]
) -> None:
    frame = data_uri(image_bytes(*size, color=(200, 40, 40)))
    task = video_task(width=None, height=None, inputs={"frameImages": [{"image": frame}]})
    api.submit(task)
    [item] = api.wait(task["taskUUID"])
    content = httpx.get(item["videoURL"]).content
    info = probe(content)
    assert (info.width, info.height) == expected
    first = _first_frame(content)
    assert first.getpixel((first.width // 2, first.height // 2))[0] > 150  # the red start image


def _first_frame(content: bytes) -> Image.Image:
    import io

    import av

    with av.open(io.BytesIO(content)) as container:
        for frame in container.decode(video=0):
            image: Image.Image = frame.to_image()
            return image
    raise AssertionError("no frame")


def test_edit_lasts_and_costs_as_its_uploaded_source(api: Api, source_video: Path) -> None:
    stored = api.post(
        [
            {
                "taskType": "mediaStorage",
                "taskUUID": new_uuid(),
                "operation": "upload",
                "media": data_uri(source_video.read_bytes(), "video/mp4"),
            }
        ]
    ).json()["data"][0]
    assert stored["operation"] == "upload" and stored["mediaURL"].endswith(".mp4")
    task = video_task(
        width=None,
        height=None,
        duration=None,
        includeCost=True,
        inputs={"video": stored["mediaUUID"]},
    )
    api.submit(task)
    [item] = api.wait(task["taskUUID"])
    assert item["cost"] == 1.008
    info = probe(httpx.get(item["videoURL"]).content)
    assert (info.frame_count, info.width, info.height) == (144, 106, 60)
    # A result is itself a valid reference: edit the edit, by its URL this time.
    chained = video_task(width=None, height=None, duration=None, inputs={"video": item["videoURL"]})
    response = api.submit(chained)
    # checked at the size the service would have made (the scaled render is 106x60)
    assert "errors" not in response.json() and response.status_code == 200
    [again] = api.wait(chained["taskUUID"])
    assert probe(httpx.get(again["videoURL"]).content).frame_count == 144


def test_deleted_media_no_longer_resolves(api: Api) -> None:
    upload = api.post(
        [
            {
                "taskType": "mediaStorage",
                "taskUUID": new_uuid(),
                "operation": "upload",
                "media": data_uri(image_bytes()),
            }
        ]
    ).json()["data"][0]
    deleted = api.post(
        [
            {
                "taskType": "mediaStorage",
                "taskUUID": new_uuid(),
                "operation": "delete",
                "media": upload["mediaUUID"],
            }
        ]
    )
    assert deleted.json()["data"][0] == {
        "taskType": "mediaStorage",
        "taskUUID": deleted.json()["data"][0]["taskUUID"],
        "operation": "delete",
        "mediaUUID": upload["mediaUUID"],
    }
    assert httpx.get(upload["mediaURL"]).status_code == 404
    task = video_task(inputs={"referenceImages": [upload["mediaUUID"]]})
    _, error = api.error(task)
    assert (error["code"], error["parameter"]) == ("invalidImage", "inputs.referenceImages[0]")
    again = api.post(
        [
            {
                "taskType": "mediaStorage",
                "taskUUID": new_uuid(),
                "operation": "delete",
                "media": upload["mediaUUID"],
            }
        ]
    )
    assert again.status_code == 404 and again.json()["errors"][0]["code"] == "mediaNotFound"


def test_image_upload_returns_a_served_image(emulator: EmulatorServer, api: Api) -> None:
    big = image_bytes(3000, 1500, fmt="PNG")
    item = api.post(
        [{"taskType": "imageUpload", "taskUUID": new_uuid(), "image": data_uri(big, "image/png")}]
    ).json()["data"][0]
    assert re.match(
        r"^http://127\.0\.0\.1:\d+/image/ws/0\.5/ii/[0-9a-f-]{36}\.png$", item["imageURL"]
    )
    import io

    served = Image.open(io.BytesIO(httpx.get(item["imageURL"]).content))
    assert served.size == (2048, 1024)  # stored with the longer side at most 2048 px
    remote = api.post(
        [{"taskType": "imageUpload", "taskUUID": new_uuid(), "image": "https://cdn.test/a.jpg"}]
    )
    assert remote.json()["errors"][0]["code"] == "downloadFailed"
    emulator.register_remote("https://cdn.test/a.jpg", image_bytes())
    remote = api.post(
        [{"taskType": "imageUpload", "taskUUID": new_uuid(), "image": "https://cdn.test/a.jpg"}]
    )
    assert remote.json()["data"][0]["imageURL"].endswith(".jpg")


def test_webhook_gets_one_post_per_result(api: Api, receiver: Receiver) -> None:
    task = video_task(
        numberResults=2, webhookURL=receiver.url + "/hook?token=secret", includeCost=True
    )
    api.submit(task)
    calls = receiver.wait_for(2)
    assert [c.method for c in calls] == ["POST", "POST"]
    assert all(
        c.path == "/hook?token=secret" and c.content_type == "application/json" for c in calls
    )
    import json

    items = [json.loads(c.body)["data"] for c in calls]
    assert all(len(i) == 1 and i[0]["status"] == "success" and i[0]["cost"] == 0.336 for i in items)
    assert len({i[0]["videoUUID"] for i in items}) == 2


def test_webhook_is_retried_on_failure(
    emulator: EmulatorServer, api: Api, receiver: Receiver
) -> None:
    receiver.fail = 2
    task = video_task(webhookURL=receiver.url + "/hook")
    api.submit(task)
    calls = receiver.wait_for(3)
    assert len(calls) == 3 and calls[0].body == calls[2].body
    time.sleep(0.2)
    assert len(receiver.calls) == 3  # delivered: no more tries
    attempts = emulator.deliveries()
    assert [(a["attempt"], a["status"], a["ok"]) for a in attempts] == [
        (1, 500, False),
        (2, 500, False),
        (3, 200, True),
    ]
    assert all("token" not in a["url"] for a in attempts)


def test_webhook_gives_up_after_the_configured_attempts(
    emulator: EmulatorServer, api: Api, receiver: Receiver
) -> None:
    emulator.configure(webhook_attempts=2)
    receiver.fail = 10
    api.submit(video_task(webhookURL=receiver.url))
    receiver.wait_for(2)
    time.sleep(0.3)
    assert len(receiver.calls) == 2
    assert emulator.stats()["deliveries"] == {"webhook:failed": 2}


def test_upload_endpoint_receives_the_video_bytes(api: Api, receiver: Receiver) -> None:
    task = video_task(uploadEndpoint=receiver.url + "/bucket/out.mp4?X-Amz-Signature=abc")
    api.submit(task)
    [item] = api.wait(task["taskUUID"])
    [call] = receiver.wait_for(1)
    assert (call.method, call.path, call.content_type) == (
        "PUT",
        "/bucket/out.mp4?X-Amz-Signature=abc",
        "video/mp4",
    )
    assert call.body == httpx.get(item["videoURL"]).content


def test_task_details_keep_request_and_response(emulator: EmulatorServer, api: Api) -> None:
    emulator.configure(retention_s=0.5)
    task = video_task()
    api.submit(task)
    [item] = api.wait(task["taskUUID"])
    time.sleep(0.6)
    assert api.poll(task["taskUUID"]).json() == {"data": []}  # past retention for getResponse
    details = api.post([{"taskType": "getTaskDetails", "taskUUID": task["taskUUID"]}]).json()[
        "data"
    ][0]
    assert details["request"] == [task]
    assert details["response"] == {"data": [item]}
    missing = api.post([{"taskType": "getTaskDetails", "taskUUID": new_uuid()}])
    assert missing.status_code == 404 and missing.json()["errors"][0]["code"] == "taskNotFound"


def test_jobs_belong_to_their_api_key(emulator: EmulatorServer, api: Api) -> None:
    emulator.configure(api_keys=[emulator.api_key, "other-key"])
    task = video_task()
    api.submit(task)
    other = Api(emulator.base_url, "other-key")
    try:
        assert other.poll(task["taskUUID"]).json() == {"data": []}
        assert other.submit(task).status_code == 200  # taskUUIDs are unique per key
    finally:
        other.close()
