"""``storyboard clean``: the build folder goes, previews on request, paid results never."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from storyboard.backends.preview import PreviewBackend
from storyboard.build import build
from tests.build.fakes import FakePaidBackend
from tests.conftest import CliResult

Project = Callable[[dict[str, str | bytes]], Path]

FILM = """\
storyboard: 1
title: Clean
shots:
  - {id: a, duration: 3, prompt: first shot}
  - {id: b, start: a.last, duration: 3, prompt: second shot}
"""


def test_clean_removes_what_a_build_remakes_and_keeps_what_was_paid(
    project: Project, run_cli: Callable[..., CliResult]
) -> None:
    root = project({"film.yaml": FILM})
    film = root / "film.yaml"
    build(film, backend=FakePaidBackend())
    build(film, backend=PreviewBackend(scale=0.1))
    cache = root / ".storyboard" / "cache"
    assert sorted(p.name for p in cache.iterdir() if not p.name.startswith(".")) == ["fake", "preview@0.1"]

    dry = run_cli("clean", str(film), "--previews", "--dry-run")
    assert dry.status == 0 and "would remove" in dry.err
    assert (root / "build" / "film").is_dir() and (cache / "preview@0.1").is_dir()

    done = run_cli("clean", str(film))
    assert done.status == 0 and f"removed {root / 'build' / 'film'}" in done.err
    assert not (root / "build" / "film").exists()
    assert sorted(p.name for p in cache.iterdir() if not p.name.startswith(".")) == ["fake", "preview@0.1"]

    done = run_cli("clean", str(film), "--previews")
    assert done.status == 0
    assert sorted(p.name for p in cache.iterdir() if not p.name.startswith(".")) == ["fake"]  # the paid results stay
    assert (root / "film.lock").is_file()
    again = FakePaidBackend()
    result = build(film, backend=again)
    assert again.submitted == [] and result.ok  # nothing paid again, the film is back
    assert result.film is not None and result.film.is_file()
    assert run_cli("clean", str(film)).status == 0
    assert "nothing to clean" in run_cli("clean", str(film)).err


def test_clean_of_a_missing_file_is_a_usage_error(
    tmp_path: Path, run_cli: Callable[..., CliResult]
) -> None:
    result = run_cli("clean", str(tmp_path / "nope.yaml"))
    assert result.status == 2 and "no such storyboard file" in result.err
