"""Which frames are copied and which re-encoded: pure, over fake source indexes."""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction
from pathlib import Path

from storyboard.cut.plan import CopyPiece, EncodePiece, Run, VideoPlan, plan_video
from storyboard.cut.streams import VideoIndex
from storyboard.cut.timeline import Timeline, build_timeline
from tests.cut.conftest import StoryboardFactory

AVCC = bytes.fromhex(
    "0164000affe100186764000aacd9428df921000003000100000300300f12259601000568ef82bcb0fdf8f800"
)

SHOTS = """\
storyboard: 1
title: Plan
shots:
  - {id: a, duration: 3, prompt: first shot}
  - {id: b, duration: 3, prompt: second shot}
  - {id: c, duration: 3, prompt: third shot}
"""


def index(name: str, frames: int = 72, gop: int = 24, **changes: object) -> VideoIndex:
    base = VideoIndex(
        path=Path(f"/takes/{name}.mp4"),
        codec="h264",
        width=160,
        height=90,
        pix_fmt="yuv420p",
        profile="High",
        level=10,
        sar=Fraction(1),
        fps=Fraction(24),
        constant_rate=True,
        frame_count=frames,
        offset=Fraction(0),
        extradata=AVCC,
        ranks=tuple(range(frames)),
        cut_points=frozenset([*range(0, frames, gop), frames]),
        delays={k: Fraction(1, 12) for k in range(0, frames, gop)},
        color=(0, 2, 2, 2),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def layout(storyboard: StoryboardFactory, cut: str = "", fmt: str = "MP4") -> Timeline:
    text = SHOTS.replace("shots:\n", f"output: {{format: {fmt}}}\nshots:\n", 1) + cut
    takes = {name: Path(f"/takes/{name}.mp4") for name in "abc"}
    return build_timeline(storyboard(text), takes, {n: (72, 24) for n in "abc"}, size=(160, 90))


def plan(timeline: Timeline, *indexes: VideoIndex, **kwargs: int) -> VideoPlan:
    by_path = {i.path: i for i in indexes}
    for name in "abc":
        by_path.setdefault(Path(f"/takes/{name}.mp4"), index(name))
    return plan_video(timeline, by_path, **kwargs)


def shape(result: VideoPlan) -> list[tuple[object, ...]]:
    """Pieces as ``("copy", take, first, last)`` or ``("encode", (take, first, last), ...)``."""
    out: list[tuple[object, ...]] = []
    for piece in result.pieces:
        if isinstance(piece, CopyPiece):
            out.append(("copy", piece.source.stem, piece.first, piece.last))
        else:
            out.append(("encode", *[(r.source.stem, r.first, r.last) for r in piece.runs]))
    return out


def test_hard_cuts_on_keyframes_copy_everything(storyboard: StoryboardFactory) -> None:
    result = plan(layout(storyboard))
    assert shape(result) == [("copy", "a", 0, 72), ("copy", "b", 0, 72), ("copy", "c", 0, 72)]
    assert result.copied_frames == result.total_frames == 216
    assert result.reference is not None and result.reference.path.stem == "a"


def test_trim_off_a_keyframe_reencodes_up_to_the_next_one(storyboard: StoryboardFactory) -> None:
    cut = "cut:\n  clips:\n    - {shot: a, in: 0.5}\n    - {shot: b, out: 2.5}\n"
    result = plan(layout(storyboard, cut))
    assert shape(result) == [
        ("encode", ("a", 12, 24)),  # frame 12 to the keyframe at 24
        ("copy", "a", 24, 72),
        ("copy", "b", 0, 48),
        ("encode", ("b", 48, 60)),  # the last keyframe before 60, to 60
    ]
    assert result.encoded_frames == 24
    reasons = [p.reasons for p in result.pieces if isinstance(p, EncodePiece)]
    assert reasons == [
        ("'a' starts off a keyframe (frame 12 of its take)",),
        ("'b' ends off a keyframe (frame 60 of its take)",),
    ]


def test_crossfade_reencodes_from_the_keyframe_before_to_the_one_after(
    storyboard: StoryboardFactory,
) -> None:
    cut = "cut:\n  clips:\n    - shot: a\n    - {shot: b, transition: crossfade}\n"
    result = plan(layout(storyboard, cut))
    assert shape(result) == [
        ("copy", "a", 0, 48),
        ("encode", ("a", 48, 72), ("b", 0, 24)),
        ("copy", "b", 24, 72),
    ]
    seam = result.pieces[1]
    assert isinstance(seam, EncodePiece)
    assert seam.joins == (12,) and seam.frames == 36 and seam.film_start == 48
    assert result.total_frames == 132


def test_dip_ramps_both_sides_of_a_plain_join(storyboard: StoryboardFactory) -> None:
    cut = (
        "cut:\n  clips:\n    - shot: a\n    - {shot: b, transition: fade, transition_duration: 1}\n"
    )
    seam = plan(layout(storyboard, cut)).pieces[1]
    assert isinstance(seam, EncodePiece)
    assert seam.runs == (
        Run(0, Path("/takes/a.mp4"), 48, 72, 0, 12, "fade to black out of 'a'"),
        Run(1, Path("/takes/b.mp4"), 0, 24, 12, 0, "fade from black into 'b'"),
    )
    assert seam.joins == (0,)


def test_film_fades_reencode_the_first_and_last_gops(storyboard: StoryboardFactory) -> None:
    cut = "cut:\n  fade_in: 1.5\n  fade_out: 0.5\n"
    result = plan(layout(storyboard, cut))
    assert shape(result) == [
        ("encode", ("a", 0, 48)),
        ("copy", "a", 48, 72),
        ("copy", "b", 0, 72),
        ("copy", "c", 0, 48),
        ("encode", ("c", 48, 72)),
    ]
    first, last = result.pieces[0], result.pieces[-1]
    assert isinstance(first, EncodePiece) and first.runs[0].ramp_in == 36
    assert isinstance(last, EncodePiece) and last.runs[0].ramp_out == 12


def test_a_source_of_another_size_is_reencoded_whole(storyboard: StoryboardFactory) -> None:
    result = plan(layout(storyboard), index("b", width=320, height=180))
    assert shape(result) == [("copy", "a", 0, 72), ("encode", ("b", 0, 72)), ("copy", "c", 0, 72)]
    assert "it is 320x180, the film 160x90" in result.unjoinable[Path("/takes/b.mp4")]


def test_other_codec_parameters_follow_the_majority(storyboard: StoryboardFactory) -> None:
    result = plan(layout(storyboard), index("a", profile="Main"))
    assert result.reference is not None and result.reference.profile == "High"
    assert shape(result)[0] == ("encode", ("a", 0, 72))
    assert "codec parameters (Main level 10) differ" in result.unjoinable[Path("/takes/a.mp4")]


def test_other_frame_rates_and_webm_are_reencoded(storyboard: StoryboardFactory) -> None:
    result = plan(layout(storyboard), index("a", fps=Fraction(25)))
    assert "not a constant 24 fps" in result.unjoinable[Path("/takes/a.mp4")]
    webm = plan(layout(storyboard, fmt="WEBM"))
    assert webm.codec == "vp9" and webm.copied_frames == 0
    assert shape(webm) == [("encode", ("a", 0, 72), ("b", 0, 72), ("c", 0, 72))]
    assert webm.reference is None


def test_no_gop_to_copy_reencodes_the_clip_whole(storyboard: StoryboardFactory) -> None:
    cut = "cut:\n  clips:\n    - {shot: a, in: 0.5, out: 1.5}\n"
    result = plan(layout(storyboard, cut))
    assert shape(result) == [("encode", ("a", 12, 36))]


def test_adjacent_runs_of_one_source_merge(storyboard: StoryboardFactory) -> None:
    cut = "cut:\n  clips:\n    - {shot: a, out: 1.25}\n    - {shot: a, in: 1.25}\n"
    result = plan(layout(storyboard, cut))
    assert shape(result) == [("copy", "a", 0, 24), ("encode", ("a", 24, 48)), ("copy", "a", 48, 72)]


def test_long_reencodes_are_split_at_hard_cuts(storyboard: StoryboardFactory) -> None:
    result = plan(layout(storyboard, fmt="WEBM"), max_inputs=2)
    assert shape(result) == [("encode", ("a", 0, 72), ("b", 0, 72)), ("encode", ("c", 0, 72))]
    assert [p.film_start for p in result.pieces] == [0, 144]


def test_crossfade_chains_are_split_inside_a_clip(storyboard: StoryboardFactory) -> None:
    cut = "cut:\n  transition: crossfade\n"
    result = plan(layout(storyboard, cut, fmt="WEBM"), max_inputs=2)
    pieces = [p for p in result.pieces if isinstance(p, EncodePiece)]
    assert len(pieces) == 2
    assert [len(p.runs) for p in pieces] == [2, 2]
    # b is cut between its two overlaps: frames [0, k) end the first piece, [k, 72) start the next.
    (b1, b2) = (pieces[0].runs[1], pieces[1].runs[0])
    assert b1.source.stem == b2.source.stem == "b" and b1.last == b2.first
    assert 12 <= b1.last <= 60
    assert sum(p.frames for p in pieces) == result.total_frames == 216 - 24
