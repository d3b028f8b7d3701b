"""A build with nothing to do, known before the storyboard is read: the note of the last build
records the state of every file its check read; the same build asked again, finding them (and
everything the note names) as they were, does not check the storyboard at all. Anything
changed, a file changed while it was read (the 'racy git' rule), a link swapped in, another
working folder: the storyboard is checked, as before.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from storyboard.backends.preview import PreviewBackend
from storyboard.build import pipeline
from storyboard.build.pipeline import UNCHANGED, build
from tests.conftest import tiny_jpeg

Project = Callable[[dict[str, str | bytes]], Path]

FILM = """\
storyboard: 1
title: Quiet
shots:
  - {id: a, duration: 3, start: still.jpg, prompt: a lighthouse at dawn}
  - {id: b, duration: 3, prompt: the keeper climbs the stairs}
"""
SCALE = 1 / 12


def age(*paths: Path) -> None:
    """Set the files' times a minute back: written long before the build's check began."""
    then = time.time() - 60
    for path in paths:
        os.utime(path, (then, then))


@pytest.fixture
def checks(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every storyboard the builds read (their check), in order."""
    read: list[str] = []
    load = pipeline.load_document

    def counted(path: Any, **kw: Any) -> Any:
        read.append(str(path))
        return load(path, **kw)

    monkeypatch.setattr(pipeline, "load_document", counted)
    yield read


def make(film: Path) -> Any:
    result = build(film, backend=PreviewBackend(scale=SCALE))
    assert result.ok, [o.message for o in result.outcomes.values()]
    return result


def note(film: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((film.parent / "build" / "film" / "preview" / UNCHANGED)
                                      .read_text())  # fmt: skip
    return data


@pytest.fixture
def quiet(project: Project) -> Path:
    root = project({"film.yaml": FILM, "still.jpg": tiny_jpeg(640, 360)})
    age(root / "film.yaml", root / "still.jpg")
    film = root / "film.yaml"
    make(film)  # makes the takes
    make(film)  # finds them all: leaves the note, with the inputs' states
    return film


def test_an_unchanged_storyboard_is_not_even_checked(quiet: Path, checks: list[str]) -> None:
    recorded = note(quiet)["inputs"]
    assert sorted(Path(p).name for p in recorded) == ["film.yaml", "still.jpg"]
    result = make(quiet)
    assert checks == []  # not read
    assert {o.status for o in result.outcomes.values()} == {"cached"}
    assert list(result.outcomes) == ["a", "b"]
    assert result.film is not None and result.film.is_file()
    assert result.workspace.output_dir == quiet.parent / "build" / "film" / "preview"
    assert checks == []
    # what it prepared is made when first asked for: the same as a check gives
    assert [t.id for t in result.prepared.compiled.takes] == ["a", "b"]
    assert checks == [str(quiet)]


@pytest.mark.parametrize("change", ["storyboard", "asset", "link", "size only"])
def test_any_input_changed_is_checked_again(quiet: Path, checks: list[str], change: str) -> None:
    root = quiet.parent
    still = root / "still.jpg"
    if change == "storyboard":
        quiet.write_text(FILM.replace("at dawn", "at dusk"))
    elif change == "asset":
        still.write_bytes(tiny_jpeg(640, 360, color=(200, 10, 10)))
    elif change == "link":  # the same bytes, reached through a link in the project
        copy = root / "copy.jpg"
        copy.write_bytes(still.read_bytes())
        still.unlink()
        still.symlink_to(copy.name)
    else:  # the same time given back (a tool that keeps times), another size
        stats = quiet.stat()
        quiet.write_text(FILM + "\n")
        os.utime(quiet, ns=(stats.st_atime_ns, stats.st_mtime_ns))
    result = build(quiet, backend=PreviewBackend(scale=SCALE))
    assert checks == [str(quiet)]  # read and checked
    if change in ("storyboard", "asset"):
        assert "generated" in {o.status for o in result.outcomes.values()}


def test_a_file_changed_as_it_was_read_is_not_recorded_until_it_is_old(
    project: Project, checks: list[str]
) -> None:
    root = project({"film.yaml": FILM, "still.jpg": tiny_jpeg(640, 360)})
    film = root / "film.yaml"
    make(film)
    make(film)  # its check began within two seconds of the files' writing: racy
    assert note(film)["inputs"] is None
    checks.clear()
    make(film)
    assert checks == [str(film)]  # checked: nothing recorded to compare with
    age(film, root / "still.jpg")
    checks.clear()
    make(film)  # checked, and the note now records the inputs
    assert checks == [str(film)]
    assert note(film)["inputs"] is not None
    checks.clear()
    make(film)
    assert checks == []


def test_another_working_folder_checks_again(
    quiet: Path, checks: list[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)  # its warnings would name files from here
    make(quiet)
    assert checks == [str(quiet)]
