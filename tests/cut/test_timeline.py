"""The timeline's pure arithmetic: clips, segments, transitions, fades, errors at positions."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from storyboard.core.errors import BuildError, InputError
from storyboard.cut.timeline import CUT, Edge, Timeline, build_timeline, to_frames
from storyboard.language.timing import FPS
from tests.conftest import tiny_audio
from tests.cut.conftest import StoryboardFactory

SHOTS = """\
storyboard: 1
title: Timeline
output: {width: 1920, height: 1080, format: MOV, quality: 80}
shots:
  - sequence: open
    continuity: multishot
    shots:
      - {id: a, duration: 2, prompt: first shot}
      - {id: b, duration: 1, prompt: second shot}
      - {id: c, duration: 2, prompt: third shot}
  - {id: d, duration: 3, prompt: fourth shot}
  - {id: e, edit: d, prompt: restyle the fourth}
"""


def videos(names: tuple[str, ...] = ("open", "d", "e")) -> dict[str, Path]:
    return {name: Path(f"/takes/{name}.mp4") for name in names}


SIZES = {"open": (120, 24), "d": (72, 24), "e": (70, 24)}


def timeline(storyboard: StoryboardFactory, cut: str = "", **kwargs: object) -> Timeline:
    compiled = storyboard(SHOTS + cut)
    return build_timeline(compiled, videos(), SIZES, **kwargs)  # type: ignore[arg-type]


def line_of(text: str, needle: str) -> int:
    """1-based line of the first line of SHOTS + cut that contains ``needle``."""
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(needle)


def error_of(storyboard: StoryboardFactory, cut: str) -> InputError:
    with pytest.raises(InputError) as caught:
        timeline(storyboard, cut)
    return caught.value


def test_to_frames_rounds_to_the_nearest_frame_halves_up() -> None:
    assert to_frames(0.5) == 12
    assert to_frames(0.1) == 2  # 2.4 frames
    assert to_frames(1 / 48) == 1  # exactly half a frame
    assert to_frames(2.0) == 48


@given(
    st.one_of(
        st.floats(-1e6, 1e6, allow_nan=False),
        st.integers(-(10**6), 10**6).map(float),
        st.integers(-(10**6), 10**6),
        st.integers(-(10**6), 10**6).map(lambda n: n / 4),
    )
)
def test_to_frames_is_the_exact_rounding_of_the_seconds_it_is_given(seconds: float) -> None:
    """Whole seconds take a shortcut and others a cache: both give what the exact rule does."""
    exact = Fraction(seconds).limit_denominator(1_000_000) * FPS
    rounded = int(exact + Fraction(1, 2)) if exact >= 0 else -int(-exact + Fraction(1, 2))
    assert to_frames(seconds) == rounded
    assert to_frames(seconds) == rounded  # again, from the cache


def test_default_cut_is_every_shot_in_order_with_hard_cuts(storyboard: StoryboardFactory) -> None:
    film = timeline(storyboard)
    got = [(c.shot, c.take, c.source_in, c.source_out, c.start) for c in film.clips]
    assert got == [
        ("a", "open", 0, 48, 0),
        ("b", "open", 48, 72, 48),  # segments of the multi-shot take, at their boundaries
        ("c", "open", 72, 120, 72),
        ("d", "d", 0, 72, 120),
        ("e", "e", 0, 70, 192),  # an edit: its measured length, 70 frames
    ]
    assert film.total_frames == 262
    assert all(c.head == CUT and c.tail == CUT and c.transition == "cut" for c in film.clips)
    assert (film.audio, film.music, film.fade_in, film.fade_out) == ("generated", (), 0, 0)
    assert (film.width, film.height, film.format, film.quality, film.fps) == (
        1920,
        1080,
        "MOV",
        80,
        24,
    )
    assert film.clips[0].source == Path("/takes/open.mp4")


def test_size_argument_overrides_the_output_size(storyboard: StoryboardFactory) -> None:
    assert timeline(storyboard, size=(160, 90)).size == (160, 90)
    assert timeline(storyboard, size=(161, 91)).size == (160, 90)  # even sizes


def test_trims_are_seconds_from_the_shots_own_start(storyboard: StoryboardFactory) -> None:
    film = timeline(
        storyboard,
        """\
cut:
  clips:
    - {shot: b, in: 0.25, out: 0.75}
    - {shot: c, in: 1.5}
    - {shot: a, out: 0.5}
