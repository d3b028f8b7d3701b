"""The emulator's settings: one frozen value, replaced (never mutated) when changed at run time.

The defaults describe a realistic service for a developer pointing a client at
``storyboard emulator``; the pytest fixture overrides latency, stagger, scale and webhook
back-off so that tests stay fast. :func:`config_from_json` is how the ``/_emulator/config``
endpoint and ``configure(**changes)`` apply a partial change.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

UnknownTask = Literal["empty", "error"]


@dataclass(frozen=True)
class EmulatorConfig:
    """Everything that changes how the emulator answers.

    Attributes:
        api_keys: the keys accepted; ``None`` accepts any non-empty key.
        latency_s: ``(min, max)`` seconds a job stays ``processing`` (drawn per task, seeded).
        stagger_s: extra seconds between the results of a ``numberResults > 1`` job.
        scale: the rendered videos' size relative to the nominal size (tests use ~1/12).
        seed: seeds the fault dice, latencies and result seeds, so runs repeat exactly.
        literal_rules: read §3.5 rules 5 and 8 literally (``providerSettings`` itself) instead
            of the default sub-field reading (``sound``/``multiPrompt`` vs
            ``keepOriginalSound``/``characterOrientation``).
        kling_limits: enforce the limits Kling states for its inputs (image and video formats,
            sizes, durations, element ids); unconfirmed at Runware's level, so switchable.
        unknown_task: what ``getResponse`` answers for an unknown taskUUID: ``{"data": []}``
            (``"empty"``, reported by third parties) or a ``taskFailedOrNotFound`` error.
        retention_s: how long a finished job stays visible to ``getResponse``.
        bill_failed: whether a job that fails (provider error, moderation) is still billed.
        default_remote_video_s: the assumed length of a remote source video whose bytes the
            emulator does not have (register them to get the real length).
        webhook_attempts, webhook_backoff_s, webhook_timeout_s: delivery of webhooks and
            ``uploadEndpoint`` PUTs: tries, first back-off (doubling), per-try timeout.
        render_workers: threads rendering videos at the same time.
        faults: a fault spec (see :mod:`storyboard.emulator.faults`) installed at start and on
            every reset.
        public_url: the root URL put into result URLs; default: the URL the client used.
    """

    api_keys: frozenset[str] | None = None
    latency_s: tuple[float, float] = (3.0, 8.0)
    stagger_s: float = 1.0
    scale: float = 1.0
    seed: int = 0
    literal_rules: bool = False
    kling_limits: bool = True
    unknown_task: UnknownTask = "empty"
    retention_s: float = 3600.0
    bill_failed: bool = False
    default_remote_video_s: float = 5.0
    webhook_attempts: int = 5
    webhook_backoff_s: float = 1.0
    webhook_timeout_s: float = 10.0
    render_workers: int = 2
    faults: str = ""
    public_url: str | None = None

    def __post_init__(self) -> None:
        low, high = self.latency_s
        if low < 0 or high < low:
            raise ValueError(f"latency must be 0 <= min <= max, got {self.latency_s}")
        if self.scale <= 0:
            raise ValueError("scale must be positive")
        if self.unknown_task not in ("empty", "error"):
            raise ValueError("unknown_task must be 'empty' or 'error'")
        if self.webhook_attempts < 1 or self.render_workers < 1:
            raise ValueError("webhook_attempts and render_workers must be at least 1")


def parse_latency(text: str | float | int | list[float] | tuple[float, ...]) -> tuple[float, float]:
    """``2`` -> ``(2, 2)``; ``"1-3"`` or ``[1, 3]`` -> ``(1, 3)``."""
    if isinstance(text, int | float):
        return (float(text), float(text))
    if isinstance(text, list | tuple):
        if len(text) != 2:
            raise ValueError("latency needs [min, max]")
        return (float(text[0]), float(text[1]))
    low, sep, high = text.partition("-")
    if not sep:
        return (float(low), float(low))
    return (float(low), float(high))


def config_from_json(base: EmulatorConfig, changes: dict[str, Any]) -> EmulatorConfig:
    """``base`` with ``changes`` applied (keys are field names; latency may be a string).

    Raises:
        ValueError: an unknown field or a bad value.
    """
    names = {f.name for f in dataclasses.fields(EmulatorConfig)}
    unknown = sorted(set(changes) - names)
    if unknown:
        raise ValueError(f"unknown setting(s): {', '.join(unknown)}")
    values = dict(changes)
    if "latency_s" in values:
        values["latency_s"] = parse_latency(values["latency_s"])
    if "api_keys" in values and values["api_keys"] is not None:
        values["api_keys"] = frozenset(values["api_keys"])
    return dataclasses.replace(base, **values)


def config_to_json(config: EmulatorConfig) -> dict[str, Any]:
    """The settings as JSON (accepted keys are counted, never shown)."""
    out = dataclasses.asdict(config)
    keys = config.api_keys
    out["api_keys"] = None if keys is None else f"{len(keys)} key(s)"
    out["latency_s"] = list(config.latency_s)
    return out
