"""A build whose cut has the words and the mix (issue 16, part B): a title card, a caption and
end credits drawn into the film, a clip's gain, a looped, faded and ducked music cue, the
loudness normalised, subtitles muxed (or burned), and every export read back as long as the
film. And a film of the language before them keeps its cut key: no re-cut after the upgrade.
"""

from __future__ import annotations

import hashlib
import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import av
import opentimelineio as otio  # type: ignore[import-untyped]
import pytest

import storyboard.build.finish as finish
from storyboard.backends.preview import PreviewBackend
from storyboard.build.pipeline import BuildResult, build
from storyboard.cut import build_timeline, measure_videos
from storyboard.cut.timeline import Timeline
from storyboard.media.probe import probe
from tests.cut.test_mix import ebur128, tone

Project = Callable[[dict[str, str | bytes]], Path]
FPS = 24
LINES = ["Skerry Point at last", "Hold the light!"]

FILM = """\
storyboard: 1
title: Words and mix
defaults: {sound: true}
shots:
  - id: arrival
    duration: 3
    prompt: a boat comes into the harbour
    dialogue:
      - {who: Skipper, says: "Skerry Point at last", at: 0.3}
      - {who: Keeper, says: "Hold the light!", at: 1.6}
  - {id: keeper, duration: 3, prompt: the keeper waits on the pier, sound: false}
cut:
  loudness: -16
  SUBTITLES
  music:
    - {file: score.wav, from: 0.5, fade_in: 0.5, fade_out: 1, loop: true, duck: 0.3,
       volume: 0.5}
  credits:
    end: {lines: [The End], duration: 1}
  clips:
    - title: {text: "The Keeper\\nof Skerry Point", duration: 2}
    - shot: arrival
      volume: 0.5
      caption: {text: "Skerry Point, 1893", from: 0.5, to: 2.5}
    - {shot: keeper, transition: fade, transition_duration: 1}
"""


def preview() -> PreviewBackend:
    return PreviewBackend(scale=1 / 12)


