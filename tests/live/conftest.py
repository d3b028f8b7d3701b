"""A small built film with variations, for the review and watch tests."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from storyboard.backends.preview import PreviewBackend
from storyboard.build.pipeline import build
from storyboard.live import review as reviewing
from storyboard.live.server import LocalServer, new_token

FILM = """\
# The review test film.
storyboard: 1
title: Review test   # shown in the page's title

shots:
  # the opening: four tries to choose from
  - id: a
    duration: 3
    variations: 4   # four to choose from
    prompt: a lighthouse at dawn   # the first image
  # b starts where a ends
  - {id: b, start: a.last, duration: 3, prompt: the keeper climbs the stairs}  # one take
  - sequence: storm   # two shots, one request
    variations: 2
    shots:
      - {id: c, duration: 3, prompt: waves break on the rocks}
      - {id: d, duration: 3, prompt: the lamp goes out}
"""


@pytest.fixture(scope="session")
def built_film(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The film, built once with previews (160x90): its project folder (do not change it)."""
    root = tmp_path_factory.mktemp("review") / "project"
    (root / ".storyboard").mkdir(parents=True)
    (root / "film.yaml").write_text(FILM, encoding="utf-8")
    result = build(root / "film.yaml", backend=PreviewBackend(scale=1 / 12))
    assert result.ok, result.to_json()
    return root


@pytest.fixture
def film(built_film: Path, tmp_path: Path) -> Path:
    """A private copy of the built project (its storyboard may be changed): its folder."""
    copy = tmp_path / "project"
    shutil.copytree(built_film, copy)
    return copy


@pytest.fixture
def review(film: Path) -> reviewing.Review:
    """A review of the copy's preview build, as `storyboard review` makes it."""
    return reviewing.Review(
        film / "film.yaml", film / "build" / "film" / "preview", backend="preview",
        preview_scale=1 / 12,
    )  # fmt: skip


@pytest.fixture
def reviewed(review: reviewing.Review) -> Iterator[LocalServer]:
    """That review served on loopback, at an address with a token."""
    with LocalServer(reviewing.make_app(review), token=new_token()) as server:
        yield server
