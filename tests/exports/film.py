"""A tiny built film shared by the export and report tests: built once per test module."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from storyboard.backends.preview import PreviewBackend
from storyboard.build.pipeline import BuildResult, build
from storyboard.exports.record import FilmRecord, record_from_build, write_record
from tests.conftest import tiny_jpeg

FILM = """\
storyboard: 1
title: Export test
defaults: {sound: true}
shots:
  - sequence: open
    shots:
      - {id: a, duration: 2, prompt: first shot}
      - {id: b, duration: 2, prompt: second shot}
  - {id: c, start: b.last, duration: 3, prompt: third shot}
  - {id: d, start: still.jpg, duration: 3, prompt: fourth shot, sound: false}
  - {id: e, edit: c, prompt: restyle the third}
"""

SHOTS = ("a", "b", "c", "d", "e")


@dataclass
class Built:
    """A built project: the storyboard, the build's result and its record (written)."""

    storyboard: Path
    result: BuildResult
    record: FilmRecord

    @property
    def build_dir(self) -> Path:
        """Where the preview backend built the film: its folder of ``build/film/``."""
        return self.storyboard.parent / "build" / "film" / "preview"


def make_film(root: Path) -> Built:
    """Write the film into ``root`` (a fresh project), build it with previews, record it."""
    root.mkdir(parents=True, exist_ok=True)
    (root / ".storyboard").mkdir(exist_ok=True)
    (root / "film.yaml").write_text(FILM, encoding="utf-8")
    # red, so that d's frames differ from every card (the cards are purple and blue)
    (root / "still.jpg").write_bytes(tiny_jpeg(640, 360, color=(200, 40, 40)))
    result = build(root / "film.yaml", backend=PreviewBackend(scale=1 / 12))
    assert result.ok, result.to_json()
    record = record_from_build(result)
    write_record(record)
    return Built(root / "film.yaml", result, record)
