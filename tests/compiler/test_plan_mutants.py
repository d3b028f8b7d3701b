"""The plan's price and the budget gate, each decision held by a test (mutation audit).

Changes to :mod:`storyboard.compiler.plan`, the model's prices and ``_check_budget`` of
:mod:`storyboard.build.pipeline` that the other tests let pass, each now caught here:

- a take of each free status (cached, locked, kept, remote, shared, skip) counted in what
  may be charged anew, or an unknown cost of a free or accepted take refusing the budget;
- a reference video (a video input: 0.168/s) priced as a take without one (0.112/s);
- an edit's billed seconds not those the service bills (halves up, at least 1 second);
- ``--max-cost`` let through a build up to a cent over it (a comparison rounded to cents,
  or given slack), or any build when the budget is below zero;
- the free preview counted unknown costs as money to check.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from storyboard.build.pipeline import _check_budget, build, prepare
from storyboard.compiler.plan import (
    Plan,
    Pricing,
    Standing,
    billed_seconds,
    make_plan,
    render_plan,
)
from storyboard.core.errors import BuildError
from storyboard.emulator.pricing import billed_seconds as emulator_billed_seconds
from storyboard.emulator.pricing import price
from tests.build.fakes import FakePaidBackend

Project = Callable[[dict[str, str | bytes]], Path]

PAID = Pricing.for_namespace("runware@127.0.0.1:9", "http://127.0.0.1:9/v1")

# one take of each status, and an edit of a video whose length cannot be read: unknown
FILM = """\
storyboard: 1
title: Statuses
shots:
  - {id: gen, duration: 3, prompt: a harbour at dawn}
  - {id: res, duration: 4, prompt: a quay at noon}
  - {id: acc, duration: 5, prompt: nets drying}
  - {id: cac, duration: 6, prompt: a lighthouse}
  - {id: loc, duration: 7, prompt: a gull}
  - {id: kep, duration: 8, prompt: a rope}
  - {id: rem, duration: 9, prompt: a boat}
  - {id: sha, duration: 10, prompt: a pier}
  - {id: ski, duration: 11, prompt: a crane}
  - {id: unk, edit: gen, prompt: restyle as a watercolour}
"""

STANDINGS = {
    "gen": Standing("generate", "new"),
    "res": Standing("resume", "sent before"),
    "acc": Standing("resume", "accepted", accepted=True),
    "cac": Standing("cached", "in the cache"),
    "loc": Standing("locked", "download from the lock"),
    "kep": Standing("kept", "kept"),
    "rem": Standing("remote", "on the remote"),
    "sha": Standing("shared", "the same request as gen, made once"),
    "ski": Standing("skip", "not selected"),
}


def planned(
    film: Path, standings: dict[str, Standing], pricing: Pricing = PAID, **kept: float | None
) -> Plan:
    """The plan of ``film`` with each take's standing as given (``generate`` otherwise)."""
    prepared = prepare(film, backend_name=pricing.namespace, pricing=pricing)
    return make_plan(
        prepared.compiled,
        prepared.keys,
        status=lambda take, key: standings.get(take.id, Standing("generate", "new")),
        pricing=pricing,
        kept=kept,
    )


@pytest.fixture
def film(project: Project) -> Path:
    return project({"film.yaml": FILM}) / "film.yaml"


def test_only_takes_to_generate_or_resume_unaccepted_may_be_charged(film: Path) -> None:
    plan = planned(film, STANDINGS)  # unk, the edit of gen: 3 s at 0.168
    chargeable = {i.take.id for i in plan.items if i.chargeable}
    assert chargeable == {"gen", "res", "unk"}
    document = plan.to_json()
    assert [t["id"] for t in document["takes"] if t["chargeable"]] == ["gen", "res", "unk"]
    assert plan.total == round(3 * 0.112 + 4 * 0.112 + 5 * 0.112 + 3 * 0.168, 4) == 1.848
    assert plan.chargeable == document["chargeable"] == round(7 * 0.112 + 3 * 0.168, 4) == 1.288
    assert plan.accepted == ["acc"]
    # a kept take's line costs nothing; the others' say what a generation would cost
    costs = {t["id"]: t["cost"] for t in document["takes"]}
    assert costs["kep"] == 0.0 and costs["cac"] == 0.672
    # the budget the estimate fits is enough, a budget a hundredth of a cent less is not
    _check_budget(plan, 1.288)
    anew = r"is \$1\.2880 \(\$1\.8480 in all, less acc, which the provider already accepted\)"
    with pytest.raises(BuildError, match=anew + r", over --max-cost \$1\.2879; nothing was"):
        _check_budget(plan, 1.2879)


