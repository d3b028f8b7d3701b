"""A field the service refused, mapped back to the storyboard value it was compiled from
(issue 13, item 6): the shot, and the value's ``FILE:LINE:COL``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from storyboard import api
from storyboard.compiler.compile import Compiled
from storyboard.compiler.origins import advice, origin, parse_field
from tests.conftest import tiny_jpeg

Project = Callable[[dict[str, str | bytes]], Path]

FILM = """\
storyboard: 1
title: Origins
defaults:
  references: [ref.jpg]
elements:
  hero: {frontal_image: hero.jpg, images: [side.jpg], description: a keeper}
shots:
  - {id: open, start: a.jpg, end: b.jpg, duration: 5, prompt: '<<<hero>>> at the lamp'}
  - sequence: storm
    continuity: multishot
    shots:
      - {id: wave, duration: 3, prompt: a wave rises}
      - {id: crash, duration: 3, prompt: the wave crashes}
  - {id: own, duration: 4, references: [a.jpg, b.jpg], prompt: with its own references}
  - {id: redo, edit: own, prompt: restyle it}
"""


@pytest.fixture
def compiled(project: Project) -> Compiled:
    images = {name: tiny_jpeg(640, 360) for name in ("a.jpg", "b.jpg", "ref.jpg", "hero.jpg")}
    root = project({"film.yaml": FILM, "side.jpg": tiny_jpeg(640, 360), **images})
    return api.compile_storyboard(root / "film.yaml")


def at(value: str) -> tuple[int, int]:
    """Line and column of ``value`` in the film."""
    for number, line in enumerate(FILM.splitlines(), start=1):
        if value in line:
            return number, line.index(value) + 1
    raise AssertionError(value)


@pytest.mark.parametrize(
    ("take", "field", "what", "value"),
    [
        ("open", "positivePrompt", "the prompt of shot 'open'", "'<<<hero>>> at the lamp'"),
        ("storm", "providerSettings.klingai.multiPrompt[1].prompt",
         "the prompt of shot 'crash'", "the wave crashes"),
        ("storm", "multiPrompt[0]", "the prompt of shot 'wave'", "a wave rises"),
        ("open", "inputs.frameImages[0].image", "the start image of shot 'open'", "a.jpg"),
        ("open", "inputs.frameImages[1].image", "the end image of shot 'open'", "b.jpg"),
        ("open", "inputs.referenceImages[0]", "reference image 1 of shot 'open'", "ref.jpg"),
        ("own", "inputs.referenceImages[1]", "reference image 2 of shot 'own'", "b.jpg]"),
        ("redo", "inputs.video", "the video shot 'redo' edits", "own, prompt: restyle"),
        ("open", "inputs.elements[0].frontalImage", "element 'hero' (its frontal image)",
         "hero.jpg"),
        ("open", "inputs.elements[0].images[0]", "element 'hero' (image 1)", "side.jpg"),
    ],
)  # fmt: skip
def test_a_refused_field_is_found_in_the_storyboard(
    compiled: Compiled, take: str, field: str, what: str, value: str
) -> None:
    found = origin(compiled.take(take), compiled.checked, field)
    assert found is not None
    assert found.what == what
    assert (found.position.line, found.position.col) == at(value)
    assert found.position.file.endswith("film.yaml")


def test_a_multishot_prompt_without_its_index_names_every_shot(compiled: Compiled) -> None:
    found = origin(compiled.take("storm"), compiled.checked, "positivePrompt")
    assert found is not None and found.what == "a prompt of take 'storm' (shots 'wave', 'crash')"
    assert (found.position.line, found.position.col) == at("a wave rises")
    assert advice(found) == "change the prompt"


@pytest.mark.parametrize(
    "field", ["taskUUID", "duration", "inputs.frameImages[5].image", "inputs.elements[3]", ""]
)
def test_what_is_not_a_value_of_the_storyboard_has_no_origin(
    compiled: Compiled, field: str
) -> None:
    assert origin(compiled.take("open"), compiled.checked, field) is None


def test_parse_field() -> None:
    assert parse_field("inputs.frameImages[0].image") == ("inputs", "frameImages", 0, "image")
    assert parse_field("multiPrompt[12]") == ("multiPrompt", 12)
