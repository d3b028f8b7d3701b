"""``storyboard clean``: the build folder goes, previews on request, paid results never."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from storyboard.backends.preview import PreviewBackend
from storyboard.build.pipeline import build
from storyboard.core.errors import BuildError
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

    def namespaces() -> list[str]:
        return sorted(p.name for p in cache.iterdir() if not p.name.startswith("."))

    assert namespaces() == ["fake", "preview@0.1"]

    dry = run_cli("clean", str(film), "--previews", "--dry-run")
    assert dry.status == 0 and "would remove" in dry.err
    assert (root / "build" / "film").is_dir() and (cache / "preview@0.1").is_dir()

    done = run_cli("clean", str(film))
    assert done.status == 0 and f"removed {root / 'build' / 'film'}" in done.err
    assert not (root / "build" / "film").exists()
    assert namespaces() == ["fake", "preview@0.1"]

    done = run_cli("clean", str(film), "--previews")
    assert done.status == 0
    assert namespaces() == ["fake"]  # the paid results stay
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


# -- a build folder is a folder storyboard made, and clean removes only what it wrote ----------

ONE = "storyboard: 1\ntitle: t\nshots:\n  - {id: wide, duration: 3, prompt: a harbour}\n"


def _files(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (links as their target text), for before/after comparisons."""
    found = {}
    for path in sorted(root.rglob("*")):
        if path.is_symlink():
            found[str(path.relative_to(root))] = str(path.readlink()).encode()
        elif path.is_file():
            found[str(path.relative_to(root))] = path.read_bytes()
    return found


def test_the_reproducer_of_issue_12_empties_nothing(
    project: Project, run_cli: Callable[..., CliResult]
) -> None:
    # `...yaml` had the build folder build/..: clean removed .git, .storyboard and the rest
    root = project({"...yaml": ONE, "..yaml": ONE, "notes.txt": "mine", ".git/HEAD": "ref"})
    before = _files(root)
    for name in ("...yaml", "..yaml"):
        built = run_cli("build", name, cwd=root)
        assert built.status == 2 and "makes no build folder" in built.err
        assert f"{name}:1:1: error: the file name" in built.err
        cleaned = run_cli("clean", name, cwd=root)
        assert cleaned.status == 2 and "makes no build folder" in cleaned.err
    assert _files(root) == before


@pytest.mark.parametrize(
    ("build_dir", "says"),
    [
        (".", "is the project folder itself"),
        ("../elsewhere", "is outside the project"),
        (".git", "is inside .git or .storyboard"),
        (".storyboard", "is inside .git or .storyboard"),
        (".storyboard/cache", "is inside .git or .storyboard"),
        ("..", "is outside the project"),
    ],
)
def test_clean_refuses_a_build_dir_that_is_not_a_build_folder(
    project: Project, run_cli: Callable[..., CliResult], build_dir: str, says: str
) -> None:
    root = project({"film.yaml": ONE, ".git/HEAD": "ref", "src/main.c": "int main;"})
    (root.parent / "elsewhere").mkdir()
    (root.parent / "elsewhere" / "theirs.txt").write_text("not yours")
    assert run_cli("build", "film.yaml", cwd=root).status == 0
    before = _files(root.parent)
    result = run_cli("clean", "film.yaml", "--build-dir", build_dir, cwd=root)
    assert result.status == 2, result.err
    assert says in result.err and "nothing was removed" in result.err
    assert _files(root.parent) == before


def test_a_folder_storyboard_did_not_make_is_neither_built_into_nor_cleaned(
    project: Project, run_cli: Callable[..., CliResult]
) -> None:
    root = project({"film.yaml": ONE, "src/main.c": "int main;", "build/film/notes.txt": "x"})
    before = _files(root)
    for args in (["build", "film.yaml", "--build-dir", "src"], ["build", "film.yaml"]):
        result = run_cli(*args, cwd=root)
        assert result.status == 2 and "was not made by storyboard" in result.err, result.err
    for args in (["clean", "film.yaml", "--build-dir", "src"], ["clean", "film.yaml"]):
        result = run_cli(*args, cwd=root)
        assert result.status == 2 and "was not made by storyboard" in result.err
    assert _files(root) == before


