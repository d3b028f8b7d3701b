"""pytest plugin: the ``emulator`` fixture, a Runware emulator on loopback for each test.

One server per test session (per xdist worker) runs uvicorn on ``127.0.0.1`` on a free port in
a background thread; the function-scoped ``emulator`` fixture resets it before and after each
test, so every test starts with no jobs, media, ledger entries, stats or faults, and with
:func:`fixture_config` (fast latency, tiny videos). The handle is an
:class:`~storyboard.emulator.server.EmulatorServer`::

    def test_submit(emulator):
        client = httpx.Client(base_url=emulator.base_url)      # use as RUNWARE_BASE_URL
        headers = {"Authorization": f"Bearer {emulator.api_key}"}
        emulator.configure(latency_s=(1, 1))                   # this test only
        emulator.set_faults("submit-503*1")                    # next submit answers 503
        emulator.register_remote("https://assets.runware.ai/x.mp4", path_or_bytes)
        ...
        assert emulator.total_cost() == 1.12
        assert [e.task_uuid for e in emulator.ledger()] == [task_uuid]
        assert emulator.stats()["tasks"]["getResponse"] >= 1
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from storyboard.emulator.config import EmulatorConfig
    from storyboard.emulator.server import EmulatorServer

TEST_API_KEY = "storyboard-test-key"


def fixture_config() -> EmulatorConfig:
    """Settings for tests: 0.2 s jobs, 0.1 s between results, 160x90 videos, quick retries."""
    from storyboard.emulator.config import EmulatorConfig

    return EmulatorConfig(
        api_keys=frozenset([TEST_API_KEY]),
        latency_s=(0.2, 0.2),
        stagger_s=0.1,
        scale=1 / 12,  # 1920x1080 renders at 160x90
        webhook_backoff_s=0.05,
        webhook_timeout_s=2.0,
    )


@pytest.fixture(scope="session")
def emulator_server() -> Iterator[EmulatorServer]:
    """The session's emulator server (prefer ``emulator``, which resets it around each test)."""
    from storyboard.emulator.server import EmulatorServer

    server = EmulatorServer(fixture_config(), api_key=TEST_API_KEY).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def emulator(emulator_server: EmulatorServer) -> Iterator[EmulatorServer]:
    """A freshly reset emulator on loopback: ``base_url``, ``api_key``, ``ledger()``, ..."""
    emulator_server.reset()
    try:
        yield emulator_server
    finally:
        emulator_server.reset()
