"""A symlink loop where a storyboard or an included file should be is a missing file, said
with its place (exit 2): ``Path.resolve()`` raised ``RuntimeError`` there (Python 3.11), an
internal error (exit 3) in every command that reads a storyboard."""

from __future__ import annotations

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
    assert result.status in (0, 1) and "Traceback" not in result.err
