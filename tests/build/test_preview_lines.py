"""The preview draws each shot's lines at their subtitle times (issue 16, section 6), and keys
its takes with the lines' ``at`` times: moving a line makes a new preview, never a new paid
take."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import av
import numpy as np

from storyboard.backends.preview import PreviewBackend
from storyboard.build.pipeline import build, prepare

Project = Callable[[dict[str, str | bytes]], Path]

FILM = """\
storyboard: 1
title: Lines
defaults: {sound: true}
shots:
  - id: gallery
    duration: 3
    prompt: The keeper lifts the lantern.
    dialogue:
      - {Keeper: "Hold the light!", at: 1}
"""


def dark_share(frame: np.ndarray) -> float:
    """The share of near-black pixels in the lower middle of a frame (where subtitles go)."""
    height, width, _ = frame.shape
    band = frame[height // 2 : height * 9 // 10, width // 4 : width * 3 // 4]
    return float((band.max(axis=2) < 30).mean())


def test_a_preview_take_shows_its_line_from_its_time(project: Project) -> None:
    film = project({"film.yaml": FILM}) / "film.yaml"
    result = build(film, backend=PreviewBackend(scale=0.25))
    assert result.ok
    take = result.prepared.workspace.takes_dir / "gallery.mp4"
    with av.open(str(take)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(frames) == 72
    before, during = dark_share(frames[12]), dark_share(frames[48])  # 0.5 s and 2 s
    assert before < 0.01 < during


def test_moving_a_line_makes_a_new_preview_but_no_new_paid_take(project: Project) -> None:
    root = project({"film.yaml": FILM})
    film = root / "film.yaml"

    def keys(backend: str) -> str:
        return prepare(film, backend_name=backend).keys["gallery"]

    before = keys("preview@0.25"), keys("runware")
    film.write_text(FILM.replace("at: 1}", "at: 2}"))
    after = keys("preview@0.25"), keys("runware")
    assert after[0] != before[0]
    assert after[1] == before[1]
    # a storyboard without 'at' keys its previews as any other take
    film.write_text(FILM.replace(", at: 1}", "}"))
    assert keys("preview@0.25") == keys("runware@127.0.0.1:8787")
