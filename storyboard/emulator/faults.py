"""Fault injection: the ways the real service misbehaves, on demand and repeatably.

A :class:`FaultRule` names a fault *kind*, when it fires and how. Kinds, by the moment they act:

=================  ======  ============================================================
kind               stage   effect
=================  ======  ============================================================
submit-429/503/504 submit  the submit POST answers that status; no job is created
poll-429/503/504   poll    a getResponse POST answers that status; the job is untouched
drop               submit  the job is created and billed, then the connection is closed
                           without an answer (alias ``submit-drop``)
poll-drop          poll    the poll is processed (counted), then the connection closes
slow-ack           submit  the job is created at once, the answer waits ``delay`` seconds
malformed          submit  the job is created and billed, the body is truncated JSON
                           (alias ``submit-malformed``)
poll-malformed     poll    the poll's body is truncated JSON
empty-ack          submit  the ACK is ``{"data": []}``
pending            job     the job reports ``pending`` instead of ``processing``
provider-error     job     the job fails with ``timeoutProvider`` (or ``code``) at its
                           ``after``-th poll (or when it would have finished, if nobody polls)
moderation         job     the same with ``providerContentPolicyViolation`` naming the input
                           (option ``input``: the parameter it names, e.g.
                           ``providerSettings.klingai.multiPrompt[1].prompt``; default the
                           first image, else the prompt)
item-error         job     a provider failure reported inside ``data`` as
                           ``{"status": "error", "error": {...}}``
late-error         job     the job fails with ``timeoutProvider`` (or ``code``) right after
                           its first ``count`` results (default: all) were delivered and
                           billed: every later poll lists them and the error
trickle            submit  the answer to a submit (an ACK, or the ``conflictTaskUUID`` of a
                           retry) is sent one byte every ``delay`` seconds (alias
                           ``submit-trickle``); a job it creates is billed
poll-trickle       poll    the poll's answer is sent one byte every ``delay`` seconds
corrupt-result     job     each result file is an ``ftyp`` box followed by random bytes
download-trickle   job     each result file is served one byte every ``delay`` seconds
token-url          job     result URLs carry ``?token=TOKEN`` (option ``token``), and are
                           served only with it (403 without)
redirect           job     a result URL answers 302: to ``http://127.0.0.1:PORT`` (option
                           ``port``), to ``https://HOST`` (option ``host``), else to itself
                           with ``hop=1`` (served); same path
extra-results      job     a finished job reports ``count`` results (default 25), whatever
                           its ``numberResults``
bad-cost           job     each result reports ``cost`` (a JSON value; ``NaN``,
                           ``Infinity``, ``-1000``, ``"1e308"``...; default ``NaN``)
=================  ======  ============================================================

A rule fires every time, with probability ``rate`` (a seeded RNG, so runs repeat), or for the
next ``times`` matching events; ``task`` restricts it to one taskUUID.

Spec syntax (``--faults``, ``set_faults``, ``POST /_emulator/faults``, header
``X-Emulator-Faults``)::

    SPEC  := ITEM ("," ITEM)*
    ITEM  := "seed=" INT | KIND ["@" RATE | "*" TIMES] (":" KEY "=" VALUE)*
    KEY   := after | delay | code | task | token | port | host | count | cost | input

e.g. ``submit-503@0.1, drop*1, provider-error:after=2:task=<uuid>, seed=7``,
``bad-cost:cost="1e308"``, ``redirect*1:host=metadata.internal``.
"""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any, Literal

Stage = Literal["submit", "poll", "job"]

KINDS: dict[str, Stage] = {
    "submit-429": "submit",
    "submit-503": "submit",
    "submit-504": "submit",
    "poll-429": "poll",
    "poll-503": "poll",
    "poll-504": "poll",
    "drop": "submit",
    "poll-drop": "poll",
    "slow-ack": "submit",
    "malformed": "submit",
    "poll-malformed": "poll",
    "empty-ack": "submit",
    "pending": "job",
    "provider-error": "job",
    "moderation": "job",
    "item-error": "job",
    "late-error": "job",
    "trickle": "submit",
    "poll-trickle": "poll",
    "corrupt-result": "job",
    "download-trickle": "job",
    "token-url": "job",
    "redirect": "job",
    "extra-results": "job",
    "bad-cost": "job",
}
ALIASES = {"submit-drop": "drop", "submit-malformed": "malformed", "submit-trickle": "trickle"}
#: The token of ``token-url`` when the rule gives none.
DEFAULT_TOKEN = "emulated-result-token-5f1d0c7a9b3e"
STATUS_CODES = {"429": "rateLimitExceeded", "503": "serviceUnavailable", "504": "gatewayTimeout"}
FAILURE_CODES = {
    "provider-error": "timeoutProvider",
    "moderation": "providerContentPolicyViolation",
    "item-error": "timeoutProvider",
    "late-error": "timeoutProvider",
}