def test_clean_removes_only_the_files_storyboard_wrote_and_says_what_stays(
    project: Project, run_cli: Callable[..., CliResult]
) -> None:
    root = project({"film.yaml": ONE})
    assert run_cli("build", "film.yaml", cwd=root).status == 0
    folder = root / "build" / "film"
    assert (folder / ".storyboard-build.json").is_file()
    (folder / "mine.txt").write_text("a note of mine")
    (folder / "preview" / "takes" / ".draft.tmp").write_text("hidden, mine too")
    (folder / "notes").mkdir()
    (folder / "notes" / "cut.part").write_text("mine")
    result = run_cli("clean", "film.yaml", cwd=root)
    assert result.status == 0, result.err
    assert "kept build/film/mine.txt: storyboard did not write it" in result.err
    assert "kept build/film/preview/takes/.draft.tmp" in result.err
    left = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    assert left == ["mine.txt", "notes/cut.part", "preview/takes/.draft.tmp"]


def test_two_storyboards_do_not_share_a_build_folder(
    project: Project, run_cli: Callable[..., CliResult]
) -> None:
    root = project({"film.yaml": ONE, "other.yaml": ONE})
    assert run_cli("build", "film.yaml", "--build-dir", "out", cwd=root).status == 0
    before = _files(root / "out")
    for command in ("build", "clean"):
        result = run_cli(command, "other.yaml", "--build-dir", "out", cwd=root)
        assert result.status == 2 and "is the build folder of film.yaml" in result.err
    assert _files(root / "out") == before


def test_a_file_in_the_build_folder_storyboard_did_not_write_is_not_overwritten(
    project: Project,
) -> None:
    root = project({"film.yaml": ONE})
    film = root / "film.yaml"
    assert build(film, backend=PreviewBackend(scale=0.1)).ok
    folder = root / "build" / "film"
    (folder / "preview" / "film.mp4").unlink()
    (folder / "preview" / "film.otio").unlink()
    marker = json.loads((folder / ".storyboard-build.json").read_text())
    marker["files"].remove("preview/film.otio")
    (folder / ".storyboard-build.json").write_text(json.dumps(marker))
    (folder / "preview" / "film.otio").write_text("my own timeline")
    with pytest.raises(BuildError, match=r"film\.otio is in the build folder but was not written"):
        build(film, backend=PreviewBackend(scale=0.1))
    assert (folder / "preview" / "film.otio").read_text() == "my own timeline"


def test_a_build_folder_of_an_older_storyboard_is_adopted(project: Project) -> None:
    root = project({"film.yaml": ONE})
    film = root / "film.yaml"
    assert build(film, backend=PreviewBackend(scale=0.1)).ok
    folder = root / "build" / "film"
    # as a release before markers and backend folders left it: every file at the top
    for path in sorted((folder / "preview").rglob("*"), reverse=True):
        if path.is_file():
            top = folder / path.relative_to(folder / "preview")
            top.parent.mkdir(parents=True, exist_ok=True)
            path.rename(top)
    shutil.rmtree(folder / "preview")
    (folder / ".storyboard-build.json").unlink()
    old_film = (folder / "film.mp4").read_bytes()
    assert build(film, backend=PreviewBackend(scale=0.1)).ok
    marker = json.loads((folder / ".storyboard-build.json").read_text())
    assert marker["adopted"] == "legacy" and "preview/build.json" in marker["files"]
    assert (folder / "film.mp4").read_bytes() == old_film  # the older film is left as it was
    assert (folder / "preview" / "film.mp4").is_file()


def test_a_build_folder_killed_while_being_marked_is_storyboards_own(
    project: Project, run_cli: Callable[..., CliResult]
) -> None:
    """A build killed between making its folder and renaming the marker into place leaves the
    folder with only the marker's temporary file: the next build takes it as its own (it was
    refused as 'not made by storyboard', which a kill trial found), and clean removes it."""
    from storyboard.build.state.outputs import MARKER
    from storyboard.build.state.safe import sibling_tmp

    root = project({"film.yaml": FILM})
    folder = root / "build" / "film"
    folder.mkdir(parents=True)
    (folder / sibling_tmp(MARKER)).write_text('{"storyboard-bu', encoding="utf-8")
    result = build(root / "film.yaml", backend=PreviewBackend(scale=0.1))
    assert result.ok and result.film is not None and result.film.is_file()
    assert not (folder / sibling_tmp(MARKER)).exists()
    assert run_cli("clean", str(root / "film.yaml")).status == 0
    assert not folder.exists()
