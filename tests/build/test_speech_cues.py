"""Subtitles timed by the speech in a take's generated sound, through a whole build (issue 16,
section 2): finish decodes each speaking take's sound, finds where the voice is, lays the lines
over it, remembers what it found in ``.cut.json``, and falls back to spreading the lines when
the sound cannot be read."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import av
import pysubs2
import pytest

from storyboard.backends.base import Output, Ticket
from storyboard.backends.preview import PreviewBackend
from storyboard.build.pipeline import build
from storyboard.core.events import Event, Note
from storyboard.media.probe import MediaError
from tests.cut.test_cues import voiced

Project = Callable[[dict[str, str | bytes]], Path]

FILM = """\
storyboard: 1
title: Voices
defaults: {sound: true}
shots:
  - id: gallery
    duration: 4
    prompt: The keeper lifts the lantern.
    dialogue:
      - Keeper: "Hold the light!"
      - Skipper: "I see it!"
"""
WINDOWS = [(0.5, 1.4), (2.3, 3.4)]
"""Where the voice of the take below speaks, in seconds."""
RATE = 48_000


def with_voice(path: Path) -> None:
    """Replace the sound of the preview's video at ``path`` with a voice in :data:`WINDOWS`
    (the video's packets are copied)."""
    source = path.with_suffix(".silent.mp4")
    path.rename(source)
    with av.open(str(source)) as src, av.open(str(path), "w", format="mp4") as out:
        video_in = src.streams.video[0]
        video_out = out.add_stream_from_template(video_in)
        audio = out.add_stream("aac", rate=RATE, layout="mono")
        seconds = float(video_in.frames / video_in.average_rate)
        samples = voiced(seconds, WINDOWS, RATE)
        for start in range(0, len(samples), 1024):
            block = samples[start : start + 1024].astype("float32")[None, :]
            frame = av.AudioFrame.from_ndarray(block, format="fltp", layout="mono")
            frame.sample_rate, frame.pts = RATE, start
            for packet in audio.encode(frame):
                out.mux(packet)
        for packet in audio.encode(None):
            out.mux(packet)
        for packet in src.demux(video_in):
            if packet.dts is not None:
                packet.stream = video_out
                out.mux(packet)
    source.unlink()


class VoicedPreview(PreviewBackend):
    """The preview, whose takes speak in :data:`WINDOWS` (as a generated take would)."""

    async def collect(self, ticket: Ticket, folder: Path) -> list[Output]:
        outputs = await super().collect(ticket, folder)
        for output in outputs:
            with_voice(output.path)
        return outputs


def cues(folder: Path) -> list[tuple[int, int, str]]:
    return [(e.start, e.end, e.plaintext) for e in pysubs2.load(str(folder / "film.srt"))]


def test_lines_are_laid_over_the_speech_found_in_the_take(project: Project) -> None:
    film = project({"film.yaml": FILM}) / "film.yaml"
    result = build(film, backend=VoicedPreview(scale=0.125))
    assert result.ok
    folder = result.prepared.workspace.output_dir
    (first, second) = cues(folder)
    # spread by their words they would be 0-2 s and 2-4 s; over the speech they start where
    # the voice does (within the detector's 30 ms frames) and the first ends in its pause
    assert first[2] == "Hold the light!" and abs(first[0] - 500) <= 60
    assert 1400 <= first[1] <= 1600
    assert second[2] == "I see it!" and abs(second[0] - 2300) <= 60
    assert 3400 <= second[1] <= 3600
    record = json.loads((folder / "build.json").read_text())
    assert [c["timing"] for c in record["subtitles"]] == ["speech", "speech"]
    state = json.loads((folder / ".cut.json").read_text())
    (found,) = state["speech"].values()
    assert len(found) == 2


def test_a_sound_that_cannot_be_read_spreads_the_lines(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unreadable(path: Path) -> None:
        raise MediaError(f"cannot read the sound of {path.name}: Invalid data")

    monkeypatch.setattr("storyboard.media.speech.detect_speech", unreadable)
    film = project({"film.yaml": FILM}) / "film.yaml"
    events: list[Event] = []
    result = build(film, backend=VoicedPreview(scale=0.125), emit=events.append)
    assert result.ok and result.film is not None
    assert cues(result.prepared.workspace.output_dir) == [
        (0, 2000, "Hold the light!"),
        (2000, 4000, "I see it!"),
    ]
    notes = [e.message for e in events if isinstance(e, Note)]
    assert any(n.startswith("take gallery: no speech to time its lines by: ") for n in notes)


def test_speech_remembered_in_a_form_it_cannot_read_is_found_again(project: Project) -> None:
    film = project({"film.yaml": FILM}) / "film.yaml"
    first = build(film, backend=VoicedPreview(scale=0.125))
    folder = first.prepared.workspace.output_dir
    before = cues(folder)
    stamp = folder / ".cut.json"
    state = json.loads(stamp.read_text())
    digest = next(iter(state["speech"]))
    state["speech"][digest] = [["0.5", None]]
    stamp.write_text(json.dumps(state))
    again = build(film, backend=VoicedPreview(scale=0.125))
    assert again.ok
    assert cues(folder) == before
    assert len(json.loads(stamp.read_text())["speech"][digest]) == 2
