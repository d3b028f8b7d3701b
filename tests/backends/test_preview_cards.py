"""The preview's pictures (issue 17, section 4): every take shows its own shot and prompt, an
edit shows its source's footage, a portrait frame's text fits. Checked on decoded frames."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from storyboard.backends.preview import PreviewBackend
from storyboard.build.pipeline import build
from storyboard.media import render_animatic
from storyboard.media.animatic import _colour
from storyboard.media.frames import all_frames, frame_array

Project = Callable[[dict[str, str | bytes]], Path]

FILM = """\
storyboard: 1
title: Cards
shots:
  - {id: harbour, duration: 3, prompt: a small stone harbour at dawn}
  - {id: nets, start: harbour.last, duration: 3, prompt: an old fisherman mends a net}
  - {id: poster, edit: harbour, prompt: restyle as a travel poster}
"""


def takes(film: Path) -> Path:
    return film.parent / "build" / film.stem / "preview" / "takes"


def preview(film: Path) -> None:
    assert build(film, backend=PreviewBackend(scale=1 / 12)).ok


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def changed_pixels(a: np.ndarray, b: np.ndarray) -> int:
    """How many pixels differ clearly (by more than 40 in some channel) between two frames."""
    return int((np.abs(a.astype(int) - b.astype(int)).max(axis=2) > 40).sum())


def test_a_take_that_starts_on_a_frame_shows_its_own_prompt(project: Project) -> None:
    film = project({"film.yaml": FILM}) / "film.yaml"
    preview(film)
    before = all_frames(takes(film) / "nets.mp4")
    bytes_before = sha(takes(film) / "nets.mp4")
    film.write_text(FILM.replace("mends a net", "mends a net in the rain"))
    preview(film)
    after = all_frames(takes(film) / "nets.mp4")
    assert sha(takes(film) / "nets.mp4") != bytes_before  # it was byte for byte the same
    middle = len(after) // 2
    # the caption's words differ: 56 pixels at 160x90 (none before: the bytes were the same)
    assert changed_pixels(after[middle], before[middle]) > 25
    # the first frame is still the hand-off frame, the last frame carries no caption on
    last_of_harbour = frame_array(takes(film) / "harbour.mp4", "last").astype(int)
    assert np.abs(after[0].astype(int) - last_of_harbour).mean() < 6
    assert np.abs(after[0].astype(int) - before[0].astype(int)).mean() < 1
    assert np.abs(after[-1].astype(int) - before[-1].astype(int)).mean() < 1
    # the caption is there in the middle: a dark band at the foot of the frame
    foot = slice(after[middle].shape[0] * 3 // 4, None)
    assert after[middle][foot].mean() < after[0][foot].mean() - 20


def test_an_edit_shows_its_source_footage_with_the_edit_prompt(project: Project) -> None:
    film = project({"film.yaml": FILM}) / "film.yaml"
    preview(film)
    source = all_frames(takes(film) / "harbour.mp4")
    edit = all_frames(takes(film) / "poster.mp4")
    assert len(edit) == len(source) == 72
    tint = np.array(_colour("poster (edit)", 0))
    for index in (0, 36, 71):
        expected = 0.75 * source[index].astype(float) + 0.25 * tint
        top = slice(0, edit[index].shape[0] // 2)  # above the caption
        assert np.abs(edit[index][top] - expected[top]).mean() < 8, index
    # the footage moves with its source: the timecode of the source runs in it
    assert np.abs(edit[10].astype(int) - edit[60].astype(int)).mean() > 0.5
    film.write_text(FILM.replace("restyle as a travel poster", "restyle as a woodcut"))
    preview(film)
    again = all_frames(takes(film) / "poster.mp4")
    assert changed_pixels(again[36], edit[36]) > 25  # the edit prompt's words: 55 pixels


def right_margin_is_clear(frame: np.ndarray, background: tuple[int, int, int], rows: int) -> bool:
    width = frame.shape[1]
    margin = max(2, width // 40)
    strip = frame[:rows, width - margin + 1 :].astype(int)
    return bool(np.abs(strip - np.array(background)).max() < 40)


@pytest.mark.parametrize(("width", "height"), [(1080, 1920), (1440, 1440), (1920, 1080)])
def test_a_cards_text_fits_any_frame(tmp_path: Path, width: int, height: int) -> None:
    label = "waves-crashing-over-the-rocks (variation 2 of 4) (retake 3)"
    prompt = (
        "Waves crash over the rocks below the lighthouse while a supercalifragilistic-"
        "expialidocious-harbourmaster watches from the gallery " * 3
    )
    out = render_animatic(
        tmp_path / "card.mp4", width=width, height=height, duration_s=1,
        segments=[(label, prompt, 1.0)], scale=0.25,
    )  # fmt: skip
    frame = frame_array(out, 12)
    rows = frame.shape[0] * 3 // 4  # above the timecode and the progress bar
    assert right_margin_is_clear(frame, _colour(label, 0), rows)


def test_a_portrait_caption_fits_its_frame(tmp_path: Path) -> None:
    from PIL import Image

    start = tmp_path / "start.png"
    Image.new("RGB", (1080, 1920), (30, 120, 60)).save(start)
    out = render_animatic(
        tmp_path / "move.mp4", width=1080, height=1920, duration_s=2,
        segments=[("a-very-long-shot-identifier-for-a-portrait-frame", "word " * 200, 2.0)],
        start_image=start, scale=0.25, captions=True,
    )  # fmt: skip
    frame = frame_array(out, 24).astype(int)
    height, width = frame.shape[:2]
    margin = max(2, width // 40)
    # the caption is there: light text on a dark band in the lower half
    assert (frame[height // 2 :, margin : width // 2] > 180).all(axis=2).sum() > 500
    # no text in the right margin (the text is light, the picture and the band are not)
    assert frame[:, width - margin + 1 :].max() < 150
    # the band stays in the frame's lower half: the upper half is the start image
    assert np.abs(frame[: height // 2 - 2] - np.array((30, 120, 60))).max() < 12
