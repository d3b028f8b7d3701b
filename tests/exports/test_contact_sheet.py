"""The contact sheet: each shot's exact first and last frame, in cut order, in a grid."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray
from PIL import Image

from storyboard.exports.contact_sheet import Box, clip_frames, contact_sheet, sheet_layout
from storyboard.media.frames import frame_array
from tests.exports.film import SHOTS, Built

# A frame of another shot to compare each shot with: all of them look different from it
# (c starts on b's last frame, so b and c are never each other's "wrong" frame).
WRONG = {"a": "d", "b": "a", "c": "a", "d": "b", "e": "d"}


def crop(sheet: NDArray[np.uint8], box: Box) -> NDArray[np.int16]:
    return sheet[box[1] : box[3], box[0] : box[2]].astype(np.int16)


def fitted(frame: NDArray[np.uint8], box: Box) -> NDArray[np.int16]:
    size = (box[2] - box[0], box[3] - box[1])
    image = Image.fromarray(frame).resize(size, Image.Resampling.LANCZOS)
    return np.asarray(image).astype(np.int16)


def diff(a: NDArray[np.int16], b: NDArray[np.int16]) -> float:
    return float(np.abs(a - b).mean())


@pytest.fixture(scope="module")
def sheet(built: Built, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("sheet") / "film.contact.png"


def test_each_cell_shows_its_shots_first_and_last_frame(built: Built, sheet: Path) -> None:
    layout = contact_sheet(built.record, sheet)
    with Image.open(sheet) as image:
        assert image.format == "PNG" and image.mode == "RGB"
        assert image.size == layout.size == sheet_layout(built.record).size
        pixels = np.asarray(image)
    assert [cell.clip.shot for cell in layout.cells] == list(SHOTS)
    assert layout.thumb == (240, 135)
    takes = built.build_dir / "takes"
    # the exact frames, decoded independently of the module under test
    expected = {
        "a": (frame_array(takes / "open.mp4", 0), frame_array(takes / "open.mp4", 47)),
        "b": (frame_array(takes / "open.mp4", 48), frame_array(takes / "open.mp4", 95)),
        "c": (frame_array(takes / "c.mp4", 0), frame_array(takes / "c.mp4", 71)),
        "d": (frame_array(takes / "d.mp4", 0), frame_array(takes / "d.mp4", 71)),
        "e": (frame_array(takes / "e.mp4", 0), frame_array(takes / "e.mp4", 71)),
    }
    for cell in layout.cells:
        shot = cell.clip.shot
        for slot, right, wrong in (
            (cell.first, expected[shot][0], expected[WRONG[shot]][0]),
            (cell.last, expected[shot][1], expected[WRONG[shot]][1]),
        ):
            shown = crop(pixels, slot)
            assert diff(shown, fitted(right, slot)) < 3, (shot, slot)
            assert diff(shown, fitted(wrong, slot)) > 20, (shot, slot)
    # in and out are different frames: a's last frame is frame 47, not frame 0
    a = layout.cells[0]
    progress = diff(crop(pixels, a.last), fitted(expected["a"][0], a.last))
    assert progress > diff(crop(pixels, a.last), fitted(expected["a"][1], a.last))


def test_cells_are_laid_out_in_rows_of_columns(built: Built) -> None:
    layout = sheet_layout(built.record, columns=2, thumb_width=100)
    assert layout.thumb == (100, 56)
    tops = [cell.box[1] for cell in layout.cells]
    assert tops[0] == tops[1] < tops[2] == tops[3] < tops[4]
    for cell in layout.cells:
        assert cell.first[2] <= cell.last[0]  # first frame left of the last
        assert cell.box[2] <= layout.size[0] and cell.box[3] <= layout.size[1]


def test_the_sheet_is_deterministic(built: Built, tmp_path: Path) -> None:
    contact_sheet(built.record, tmp_path / "one.png")
    contact_sheet(built.record, tmp_path / "two.png")
    assert (tmp_path / "one.png").read_bytes() == (tmp_path / "two.png").read_bytes()


def test_a_shot_without_video_gets_a_placeholder(built: Built, tmp_path: Path) -> None:
    clips = tuple(
        replace(c, source="takes/missing.mp4") if c.shot == "c" else c for c in built.record.clips
    )
    record = replace(built.record, clips=clips)
    assert clip_frames(record, clips[2]) == (None, None)
    layout = contact_sheet(record, tmp_path / "sheet.png")
    with Image.open(tmp_path / "sheet.png") as image:
        pixels = np.asarray(image)
    placeholder = crop(pixels, layout.cells[2].first)
    assert placeholder.std() < 30  # a flat card with a line of text, not a frame
