"""Fixtures of the emulator tests: the emulator itself, a plain client, a webhook receiver."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from storyboard.emulator.server import EmulatorServer
from storyboard.media import render_animatic
from storyboard.testing.plugin import emulator, emulator_server  # noqa: F401  (fixtures)
from tests.emulator.helpers import Api


@pytest.fixture
def api(emulator: EmulatorServer) -> Iterator[Api]:  # noqa: F811
    client = Api(emulator.base_url, emulator.api_key)
    try:
        yield client
    finally:
        client.close()


@dataclass
class Received:
    method: str
    path: str
    body: bytes
    content_type: str | None


@dataclass
class Receiver:
    """A loopback HTTP server recording POST and PUT; the first ``fail`` calls answer 500."""

    url: str
    calls: list[Received] = field(default_factory=list)
    fail: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    arrived: threading.Condition = field(init=False)

    def __post_init__(self) -> None:
        self.arrived = threading.Condition(self.lock)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.calls) >= count, timeout)
            return list(self.calls)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def _record(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            with state.arrived:
                state.calls.append(
                    Received(self.command, self.path, body, self.headers.get("Content-Type"))
                )
                failing = state.fail > 0
                if failing:
                    state.fail -= 1
                state.arrived.notify_all()
            self.send_response(500 if failing else 200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_POST = _record
        do_PUT = _record

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="session")
def source_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 6 s, 1280x720, 24 fps MP4: a source Kling accepts for an edit."""
    path = tmp_path_factory.mktemp("sources") / "source-6s.mp4"
    return render_animatic(
        path, width=1280, height=720, duration_s=6, segments=[("source", "the source clip", 6)]
    )
