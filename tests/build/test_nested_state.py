"""Build state nested too deeply for ``json.loads`` (thousands of ``[``: nothing storyboard
writes) is damaged state, read as such, never a crash: the no-op note of a build folder
(``.build.json``) and the cut's memory of the last finish (``.cut.json``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from storyboard.backends.preview import PreviewBackend
from storyboard.build.pipeline import build
from storyboard.compiler.plan import probe_duration

Project = Callable[[dict[str, str | bytes]], Path]

FILM = """\
storyboard: 1
title: Nested
shots:
  - {id: a, duration: 3, prompt: a lighthouse at dawn}
  - {id: b, duration: 3, prompt: the keeper climbs the stairs}
"""


@pytest.mark.parametrize("name", [".build.json", ".cut.json"])
def test_a_state_file_nested_too_deeply_is_built_over_not_a_crash(
    project: Project, name: str
) -> None:
    root = project({"film.yaml": FILM})
    film = root / "film.yaml"
    first = build(film, backend=PreviewBackend(scale=1 / 12))
    assert first.ok
    assert build(film, backend=PreviewBackend(scale=1 / 12)).ok  # a no-op: it leaves the note
    folder = root / "build" / "film" / "preview"
    state = folder / name
    assert state.exists()
    state.write_bytes(b"[" * 100_000)

    again = build(film, backend=PreviewBackend(scale=1 / 12))

    assert again.ok, [o.message for o in again.failed]
    assert all(o.status == "cached" for o in again.outcomes.values())  # nothing made again
    cut = next(folder.glob("*.mp4"))
    assert probe_duration(cut) == pytest.approx(6.0, abs=0.1)
    assert not state.exists() or state.read_bytes() != b"[" * 100_000  # written anew
