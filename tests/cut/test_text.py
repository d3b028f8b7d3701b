"""Title cards, credits and captions in the film: rendered with moviepy, joined by the cut.

A title card is encoded at the film's codec parameters, so its neighbours stay copied (the
assembly report says so, and their packets are the takes' packets); a caption is found in
the decoded frames it covers, and nowhere else, and only the GOPs under it are re-encoded.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from storyboard.cut.streams import index_video
from storyboard.cut.text import CARD_BOX, Look, box, fit_problem, layout
from storyboard.media.fonts import colour, font_file
from tests.conftest import tiny_jpeg
from tests.cut.conftest import StoryboardFactory, decode_frames, diff, video_packets
from tests.cut.test_assemble import cut_film

TITLE = "    - title: {text: The Keeper, duration: 2, size: 300}\n"


def same_packets(film: list[bytes], source: list[bytes]) -> bool:
    """The film's packets are the source's, but for parameter sets put in front of some."""
    return len(film) == len(source) and all(
        f.endswith(s) for f, s in zip(film, source, strict=True)
    )


def test_a_title_card_is_joined_without_re_encoding_its_neighbours(
    storyboard: StoryboardFactory, sources: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "film.mp4"
    cut = "cut:\n  clips:\n    - {shot: one}\n" + TITLE + "    - {shot: two}\n"
    timeline, report = cut_film(storyboard, out, {"one": sources["a"], "two": sources["b"]}, cut)
    assert timeline.total_frames == 72 + 48 + 72
    # every frame copied: the takes' GOPs and the card, rendered once at the film's parameters
    assert [(p.kind, p.frames, p.shots) for p in report.pieces] == [
        ("copy", 72, ("one",)),
        ("copy", 48, ("title",)),
        ("copy", 72, ("two",)),
    ]
    assert report.stream_copy and report.unjoinable == {}
    # the takes' packets, byte for byte (a keyframe gains its parameter sets in front, as the
    # card's differ from the takes')
    assert same_packets(video_packets(out)[:72], video_packets(sources["a"]))
    assert same_packets(video_packets(out)[120:], video_packets(sources["b"]))
    film = decode_frames(out)
    card = film[72:120]
    # the card: black around white text, the same picture for its 2 s
    assert all(diff(frame, card[0]) < 1 for frame in card)
    corner, middle = card[0][:10, :10], card[0][30:60, 20:140]
    assert corner.max() < 30 and middle.max() > 200
    assert index_video(out).cut_points >= {0, 72, 120}


def test_a_title_over_a_fade_re_encodes_only_the_card_and_the_gops_of_the_dip(
    storyboard: StoryboardFactory, sources: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "film.mp4"
    cut = (
        "cut:\n  clips:\n    - {shot: one}\n"
        "    - title: {text: Skerry Point, duration: 3, background: '#203040'}\n"
        "      transition: fade\n      transition_duration: 1\n"
        "    - {shot: two}\n"
    )
    _, report = cut_film(storyboard, out, {"one": sources["a"], "two": sources["b"]}, cut)
    kinds = [(p.kind, p.frames, p.shots) for p in report.pieces]
    assert kinds == [
        ("copy", 48, ("one",)),
        # one's last GOP fades out, the card's first GOP (2 s, as re-encoded video) fades in
        ("encode", 72, ("one", "title")),
        ("copy", 24, ("title",)),
        ("copy", 72, ("two",)),
    ]
    film = decode_frames(out)
    assert film[71].max() < 20  # the dip's black frame
    blue = np.array(colour("#203040"))
    assert np.abs(film[130][5, 5] - blue).max() < 12  # the card's background, copied


def test_credits_open_and_close_the_film(
    storyboard: StoryboardFactory, sources: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "film.mp4"
    cut = (
        "cut:\n  credits:\n"
        "    opening: {lines: [Skerry Point, a film], duration: 1, size: 200}\n"
        "    end: {lines: [The end], duration: 1.5, background: white, color: black}\n"
    )
    timeline, report = cut_film(storyboard, out, {"one": sources["a"]}, cut)
    assert [(c.shot, c.frames) for c in timeline.clips] == [("", 24), ("one", 72), ("", 36)]
    assert [p.kind for p in report.pieces] == ["copy"] * 3
    film = decode_frames(out)
    assert film[0][:5, :5].max() < 30 and film[-1][:5, :5].min() > 225


def test_a_title_card_can_stand_on_an_image(
    storyboard: StoryboardFactory, sources: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "film.mp4"
    cut = (
        "cut:\n  clips:\n    - {shot: one}\n"
        "    - title: {text: Skerry Point, duration: 1, background: sea.jpg, size: 200}\n"
    )
    sea = tiny_jpeg(640, 360, color=(30, 160, 90))
    cut_film(storyboard, out, {"one": sources["a"]}, cut, files={"sea.jpg": sea})
    card = decode_frames(out)[80]
    # the image fills the frame behind the text: its colour at the corners
    for corner in (card[:6, :6], card[-6:, -6:]):
        assert np.abs(corner.reshape(-1, 3).mean(axis=0) - (30, 160, 90)).max() < 14


def test_a_caption_is_drawn_over_its_frames_and_only_their_gops_are_re_encoded(
    storyboard: StoryboardFactory, sources: dict[str, Path], tmp_path: Path
) -> None:
    plain = tmp_path / "plain.mp4"
    cut_film(storyboard, plain, {"one": sources["a"]}, "cut:\n  clips: [{shot: one}]\n")
    out = tmp_path / "film.mp4"
    cut = (
        "cut:\n  clips:\n    - shot: one\n      caption: {text: 'Skerry Point, 1893', from: 1.25,"
        " to: 1.75, position: bottom-left, size: 150, color: yellow}\n"
    )
    timeline, report = cut_film(storyboard, out, {"one": sources["a"]}, cut)
    assert [(o.first, o.last) for o in timeline.overlays] == [(30, 42)]
    assert [(p.kind, p.frames) for p in report.pieces] == [
        ("copy", 24),
        ("encode", 24),  # the GOP under the caption (frames 24..47)
        ("copy", 24),
    ]
    assert report.pieces[1].reasons == ("a caption over 'one'",)
    film, before = decode_frames(out), decode_frames(plain)
    lower_left = (slice(60, 90), slice(0, 110))
    for k in range(72):
        changed = np.abs(film[k][lower_left] - before[k][lower_left]).max(axis=2)
        yellow = (changed > 60).sum()
        if 30 <= k < 42:
            assert yellow > 40, k  # the caption's pixels
        else:
            assert diff(film[k], before[k]) < 3, k  # copied, or re-encoded unchanged
    assert same_packets(video_packets(out)[:24], video_packets(sources["a"])[:24])
    assert same_packets(video_packets(out)[48:], video_packets(sources["a"])[48:])


def test_layout_wraps_words_and_says_when_a_text_does_not_fit() -> None:
    look = Look((255, 255, 255), font_file("lato"), 90)
    frame = (1920, 1080)
    found = layout("The Keeper of Skerry Point and the long night", look, box(frame, CARD_BOX)[0])
    assert len(found.lines) == 2 and found.fits(box(frame, CARD_BOX))
    assert fit_problem("The Keeper of Skerry Point", look, frame, CARD_BOX) is None
    long = " ".join(["lighthouse"] * 80)
    problem = fit_problem(long, look, frame, CARD_BOX)
    assert problem is not None and "does not fit the frame" in problem
    word = fit_problem("x" * 60, Look((0, 0, 0), font_file("lato-bold"), 200), frame, CARD_BOX)
    assert word is not None and "wider than the frame" in word
