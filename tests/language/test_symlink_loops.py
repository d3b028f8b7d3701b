"""A symlink loop where a storyboard or an included file should be is a missing file, said
with its place (exit 2): ``Path.resolve()`` raised ``RuntimeError`` there (Python 3.11), an
internal error (exit 3) in every command that reads a storyboard."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import CliResult

Project = Callable[[dict[str, str | bytes]], Path]
Run = Callable[..., CliResult]

INCLUDING = """\
storyboard: 1
title: T
include: [loop.yaml]
shots:
  - {id: a, duration: 5, prompt: hi}
"""


@pytest.mark.parametrize("command", ["check", "fmt", "graph", "compile", "plan", "deps"])
def test_a_storyboard_that_is_a_symlink_loop_is_an_input_error(
    project: Project, run_cli: Run, command: str
) -> None:
    root = project({})
    (root / "loop.yaml").symlink_to("loop.yaml")
    result = run_cli(command, "loop.yaml", cwd=root)
    assert result.status == 2, result.err
    assert "Traceback" not in result.err
    assert "loop.yaml:1:1: error: cannot read 'loop.yaml': Too many levels of symbolic links" in (
        result.err
    )
    assert sorted(p.name for p in root.iterdir()) == [".storyboard", "loop.yaml"]


@pytest.mark.parametrize("command", ["check", "graph", "compile"])
def test_an_include_that_is_a_symlink_loop_is_an_input_error(
    project: Project, run_cli: Run, command: str
) -> None:
    root = project({"film.yaml": INCLUDING})
    (root / "loop.yaml").symlink_to("loop.yaml")
    result = run_cli(command, "film.yaml", cwd=root)
    assert result.status == 2, result.err
    assert "Traceback" not in result.err
    assert "film.yaml:3:11: error: included file 'loop.yaml'" in result.err


def test_fmt_of_a_file_including_a_symlink_loop_formats_the_file(
    project: Project, run_cli: Run
) -> None:
    """fmt formats each file it can read; an include it cannot find is check's to report."""
    root = project({"film.yaml": INCLUDING})
    (root / "loop.yaml").symlink_to("loop.yaml")
    result = run_cli("fmt", "--check", "film.yaml", cwd=root)
    # exit 1 here is "would reformat", not an error: say which, and that nothing was written
    assert result.status == 1, result.err
    assert "Traceback" not in result.err and "error" not in result.err
    assert "would reformat film.yaml" in result.err
    assert "1 file would be reformatted, 0 files already formatted" in result.err
    assert (root / "film.yaml").read_text() == INCLUDING
    result = run_cli("fmt", "film.yaml", cwd=root)
    assert result.status == 0, result.err
    assert "reformatted film.yaml" in result.err and "error" not in result.err
    assert (root / "film.yaml").read_text() == INCLUDING.replace(
        "title: T\n", "title: T\n\n"
    ).replace("include: [loop.yaml]\n", "include: [loop.yaml]\n\n")
    assert (root / "loop.yaml").is_symlink() and os.readlink(root / "loop.yaml") == "loop.yaml"
    assert sorted(p.name for p in root.iterdir()) == [".storyboard", "film.yaml", "loop.yaml"]
