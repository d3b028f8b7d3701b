"""Tests that kill mutants of ``safe.py`` and ``outputs.py`` the rest of the suite let live.

Each pins one promise: a file or folder outside the project stays byte for byte, a link
storyboard did not make is neither removed nor replaced, a write is whole or leaves nothing of
itself, and a state file exactly at the size cap is read.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from storyboard.build.state import safe
from storyboard.build.state.outputs import MARKER, BuildFolder
from storyboard.build.state.safe import MAX_STATE_BYTES, TooLarge, Tree, UnsafePath, sibling_tmp
from storyboard.core.errors import BuildError

OUTSIDE = b"the user's own bytes\n"


def _sandbox(tmp_path: Path) -> tuple[Path, Path, Tree]:
    """``outer/`` holding a user's file and the project ``outer/project/``."""
    outer = tmp_path / "outer"
    root = outer / "project"
    root.mkdir(parents=True)
    (outer / "keep.txt").write_bytes(OUTSIDE)
    return outer, root, Tree.at(root)


def test_the_folder_above_the_project_is_outside_it(tmp_path: Path) -> None:
    outer, root, tree = _sandbox(tmp_path)
    assert not tree.contains(outer)
    for act in (tree.rmtree, tree.rmdir, tree.names, tree.unlink):
        with pytest.raises(UnsafePath, match="is outside the project"):
            act(outer)
    assert (outer / "keep.txt").read_bytes() == OUTSIDE and root.is_dir()


def test_a_write_beside_itself_replaces_the_name_not_a_hard_linked_file(tmp_path: Path) -> None:
    outer, root, tree = _sandbox(tmp_path)
    lock = root / "film.lock"
    os.link(outer / "keep.txt", lock)  # the same file as the user's, under the lock's name
    tree.write_atomic(lock, b"{}\n")
    assert lock.read_bytes() == b"{}\n"
    assert (outer / "keep.txt").read_bytes() == OUTSIDE
    assert not (root / sibling_tmp("film.lock")).exists()


@pytest.mark.parametrize("staged", [False, True])
def test_a_failed_write_leaves_the_file_as_it_was_and_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, staged: bool
) -> None:
    _, root, tree = _sandbox(tmp_path)
    target = root / "build" / "film.json"
    staging = root / "build" / ".storyboard-tmp"
    tree.write_atomic(target, b"old\n", staging=staging if staged else None)

    def full(fd: int, data: bytes) -> None:
        os.write(fd, data[:1])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(safe, "write_all", full)
    with pytest.raises(BuildError, match="No space left on device"):
        tree.write_atomic(target, b"new and longer\n", staging=staging if staged else None)
    assert target.read_bytes() == b"old\n"
    left = sorted(p.name for p in target.parent.iterdir())
    assert left == ([".storyboard-tmp", "film.json"] if staged else ["film.json"])
    assert not staged or list(staging.iterdir()) == []


def test_a_rename_onto_a_link_is_refused_and_the_link_stays(tmp_path: Path) -> None:
    outer, root, tree = _sandbox(tmp_path)
    staging = root / "build" / ".storyboard-tmp"
    made = tree.make_temp_dir(staging, "cut-") / "film.mp4"
    made.write_bytes(b"film")
    target = root / "build" / "film.mp4"
    target.symlink_to(outer / "keep.txt")
    with pytest.raises(UnsafePath, match="is a symlink"):
        tree.replace(made, target)
    assert target.is_symlink() and os.readlink(target) == str(outer / "keep.txt")
    assert (outer / "keep.txt").read_bytes() == OUTSIDE and made.read_bytes() == b"film"


def test_unlink_refuses_a_link_and_leaves_it(tmp_path: Path) -> None:
    outer, root, tree = _sandbox(tmp_path)
    link = root / "film.mp4"
    link.symlink_to(outer / "keep.txt")
    with pytest.raises(UnsafePath, match="is a symlink"):
        tree.unlink(link)
    assert link.is_symlink() and (outer / "keep.txt").read_bytes() == OUTSIDE


def test_emptying_staging_removes_a_link_to_a_folder_not_what_it_points_to(
    tmp_path: Path,
) -> None:
    outer, root, tree = _sandbox(tmp_path)
    staging = root / "build" / ".storyboard-tmp"
    staging.mkdir(parents=True)
    (staging / "away").symlink_to(outer, target_is_directory=True)
    (staging / "leftover.tmp").write_bytes(b"x")
    assert tree.empty(staging) == 2
    assert list(staging.iterdir()) == []
    assert (outer / "keep.txt").read_bytes() == OUTSIDE and root.is_dir()


def test_a_state_file_of_exactly_the_cap_is_read(tmp_path: Path) -> None:
    _, root, tree = _sandbox(tmp_path)
    small = root / "five"
    small.write_bytes(b"12345")
    assert tree.read_bytes(small, 5) == b"12345"
    with pytest.raises(TooLarge):
        tree.read_bytes(small, 4)
    at_cap = root / "at-cap"
    with at_cap.open("wb") as handle:
        os.ftruncate(handle.fileno(), MAX_STATE_BYTES)  # sparse: zero bytes are UTF-8 text
    text = tree.read_text(at_cap)
    assert text is not None and len(text) == MAX_STATE_BYTES


# -- the build folder -------------------------------------------------------------------------

MINE = b"my own notes\n"


def _folder(tmp_path: Path) -> tuple[Path, Path, BuildFolder]:
    """``outer/project/`` with ``film.yaml`` and its build folder (not made yet)."""
    outer, root, tree = _sandbox(tmp_path)
    (root / "film.yaml").write_text("storyboard: 1\n")
    return outer, root, BuildFolder(tree, root / "build" / "film", root / "film.yaml")


