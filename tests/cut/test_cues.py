"""Subtitle cues (issue 16, section 2): timed by ``at``, by the speech found in a take's sound,
or spread by word count; placed in the film through trims, crossfades and repeated shots; and
written as SubRip and WebVTT files that pysubs2 reads back."""

from __future__ import annotations

import io
from pathlib import Path

import av
import numpy as np
import pysubs2
import pytest

from storyboard.cut.cues import Cue, film_cues, shot_speech, subtitle_mode, time_lines
from storyboard.cut.timeline import build_timeline
from storyboard.exports.subtitles import subtitle_text, write_subtitles
from storyboard.language.dialogue import Line
from storyboard.media.animatic import render_animatic
from storyboard.media.speech import detect_speech, speech_regions
from tests.cut.conftest import StoryboardFactory

SPEECH = [(0.5, 1.7), (2.5, 4.0)]
"""Where the sine-burst track below 'speaks', in seconds."""


def voiced(seconds: float, windows: list[tuple[float, float]], rate: int = 48_000) -> np.ndarray:
    """A track that speaks in ``windows``: bursts of a 150 Hz tone with its harmonics (a
    voice's spectrum), rising and falling four times a second (its syllables), over faint
    noise; float samples in -1..1."""
    t = np.arange(int(seconds * rate)) / rate
    track = 0.003 * np.random.default_rng(7).standard_normal(len(t))
    for start, end in windows:
        inside = (t >= start) & (t < end)
        tone = sum(np.sin(2 * np.pi * 150 * k * t[inside]) / k for k in range(1, 12))
        syllables = 0.6 + 0.4 * np.sin(2 * np.pi * 4 * (t[inside] - start))
        track[inside] += 0.3 * tone * syllables
    return np.clip(track, -1, 1)


def write_audio(path: Path, samples: np.ndarray, rate: int = 48_000) -> Path:
    """``samples`` as AAC in MP4, the sound of a generated take."""
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp4") as container:
        stream = container.add_stream("aac", rate=rate, layout="mono")
        step = 1024
        for start in range(0, len(samples), step):
            block = samples[start : start + step].astype(np.float32)[None, :]
            frame = av.AudioFrame.from_ndarray(block, format="fltp", layout="mono")
            frame.sample_rate = rate
            frame.pts = start
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    path.write_bytes(buffer.getvalue())
    return path


def line(says: str, at: float | None = None, who: str = "Keeper") -> Line:
    return Line(who=who, says=says, at=at)


# -- timing in the shot ------------------------------------------------------------------------


def test_lines_without_at_or_speech_are_spread_over_the_shot_by_their_words() -> None:
    lines = [line("Once upon a time."), line("There was a keeper of a light.")]
    timed = time_lines(lines, 4.0)
    assert [(t.start, t.end, t.timing) for t in timed] == [
        (0.0, pytest.approx(4 * 4 / 11), "spread"),
        (pytest.approx(4 * 4 / 11), 4.0, "spread"),
    ]


def test_a_line_with_at_starts_there_and_the_lines_after_it_follow() -> None:
    lines = [line("First."), line("Second line here.", at=2.0), line("Third one.")]
    timed = time_lines(lines, 6.0)
    # block 1: [0, 2) for "First."; block 2: [2, 6) shared 3:2 by words
    assert [(t.start, t.end, t.timing) for t in timed] == [
        (0.0, 2.0, "spread"),
        (2.0, pytest.approx(2 + 4 * 3 / 5), "at"),
        (pytest.approx(2 + 4 * 3 / 5), 6.0, "spread"),
    ]


def test_lines_are_laid_in_order_over_the_speech_found() -> None:
    # 1.2 s and 1.5 s of speech; 4 words and 5 words take 1.2 s and 1.5 s of it
    lines = [line("One two three four."), line("Five six seven eight nine.")]
    timed = time_lines(lines, 5.0, SPEECH)
    assert [(t.start, t.end, t.timing) for t in timed] == [
        (0.5, pytest.approx(1.7), "speech"),
        (2.5, pytest.approx(4.0), "speech"),
    ]


