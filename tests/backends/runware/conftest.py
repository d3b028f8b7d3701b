"""Fixtures for the Runware client's logic tests (fakes: :mod:`tests.backends.runware.fakes`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from storyboard.backends.runware import PollPolicy, RetryPolicy, RunwareClient
from tests.backends.runware.fakes import API_KEY, BASE_URL, FakeClock, ScriptedRunware, StubResolver

ClientFactory = Callable[..., RunwareClient]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def runware() -> ScriptedRunware:
    return ScriptedRunware()


@pytest.fixture
def resolver() -> StubResolver:
    return StubResolver()


@pytest.fixture
def make_client(
    clock: FakeClock, runware: ScriptedRunware, resolver: StubResolver
) -> ClientFactory:
    """A client on the scripted Runware, fake time, no jitter (``rng`` returns 0)."""

    def make(**options: Any) -> RunwareClient:
        options.setdefault("api_key", API_KEY)
        options.setdefault("base_url", BASE_URL)
        options.setdefault("transport", httpx.MockTransport(runware.handler))
        options.setdefault("sleep", clock.sleep)
        options.setdefault("clock", clock)
        options.setdefault("rng", lambda: 0.0)
        options.setdefault("retry", RetryPolicy())
        options.setdefault("poll", PollPolicy())
        options.setdefault("resolver", resolver)
        return RunwareClient(**options)

    return make


@pytest.fixture
async def client(make_client: ClientFactory) -> AsyncIterator[RunwareClient]:
    async with make_client() as made:
        yield made
