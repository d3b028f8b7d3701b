"""Plan: what a build will generate and what it will cost, without sending anything.

``make_plan(compiled) -> Plan``: every take with its shots, dependencies and estimated cost
from the model profile's pricing (USD per output second: silent, with sound, with a video
input; an edit is billed on its source's duration; each variation is billed), the total,
and the critical path (the chain of dependent takes with the most seconds to generate).
A cost that cannot be known before the build (an edit of a remote video) is ``None`` and
shown as unknown, never guessed.

A plan says whose prices and whose money it counts (:class:`Pricing`: the backend, its
namespace and URL, whether it is paid and whether that is real money), and two figures:
``total``, every take to generate or resume, and ``chargeable``, what may be charged anew:
the total without the takes to resume whose task the provider already accepted (the
journal's ``accepted``), which were committed by the build that sent them. ``--max-cost``
compares ``chargeable``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, NamedTuple

from storyboard.compiler.compile import Compiled, CompiledTake
from storyboard.compiler.resolve import Handoff, Take
from storyboard.core.money import usd
from storyboard.language.sources import MediaRef
from storyboard.language.timing import FPS, to_frames

DurationProbe = Callable[[Path], float | None]


@dataclass(frozen=True)
class Cost:
    """An estimate: ``seconds`` billed at ``rate`` USD/s, times ``results``."""

    seconds: float | None
    rate: float
    results: int
    basis: str

    @property
    def amount(self) -> float | None:
        if self.seconds is None:
            return None
        return round(self.seconds * self.rate * self.results, 4)


PAYABLE = ("generate", "resume")
"""Statuses whose cost the estimate counts."""
EXPLAINED = (*PAYABLE, "shared", "kept")
"""Statuses the plan shows with their reason (``shared``: the same request as an earlier
take's, which one generation serves; ``kept``: the film keeps a result made before, see
:mod:`storyboard.build.keep`)."""
FREE = ("kept",)
"""Statuses whose line shows no cost: nothing of the current request is made."""


@dataclass(frozen=True)
class Pricing:
    """Whose results a plan compares with and whose money it counts.

    Attributes:
        name: the backend, ``preview`` or ``runware``.
        namespace: its results' namespace (``preview@0.25``, ``runware``,
            ``runware@127.0.0.1:8787``; see :func:`storyboard.backends.namespaces.namespace`).
        endpoint: where its requests go, redacted (``""`` for the offline preview).
        paid: whether its results cost money (and go into the lock file).
        real_money: it is Runware's own service (``https://api.runware.ai/v1``): the costs
            are charged to the account of ``RUNWARE_API_KEY``. Another server (the emulator,
            a proxy) charges what it charges.
    """

    name: str
    namespace: str
    endpoint: str
    paid: bool
    real_money: bool

    @classmethod
    def for_namespace(cls, namespace: str, endpoint: str = "") -> Pricing:
        """What a namespace alone says: ``preview...`` is free, ``runware`` real money."""
        name = namespace.split("@", 1)[0]
        paid = name != "preview"
        return cls(name, namespace, endpoint, paid, paid and namespace == "runware")

    def describe(self) -> str:
        """One line for people: whose prices, and whether it is real money."""
        if not self.paid:
            return (
                f"pricing against {self.namespace} (offline previews): free; each cost is "
                "what Runware would charge"
            )
        where = f"{self.namespace} ({self.endpoint})" if self.endpoint else self.namespace
        if self.real_money:
            return f"pricing against {where}: real money, charged to your Runware account"
        return (
            f"pricing against {where}: Runware's prices, charged by that server, which is "
            "not Runware's own (real money only if it passes requests on to Runware)"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "namespace": self.namespace,
            "endpoint": self.endpoint,
            "paid": self.paid,
            "real_money": self.real_money,
        }


class Standing(NamedTuple):
    """What a build would do with a take, and why (see :func:`make_plan`)."""

    status: str
    reason: str
    accepted: bool = False
    """A take to resume whose task the provider already accepted: no new charge."""
    delivered: int = 0
    """Of a take of several results, how many failed tasks delivered (and were billed for):
    kept, and not asked for again (see :mod:`storyboard.build.execute`)."""


@dataclass(frozen=True)
class PlanItem:
    """One take in the plan."""

    take: CompiledTake
    key: str
    cost: Cost
    status: str = "generate"
    reason: str = "new"
    accepted: bool = False
    """To resume, and the provider already accepted its task: its cost is not charged anew
    (the build that sent it committed it)."""

    @property
    def chargeable(self) -> bool:
        """Whether building it on a paid backend may charge its cost anew."""
        return self.status in PAYABLE and not self.accepted

    @property
    def amount(self) -> float | None:
        """The cost the plan shows for it: the estimate, but nothing for a kept take (its
        current request is not made while the storyboard keeps its result)."""
        return 0.0 if self.status in FREE else self.cost.amount

    def to_json(self, *, paid: bool = True) -> dict[str, Any]:
        take = self.take.take
        return {
            "id": take.id,
            "shots": [s.id for s in take.shots],
            "depends_on": list(take.depends_on),
            "key": self.key,
            "status": self.status,
            "reason": self.reason,
            "seconds": self.cost.seconds,
            "rate": self.cost.rate,
            "results": self.cost.results,
            "cost": self.amount,
            "chargeable": paid and self.chargeable,
        }


@dataclass(frozen=True)
class Plan:
    """What a build would do."""

    compiled: Compiled
    items: tuple[PlanItem, ...]
    critical_path: tuple[str, ...]
    critical_seconds: float
    pricing: Pricing = field(default_factory=lambda: Pricing.for_namespace("preview"))

    @property
    def total(self) -> float:
        """The known part of the estimate, in USD: takes to generate, and takes to resume
        (sent before a build stopped: paid already if the provider got them, else paid when
        sent again, once either way)."""
        return round(sum(i.cost.amount or 0.0 for i in self.items if i.status in PAYABLE), 4)

    @property
    def chargeable(self) -> float:
        """The known part of what may be charged anew, in USD: the total without the takes
        to resume that the provider already accepted (0 on a free backend)."""
        if not self.pricing.paid:
            return 0.0
        return round(sum(i.cost.amount or 0.0 for i in self.items if i.chargeable), 4)

    @property
    def unknown(self) -> list[str]:
        """Takes to generate whose cost cannot be known before the build."""
        return [i.take.id for i in self.items if i.cost.amount is None and i.status in PAYABLE]

    @property
    def unknown_chargeable(self) -> list[str]:
        """Of :attr:`unknown`, the takes that may be charged anew (none on a free backend)."""
        if not self.pricing.paid:
            return []
        return [i.take.id for i in self.items if i.cost.amount is None and i.chargeable]

    @property
    def accepted(self) -> list[str]:
        """Takes to resume whose task the provider already accepted."""
        return [i.take.id for i in self.items if i.status in PAYABLE and i.accepted]

    def to_json(self) -> dict[str, Any]:
        return {
            "storyboard": self.compiled.checked.document.path.name,
            "backend": self.pricing.to_json(),
            "takes": [i.to_json(paid=self.pricing.paid) for i in self.items],
            "total": self.total,
            "chargeable": self.chargeable,
            "unknown_cost": self.unknown,
            "critical_path": list(self.critical_path),
            "critical_path_seconds": self.critical_seconds,
        }


def probe_duration(path: Path) -> float | None:
    """Length of a local video in seconds, ``None`` when it cannot be read: its video stream's
    (:func:`storyboard.media.probe.probe`), as check measures an edit's source and the service
    bills it (a longer audio track does not count)."""
    from storyboard.media.probe import MediaError, probe

    try:
        return probe(path).duration_s
    except (MediaError, OSError):
        return None


def billed_seconds(seconds: float) -> int:
    """The seconds an edit of a source ``seconds`` long is billed for: the nearest whole
    second, a half rounded up (reference §3.7; the emulator bills so), at least 1."""
    return max(1, math.floor(seconds + 0.5))


def estimate(
    take: Take,
    compiled: Compiled,
    duration_of: DurationProbe,
    kept: Mapping[str, float | None] | None = None,
) -> Cost:
    """The estimated cost of one take: of the request it sends, as the service bills it.

    ``kept``: the length in seconds of each kept take's result (``keep: true``) that a take
    edits, which the edit is sent whatever the kept take's current request says (``None``
    for one not known yet). Without it, an edit of a kept take costs what cannot be known.
    """
    profile = take.profile
    video_input = take.edit is not None or bool(take.reference_videos)
    if video_input:
        rate, basis = profile.price_video_input, "video input"
    elif _sends_sound(take, compiled):
        rate, basis = profile.price_sound, "with sound"
    else:
        rate, basis = profile.price_silent, "silent"
    seconds: float | None = float(take.duration) if take.duration is not None else None
    if take.edit is not None:
        length = _source_length(take.edit, compiled, duration_of, kept)
        seconds = float(billed_seconds(length)) if length is not None else None
        basis += ", billed on the source's length"
    return Cost(seconds, rate, take.variations, basis)


def _sends_sound(take: Take, compiled: Compiled) -> bool:
    """Whether the take's request asks for sound, as the service reads it: its
    ``providerSettings.klingai.sound``, where ``provider`` (a shot's, or ``defaults``') may
    set it over ``sound``."""
    try:
        request = compiled.take(take.id).request
    except KeyError:
        return take.settings.sound
    settings = request.get("providerSettings")
    klingai = settings.get("klingai") if isinstance(settings, dict) else None
    return isinstance(klingai, dict) and klingai.get("sound") is True


def _source_length(
    source: Handoff | MediaRef,
    compiled: Compiled,
    duration_of: DurationProbe,
    kept: Mapping[str, float | None] | None,
) -> float | None:
    """The length in seconds of the video an edit of ``source`` sends (billed on it, to the
    nearest second: reference §3.7), ``None`` when it cannot be known before the build."""
    if isinstance(source, Handoff):
        if source.span is not None:
            fps = compiled.resolved.take(source.take).profile.fps
            return (source.span[1] - source.span[0]) / fps
        upstream = compiled.resolved.take(source.take)
        # a kept take's result is sent, whatever its current request says
        if kept is None and upstream.keep:
            return None
        if kept is not None and source.take in kept:
            return kept[source.take]
        if upstream.edit is None:
            return float(upstream.duration) if upstream.duration is not None else None
        # an edit lasts as long as its source, in whole frames
        inner = _source_length(upstream.edit, compiled, duration_of, kept)
        return to_frames(inner) / FPS if inner is not None else None
    if source.kind == "file" and source.path is not None:
        return duration_of(source.path)
    return None


def make_plan(
    compiled: Compiled,
    keys: dict[str, str],
    *,
    duration_of: DurationProbe = probe_duration,
    status: Callable[[CompiledTake, str], Standing] | None = None,
    pricing: Pricing | None = None,
    kept: Mapping[str, float | None] | None = None,
) -> Plan:
    """Estimate every take and find the critical path.

    Args:
        compiled: the compiled storyboard.
        keys: take keys by take id.
        duration_of: reads a local video's duration (for edits of local files).
        status: ``(take, key) -> Standing``; every take is new when omitted.
        pricing: whose prices and money (default: the free preview).
        kept: the length in seconds of the kept takes' results that takes edit (``None``:
            not known before the build); an edit of another take is priced on its request.
            Omitted, an edit of a kept take is priced as unknown.
    """
    items = []
    for take in compiled.takes:
        cost = estimate(take.take, compiled, duration_of, kept)
        state = status(take, keys[take.id]) if status else Standing("generate", "new")
        if 0 < state.delivered < cost.results:  # only the rest is asked for
            cost = replace(cost, results=cost.results - state.delivered)
        items.append(
            PlanItem(take, keys[take.id], cost, state.status, state.reason, state.accepted)
        )
    seconds = {i.take.id: (i.cost.seconds or 0.0) for i in items}
    path, total = compiled.resolved.graph.critical_path(lambda t: seconds[t])
    return Plan(
        compiled, tuple(items), tuple(path), total, pricing or Pricing.for_namespace("preview")
    )


def render_plan(plan: Plan) -> str:
    """The plan as a table for people: whose prices first, then the takes, the total and
    what may be charged anew, and the critical path."""
    rows = [("take", "shots", "needs", "seconds", "rate", "cost", "status")]
    for item in plan.items:
        take = item.take.take
        seconds = "?" if item.cost.seconds is None else f"{item.cost.seconds:g}"
        if item.cost.results > 1:
            seconds += f" x{item.cost.results}"
        amount = item.amount
        rows.append(
            (
                take.id,
                ",".join(s.id for s in take.shots),
                ",".join(take.depends_on) or "-",
                seconds,
                f"{item.cost.rate:g}/s",
                "unknown" if amount is None else usd(amount),
                f"{item.status} ({item.reason})" if item.status in EXPLAINED else item.status,
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [plan.pricing.describe()]
    lines += [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    total = f"total: {usd(plan.total)}"
    if plan.unknown:
        total += f" + unknown for {', '.join(plan.unknown)} (edit of a remote video)"
    lines.append(total)
    anew = f"may be charged anew: {usd(plan.chargeable)}"
    if plan.unknown_chargeable:
        anew += f" + unknown for {', '.join(plan.unknown_chargeable)}"
    if plan.accepted:
        which = ", ".join(plan.accepted)
        anew += f" (the provider already accepted {which}: resuming is no new charge)"
    lines.append(
        anew if plan.pricing.paid else f"may be charged anew: {usd(0)} (offline previews are free)"
    )
    lines.append(
        f"critical path: {' -> '.join(plan.critical_path)} "
        f"({len(plan.critical_path)} take{'s' if len(plan.critical_path) != 1 else ''}, "
        f"{plan.critical_seconds:g} s of video)"
    )
    return "\n".join(lines)