def test_lines_meet_at_a_pause_near_their_share_of_the_speech() -> None:
    # 3 words and 3 words over 1.0 s and 1.2 s of speech: shares meet 0.1 s into the second
    # stretch, which is within half a share of the pause between them
    speech = [(0.5, 1.5), (2.3, 3.5)]
    lines = [line("Hold the light!"), line("I see it!")]
    timed = time_lines(lines, 4.0, speech)
    assert [(t.start, t.end) for t in timed] == [(0.5, 1.5), (2.3, 3.5)]
    # far from any pause, the shares stand: 1 word and 5 words over one stretch of 3 s
    timed = time_lines([line("Ahoy!"), line("One two three four five.")], 4.0, [(0.5, 3.5)])
    assert [(t.start, t.end) for t in timed] == [(0.5, 1.0), (1.0, 3.5)]


def test_a_line_with_at_keeps_its_start_over_speech() -> None:
    timed = time_lines([line("Hold on.", at=2.2)], 5.0, SPEECH)
    assert [(t.start, t.end, t.timing) for t in timed] == [(2.2, 4.0, "at")]


def test_too_little_speech_in_a_block_spreads_it() -> None:
    timed = time_lines([line("Hold on.")], 5.0, [(1.0, 1.1)])
    assert [(t.start, t.end, t.timing) for t in timed] == [(0.0, 5.0, "spread")]


def test_a_takes_speech_is_cut_to_its_shot() -> None:
    regions = [(0.5, 1.7), (2.5, 4.0), (5.5, 7.0)]
    assert shot_speech(regions, 3.0, 3.0) == [(0.0, 1.0), (2.5, 3.0)]
    assert shot_speech(None, 3.0, 3.0) is None


# -- speech found in a generated track ---------------------------------------------------------


def test_speech_is_found_where_the_sine_bursts_are(tmp_path: Path) -> None:
    track = write_audio(tmp_path / "take.mp4", voiced(5.0, SPEECH))
    found = detect_speech(track)
    assert found is not None and len(found) == len(SPEECH)
    for (start, end), (true_start, true_end) in zip(found, SPEECH, strict=True):
        # the detector hangs on for a few 30 ms frames after the sound stops
        assert true_start - 0.06 <= start <= true_start + 0.06
        assert true_end - 0.06 <= end <= true_end + 0.2
    # and the lines laid over it fall on the bursts
    lines = [line("One two three four."), line("Five six seven eight nine.")]
    first, second = time_lines(lines, 5.0, found)
    assert first.timing == second.timing == "speech"
    assert first.start == found[0][0] and second.end == found[1][1]
    # the first line takes 4/9 of the speech, about the first burst: the two meet at the gap
    assert (first.end, second.start) == (found[0][1], found[1][0])


def test_a_steady_tone_and_silence_are_not_speech(tmp_path: Path) -> None:
    t = np.arange(16_000 * 3) / 16_000
    assert speech_regions((0.05 * np.sin(2 * np.pi * 220 * t) * 32767).astype(np.int16)) == []
    assert speech_regions(np.zeros(16_000 * 3, dtype=np.int16)) == []
    # the preview's (and the emulator's) takes: a quiet 220 Hz tone
    take = render_animatic(tmp_path / "a.mp4", width=160, height=90, duration_s=3, sound=True)
    assert detect_speech(take) == []
    silent = render_animatic(tmp_path / "b.mp4", width=160, height=90, duration_s=3)
    assert detect_speech(silent) is None  # no audio stream at all


# -- placed in the film ------------------------------------------------------------------------

FILM = """\
storyboard: 1
title: Cues
defaults: {sound: true}
shots:
  - sequence: night
    continuity: multishot
    shots:
      - id: a
        duration: 4
        prompt: The sea.
        dialogue:
          - Narrator: "Once upon a time."
          - Narrator: "There was a keeper of a light."
      - id: b
        duration: 3
        prompt: The lamp.
        dialogue:
          - {Keeper: "Hold it!", at: 1}
  - {id: c, duration: 3, prompt: The rocks.}
cut:
  clips:
    - {shot: a, in: 1}
    - {shot: b, transition: crossfade, transition_duration: 0.5}
    - {shot: c}
    - {shot: a, out: 1.5}
"""


