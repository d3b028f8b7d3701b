"""The compile, plan, graph and deps commands, end to end through the CLI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import CliResult

REPO = Path(__file__).resolve().parents[2]
FILM = REPO / "examples" / "lighthouse" / "lighthouse.yaml"
SEED = REPO / "examples" / "seed"
Run = Callable[..., CliResult]


def test_compile_json_is_in_dependency_order(run_cli: Run) -> None:
    result = run_cli("compile", str(FILM), "--json")
    assert result.status == 0, result.err
    data = json.loads(result.out)
    assert data["storyboard"] == "lighthouse.yaml"
    ids = [t["id"] for t in data["takes"]]
    assert set(ids) == {"arrival", "storm.1", "storm.2", "rocks", "repair", "dawn", "postcard"}
    for position, take in enumerate(data["takes"]):
        assert set(take) == {"id", "shots", "depends_on", "request"}
        assert all(ids.index(dep) < position for dep in take["depends_on"])
        assert "taskUUID" not in take["request"]


def test_compile_output_writes_one_file_per_take(run_cli: Run, tmp_path: Path) -> None:
    out = tmp_path / "requests"
    result = run_cli("compile", str(FILM), "-o", str(out))
    assert result.status == 0, result.err
    files = sorted(p.name for p in out.iterdir())
    assert files == sorted(
        f"{t}.json"
        for t in ("arrival", "storm.1", "storm.2", "rocks", "repair", "dawn", "postcard")
    )
    postcard = json.loads((out / "postcard.json").read_text())
    assert postcard["request"]["inputs"] == {"video": "take:dawn/video"}


def test_compile_of_an_invalid_storyboard_writes_nothing(run_cli: Run, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("storyboard: 1\ntitle: x\nshots:\n  - {id: a, duration: 30, prompt: too long}\n")
    out = tmp_path / "requests"
    result = run_cli("compile", str(bad), "-o", str(out))
    assert result.status == 2
    assert "bad.yaml:4:23: error: shot 'a' is 30 s; a request must be 3..15 s" in result.err
    assert "Traceback" not in result.err
    assert not out.exists()


@pytest.mark.parametrize(
    "name,total",
    [
        ("tundra-signal-camp", 1.12),
        ("flooded-opera-rooftop", 1.12),
        ("subway-busker-time-shift", 1.26),
        ("orbital-greenhouse-ballet", 1.12),
    ],
)
def test_plan_of_the_seeds(run_cli: Run, name: str, total: float) -> None:
    result = run_cli("plan", str(SEED / f"{name}.yaml"), "--json")
    assert result.status == 0, result.err
    plan = json.loads(result.out)
    assert plan["total"] == total
    assert plan["unknown_cost"] == []


def test_plan_of_a_remote_edit_says_unknown(run_cli: Run) -> None:
    result = run_cli("plan", str(SEED / "subway-busker-metamorphosis.yaml"))
    assert result.status == 0, result.err
    assert "unknown" in result.out
    assert "total: $0.0000 + unknown for metamorphosis (edit of a remote video)" in result.out


def test_plan_table_lists_every_take_and_the_critical_path(
    run_cli: Run, example: Callable[[str], Path]
) -> None:
    result = run_cli("plan", str(example("lighthouse") / "lighthouse.yaml"), "--backend", "preview")
    assert result.status == 0, result.err
    assert "total: $7.0560" in result.out
    assert (
        "critical path: storm.1 -> repair -> dawn -> postcard (4 takes, 31 s of video)"
        in result.out
    )


@pytest.mark.parametrize("fmt", ["mermaid", "dot", "json"])
def test_graph_formats(run_cli: Run, fmt: str) -> None:
    result = run_cli("graph", str(FILM), "--format", fmt)
    assert result.status == 0, result.err
    if fmt == "json":
        picture = json.loads(result.out)
        assert {"from": "dawn", "to": "postcard", "kind": "edit"} in picture["edges"]
        assert picture["elements"] == ["keeper", "lantern", "skipper", "trawler"]
    elif fmt == "dot":
        assert result.out.startswith("digraph storyboard {")
        assert '"repair" -> "dawn" [label="repair last -> start"];' in result.out
    else:
        assert result.out.startswith("flowchart LR")
        assert 'n_storm_1 -->|"lamp-dies frame 48 -> start"| n_repair' in result.out


def test_deps_lists_every_input(run_cli: Run, tmp_path: Path) -> None:
    target = tmp_path / "film.d"
    result = run_cli("deps", str(FILM), "-o", str(target), "--target", "film.mp4")
    assert result.status == 0, result.err
    text = target.read_text()
    rule, _, phony = text.partition("\n\n")
    deps = [p.strip(" \\") for p in rule.split(":", 1)[1].split("\n")]
    names = {Path(p).name for p in deps}
    assert rule.startswith("film.mp4: ")
    assert {
        "lighthouse.yaml",
        "cast.yaml",
        "maritime.j2",
        "keeper-front.png",
        "storm-swell.wav",
    } <= names
    assert len(names) == 14
    assert phony.count(":\n") == 14


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_rebuilds_exactly_when_an_input_changes(tmp_path: Path) -> None:
    folder = tmp_path / "lighthouse"
    shutil.copytree(FILM.parent, folder)
    (folder / ".storyboard").mkdir()
    storyboard = str(Path(sys.executable).parent / "storyboard")
    (folder / "Makefile").write_text(
        f"out.txt: lighthouse.yaml\n\t{storyboard} deps lighthouse.yaml -o out.d --target out.txt\n"
        "\tdate +%s%N > out.txt\n-include out.d\n"
    )

    def make() -> str:
        return subprocess.run(
            ["make", "-s", "-C", str(folder)], check=True, capture_output=True, text=True
        ).stdout

    make()
    first = (folder / "out.txt").read_text()
    make()
    assert (folder / "out.txt").read_text() == first  # nothing changed: nothing rebuilt
    template = folder / "styles" / "maritime.j2"
    template.write_text(template.read_text() + " ")
    subprocess.run(["touch", "-d", "+2 seconds", str(template)], check=True)
    make()
    assert (folder / "out.txt").read_text() != first


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_rebuilds_when_a_template_looked_for_is_written(tmp_path: Path) -> None:
    """A prompt includes a template if it is there (``ignore missing``): the rule names the
    folder it would be made in (its own folder, or the nearest one above that exists), so
    writing it makes ``make`` build again; before, the rule named only the files read."""
    folder = tmp_path / "film"
    folder.mkdir()
    (folder / ".storyboard").mkdir()
    (folder / "styles").mkdir()
    (folder / "film.yaml").write_text(
        "storyboard: 1\ntitle: Looked for\nshots:\n"
        "  - {id: a, duration: 3,\n"
        "     prompt: 'a harbour {% include \"styles/look.j2\" ignore missing %}'}\n"
        "  - {id: b, duration: 3, prompt: 'gulls {% include \"moods/dusk.j2\" ignore missing %}'}\n"
    )
    storyboard = str(Path(sys.executable).parent / "storyboard")
    (folder / "Makefile").write_text(
        f"out.txt: film.yaml\n\t{storyboard} deps film.yaml -o out.d --target out.txt\n"
        "\tdate +%s%N > out.txt\n-include out.d\n"
    )

    def make() -> str:
        done = subprocess.run(["make", "-s", "-C", str(folder)], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return (folder / "out.txt").read_text()

    first = make()
    rule = (folder / "out.d").read_text().split("\n\n")[0]
    assert [p.strip(" \\") for p in rule.split(":", 1)[1].split("\n")] == [
        "film.yaml", "styles", ".",  # styles/look.j2 would be made in styles/; moods/ is not there
    ]  # fmt: skip
    assert make() == first  # nothing changed: nothing rebuilt
    (folder / "styles" / "look.j2").write_text("in soft light")
    subprocess.run(["touch", "-d", "+2 seconds", str(folder / "styles")], check=True)
    second = make()
    assert second != first  # the template written: built again
    assert make() == second
    (folder / "moods").mkdir()
    (folder / "moods" / "dusk.j2").write_text("at dusk")
    subprocess.run(["touch", "-d", "+4 seconds", str(folder)], check=True)
    assert make() != second  # and the folder made on the way


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_the_examples_makefile_settles_and_rebuilds_on_a_template_change(tmp_path: Path) -> None:
    examples = tmp_path / "examples"
    shutil.copytree(REPO / "examples", examples, ignore=shutil.ignore_patterns("build", "*.d"))
    (examples / ".storyboard").mkdir()
    storyboard = str(Path(sys.executable).parent / "storyboard")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RUNWARE_", "MAKE"))}
    flags = ["STORYBOARD=" + storyboard, "BUILDFLAGS=--preview-scale 0.05"]

    def make(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["make", "-C", str(examples), *flags, *args], capture_output=True, text=True, env=env
        )

    assert make().returncode == 0
    film = examples / "lighthouse/build/lighthouse/preview/skerry-point.mp4"
    assert film.is_file() and (examples / "lighthouse/lighthouse.d").is_file()
    assert make("-q").returncode == 0, "a second make has nothing to do"
    past = time.time() - 10  # everything made so far is older than the edit below
    for path in examples.rglob("*"):
        os.utime(path, (past, past))
    template = examples / "lighthouse/styles/maritime.j2"
    template.write_text(template.read_text() + " ")
    assert make("-q").returncode == 1, "a changed template makes the film out of date"
    rebuilt = make()
    assert rebuilt.returncode == 0 and "storyboard" in rebuilt.stdout + rebuilt.stderr
    assert make("-q").returncode == 0, "and make settles again"
