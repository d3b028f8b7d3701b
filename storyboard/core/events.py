"""Typed progress events: the library never prints; the CLI renders these."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from storyboard.core.diagnostics import Position


@dataclass(frozen=True)
class Event:
    take: str


@dataclass(frozen=True)
class TakeCached(Event):
    """The take's result was already in the cache (or was fetched from the lock's URLs)."""

    source: str  # "cache", "lock", or "take:ID": the same request as take ID's, made once


@dataclass(frozen=True)
class TakeStarted(Event):
    """Inputs are ready; the request is about to be sent."""

    task_uuid: str
    resumed: bool


@dataclass(frozen=True)
class TakeProgress(Event):
    state: str
    fraction: float | None = None


@dataclass(frozen=True)
class TakeDone(Event):
    cost: float | None
    seconds: float


@dataclass(frozen=True)
class TakeFailed(Event):
    message: str
    position: Position | None = None
    """Where in the storyboard the failure's cause is (a refused prompt), if it is there."""


@dataclass(frozen=True)
class TakeSkipped(Event):
    reason: str


@dataclass(frozen=True)
class Note(Event):
    """A message for the writer that is not about one take (``take`` is empty)."""

    message: str


EventSink = Callable[[Event], None]


def ignore(event: Event) -> None:
    """An event sink that drops everything."""
