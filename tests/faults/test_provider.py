"""Provider faults: a film of 20+ takes built against an emulator that misbehaves in every way.

Every fault kind of the emulator is on at once, at rates a bad day on a real service could
show: 429/503/504 on submits and polls, connections dropped after the job was accepted (and
billed), acknowledgements slower than the client's timeout, truncated JSON, empty ACKs,
``pending`` jobs, and generations that fail for the provider (``timeoutProvider``, in both
encodings) and succeed when tried again under a new task UUID.

The build must finish every take, and the ledger must show no take paid for twice. A failed
generation is definitive for its task: the journal records it, and the take is tried again
under a new UUID (see docs/reliability.md, "Provider failures").
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import storyboard.build.execute
from storyboard.build.pipeline import BuildResult, build
from storyboard.emulator.server import EmulatorServer
from tests.faults.conftest import Figures, Size
from tests.faults.films import billed_per_take, film_files, locked_hashes, take_of_task
from tests.faults.runner import FILM_SCALE, fast_backend

Project = Callable[[dict[str, str | bytes]], Path]

#: Every fault of the emulator, at once. The client's timeout in these tests is 2 s, so the
#: second slow-ack rule answers too late and the client must retry into ``conflictTaskUUID``.
ALL_FAULTS = ",".join(
    [
        "submit-429@0.08",
        "submit-503@0.05",
        "submit-504@0.03",
        "poll-429@0.05",
        "poll-503@0.05",
        "poll-504@0.03",
        "drop@0.06",
        "poll-drop@0.04",
        "slow-ack@0.04:delay=0.5",
        "slow-ack@0.04:delay=3",
        "malformed@0.05",
        "poll-malformed@0.04",
        "empty-ack@0.05",
        "pending@0.2",
        "provider-error@0.05:after=2",
        "item-error@0.03",
    ]
)
#: On top of the rates, the first tasks the build mints carry one fault each, so that every
#: kind fires at least once whatever the dice say.
SURE_FAULTS: list[tuple[str, dict[str, Any]]] = [
    (rule.split("@")[0], {"delay": 3.0} if rule.endswith("delay=3") else {})
    for rule in ALL_FAULTS.split(",")
    if not rule.endswith("delay=0.5")
]
MAX_BUILDS = 4
"""Builds a writer may need on a very bad day before every take is in (each resumes)."""


class _TargetingUUIDs:
    """Stands in for the ``uuid`` module of the executor: the task UUIDs it mints are real,
    and the first ones each get one of :data:`SURE_FAULTS` (installed before the send)."""

    def __init__(self, emulator: EmulatorServer) -> None:
        self.emulator = emulator
        self.left = list(SURE_FAULTS)
        self.minted = 0

    def uuid4(self) -> uuid.UUID:
        value = uuid.uuid4()
        self.minted += 1
        if self.left:
            kind, options = self.left.pop(0)
            self.emulator.add_fault(kind, times=1, task=str(value), **options)
        return value


def _build_until_done(film: Path, builds: list[BuildResult]) -> BuildResult:
    for _ in range(MAX_BUILDS):
        result = build(
            film, backend=fast_backend(timeout=2.0), jobs=6, keep_going=True,
            film_scale=FILM_SCALE,
        )  # fmt: skip
        builds.append(result)
        if result.ok:
            return result
    return builds[-1]


def test_a_film_builds_with_every_provider_fault_on(
    project: Project, emulator: EmulatorServer, size: Size, figures: Figures,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("RUNWARE_API_KEY", emulator.api_key)
    monkeypatch.setenv("RUNWARE_BASE_URL", emulator.base_url)
    root = project(film_files(size.provider_takes))
    film = root / "film.yaml"
    emulator.set_faults(ALL_FAULTS, seed=8)
    minting = _TargetingUUIDs(emulator)
    monkeypatch.setattr(storyboard.build.execute, "uuid", SimpleNamespace(uuid4=minting.uuid4))

    builds: list[BuildResult] = []
    final = _build_until_done(film, builds)

    stats = emulator.stats()
    billed = billed_per_take(emulator)
    fired = Counter(stats["faults"])
    failed_jobs = [e for e in emulator.ledger() if e.status == "failed"]
    takes = len(final.prepared.compiled.takes)
    done = sum(1 for o in final.outcomes.values() if o.entry is not None)
    figures.add("takes", takes)
    figures.add("takes completed", done)
    figures.add("builds run", len(builds))
    figures.add(
        "takes left for the next build",
        [f"{o.take}: {o.message[:120]}" for b in builds[:-1] for o in b.failed],
    )
    figures.add("requests sent", stats["requests"])
    figures.add("task UUIDs minted", minting.minted)
    figures.add("videoInference tasks sent", stats["tasks"].get("videoInference", 0))
    figures.add("faults fired", dict(sorted(fired.items())))
    figures.add("generations failed by the provider (not billed)", len(failed_jobs))
    figures.add("jobs billed", sum(billed.values()))
    figures.add("takes billed more than once", sum(1 for n in billed.values() if n > 1))
    figures.add("USD charged", emulator.total_cost())

    assert takes >= 20
    assert final.ok, [f"{o.take}: {o.message}" for o in final.failed]
    assert done == takes
    # every take paid for exactly once, and nothing else was paid for
    assert billed == Counter({take.id: 1 for take in final.prepared.compiled.takes})
    assert emulator.total_cost() == pytest.approx(builds[0].prepared.plan.total)
    # the chaos really happened: every kind of fault fired, and generations failed
    kinds = {rule.split("@")[0] for rule in ALL_FAULTS.split(",")}
    assert kinds <= set(fired), sorted(kinds - set(fired))
    assert not minting.left
    assert len(failed_jobs) >= 2 and all(e.cost == 0 for e in failed_jobs)
    # the lock names exactly the paid tasks, and every cached video is the one it names
    lock = locked_hashes(film.with_suffix(".lock"))
    assert sorted(lock) == sorted(t.id for t in final.prepared.compiled.takes)
    paid = {
        take_of_task(job.request.task): job.task_uuid
        for job in emulator.emulator.jobs.values()
        if job.failure is None
    }
    for outcome in final.outcomes.values():
        assert outcome.entry is not None
        assert outcome.entry.task_uuid == paid[outcome.take]
