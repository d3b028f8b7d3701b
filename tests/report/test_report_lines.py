"""The report lists each shot's lines with their times in the film, and links the subtitle
files (issue 16, section 6)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from storyboard.backends.preview import PreviewBackend
from storyboard.build.pipeline import build
from storyboard.exports.record import read_record
from storyboard.report import write_report
from tests.report.test_report import Page

Project = Callable[[dict[str, str | bytes]], Path]

FILM = """\
storyboard: 1
title: Lines
defaults: {sound: true}
shots:
  - id: gallery
    duration: 4
    prompt: The keeper lifts the lantern.
    dialogue:
      - {keeper: "Hold the light!", how: shouting over the wind}
      - {Narrator: "And far out, a boat turned.", at: 3.5}
  - {id: rocks, duration: 3, prompt: The rocks.}
elements:
  keeper: {frontal_image: https://example.com/keeper.png}
cut:
  clips:
    - {shot: gallery, out: 3}
    - {shot: rocks}
"""


def test_each_shot_lists_its_lines_and_the_page_links_the_subtitles(project: Project) -> None:
    film = project({"film.yaml": FILM}) / "film.yaml"
    assert build(film, backend=PreviewBackend(scale=1 / 12)).ok
    folder = film.parent / "build" / "film" / "preview"
    page = write_report(read_record(folder))
    html = page.read_text(encoding="utf-8")
    seen = Page(html)
    lines = " ".join(seen.by_id["shot-gallery"].split()) if "shot-gallery" in seen.by_id else ""
    assert "keeper (shouting over the wind): “Hold the light!” 0:00.00–0:03.00 (spread)" in lines
    # the second line starts at 3.5 s: the clip ends at 3 s
    assert "Narrator: “And far out, a boat turned.” cut away by the trim" in lines
    assert '<a href="film.srt">subtitles, SubRip (film.srt)</a>' in html
    assert '<a href="film.vtt">subtitles, WebVTT (film.vtt)</a>' in html
    assert '<track kind="subtitles" label="Dialogue" src="film.vtt" default>' in html
    assert html.count('<ul class="lines">') == 1