def cues_of(storyboard: StoryboardFactory, speech: dict[str, list[tuple[float, float]]]) -> list:
    compiled = storyboard(FILM)
    videos = {"night": Path("/takes/night.mp4"), "c": Path("/takes/c.mp4")}
    timeline = build_timeline(compiled, videos, {"night": (168, 24), "c": (72, 24)})
    return list(film_cues(compiled, timeline, speech))


def test_cues_follow_trims_crossfades_and_repeated_shots(storyboard: StoryboardFactory) -> None:
    cues = cues_of(storyboard, {})
    got = [(c.start, c.end, c.text, c.shot, c.line, c.clip, c.timing) for c in cues]
    spread = round(4 * 4 / 11, 3)  # "Once upon a time." ends at 1.455 s into shot a
    assert got == [
        # clip 0 shows a from 1 s: what is left of the first line, then the second
        (0.0, round(spread - 1, 3), "Once upon a time.", "a", 0, 0, "spread"),
        (round(spread - 1, 3), 3.0, "There was a keeper of a light.", "a", 1, 0, "spread"),
        # clip 1 (b) crossfades in at 2.5 s; its line starts 1 s into it and runs to its end
        (3.5, 5.5, "Hold it!", "b", 0, 1, "at"),
        # clip 3 shows a again, up to 1.5 s: the first line; 0.045 s of the second is a flash
        (8.5, round(8.5 + spread, 3), "Once upon a time.", "a", 0, 3, "spread"),
    ]


def test_cues_come_from_the_speech_of_the_take(storyboard: StoryboardFactory) -> None:
    # speech in the multi-shot take's video: shot a is its 0..4 s, shot b its 4..7 s
    cues = cues_of(storyboard, {"night": [(1.2, 2.0), (2.4, 3.6), (4.5, 5.0)]})
    got = [(c.start, c.end, c.shot, c.clip, c.timing) for c in cues]
    assert got == [
        # a's 2 s of speech (1.2..2.0, 2.4..3.6): 4 of 11 words take 0.727 s of it, from
        # 1.2 s, which is 0.073 s short of the pause at 2.0 s: the lines meet at the pause;
        # the clip starts 1 s into the shot
        (0.2, 1.0, "a", 0, "speech"),
        (1.4, 2.6, "a", 0, "speech"),
        # b's speech (0.5..1 s into b) is before its line's at: the line is spread from 1 s
        (3.5, 5.5, "b", 1, "at"),
        # a again from 8.5 s, to 1.5 s into it: 0.3 s of the first line (1.2..1.5); the
        # second starts after the trim
        (9.7, 10.0, "a", 3, "speech"),
    ]


# -- the files ---------------------------------------------------------------------------------


def test_subtitle_files_read_back_with_pysubs2(tmp_path: Path) -> None:
    cues = [
        Cue(0.0, 0.455, "Once upon a time.", "Narrator", "a", 0, 0, "spread"),
        Cue(3.5, 5.5, "Hold it! Don't let go & pull.", "keeper", "b", 0, 1, "at"),
    ]
    written = write_subtitles(cues, tmp_path, "film")
    assert sorted(written) == [".srt", ".vtt"]
    for suffix, fmt in ((".srt", "srt"), (".vtt", "vtt")):
        assert written[suffix] == tmp_path / f"film{suffix}"
        back = pysubs2.load(str(written[suffix]))
        assert back.format == fmt
        assert [(e.start, e.end, e.plaintext) for e in back] == [
            (0, 455, "Once upon a time."),
            (3500, 5500, "Hold it! Don't let go & pull."),
        ]
    assert subtitle_text(cues, "vtt").startswith("WEBVTT")
    assert "00:00:03,500 --> 00:00:05,500" in subtitle_text(cues, "srt")


def test_subtitles_are_soft_by_default_when_a_shot_speaks(storyboard: StoryboardFactory) -> None:
    assert subtitle_mode(storyboard(FILM).checked) == "soft"
    assert subtitle_mode(storyboard(FILM + "  subtitles: burn\n").checked) == "burn"
    silent = "storyboard: 1\ntitle: T\nshots:\n  - {id: a, duration: 3, prompt: The sea.}\n"
    assert subtitle_mode(storyboard(silent).checked) == "off"