@dataclass
class FaultRule:
    """One fault: its kind and when it fires (see the module docstring)."""

    kind: str
    rate: float | None = None
    times: int | None = None
    task: str | None = None
    after: int = 1
    delay: float = 2.0
    code: str | None = None
    token: str | None = None
    port: int | None = None
    host: str | None = None
    count: int | None = None
    cost: str | None = None
    input: str | None = None

    def __post_init__(self) -> None:
        self.kind = ALIASES.get(self.kind, self.kind)
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; kinds: {', '.join(sorted(KINDS))}")
        if self.rate is not None and not 0 <= self.rate <= 1:
            raise ValueError(f"fault rate must be within 0..1, got {self.rate}")
        if self.times is not None and self.times < 0:
            raise ValueError("fault times must not be negative")
        if self.after < 1:
            raise ValueError("after must be at least 1 poll")
        if self.delay < 0:
            raise ValueError("delay must not be negative")
        if self.count is not None and not 0 <= self.count <= 1000:
            raise ValueError("count must be within 0..1000")
        if self.port is not None and not 0 < self.port < 65536:
            raise ValueError("port must be within 1..65535")
        if self.cost is not None:
            _ = self.cost_value  # fail early on a value that is not JSON

    @property
    def cost_value(self) -> object:
        """The ``cost`` a ``bad-cost`` rule reports (JSON; NaN and Infinity allowed)."""
        text = "NaN" if self.cost is None else self.cost
        try:
            return json.loads(text)
        except ValueError:
            raise ValueError(f"cost must be a JSON value, not {text!r}") from None

    @property
    def stage(self) -> Stage:
        return KINDS[self.kind]

    @property
    def status(self) -> int | None:
        """The HTTP status of a status fault (``submit-503`` -> 503), else None."""
        suffix = self.kind.rsplit("-", 1)[-1]
        return int(suffix) if suffix in STATUS_CODES else None

    @property
    def error_code(self) -> str:
        if self.code:
            return self.code
        suffix = self.kind.rsplit("-", 1)[-1]
        return STATUS_CODES.get(suffix) or FAILURE_CODES.get(self.kind, "unknownError")

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


def parse_spec(spec: str) -> tuple[list[FaultRule], int | None]:
    """The rules and the optional ``seed=`` of a spec string.

    Raises:
        ValueError: a malformed item, an unknown kind or option.
    """
    rules: list[FaultRule] = []
    seed: int | None = None
    for raw in spec.split(","):
        item = raw.strip()
        if not item:
            continue
        if item.startswith("seed="):
            seed = int(item.removeprefix("seed="))
            continue
        head, *options = item.split(":")
        kind, rate, times = head, None, None
        if "@" in head:
            kind, _, text = head.partition("@")
            rate = float(text)
        elif "*" in head:
            kind, _, text = head.partition("*")
            times = int(text)
        values: dict[str, Any] = {}
        for option in options:
            key, sep, value = option.partition("=")
            if not sep:
                raise ValueError(f"fault option {option!r} needs KEY=VALUE")
            if key == "after":
                values["after"] = int(value)
            elif key == "delay":
                values["delay"] = float(value)
            elif key in ("code", "task", "token", "host", "cost", "input"):
                values[key] = value
            elif key in ("port", "count"):
                values[key] = int(value)
            else:
                raise ValueError(
                    f"unknown fault option {key!r} "
                    "(after, delay, code, task, token, port, host, count, cost, input)"
                )
        rules.append(FaultRule(kind=kind.strip(), rate=rate, times=times, **values))
    return rules, seed


class FaultPlan:
    """The installed rules and the seeded dice that decide them (thread-safe)."""

    def __init__(self, rules: Iterable[FaultRule] = (), seed: int = 0) -> None:
        self._lock = threading.Lock()
        self._rules = list(rules)
        self._rng = random.Random(seed)

    def replace(self, rules: Iterable[FaultRule], seed: int | None = None) -> None:
        with self._lock:
            self._rules = list(rules)
            if seed is not None:
                self._rng = random.Random(seed)

    def add(self, rule: FaultRule) -> None:
        with self._lock:
            self._rules.append(rule)

    def rules(self) -> list[FaultRule]:
        with self._lock:
            return list(self._rules)

    def roll(
        self,
        stage: Stage,
        task_uuids: Iterable[str],
        extra: Iterable[FaultRule] = (),
        *,
        status: bool | None = None,
        kinds: Iterable[str] | None = None,
    ) -> list[FaultRule]:
        """The rules that fire for one event of ``stage`` touching ``task_uuids``.

        Args:
            extra: rules of this request only (the ``X-Emulator-Faults`` header), rolled
                after the installed ones.
            status: only status faults (True), only the others (False), or all (None).
            kinds: only rules of these kinds (default: every kind).

        Counted rules are consumed; rate rules roll the seeded dice once each.
        """
        uuids = {u.lower() for u in task_uuids}
        only = None if kinds is None else frozenset(kinds)
        fired: list[FaultRule] = []
        with self._lock:
            for rule in [*self._rules, *extra]:
                if rule.stage != stage or (
                    rule.task is not None and rule.task.lower() not in uuids
                ):
                    continue
                if status is not None and (rule.status is not None) != status:
                    continue
                if only is not None and rule.kind not in only:
                    continue
                if rule.times is not None:
                    if rule.times <= 0:
                        continue
                    rule.times -= 1
                elif rule.rate is not None and self._rng.random() >= rule.rate:
                    continue
                fired.append(rule)
        return fired