@pytest.mark.parametrize("status", ["cached", "locked", "kept", "remote", "shared", "skip"])
def test_an_unknown_cost_of_a_free_take_is_not_checked(film: Path, status: str) -> None:
    """``unk`` edits a take whose length is not known: its cost is unknown, which matters only
    when this build may pay for it."""
    plan = planned(film, {"unk": Standing(status, "free")}, gen=None)
    assert [i.cost.amount for i in plan.items if i.take.id == "unk"] == [None]
    assert plan.unknown == plan.unknown_chargeable == []
    _check_budget(plan, 100.0)  # nothing unknown to check: not refused


def test_an_unknown_cost_of_an_accepted_take_is_no_new_charge(film: Path) -> None:
    accepted = {"unk": Standing("resume", "accepted", accepted=True)}
    plan = planned(film, accepted, gen=None)
    assert plan.unknown == ["unk"] and plan.unknown_chargeable == []
    _check_budget(plan, 100.0)
    assert "+ unknown" not in render_plan(plan).splitlines()[-2]  # may be charged anew: ...
    plan = planned(film, {"unk": Standing("resume", "sent before")}, gen=None)
    assert plan.unknown == plan.unknown_chargeable == ["unk"]
    with pytest.raises(BuildError, match="cannot be checked: the cost of unk is not known"):
        _check_budget(plan, 100.0)


def test_the_free_preview_has_no_unknown_cost_to_check(film: Path) -> None:
    plan = planned(film, {}, Pricing.for_namespace("preview@0.25"), gen=None)
    assert plan.unknown == ["unk"]
    assert plan.unknown_chargeable == [] and plan.chargeable == 0.0
    lines = render_plan(plan).splitlines()
    assert lines[-2] == "may be charged anew: $0.0000 (offline previews are free)"


def test_a_reference_video_is_priced_as_a_video_input(project: Project) -> None:
    root = project(
        {
            "film.yaml": "storyboard: 1\ntitle: R\nshots:\n"
            "  - {id: a, duration: 5, prompt: a harbour at dawn}\n"
            "  - {id: b, duration: 4, reference_videos: [a], prompt: the same camera move}\n"
        }
    )
    plan = planned(root / "film.yaml", {})
    costs = {i.take.id: (i.cost.rate, i.cost.amount) for i in plan.items}
    billed = price(seconds=4, sound=False, video_input=True, number_results=1)
    assert costs == {"a": (0.112, 0.56), "b": (0.168, billed.total)} and billed.total == 0.672


@pytest.mark.parametrize(
    "seconds", [0.0, 0.2, 0.49, 0.5, 1.0, 2.5, 3.49, 3.5, 4.4999, 4.5, 9.5, 10.0, 14.5]
)
def test_an_edit_is_billed_the_seconds_the_service_bills(seconds: float) -> None:
    assert billed_seconds(seconds) == emulator_billed_seconds(seconds) >= 1


def test_an_edit_of_a_source_of_a_half_second_is_billed_the_second_up(film: Path) -> None:
    plan = planned(film, {}, gen=4.5)  # the edit sends gen's 4.5 s result: billed 5 s
    (item,) = [i for i in plan.items if i.take.id == "unk"]
    assert (item.cost.seconds, item.cost.amount) == (5, 0.84)


ONE = "storyboard: 1\ntitle: One\nshots:\n  - {id: a, duration: 7, prompt: a harbour}\n"


@pytest.mark.parametrize("budget", [0.7839, 0.78, -1.0, float("-inf")])
def test_a_budget_below_the_estimate_sends_nothing(project: Project, budget: float) -> None:
    """7 s silent: $0.784. A budget a hundredth of a cent under it, or below zero, is
    refused before anything is sent or written."""
    film = project({"film.yaml": ONE}) / "film.yaml"
    backend = FakePaidBackend()
    with pytest.raises(BuildError, match=r"is \$0\.7840, over --max-cost .*; nothing was sent"):
        build(film, backend=backend, max_cost=budget)
    assert backend.submitted == []
    assert not (film.parent / "film.lock").exists()


def test_a_budget_the_estimate_fits_builds(project: Project) -> None:
    film = project({"film.yaml": ONE}) / "film.yaml"
    backend = FakePaidBackend()
    assert build(film, backend=backend, max_cost=0.784).ok
    assert [job.take for job in backend.submitted] == ["a"]
