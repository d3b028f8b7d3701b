"""Serving the emulator with uvicorn: in a background thread (tests, CI) or in the foreground.

:class:`EmulatorServer` binds a loopback port (a free one by default), runs uvicorn in a daemon
thread and exposes the handle tests use: ``base_url`` (give it to the client as
``RUNWARE_BASE_URL``), ``api_key``, and the emulator's Python API (``ledger()``, ``stats()``,
``set_faults()``, ``register_remote()``, ``reset()``, ``configure()``, ...).

:func:`serve_forever` runs ``storyboard emulator`` and ``python -m storyboard.emulator``
(:func:`main`); their options are in :mod:`storyboard.emulator.options`.
"""

from __future__ import annotations

import argparse
import logging
import socket
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import uvicorn

from storyboard.emulator.app import ConnectionDropped, create_app
from storyboard.emulator.config import EmulatorConfig, config_from_json
from storyboard.emulator.core import Emulator
from storyboard.emulator.faults import FaultRule
from storyboard.emulator.ledger import LedgerEntry
from storyboard.emulator.options import add_arguments, config_from_args


class _QuietDrops(logging.Filter):
    """Hide uvicorn's traceback for connections the emulator drops on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], ConnectionDropped))


def _quiet_uvicorn() -> None:
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _QuietDrops) for f in logger.filters):
        logger.addFilter(_QuietDrops())


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto must be IPPROTO_TCP: asyncio only sets TCP_NODELAY on such sockets, and without it
    # every keep-alive answer waits ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    return sock


def _uvicorn(emulator: Emulator, log_level: str) -> uvicorn.Server:
    _quiet_uvicorn()
    config = uvicorn.Config(
        create_app(emulator),
        http="h11",
        lifespan="on",
        log_level=log_level,
        access_log=False,
        timeout_graceful_shutdown=2,
    )
    return uvicorn.Server(config)


class EmulatorServer:
    """The emulator on a loopback port, served from a background thread.

    Args:
        config: the emulator's settings; ``api_key`` narrows ``api_keys`` to that key.
        host, port: where to listen (port 0 = a free port).
        api_key: the key clients should use (default ``"emulator-key"``).
    """

    def __init__(
        self,
        config: EmulatorConfig | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str = "emulator-key",
    ) -> None:
        base = config or EmulatorConfig()
        if base.api_keys is None:
            base = config_from_json(base, {"api_keys": [api_key]})
        self.initial_config = base
        self.api_key = api_key
        self.emulator = Emulator(base)
        self._sock = _bind(host, port)
        bound = self._sock.getsockname()
        self.host, self.port = host, int(bound[1])
        self._server = _uvicorn(self.emulator, "warning")
        self._thread: threading.Thread | None = None

    @property
    def root_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The URL to use as ``RUNWARE_BASE_URL``."""
        return f"{self.root_url}/v1"

    def url(self, path: str) -> str:
        """An absolute URL on this server: ``url("/_emulator/ledger")``."""
        return self.root_url + path

    def start(self, timeout: float = 10.0) -> EmulatorServer:
        """Start serving; returns once the server accepts connections."""
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [self._sock]},
            name="storyboard-emulator",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the emulator server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Stop serving and release the emulator's threads and files."""
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._sock.close()
        self.emulator.close()

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # --- the emulator's API, for tests ------------------------------------------------------

    @property
    def config(self) -> EmulatorConfig:
        return self.emulator.config

    def configure(self, **changes: Any) -> EmulatorConfig:
        """Change settings, e.g. ``configure(latency_s=(1, 1), scale=0.1)``."""
        return self.emulator.configure(**changes)

    def ledger(self) -> list[LedgerEntry]:
        return self.emulator.ledger()

    def total_cost(self) -> float:
        return self.emulator.total_cost()

    def stats(self) -> dict[str, Any]:
        return self.emulator.stats()

    def deliveries(self) -> list[dict[str, Any]]:
        return self.emulator.deliveries()

    def set_faults(
        self, spec: str | list[FaultRule] | None = None, *, seed: int | None = None
    ) -> None:
        self.emulator.set_faults(spec, seed=seed)

    def add_fault(self, kind: str, **options: Any) -> FaultRule:
        return self.emulator.add_fault(kind, **options)

    def clear_faults(self) -> None:
        self.emulator.clear_faults()

    def register_remote(self, url: str, data: bytes | str | Path) -> None:
        self.emulator.register_remote(url, data)

    def reset(self) -> None:
        """Forget all state and return to the settings the server started with."""
        self.emulator.reset(self.initial_config)


def serve_forever(
    config: EmulatorConfig, host: str, port: int, on_ready: Callable[[str], None]
) -> None:
    """Serve in the foreground until interrupted; ``on_ready(base_url)`` once bound."""
    emulator = Emulator(config)
    sock = _bind(host, port)
    try:
        shown = f"[{host}]" if ":" in host else host
        on_ready(f"http://{shown}:{sock.getsockname()[1]}/v1")
        _uvicorn(emulator, "info").run(sockets=[sock])
    finally:
        sock.close()
        emulator.close()


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m storyboard.emulator [options]``: serve until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m storyboard.emulator", description=__doc__)
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        config = config_from_args(args)
    except ValueError as exc:
        parser.error(str(exc))

    def ready(url: str) -> None:
        sys.stdout.write(f"RUNWARE_BASE_URL={url}\n")
        sys.stdout.flush()

    serve_forever(config, args.host, args.port, ready)
    return 0