""",
    )
    got = [(c.shot, c.source_in, c.source_out, c.start) for c in film.clips]
    assert got == [("b", 54, 66, 0), ("c", 108, 120, 12), ("a", 0, 12, 24)]
    assert film.total_frames == 36


def test_crossfade_overlaps_and_shortens_the_film(storyboard: StoryboardFactory) -> None:
    film = timeline(
        storyboard,
        """\
cut:
  transition: crossfade
  transition_duration: 0.5
  clips:
    - shot: a
    - shot: d
    - {shot: c, transition_duration: 0.25}
""",
    )
    a, d, c = film.clips
    assert (a.start, d.start, c.start) == (0, 48 - 12, 36 + 72 - 6)
    assert film.total_frames == 48 + 72 + 48 - 12 - 6
    assert a.head == CUT and a.tail == Edge("crossfade", 12)
    assert d.head == Edge("crossfade", 12) and d.tail == Edge("crossfade", 6)
    assert (d.transition, d.transition_frames) == ("crossfade", 12)
    assert c.head.overlap == 6 and c.tail == CUT


def test_fade_is_a_dip_to_black_split_around_the_cut(storyboard: StoryboardFactory) -> None:
    film = timeline(
        storyboard,
        """\
cut:
  clips:
    - shot: a
    - {shot: d, transition: fade, transition_duration: 0.5}
    - {shot: c, transition: fade, transition_duration: 0.125}
""",
    )
    a, d, c = film.clips
    assert film.total_frames == 48 + 72 + 48  # no overlap
    assert (d.start, c.start) == (48, 120)
    assert a.tail == Edge("dip", 6) and d.head == Edge("dip", 6)
    assert d.tail == Edge("dip", 1) and c.head == Edge("dip", 2)  # 3 frames: 1 out, 2 in
    assert d.head.ramp == 6 and d.head.overlap == 0


def test_per_clip_transition_overrides_the_default(storyboard: StoryboardFactory) -> None:
    film = timeline(
        storyboard,
        """\
cut:
  transition: fade
  transition_duration: 1
  clips:
    - shot: a
    - {shot: d, transition: cut}
    - {shot: c, transition: crossfade}
    - shot: b
""",
    )
    kinds = [(c.transition, c.transition_frames) for c in film.clips]
    assert kinds == [("cut", 0), ("cut", 0), ("crossfade", 24), ("fade", 24)]
    assert film.clips[3].head == Edge("dip", 12)


def test_film_fades_music_and_mute(storyboard: StoryboardFactory) -> None:
    film = build_timeline(
        storyboard(
            SHOTS
            + """\
cut:
  fade_in: 0.5
  fade_out: 1
  audio: mute
  music: {file: score.mp3, volume: 0.3}
""",
            **{"score.mp3": tiny_audio("mp3")},
        ),
        videos(),
        SIZES,
    )
    assert (film.fade_in, film.fade_out, film.audio) == (12, 24, "mute")
    assert [(m.file.name, m.volume, m.first, m.last) for m in film.music] == [
        ("score.mp3", 0.3, 0, film.total_frames * 2000)
    ]
    assert film.clips[0].head == Edge("fade", 12) and film.clips[-1].tail == Edge("fade", 24)


def test_without_measurements_nominal_durations_are_used(storyboard: StoryboardFactory) -> None:
    compiled = storyboard(SHOTS + "cut:\n  clips: [{shot: d}, {shot: b}]\n")
    film = build_timeline(compiled, videos(), None)
    assert [(c.source_in, c.source_out) for c in film.clips] == [(0, 72), (48, 72)]


def test_an_edit_needs_its_measured_length(storyboard: StoryboardFactory) -> None:
    compiled = storyboard(SHOTS)
    with pytest.raises(BuildError, match="take 'e' \\(an edit\\) is unknown"):
        build_timeline(compiled, videos(), {"open": (120, 24), "d": (72, 24)})


def test_a_take_without_video_is_a_build_error(storyboard: StoryboardFactory) -> None:
    with pytest.raises(BuildError, match="take 'd'"):
        build_timeline(storyboard(SHOTS), videos(("open", "e")), SIZES)


def test_measured_lengths_at_another_rate_are_converted(storyboard: StoryboardFactory) -> None:
    compiled = storyboard(SHOTS + "cut:\n  clips: [{shot: e}]\n")
    film = build_timeline(compiled, videos(), {**SIZES, "e": (90, 30)})  # 3 s at 30 fps
    assert film.clips[0].source_out == 72


def test_out_past_the_end_of_the_video_is_reported_at_out(
    storyboard: StoryboardFactory,
) -> None:
    cut = "cut:\n  clips:\n    - shot: e\n      out: 2.95\n"
    error = error_of(storyboard, cut)  # e is 70 frames: 2.9167 s
    (diagnostic,) = error.diagnostics
    assert diagnostic.position is not None
    assert diagnostic.position.line == line_of(SHOTS + cut, "out: 2.95")
    assert "cut.clips[0].out: 2.95 s is past the end of shot 'e'" in diagnostic.message


def test_in_at_the_end_is_reported_at_in(storyboard: StoryboardFactory) -> None:
    cut = "cut:\n  clips:\n    - {shot: e, in: 2.92}\n"
    (diagnostic,) = error_of(storyboard, cut).diagnostics
    assert "cut.clips[0].in" in diagnostic.message and "at or past the end" in diagnostic.message


def test_a_crossfade_longer_than_a_clip_is_reported_at_its_duration(
    storyboard: StoryboardFactory,
) -> None:
    cut = """\
