"""A local emulator of the Runware API for Kling VIDEO O3 Pro, faithful enough to test against.

No machine here reaches the real service, so the real ``runware`` backend is tested against
this server over loopback. It validates requests as the service does (§3 of
``runware-protocol.md``), bills them (§3.7), runs jobs through the async lifecycle (ACK,
``processing`` with progress, staggered results, webhooks, ``uploadEndpoint``), serves real
animatic videos at its result URLs, and misbehaves on request (faults). Modules, outside in::

    server     uvicorn on loopback, in a thread (tests) or the foreground (CLI); options
    app        Starlette routes: /v1, result files, /_emulator control endpoints
    dispatch   one task array -> one reply; auth, per-task handling, faults
    validate   videoInference checks (with checks, inputs, rules); pricing
    uploads    imageUpload, mediaStorage
    jobs       a job's lifecycle, rendering (storyboard.media) and deliveries (webhooks)
    core       the Emulator: state + Python API; ledger, faults, store, config
    wire       error objects, envelopes, HTTP statuses

It imports nothing from the client (``storyboard.backends``), so that the two sides of the
protocol are written independently. The names below load lazily, so importing
``storyboard.emulator.options`` for the command line stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from storyboard.emulator.config import EmulatorConfig
    from storyboard.emulator.core import Emulator
    from storyboard.emulator.faults import FaultRule, parse_spec
    from storyboard.emulator.ledger import LedgerEntry
    from storyboard.emulator.server import EmulatorServer

_EXPORTS = {
    "Emulator": "core",
    "EmulatorConfig": "config",
    "EmulatorServer": "server",
    "FaultRule": "faults",
    "LedgerEntry": "ledger",
    "parse_spec": "faults",
}

__all__ = [
    "Emulator",
    "EmulatorConfig",
    "EmulatorServer",
    "FaultRule",
    "LedgerEntry",
    "parse_spec",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'storyboard.emulator' has no attribute {name!r}")
    return getattr(importlib.import_module(f"storyboard.emulator.{module}"), name)
