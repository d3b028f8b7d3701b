"""``--wait S`` of build, clean, doctor and push: a number of seconds, 0 or more. ``nan``
was taken, and waited for ever while another build held the project; a negative number did
not wait. Both are refused before anything is done (exit 2)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from storyboard.build.state.workspace import ProjectLock, Workspace
from storyboard.core.project import find_project_root

COMMANDS = {
    "build": ["build", "film.yaml", "--backend", "preview"],
    "clean": ["clean", "film.yaml"],
    "doctor": ["doctor", "film.yaml", "--fix"],
    "push": ["push", "film.yaml"],
}


@pytest.fixture
def held(tmp_path: Path) -> Path:
    """A project whose lock another build holds."""
    (tmp_path / ".storyboard").mkdir()
    film = tmp_path / "film.yaml"
    film.write_text("storyboard: 1\ntitle: Held\nshots:\n  - {id: a, duration: 3, prompt: gulls}\n")
    return tmp_path


def storyboard(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # a process of its own: a wait let through would never end
        [sys.executable, "-m", "storyboard", *args], cwd=folder, capture_output=True,
        text=True, timeout=60, env={**os.environ, "RUNWARE_API_KEY": ""},
    )  # fmt: skip


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("wait", ["nan", "-1", "soon"])
def test_a_wait_that_is_not_0_or_more_seconds_is_refused(
    held: Path, command: str, wait: str
) -> None:
    film = held / "film.yaml"
    workspace = Workspace.for_storyboard(film, find_project_root(film), None)
    with ProjectLock(workspace):
        done = storyboard(held, *COMMANDS[command], "--wait", wait)
    assert done.returncode == 2, done.stderr
    assert "argument --wait: " in done.stderr
    assert ("give 0 or more seconds" if wait != "soon" else "is not a number of seconds") in (
        done.stderr
    )
    assert not (held / "build").exists()


def test_a_wait_of_seconds_waits_and_says_why_it_stopped(held: Path) -> None:
    film = held / "film.yaml"
    workspace = Workspace.for_storyboard(film, find_project_root(film), None)
    with ProjectLock(workspace):
        done = storyboard(held, "clean", "film.yaml", "--wait", "0.3")
    assert done.returncode == 1, done.stderr
    assert "another build of this project is running" in done.stderr
