"""Fixtures of the state tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from storyboard.build.state.workspace import Workspace


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    """The workspace of a one-line storyboard in a project of its own."""
    (tmp_path / ".storyboard").mkdir()
    (tmp_path / "film.yaml").write_text("storyboard: 1\n")
    return Workspace.for_storyboard(tmp_path / "film.yaml", tmp_path)