cut:
  clips:
    - shot: d
    - shot: b
      transition: crossfade
      transition_duration: 1.5
"""
    (diagnostic,) = error_of(storyboard, cut).diagnostics
    assert diagnostic.position is not None
    assert diagnostic.position.line == line_of(SHOTS + cut, "transition_duration: 1.5")
    assert "crossfade into 'b' is longer than the clip allows" in diagnostic.message


def test_a_default_transition_too_long_is_reported_at_the_default(
    storyboard: StoryboardFactory,
) -> None:
    cut = """\
cut:
  transition: crossfade
  transition_duration: 2
  clips: [{shot: d}, {shot: a}, {shot: b}]
"""
    error = error_of(storyboard, cut)
    lines = {d.position.line for d in error.diagnostics if d.position}
    assert lines == {line_of(SHOTS + cut, "transition_duration: 2")}
    # `a` (2 s) cannot hold 2 s in and 2 s out; `b` (1 s) cannot hold 2 s in.
    assert len(error.diagnostics) == 2


def test_transitions_on_both_ends_must_fit_together(storyboard: StoryboardFactory) -> None:
    cut = """\
cut:
  transition: crossfade
  transition_duration: 0.6
  clips: [{shot: d}, {shot: b}, {shot: c}]
"""
    (diagnostic,) = error_of(storyboard, cut).diagnostics  # b: 24 frames < 2 x 14
    assert "'b'" in diagnostic.message and "transition out needs the rest" in diagnostic.message


def test_first_clip_cannot_transition_in(storyboard: StoryboardFactory) -> None:
    cut = "cut:\n  clips:\n    - {shot: a, transition: crossfade}\n"
    (diagnostic,) = error_of(storyboard, cut).diagnostics
    assert "use cut.fade_in" in diagnostic.message
    assert diagnostic.position is not None
    assert diagnostic.position.line == line_of(SHOTS + cut, "transition: crossfade")


def test_fade_out_longer_than_the_last_clip(storyboard: StoryboardFactory) -> None:
    cut = "cut:\n  fade_out: 1.5\n  clips: [{shot: a}, {shot: b}]\n"
    (diagnostic,) = error_of(storyboard, cut).diagnostics
    assert diagnostic.position is not None
    assert diagnostic.position.line == line_of(SHOTS + cut, "fade_out: 1.5")
    assert "cut.fade_out: 1.5 s does not fit in the last clip 'b'" in diagnostic.message


def test_transition_shorter_than_a_frame(storyboard: StoryboardFactory) -> None:
    cut = (
        "cut:\n  clips:\n    - shot: a\n"
        "    - {shot: b, transition: fade, transition_duration: 0.01}\n"
    )
    (diagnostic,) = error_of(storyboard, cut).diagnostics
    assert "shorter than one frame" in diagnostic.message


def test_clip_shorter_than_a_frame(storyboard: StoryboardFactory) -> None:
    cut = "cut:\n  clips:\n    - {shot: a, in: 1.0, out: 1.01}\n"
    (diagnostic,) = error_of(storyboard, cut).diagnostics
    assert "shorter than one frame" in diagnostic.message
