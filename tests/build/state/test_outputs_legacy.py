"""A build folder an older storyboard made is adopted once, then checked as any other.

At adoption every file the older storyboard left is listed as storyboard's; from then on a
file put there by hand at a name a build writes is refused (exit 1), never overwritten or
removed. A marker written as ``"adopted": "legacy"`` before this exempts nothing either.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

from storyboard.build.state.outputs import MARKER, STAGING
from tests.conftest import CliResult

Project = Callable[[dict[str, str | bytes]], Path]

ONE = "storyboard: 1\ntitle: t\nshots:\n  - {id: wide, duration: 3, prompt: a harbour}\n"
BUILD = ("build", "film.yaml", "--backend", "preview", "--preview-scale", "0.1")
REFUSED = "is in the build folder but was not written by storyboard"
MINE = b"1\n00:00:00,000 --> 00:00:01,000\nmy own subtitles\n"


def _legacy(root: Path, run_cli: Callable[..., CliResult]) -> Path:
    """A build folder as a release before markers and backend folders left it: every file at
    its top (``build.json`` naming the storyboard), no marker."""
    assert run_cli(*BUILD, cwd=root).status == 0
    folder = root / "build" / "film"
    for path in sorted((folder / "preview").rglob("*"), reverse=True):
        if path.is_file():
            top = folder / path.relative_to(folder / "preview")
            top.parent.mkdir(parents=True, exist_ok=True)
            path.rename(top)
    shutil.rmtree(folder / "preview")
    (folder / MARKER).unlink()
    shutil.rmtree(folder / STAGING, ignore_errors=True)
    return folder


def _marker(folder: Path) -> dict[str, object]:
    data: dict[str, object] = json.loads((folder / MARKER).read_text())
    return data


def test_a_file_put_in_an_adopted_folder_after_adoption_is_refused_not_overwritten(
    project: Project, run_cli: Callable[..., CliResult]
) -> None:
    root = project({"film.yaml": ONE})
    folder = _legacy(root, run_cli)
    adopting = run_cli(*BUILD, cwd=root)
    assert adopting.status == 0, adopting.err
    assert _marker(folder)["adopted"] == "legacy"
    srt = folder / "preview" / "film.srt"  # a name every finish lists (and removes: no dialogue)
    srt.write_bytes(MINE)
    again = run_cli(*BUILD, cwd=root)
    assert again.status == 1 and REFUSED in again.err and "film.srt" in again.err, again.err
    assert srt.read_bytes() == MINE
    assert "preview/film.srt" not in _marker(folder)["files"]  # type: ignore[operator]


def test_the_files_present_at_adoption_are_listed_replaced_and_cleaned(
    project: Project, run_cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    root = project({"film.yaml": ONE})
    folder = _legacy(root, run_cli)
    older = sorted(
        str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()
    )  # the older storyboard's: film.mp4, build.json, takes/wide.mp4...
    assert "film.mp4" in older and "build.json" in older
    (folder / "preview").mkdir()  # an older storyboard's file where a build now writes
    (folder / "preview" / "film.otio").write_text("an older storyboard's timeline")
    outside = tmp_path / "outside.txt"
    outside.write_text("not the build's")
    (folder / "link.txt").symlink_to(outside)  # never listed, never followed

    adopting = run_cli(*BUILD, cwd=root)
    assert adopting.status == 0, adopting.err
    marker = _marker(folder)
    files = set(marker["files"])  # type: ignore[call-overload]
    assert set(older) <= files and "preview/film.otio" in files and "link.txt" not in files
    assert {"takes", "preview"} <= set(marker["folders"])  # type: ignore[call-overload]
    assert MARKER not in files and not any(f.startswith(STAGING) for f in files)
    otio = (folder / "preview" / "film.otio").read_text()
    assert otio != "an older storyboard's timeline" and "OTIO_SCHEMA" in otio  # replaced
    assert run_cli(*BUILD, cwd=root).status == 0  # the folder is storyboard's own now

    cleaned = run_cli("clean", "film.yaml", cwd=root)
    assert cleaned.status == 0, cleaned.err
    left = sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))
    assert left == ["link.txt"]  # exactly what was listed went; the link stays, unfollowed
    assert (folder / "link.txt").is_symlink() and outside.read_text() == "not the build's"


def test_a_marker_adopted_as_legacy_before_exempts_no_unlisted_file(
    project: Project, run_cli: Callable[..., CliResult]
) -> None:
    """A marker written by an adoption before every file at adoption was listed: an unlisted
    file at a name the build writes is refused as anywhere else."""
    root = project({"film.yaml": ONE})
    assert run_cli(*BUILD, cwd=root).status == 0
    folder = root / "build" / "film"
    marker = _marker(folder)
    assert "preview/film.srt" not in marker["files"]  # type: ignore[operator]
    marker["adopted"] = "legacy"
    (folder / MARKER).write_text(json.dumps(marker))
    srt = folder / "preview" / "film.srt"
    srt.write_bytes(MINE)
    again = run_cli(*BUILD, cwd=root)
    assert again.status == 1 and REFUSED in again.err and "film.srt" in again.err, again.err
    assert srt.read_bytes() == MINE
    assert _marker(folder)["adopted"] == "legacy"  # the history stays recorded