def test_remove_leaves_a_file_storyboard_did_not_write(tmp_path: Path) -> None:
    _, root, outputs = _folder(tmp_path)
    outputs.write_text("preview/film.srt", "ours")
    mine = root / "build" / "film" / "preview" / "notes.txt"
    mine.write_bytes(MINE)
    assert outputs.remove("preview/notes.txt") is False
    assert mine.read_bytes() == MINE
    assert outputs.remove("preview/film.srt") is True


def test_clean_leaves_a_build_folder_the_user_made(tmp_path: Path) -> None:
    _, root, outputs = _folder(tmp_path)
    folder = root / "build" / "film"
    folder.mkdir(parents=True)  # empty, the user's: adopted, not made
    outputs.write_text("preview/film.srt", "ours")
    removal = BuildFolder(outputs.tree, folder, root / "film.yaml").clean()
    assert removal.folder_removed is False and removal.kept == []
    assert folder.is_dir() and list(folder.iterdir()) == []


def test_clean_leaves_a_subfolder_the_user_made_that_storyboard_wrote_into(
    tmp_path: Path,
) -> None:
    _, root, outputs = _folder(tmp_path)
    outputs.open()
    users = root / "build" / "film" / "exports"
    users.mkdir()  # made by hand after storyboard made the folder
    outputs.write_text("exports/film.otio", "ours")
    removal = BuildFolder(outputs.tree, outputs.path, root / "film.yaml").clean()
    assert not (users / "film.otio").exists()
    assert users.is_dir() and removal.folder_removed is False


def test_a_linked_subfolder_of_a_marked_folder_is_refused_before_use(tmp_path: Path) -> None:
    outer, root, outputs = _folder(tmp_path)
    outputs.write_text("preview/takes/a.mp4", "ours")
    (outer / "takes").mkdir()
    (outer / "takes" / "a.mp4").write_bytes(OUTSIDE)
    preview = outputs.path / "preview"
    (preview / "takes" / "a.mp4").unlink()
    (preview / "takes").rmdir()
    preview.rmdir()
    preview.symlink_to(outer, target_is_directory=True)
    again = BuildFolder(outputs.tree, outputs.path, root / "film.yaml")
    with pytest.raises(UnsafePath, match="is a symlink") as caught:
        again.inspect()
    assert "preview" in str(caught.value)
    assert (outer / "takes" / "a.mp4").read_bytes() == OUTSIDE


def test_clear_staging_leaves_an_unmarked_folder_alone(tmp_path: Path) -> None:
    _, _, outputs = _folder(tmp_path)
    staging = outputs.path / ".storyboard-tmp"
    staging.mkdir(parents=True)
    (staging / "mine.txt").write_bytes(MINE)
    assert outputs.clear_staging() == 0
    assert (staging / "mine.txt").read_bytes() == MINE
    assert not (outputs.path / MARKER).exists()


def _older(root: Path, record: str) -> Path:
    folder = root / "build" / "film"
    folder.mkdir(parents=True)
    (folder / "build.json").write_text(record)
    (folder / "film.mp4").write_bytes(b"film")
    return folder


def test_adoption_lists_no_link_and_clean_leaves_it(tmp_path: Path) -> None:
    outer, root, outputs = _folder(tmp_path)
    folder = _older(root, json.dumps({"storyboard": "film.yaml", "name": "film"}))
    (folder / "link.mp4").symlink_to(outer / "keep.txt")
    assert outputs.inspect() == "legacy"
    assert outputs.open().files == {"build.json", "film.mp4"}
    removal = BuildFolder(outputs.tree, folder, root / "film.yaml").clean()
    assert removal.kept == [folder / "link.mp4"] and removal.folder_removed is False
    assert (folder / "link.mp4").is_symlink()
    assert (outer / "keep.txt").read_bytes() == OUTSIDE


def test_a_record_of_another_film_is_not_adopted(tmp_path: Path) -> None:
    _, root, outputs = _folder(tmp_path)
    folder = _older(root, json.dumps({"storyboard": "film.yaml", "name": "other"}))
    with pytest.raises(UnsafePath, match="was not made by storyboard"):
        outputs.open()
    assert sorted(p.name for p in folder.iterdir()) == ["build.json", "film.mp4"]


def test_refuse_foreign_names_a_file_storyboard_did_not_write_and_writes_nothing(
    tmp_path: Path,
) -> None:
    _, _, outputs = _folder(tmp_path)
    outputs.write_text("preview/film.mp4", "ours")
    mine = outputs.path / "preview" / "film.srt"
    mine.write_bytes(MINE)
    marker = (outputs.path / MARKER).read_bytes()
    outputs.refuse_foreign(["preview/film.mp4"])  # listed: no objection
    with pytest.raises(UnsafePath, match="was not written by storyboard") as caught:
        outputs.refuse_foreign(["preview/film.mp4", "preview/film.srt"])
    assert "film.srt" in str(caught.value)
    assert mine.read_bytes() == MINE and (outputs.path / MARKER).read_bytes() == marker


def test_a_folder_holding_the_storyboard_is_never_adopted(tmp_path: Path) -> None:
    _, root, _ = _folder(tmp_path)
    scenes = root / "scenes"
    scenes.mkdir()
    story = b"storyboard: 1\ntitle: mine\n"
    (scenes / "film.yaml").write_bytes(story)
    (scenes / "build.json").write_text(json.dumps({"storyboard": "film.yaml", "name": "film"}))
    outputs = BuildFolder(Tree.at(root), scenes, scenes / "film.yaml")
    with pytest.raises(UnsafePath, match=r"holds the storyboard film\.yaml"):
        outputs.open()
    assert (scenes / "film.yaml").read_bytes() == story
    assert sorted(p.name for p in scenes.iterdir()) == ["build.json", "film.yaml"]
