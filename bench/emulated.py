"""Builds against the Runware emulator, with every HTTP request the client sends recorded.

The emulator runs on loopback in a process of its own (:class:`Emulator`).
The backend is the real :class:`RunwareBackend` over the real client, polling quickly as in
``tests/e2e/runner.py`` (first poll after 0.1 s, gaps growing x1.2 up to 0.3 s), through a
:class:`CountingTransport` that logs each request's time and kind.
"""

from __future__ import annotations

import json
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from storyboard.backends.runware.backend import RunwareBackend
from storyboard.backends.runware.client import RetryPolicy, RunwareClient
from storyboard.backends.runware.poll import PollPolicy
from storyboard.build.pipeline import BuildResult, build
from storyboard.core.events import Event

API_KEY = "bench-key"
FAST_POLL = PollPolicy(first_delay=0.1, multiplier=1.2, max_interval=0.3, deadline=600)
RETRY = RetryPolicy(max_attempts=8, base_delay=0.05, max_delay=0.3, jitter=0.05)


@dataclass(frozen=True)
class Sent:
    """One request: when (monotonic seconds), and what (``poll``, ``videoInference``, ...)."""

    at: float
    kind: str
    tasks: int


# One TLS context for every transport: making one loads the system's certificates (~15 ms),
# which is the harness's cost, not the build's (the emulator is plain HTTP on loopback anyway).
_TLS = ssl.create_default_context()


def _transport() -> httpx.AsyncBaseTransport:
    return httpx.AsyncHTTPTransport(verify=_TLS)


@dataclass
class CountingTransport(httpx.AsyncBaseTransport):
    """Forwards to a real HTTP transport and records every request."""

    sent: list[Sent] = field(default_factory=list)
    inner: httpx.AsyncBaseTransport = field(default_factory=_transport)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(Sent(time.monotonic(), *_kind(request)))
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()

    def count(self, kind: str | None = None) -> int:
        return sum(1 for s in self.sent if kind is None or s.kind == kind)


def _kind(request: httpx.Request) -> tuple[str, int]:
    if request.method != "POST":
        return request.method.lower(), 0
    try:
        body: Any = json.loads(request.content)
    except ValueError:
        return "post", 0
    tasks = body if isinstance(body, list) else [body]
    types = sorted({str(t.get("taskType")) for t in tasks if isinstance(t, dict)})
    if types == ["getResponse"]:
        return "poll", len(tasks)
    return "+".join(types), len(tasks)


class Emulator:
    """The Runware emulator served by its own process (``python -m storyboard.emulator``), so
    that its work (validating uploads, rendering videos, answering polls) does not compete
    with the build for this process's interpreter lock, as a remote service would not."""

    def __init__(self, latency: float, scale: float) -> None:
        command = [
            sys.executable, "-m", "storyboard.emulator", "--port", "0",
            "--latency", f"{latency:g}", "--stagger", "0", "--scale", f"{scale:.6f}",
            "--api-key", API_KEY,
        ]  # fmt: skip
        self.proc = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        if not line.startswith("RUNWARE_BASE_URL="):
            self.stop()
            raise RuntimeError(f"the emulator did not start: {line!r}")
        self.base_url = line.split("=", 1)[1]
        self.api_key = API_KEY

    def reset(self) -> None:
        """Forget every job, upload and charge."""
        httpx.post(self.base_url.removesuffix("/v1") + "/_emulator/reset", timeout=30)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def start_emulator(latency: float, *, scale: float = 1 / 12) -> Emulator:
    """An emulator whose every job takes exactly ``latency`` seconds (no stagger)."""
    return Emulator(latency, scale)


def backend(server: Emulator, transport: CountingTransport) -> RunwareBackend:
    client = RunwareClient(
        api_key=server.api_key,
        base_url=server.base_url,
        transport=transport,
        poll=FAST_POLL,
        retry=RETRY,
    )
    return RunwareBackend(client)


def run_build(
    server: Emulator,
    path: Path,
    *,
    jobs: int,
    film_scale: float | None = None,
    events: list[tuple[float, Event]] | None = None,
) -> tuple[BuildResult, CountingTransport, float]:
    """Build ``path``; returns the result, the requests sent and the wall time.

    ``film_scale``: the cut's size relative to the output size (the emulator's own scale, so
    that the cut copies its small videos instead of scaling them up to 1080p).
    ``events``: if given, every build event is appended with its monotonic time.
    """
    transport = CountingTransport()

    def emit(event: Event) -> None:
        if events is not None:
            events.append((time.monotonic(), event))

    start = time.perf_counter()
    result = build(
        path,
        backend=backend(server, transport),
        jobs=jobs,
        film_scale=film_scale,
        emit=emit,
        project_root=path.parent,  # its own .storyboard/, never the repository's
    )
    elapsed = time.perf_counter() - start
    if not result.ok:
        problems = [f"{o.take}: {o.message}" for o in result.outcomes.values() if o.message]
        raise RuntimeError(f"the build against the emulator failed: {problems[:3]}")
    return result, transport, elapsed
