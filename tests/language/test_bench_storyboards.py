"""The benchmarks' own arithmetic and inputs (the benchmarks themselves run in ``make bench``):
a ratio is the median of per-run ratios and points the way its target reads, a figure that
misses a check is not met, and the generated storyboards are ones ``check`` accepts."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.harness import Check, Result, ratios, table
from bench.storyboards import error_line, layered_storyboard, long_storyboard
from storyboard.api import compile_storyboard


def result(ours: list[float], baseline: list[float], **kwargs: object) -> Result:
    fields: dict[str, object] = {
        "key": "P0", "measure": "m", "unit": "s", "ours": ours, "baseline": baseline,
        "kind": "speedup", "op": ">=", "target": 5.0, "baseline_name": "b",
    }  # fmt: skip
    fields.update(kwargs)
    return Result(**fields)  # type: ignore[arg-type]


def test_ratios_pair_runs_or_use_the_one_baseline() -> None:
    assert ratios([1, 2, 4], [10, 10, 20], "speedup") == [10, 5, 5]
    assert ratios([1, 2, 4], [8], "speedup") == [8, 4, 2]  # one slow baseline run
    assert ratios([3, 2], [2, 2], "ratio") == [1.5, 1.0]


def test_the_headline_is_the_median_and_every_check_must_hold() -> None:
    fast = result([1.0, 2.0, 1.5], [10.0, 10.0, 10.0])
    assert fast.ratio == pytest.approx(20 / 3) and fast.met
    assert result([1.0, 2.0, 4.0], [10.0, 10.0, 10.0]).met  # 10, 5, 2.5: median 5 >= 5
    assert not result([1.0, 4.0, 4.0], [10.0, 10.0, 10.0]).met  # median 2.5
    missed = result([1.0], [10.0], checks=[Check("extra", 1.6, "<=", 1.5)])
    assert missed.ratio == 10 and not missed.met
    within = result([1.2, 1.0, 1.1], [1.0, 1.0, 1.0], kind="ratio", op="<=", target=1.1)
    assert within.ratio == pytest.approx(1.1) and within.met
    data = missed.to_json()
    assert data["met"] is False and data["checks"][0]["met"] is False
    assert data["ratio_spread"] == [10.0, 10.0] and data["baseline_runs"] == 1
    assert "NO" in table([missed]) and "extra" in table([missed])


def test_the_generated_storyboards_check(tmp_path: Path) -> None:
    long = long_storyboard(tmp_path / "long", 24)
    compiled = compile_storyboard(long)
    assert len(compiled.takes) == 24
    prompts = [t.request.get("positivePrompt", "") for t in compiled.takes]
    assert prompts[0].startswith("Shot 1 of The Long Night:")  # templated, rendered
    assert error_line(long, "s0005") == long.read_text().splitlines().index("  - id: s0005") + 2
    layered = layered_storyboard(tmp_path / "layered", [2, 3, 1])
    graph = compile_storyboard(layered)
    assert [t.id for t in graph.takes][:2] == ["l0-000", "l0-001"]
    assert {dep for t in graph.takes for dep in t.take.depends_on} == {"l0-000", "l0-001", "l1-000"}


def test_the_control_flow_storyboard_renders_its_loops_and_conditions(tmp_path: Path) -> None:
    path = long_storyboard(tmp_path / "control", 40, control_every=8)
    compiled = compile_storyboard(path)
    prompts = {t.id: t.request.get("positivePrompt", "") for t in compiled.takes}
    assert path.read_text().count("{% ") >= 5 * 2  # 5 prompts of 40, two tags at least each
    rendered = [prompts[f"s{i:04d}"] for i in range(5, 41, 8)]
    assert not any("{%" in p or "{{" in p for p in rendered)
    assert any("the keeper, the boy, the skipper" in p or "rain spray foam" in p or
               "lull between squalls" in p or "rain in long silver" in p or "A slow shot" in p
               for p in rendered)  # fmt: skip
    unique = long_storyboard(tmp_path / "unique", 40, control_every=8, unique_control=True)
    assert "Later." in compile_storyboard(unique).takes[4].request["positivePrompt"]
