"""Control endpoints, the server handle, and the command line."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from storyboard.cli import cmd_emulator
from storyboard.core.errors import InputError
from storyboard.emulator.config import EmulatorConfig
from storyboard.emulator.options import config_from_args
from storyboard.emulator.server import EmulatorServer
from tests.emulator.helpers import Api, video_task

SEED_EDIT_SOURCE = (
    "https://assets.runware.ai/assets/inputs/64792608-38ea-49bd-9e90-4353bcfb1d45.mp4"
)


def test_ledger_endpoint_matches_python(emulator: EmulatorServer, api: Api) -> None:
    task = video_task(numberResults=2)
    api.submit(task)
    body = httpx.get(emulator.url("/_emulator/ledger")).json()
    assert body["total"] == emulator.total_cost() == 0.672
    [entry] = body["entries"]
    assert entry == emulator.ledger()[0].to_json()
    assert (entry["taskUUID"], entry["rate"], entry["seconds"], entry["numberResults"]) == (
        task["taskUUID"],
        0.112,
        3,
        2,
    )


def test_reset_endpoint_forgets_everything(emulator: EmulatorServer, api: Api) -> None:
    task = video_task()
    api.submit(task)
    emulator.set_faults("submit-503")
    assert httpx.post(emulator.url("/_emulator/reset")).json() == {"reset": True}
    assert emulator.ledger() == [] and emulator.stats()["requests"] == 0
    assert api.poll(task["taskUUID"]).json() == {"data": []}
    assert api.submit(task).status_code == 200  # faults gone, UUID free again


def test_remote_endpoint_registers_bytes(
    emulator: EmulatorServer, api: Api, source_video: Path
) -> None:
    response = httpx.post(
        emulator.url("/_emulator/remote"),
        params={"url": SEED_EDIT_SOURCE},
        content=source_video.read_bytes(),
    )
    assert response.json() == {"url": SEED_EDIT_SOURCE, "bytes": source_video.stat().st_size}
    task = video_task(
        width=None, height=None, duration=None, inputs={"video": SEED_EDIT_SOURCE}, includeCost=True
    )
    api.submit(task)
    assert api.wait(task["taskUUID"])[0]["cost"] == 1.008
    assert httpx.post(emulator.url("/_emulator/remote")).status_code == 400


def test_config_endpoint(emulator: EmulatorServer, api: Api) -> None:
    url = emulator.url("/_emulator/config")
    before = httpx.get(url).json()
    assert before["latency_s"] == [0.2, 0.2]
    assert before["api_keys"] == "1 key(s)"  # never the key itself
    after = httpx.post(url, json={"latency_s": "0.1-0.2", "unknown_task": "error"}).json()
    assert (after["latency_s"], after["unknown_task"]) == ([0.1, 0.2], "error")
    assert emulator.config.latency_s == (0.1, 0.2)
    assert httpx.post(url, json={"colour": "red"}).status_code == 400
    assert httpx.post(url, json={"latency_s": [2, 1]}).status_code == 400
    assert emulator.config.latency_s == (0.1, 0.2)


def test_the_api_key_is_never_exposed(emulator: EmulatorServer, api: Api) -> None:
    api.submit(video_task())
    for path in (
        "/_emulator/config",
        "/_emulator/ledger",
        "/_emulator/stats",
        "/_emulator/deliveries",
        "/_emulator",
    ):
        assert emulator.api_key not in httpx.get(emulator.url(path)).text


def test_index_names_the_base_url(emulator: EmulatorServer) -> None:
    body = httpx.get(emulator.url("/_emulator")).json()
    assert body["RUNWARE_BASE_URL"] == emulator.base_url


def test_a_second_server_is_independent() -> None:
    with EmulatorServer(EmulatorConfig(latency_s=(0.1, 0.1), scale=0.05), api_key="k2") as other:
        response = httpx.post(
            other.base_url, json=[{"taskType": "ping"}], headers={"Authorization": "Bearer k2"}
        )
        assert response.json() == {"data": [{"taskType": "ping", "pong": True}]}
        assert other.base_url.startswith("http://127.0.0.1:")


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    cmd_emulator.register(sub)
    return parser.parse_args(["emulator", *argv])


def test_cli_options_become_settings() -> None:
    args = _parse(
        "--latency", "1-2", "--faults", "submit-503@0.1,seed=4", "--scale", "0.25", "--api-key", "k"
    )
    config = config_from_args(args)
    assert (config.latency_s, config.scale, config.faults) == (
        (1.0, 2.0),
        0.25,
        "submit-503@0.1,seed=4",
    )
    assert config.api_keys == frozenset({"k"})
    assert (args.host, args.port) == ("127.0.0.1", 8787)
    assert config_from_args(_parse()).api_keys is None


def test_cli_refuses_bad_options_before_serving() -> None:
    args = _parse("--faults", "explode")
    with pytest.raises(InputError, match="unknown fault kind"):
        args.func(args)
    args = _parse("--latency", "3-1")
    with pytest.raises(InputError, match="latency"):
        args.func(args)


RUN_CLI = """
import argparse, sys
from storyboard.cli import cmd_emulator
parser = argparse.ArgumentParser()
cmd_emulator.register(parser.add_subparsers())
args = parser.parse_args(sys.argv[1:])
sys.exit(args.func(args))
"""


def test_cli_serves_on_loopback_and_prints_the_base_url() -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            RUN_CLI,
            "emulator",
            "--port",
            "0",
            "--api-key",
            "cli-secret",
            "--latency",
            "0.1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line.startswith("RUNWARE_BASE_URL=http://127.0.0.1:") and line.endswith("/v1")
        base_url = line.split("=", 1)[1]
        ping = [{"taskType": "ping", "ping": True}]
        for _ in range(100):
            try:
                response = httpx.post(
                    base_url, json=ping, headers={"Authorization": "Bearer cli-secret"}
                )
                break
            except httpx.ConnectError:
                import time

                time.sleep(0.05)
        assert response.json() == {"data": [{"taskType": "ping", "pong": True}]}
        assert (
            httpx.post(base_url, json=ping, headers={"Authorization": "Bearer other"}).status_code
            == 401
        )
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
    assert "cli-secret" not in err
    assert "the key given with --api-key" in err
