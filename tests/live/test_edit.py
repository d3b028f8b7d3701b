"""One key of a storyboard changed as one line, everything else byte for byte; a file saved
meanwhile is never written over."""

from __future__ import annotations

from pathlib import Path

import pytest

from storyboard.live.edit import (
    EditRefused,
    FileChanged,
    digest,
    find_take,
    read_snapshot,
    set_key,
    write_if_unchanged,
)

TEXT = """\
storyboard: 1  # version
shots:
  # one shot, a block mapping
  - id: a   # the hero
    # a comment above variations
    variations: 3
    prompt: >-
      folded
      prompt
  - {id: b, prompt: flow, variations: 2}  # flow
  - id: c
    pick: 1    # chosen by hand
    variations: 2
    prompt: |
      literal
  - sequence: s
    shots:
      - {id: d, prompt: x}
      - {id: e, prompt: y}
"""


@pytest.mark.parametrize(
    ("take", "key", "value", "before", "after"),
    [
        ("a", "pick", 2, "    variations: 3\n", "    variations: 3\n    pick: 2\n"),
        ("a", "keep", True, "    variations: 3\n", "    variations: 3\n    keep: true\n"),
        ("b", "pick", 2, "variations: 2}", "variations: 2, pick: 2}"),
        ("c", "pick", 2, "    pick: 1    # chosen by hand", "    pick: 2    # chosen by hand"),
        ("s", "retake", 1, "  - sequence: s\n", "  - sequence: s\n    retake: 1\n"),
        ("e", "keep", False, "  - sequence: s\n", "  - sequence: s\n    keep: false\n"),
    ],
)
def test_one_line_changes_and_no_other(
    take: str, key: str, value: bool | int, before: str, after: str
) -> None:
    place = find_take(TEXT, take)
    assert set_key(TEXT, place.path, key, value) == TEXT.replace(before, after, 1)


def test_the_place_says_what_the_storyboard_holds_now() -> None:
    assert find_take(TEXT, "c").values == {"pick": 1, "keep": None, "retake": None}
    assert find_take(TEXT, "c").variations == 2 and find_take(TEXT, "c").kind == "shot"
    assert find_take(TEXT, "s.2").path == ("shots", 3) and find_take(TEXT, "d").kind == "sequence"
    with pytest.raises(EditRefused, match="no shot or sequence of the storyboard makes"):
        find_take(TEXT, "zz")


def test_a_file_without_a_final_newline_gets_its_line() -> None:
    text = "storyboard: 1\nshots:\n  - id: a\n    variations: 2"
    place = find_take(text, "a")
    assert set_key(text, place.path, "pick", 2) == text + "\n    pick: 2"


def test_a_change_that_would_reach_further_is_refused() -> None:
    shared = """\
base: &base
  variations: 2
shots:
  - &a {id: a, variations: 2, prompt: x}
  - id: b
    pick: "2"
    prompt: y
"""
    with pytest.raises(EditRefused, match="not written as a plain value"):
        set_key(shared, ("shots", 1), "pick", 1)
    aliased = "shots:\n  - &a {id: a, variations: 2, prompt: x}\nvars:\n  again: *a\n"
    with pytest.raises(EditRefused, match="would change more of the storyboard than that value"):
        set_key(aliased, ("shots", 0), "pick", 2)
    with pytest.raises(EditRefused, match="not valid YAML"):
        find_take("shots: [", "a")


def test_a_file_saved_meanwhile_is_never_written_over(tmp_path: Path) -> None:
    path = tmp_path / "film.yaml"
    path.write_text(TEXT)
    path.chmod(0o640)
    seen = read_snapshot(path)
    assert seen.version == digest(TEXT.encode())
    path.write_text(TEXT + "# saved in the editor\n")
    with pytest.raises(FileChanged):
        write_if_unchanged(path, seen.version, "replaced")
    assert path.read_text() == TEXT + "# saved in the editor\n"
    assert [p.name for p in tmp_path.iterdir()] == ["film.yaml"]  # no temporary file left
    now = read_snapshot(path)
    write_if_unchanged(path, now.version, "replaced")
    assert path.read_text() == "replaced" and path.stat().st_mode & 0o777 == 0o640


def test_a_storyboard_that_links_out_of_the_project_is_never_written(tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere.yaml"
    outside.write_text(TEXT)
    root = tmp_path / "project"
    (root / ".storyboard").mkdir(parents=True)
    (root / "film.yaml").symlink_to(outside)
    seen = read_snapshot(root / "film.yaml")
    with pytest.raises(EditRefused, match=r"symlink to .*outside the project"):
        write_if_unchanged(root / "film.yaml", seen.version, "replaced")
    assert outside.read_text() == TEXT
    assert sorted(p.name for p in tmp_path.iterdir()) == ["elsewhere.yaml", "project"]
