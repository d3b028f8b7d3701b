"""``storyboard clean --previews``: the preview entries and hand-off frames storyboard made go,
and nothing else in ``.storyboard/`` (a file of the user's there stays, reported as kept)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from tests.conftest import CliResult

Project = Callable[[dict[str, str | bytes]], Path]

# b starts on a's last frame: the build extracts it into .storyboard/frames/
FILM = """\
storyboard: 1
title: Clean
shots:
  - {id: a, duration: 3, prompt: first shot}
  - {id: b, start: a.last, duration: 3, prompt: second shot}
"""
KEPT = "storyboard did not write it"


BUILD = ("build", "film.yaml", "--backend", "preview", "--preview-scale", "0.1")


def _built(project: Project, run_cli: Callable[..., CliResult]) -> Path:
    root = project({"film.yaml": FILM})
    built = run_cli(*BUILD, cwd=root)
    assert built.status == 0, built.err
    return root


def _entries(namespace: Path) -> list[Path]:
    return sorted(p.parent for p in namespace.glob("*/*/entry.json"))


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


def test_clean_previews_keeps_the_users_files_in_frames_and_the_preview_cache(
    project: Project, run_cli: Callable[..., CliResult]
) -> None:
    root = _built(project, run_cli)
    state = root / ".storyboard"
    namespace, frames = state / "cache" / "preview@0.1", state / "frames"
    entries = _entries(namespace)
    made_frames = sorted(frames.iterdir())
    assert len(entries) == 2 and [p.suffix for p in made_frames] == [".png"]
    (frames / "notes.txt").write_text("my notes")
    (namespace / "mine.txt").write_text("mine")
    (entries[0] / "mine.txt").write_text("mine too, beside an entry's files")
    (frames / "refs").mkdir()
    (frames / "refs" / "look.png").write_bytes(b"my reference")

    result = run_cli("clean", "film.yaml", "--previews", cwd=root)

    assert result.status == 0, result.err
    for kept in (
        ".storyboard/frames/notes.txt",
        ".storyboard/frames/refs",
        ".storyboard/cache/preview@0.1/mine.txt",
        f".storyboard/cache/preview@0.1/{entries[0].parent.name}/{entries[0].name}/mine.txt",
    ):
        assert f"kept {kept}: {KEPT}" in result.err
    assert (frames / "notes.txt").read_text() == "my notes"
    assert (frames / "refs" / "look.png").read_bytes() == b"my reference"
    assert (namespace / "mine.txt").read_text() == "mine"
    assert (entries[0] / "mine.txt").read_text() == "mine too, beside an entry's files"
    # storyboard's own are gone: the frames, the entries, the folders they leave empty
    assert not any(p.exists() for p in made_frames)
    assert _entries(namespace) == []
    assert sorted(p.name for p in entries[0].iterdir()) == ["mine.txt"]
    assert not entries[1].parent.exists()
    assert f"removed .storyboard/cache/preview@0.1/{entries[1].parent.name}" in result.err
    assert not (root / "build" / "film").exists()
    # the next build makes them again, the user's files still in place
    assert (
        run_cli(
            "build", "film.yaml", "--backend", "preview", "--preview-scale", "0.1", cwd=root
        ).status
        == 0
    )
    assert len(_entries(namespace)) == 2 and (frames / "notes.txt").is_file()


def test_a_dry_run_lists_the_same_kept_files_and_removes_nothing(
    project: Project, run_cli: Callable[..., CliResult]
) -> None:
    root = _built(project, run_cli)
    state = root / ".storyboard"
    (state / "frames" / "notes.txt").write_text("my notes")
    (state / "cache" / "preview@0.1" / "mine.txt").write_text("mine")
    before = _files(root)
    dry = run_cli("clean", "film.yaml", "--previews", "--dry-run", cwd=root)
    assert dry.status == 0, dry.err
    assert f"kept .storyboard/frames/notes.txt: {KEPT}" in dry.err
    assert f"kept .storyboard/cache/preview@0.1/mine.txt: {KEPT}" in dry.err
    assert "would remove .storyboard/cache/preview@0.1/" in dry.err
    assert "would remove .storyboard/frames/" in dry.err  # its frames, not the folder
    assert "would remove .storyboard/frames\n" not in dry.err
    assert _files(root) == before


def test_with_nothing_of_the_users_the_folders_go_whole(
    project: Project, run_cli: Callable[..., CliResult]
) -> None:
    root = _built(project, run_cli)
    state = root / ".storyboard"
    result = run_cli("clean", "film.yaml", "--previews", cwd=root)
    assert result.status == 0, result.err
    assert "removed .storyboard/cache/preview@0.1\n" in result.err
    assert "removed .storyboard/frames\n" in result.err
    assert "kept" not in result.err
    assert not (state / "cache" / "preview@0.1").exists() and not (state / "frames").exists()


def test_an_entry_whose_record_is_damaged_loses_only_its_results(
    project: Project, run_cli: Callable[..., CliResult]
) -> None:
    root = _built(project, run_cli)
    entry = _entries(root / ".storyboard" / "cache" / "preview@0.1")[0]
    (entry / "entry.json").write_text("{not json")
    (entry / "cut.txt").write_text("mine")
    result = run_cli("clean", "film.yaml", "--previews", cwd=root)
    assert result.status == 0, result.err
    assert sorted(p.name for p in entry.iterdir()) == ["cut.txt"]


def test_a_file_an_entry_record_does_not_list_stays(
    project: Project, run_cli: Callable[..., CliResult]
) -> None:
    root = _built(project, run_cli)
    entry = _entries(root / ".storyboard" / "cache" / "preview@0.1")[0]
    listed = [r["file"] for r in json.loads((entry / "entry.json").read_text())["results"]]
    assert listed == ["0.mp4"]
    (entry / "7.mp4").write_bytes(b"my video")
    result = run_cli("clean", "film.yaml", "--previews", cwd=root)
    assert result.status == 0, result.err
    assert sorted(p.name for p in entry.iterdir()) == ["7.mp4"]


def test_a_symlink_in_frames_is_kept_and_not_followed(
    project: Project, run_cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    root = _built(project, run_cli)
    frames = root / ".storyboard" / "frames"
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious.png").write_bytes(b"precious")
    made = next(frames.iterdir())
    named_as_a_frame = frames / ("0" * 20 + "-p-last.png")
    (frames / "elsewhere").symlink_to(outside)
    named_as_a_frame.symlink_to(outside / "precious.png")
    result = run_cli("clean", "film.yaml", "--previews", cwd=root)
    assert result.status == 0, result.err
    assert f"kept .storyboard/frames/elsewhere: {KEPT}" in result.err
    assert f"kept .storyboard/frames/{'0' * 20}-p-last.png: {KEPT}" in result.err
    assert not made.exists()
    assert (frames / "elsewhere").is_symlink() and (
        frames / ("0" * 20 + "-p-last.png")
    ).is_symlink()
    assert (outside / "precious.png").read_bytes() == b"precious"


def test_a_symlink_in_place_of_the_frames_folder_is_refused_before_anything_goes(
    project: Project, run_cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    root = _built(project, run_cli)
    frames = root / ".storyboard" / "frames"
    outside = tmp_path / "outside"
    frames.rename(outside)
    frames.symlink_to(outside)
    before = _files(root)
    result = run_cli("clean", "film.yaml", "--previews", cwd=root)
    assert (
        result.status == 2 and "is a symlink" in result.err and "nothing was removed" in result.err
    )
    assert _files(root) == before and (root / "build" / "film").is_dir()
    assert [p.suffix for p in outside.iterdir()] == [".png"]
