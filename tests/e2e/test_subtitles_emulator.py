"""A film with dialogue, built against the Runware emulator over loopback (issue 16, sections 1
and 2): the lines go out in the prompts, and NAME.srt and NAME.vtt are written beside the film
with one cue per line at the film's times."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pysubs2
import pytest

from storyboard.build.pipeline import build
from storyboard.emulator.server import EmulatorServer
from storyboard.exports.record import read_record
from tests.e2e.runner import fast_backend

Project = Callable[[dict[str, str | bytes]], Path]

FILM = """\
storyboard: 1
title: Words
defaults: {sound: true}
shots:
  - sequence: night
    continuity: multishot
    shots:
      - id: sea
        duration: 4
        prompt: A black sea under the storm.
        dialogue:
          - Narrator: "Once upon a time."
          - Narrator: "There was a keeper of a light."
      - id: lamp
        duration: 3
        prompt: The lamp flickers.
        dialogue:
          - {Keeper: "Hold it!", how: shouting, at: 1}
  - {id: rocks, duration: 3, prompt: Waves break on the rocks.}
cut:
  clips:
    - {shot: sea, in: 1}
    - {shot: lamp, transition: crossfade, transition_duration: 0.5}
    - {shot: rocks}
    - {shot: sea, out: 1.5}
"""

SPREAD = 4 * 4 / 11  # "Once upon a time.": 4 of the 11 words of shot sea's 4 s
EXPECTED = [
    (0, round((SPREAD - 1) * 1000), "Once upon a time."),
    (round((SPREAD - 1) * 1000), 3000, "There was a keeper of a light."),
    (3500, 5500, "Hold it!"),
    (8500, round((8.5 + SPREAD) * 1000), "Once upon a time."),
]
"""Cues in milliseconds: the emulator's sound is a steady tone, which is no speech, so the lines
are spread by their words (sea) or start at their ``at`` (lamp); the second clip of sea ends
at 1.5 s, 0.045 s into its second line, which is left out."""


@pytest.fixture
def film(project: Project, emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("RUNWARE_API_KEY", emulator.api_key)
    monkeypatch.setenv("RUNWARE_BASE_URL", emulator.base_url)
    return project({"film.yaml": FILM}) / "film.yaml"


def test_a_film_with_dialogue_gets_its_subtitles(film: Path, emulator: EmulatorServer) -> None:
    result = build(film, backend=fast_backend(), film_scale=1 / 12)
    assert result.ok, [o.message for o in result.outcomes.values()]
    folder = result.prepared.workspace.output_dir
    # the lines went out in the prompt of the multi-shot request, in the profile's form
    sent = json.loads((folder / "requests" / "night.json").read_text())["request"]
    segments = sent["providerSettings"]["klingai"]["multiPrompt"]
    assert segments[0]["prompt"] == (
        'A black sea under the storm. Narrator says: "Once upon a time." Narrator says: '
        '"There was a keeper of a light."'
    )
    assert segments[1]["prompt"] == 'The lamp flickers. Keeper says, shouting: "Hold it!"'
    assert len(emulator.ledger()) == 2
    for suffix in ("srt", "vtt"):
        subtitles = pysubs2.load(str(folder / f"film.{suffix}"))
        assert subtitles.format == suffix
        assert [(e.start, e.end, e.plaintext) for e in subtitles] == EXPECTED
    # the speech detector ran on the takes that speak, and found no speech in the tone
    state = json.loads((folder / ".cut.json").read_text())
    assert list(state["speech"].values()) == [[]]
    record = read_record(folder)
    assert [(c.shot, c.clip, c.timing) for c in record.subtitles] == [
        ("sea", 0, "spread"),
        ("sea", 0, "spread"),
        ("lamp", 1, "at"),
        ("sea", 3, "spread"),
    ]
    assert [x.says for x in record.lines("lamp")] == ["Hold it!"]
    # a second build leaves the subtitle files as they are
    files = [folder / "film.srt", folder / "film.vtt"]
    stamps = [p.stat().st_mtime_ns for p in files]
    again = build(film, backend=fast_backend(), film_scale=1 / 12)
    assert again.ok and len(emulator.ledger()) == 2
    assert [p.stat().st_mtime_ns for p in files] == stamps