@pytest.fixture
def words(project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The project: two lines of dialogue on the arrival, timed by their ``at``."""
    score = tone(tmp_path / "score.wav", 2.0, 440, 0.2)
    root = project({"film.yaml": FILM.replace("SUBTITLES", ""), "score.wav": score})
    return root / "film.yaml"


def subtitle_texts(film: Path) -> list[tuple[float, float, str]]:
    with av.open(str(film)) as container:
        if not container.streams.subtitles:
            return []
        stream = container.streams.subtitles[0]
        assert stream.codec_context.name == "mov_text"
        return [
            (float(p.pts * stream.time_base), float((p.pts + p.duration) * stream.time_base),
             bytes(p)[2:].decode())
            for p in container.demux(stream)
            if p.size > 2 and p.pts is not None
        ]  # fmt: skip


def test_a_build_cuts_the_words_and_the_mix_and_exports_them(words: Path) -> None:
    result = build(words, backend=preview())
    assert result.ok and result.film is not None
    folder = result.film.parent
    info = probe(result.film)
    assert info.frame_count == 9 * FPS  # title 2 s + 3 s + 3 s + credits 1 s
    # the subtitles: a track of the film with the dialogue's cues (the arrival starts at 2 s,
    # after the title card), the picture copied beside it
    cues = json.loads((folder / "build.json").read_text())["subtitles"]
    assert [(c["start"], c["text"]) for c in cues] == [(2.3, LINES[0]), (3.6, LINES[1])]
    assert subtitle_texts(result.film) == [(c["start"], c["end"], c["text"]) for c in cues]
    # the loudness, by a meter independent of the normaliser's
    integrated, peak = ebur128(result.film)
    assert integrated == pytest.approx(-16, abs=0.5)
    assert peak <= -1.0
    # the record
    record = json.loads((folder / "build.json").read_text())
    clips = record["clips"]
    assert [c["card"]["kind"] if "card" in c else c["shot"] for c in clips] == [
        "title", "arrival", "keeper", "end credits",
    ]  # fmt: skip
    assert clips[1]["caption"]["text"] == "Skerry Point, 1893" and clips[1]["volume"] == 0.5
    (music,) = record["music"]
    assert (music["from"], music["to"], music["loop"], music["duck"]) == (0.5, 9.0, True, 0.3)
    assert len(record["subtitles"]) == 2 and record["loudness"] == -16
    # every export, read back: as long as the film
    timeline = otio.adapters.read_from_file(str(folder / "film.otio"))
    assert [t.name for t in timeline.tracks] == ["film", "sound", "music 1"]
    for track in timeline.tracks:
        assert track.duration() == otio.opentime.RationalTime(9 * FPS, FPS), track.name
    generators = [
        c.media_reference.generator_kind
        for c in timeline.find_clips()
        if isinstance(c.media_reference, otio.schema.GeneratorReference)
    ]
    assert generators == ["title", "credits"]
    assert [m.name for m in timeline.tracks.markers] == LINES
    edl = otio.adapters.read_from_file(str(folder / "film.edl"), rate=FPS)
    assert edl.tracks[0].duration() == otio.opentime.RationalTime(9 * FPS, FPS)
    fcpxml = folder / "film.fcpxml"
    root = ET.parse(fcpxml).getroot()
    titles = [(t.get("name"), t.find("text-style-def/text-style")) for t in root.iter("title")]
    assert [name for name, _ in titles] == ["The Keeper", "The End"]
    assert [s.get("fontSize") for _, s in titles if s is not None] == ["90", "90"]  # 1080 / 12
    assert root.find(".//sequence").get("duration") == "9/1s"  # type: ignore[union-attr]
    back = otio.adapters.read_from_file(str(fcpxml))  # held: its tracks live while it does
    lanes = {t.name: t for t in back.tracks}
    # the adapter's reader ends the spine at its last clip: the end credits are a gap after it
    assert lanes["0"].duration() == otio.opentime.RationalTime(8 * FPS, FPS)
    assert lanes["-2"].duration() == otio.opentime.RationalTime(9 * FPS, FPS)  # the music

    # the same build again cuts nothing
    cut_at = result.film.stat().st_mtime_ns
    again = build(words, backend=preview())
    assert again.ok and result.film.stat().st_mtime_ns == cut_at


def test_burned_subtitles_are_no_track_but_still_markers(words: Path) -> None:
    words.write_text(FILM.replace("SUBTITLES", "subtitles: burn"), encoding="utf-8")
    result = build(words, backend=preview())
    assert result.ok and result.film is not None
    assert subtitle_texts(result.film) == []
    folder = result.film.parent
    assert len(json.loads((folder / "build.json").read_text())["subtitles"]) == 2
    timeline = otio.adapters.read_from_file(str(folder / "film.otio"))
    assert [m.name for m in timeline.tracks.markers] == LINES
    words.write_text(FILM.replace("SUBTITLES", "subtitles: off"), encoding="utf-8")
    result = build(words, backend=preview())
    assert result.film is not None and subtitle_texts(result.film) == []
    assert (folder / "film.srt").is_file()  # off: only the files beside the film


def key_before_the_words(timeline: Timeline, result: BuildResult) -> str:
    """The cut key as the cut wrote it before titles, captions and the mix (main at 17367e1:
    storyboard/build/finish.py, _cut_key), for a timeline of that language."""
    from storyboard.compiler.compile import sha256_file

    sources = {clip.take: finish._source_sha(result, clip.take) for clip in timeline.clips}
    cue = timeline.music[0] if timeline.music else None
    music = sha256_file(cue.file) if cue is not None else None
    body = {
        "version": 2,
        "clips": [
            [c.shot, c.take, sources[c.take], c.source_in, c.source_out, c.start,
             c.transition, c.transition_frames, repr(c.head), repr(c.tail)]
            for c in timeline.clips
        ],
        "settings": [timeline.width, timeline.height, timeline.format, timeline.quality,
                     timeline.audio, cue.volume if cue else 1.0, timeline.fade_in,
                     timeline.fade_out, timeline.total_frames, music],
    }  # fmt: skip
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


OLD = """\
storyboard: 1
title: Before the words
defaults: {sound: true}
shots:
  - {id: a, duration: 3, prompt: first shot}
  - {id: b, duration: 3, prompt: second shot, sound: false}
cut:
  fade_in: 0.5
  fade_out: 1
  music: {file: score.wav, volume: 0.4}
  clips:
    - {shot: a}
    - {shot: b, transition: fade, transition_duration: 1, in: 0.5}
"""


def test_a_film_of_the_old_language_keeps_its_cut_key(project: Project, tmp_path: Path) -> None:
    score = tone(tmp_path / "score.wav", 4.0, 330, 0.3)
    root = project({"film.yaml": OLD, "score.wav": score})
    result = build(root / "film.yaml", backend=preview())
    assert result.ok and result.film is not None
    state = json.loads((result.film.parent / ".cut.json").read_text())
    compiled = result.prepared.compiled
    videos = {t.id: result.film.parent / "takes" / f"{t.id}.mp4" for t in compiled.takes}
    info = probe(result.film)
    timeline = build_timeline(
        compiled, videos, measure_videos(videos), size=(info.width, info.height)
    )
    assert state["key"] == key_before_the_words(timeline, result)
    # and a film that uses the new words has a key of its own
    louder = root / "film.yaml"
    louder.write_text(OLD + "  loudness: -16\n", encoding="utf-8")
    result = build(louder, backend=preview())
    assert result.ok and result.film is not None
    state = json.loads((result.film.parent / ".cut.json").read_text())
    assert state["key"] != key_before_the_words(timeline, result)
