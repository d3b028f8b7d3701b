"""``--select``: build exactly what was named; what it leaves out is not a failure."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from storyboard.backends.preview import PreviewBackend
from storyboard.build.pipeline import build
from storyboard.core.errors import InputError
from tests.build.fakes import FakePaidBackend
from tests.conftest import CliResult

Project = Callable[[dict[str, str | bytes]], Path]

FILM = """\
storyboard: 1
title: Select test
shots:
  - {id: a, duration: 3, prompt: first shot}
  - {id: b, start: a.last, duration: 3, prompt: second shot}
  - {id: c, start: b.last, duration: 3, prompt: third shot}
  - {id: d, duration: 3, prompt: fourth shot}
"""


def preview() -> PreviewBackend:
    return PreviewBackend(scale=0.1)


@pytest.fixture
def film(project: Project) -> Path:
    return project({"film.yaml": FILM}) / "film.yaml"


def test_a_selected_rebuild_succeeds_and_removes_the_stale_film(
    film: Path, run_cli: Callable[..., CliResult]
) -> None:
    assert build(film, backend=preview()).ok
    out = film.parent / "build" / "film" / "preview"
    assert (out / "film.mp4").is_file() and (out / "film.otio").is_file()
    film.write_text(FILM.replace("second shot", "second shot at night"), encoding="utf-8")

    flags = ["--backend", "preview", "--preview-scale", "0.1", "--select", "b", "--json"]
    done = run_cli("build", str(film), *flags)
    assert done.status == 0, done.err
    statuses = {t["id"]: t["status"] for t in json.loads(done.out)["takes"]}
    assert statuses == {"a": "cached", "b": "generated", "c": "unselected", "d": "cached"}
    assert "the film was not cut: c not selected" in done.err
    # the old film no longer matches the storyboard: it is gone, and the record says so
    assert not (out / "film.mp4").exists() and not (out / "film.otio").exists()
    assert json.loads((out / "build.json").read_text(encoding="utf-8"))["film"] is None

    # the rest builds later, without regenerating b
    backend = preview()
    result = build(film, backend=backend)
    assert result.ok and result.outcomes["b"].status == "cached"
    assert result.outcomes["c"].status == "generated" and (out / "film.mp4").is_file()


def test_a_selected_take_whose_input_is_not_built_is_refused_before_anything_runs(
    film: Path, run_cli: Callable[..., CliResult]
) -> None:
    backend = FakePaidBackend()
    with pytest.raises(InputError, match=r"take 'c' needs 'b', which is not built yet; select \+c"):
        build(film, backend=backend, select=["c"])
    assert backend.submitted == [] and not (film.parent / "build").exists()
    for command in ("plan", "build"):
        refused = run_cli(command, str(film), "--backend", "preview", "--select", "c")
        assert refused.status == 2 and "take 'c' needs 'b'" in refused.err, refused.err
        assert "Traceback" not in refused.err
    # selecting what it needs as well is fine: a and b are built with it
    outcomes = build(film, backend=backend, select=["+c"]).outcomes
    assert {t: o.status for t, o in outcomes.items()} == {
        "a": "generated",
        "b": "generated",
        "c": "generated",
        "d": "unselected",
    }
    assert sorted(j.take for j in backend.submitted) == ["a", "b", "c"]


def test_a_selection_whose_inputs_are_built_needs_nothing_more(film: Path) -> None:
    backend = FakePaidBackend()
    build(film, backend=backend, select=["+b"])
    assert sorted(j.take for j in backend.submitted) == ["a", "b"]
    again = FakePaidBackend()
    result = build(film, backend=again, select=["c"])
    assert [j.take for j in again.submitted] == ["c"]
    assert result.ok and result.outcomes["d"].status == "unselected"


def test_a_selected_take_that_is_cached_is_done_when_its_left_out_input_is_not(
    film: Path, run_cli: Callable[..., CliResult]
) -> None:
    """b starts from a; both were built, then a's cache entry went. ``--select b``: the plan
    says b is cached (its key holds what a made), and the build agrees: b is cached, a left
    out, nothing made, status 0; before, the build skipped b ("needs a") and failed."""
    first = build(film, backend=preview(), select=["+b"])
    assert first.ok and first.outcomes["b"].status == "generated"
    entry = first.outcomes["a"].entry
    assert entry is not None
    shutil.rmtree(entry.folder)  # a's result is gone from the cache; b's is there
    flags = ["--backend", "preview", "--preview-scale", "0.1", "--select", "b", "--json"]
    planned = run_cli("plan", str(film), *flags)
    assert planned.status == 0, planned.err
    assert {t["id"]: t["status"] for t in json.loads(planned.out)["takes"]}["b"] == "cached"

    done = run_cli("build", str(film), *flags)
    assert done.status == 0, done.err
    statuses = {t["id"]: t["status"] for t in json.loads(done.out)["takes"]}
    assert statuses == {"a": "unselected", "b": "cached", "c": "unselected", "d": "unselected"}
    assert "the film was not cut: a, c, d not selected" in done.err, done.err
    assert not entry.folder.exists()  # a was not made again


def test_a_selected_take_after_a_failed_input_is_skipped_even_if_cached(film: Path) -> None:
    """The rule above is for an input --select left out, not one that failed in this build."""
    backend = FakePaidBackend()
    assert build(film, backend=backend, select=["+b"]).ok
    film.write_text(FILM.replace("first shot", "first shot again"), encoding="utf-8")
    failing = FakePaidBackend(fail={"a"})
    result = build(film, backend=failing, select=["+b"], keep_going=True)
    assert result.outcomes["a"].status == "failed"
    assert result.outcomes["b"].status == "skipped"
    assert [j.take for j in failing.submitted] == ["a"]
