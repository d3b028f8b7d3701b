"""Edges of the input limits that ``check`` must see as the service will: an image at the
aspect limit that the upload's shrink pushes past it, and an element video that is no video."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from PIL import Image

from storyboard.emulator.uploads import _normalised_image
from storyboard.media import limits, render_animatic
from storyboard.profiles.kling_o3_pro import KLING_O3_PRO


def _png(path: Path, width: int, height: int) -> Path:
    Image.new("RGB", (width, height), (30, 60, 90)).save(path, "PNG", compress_level=1)
    return path


@pytest.mark.parametrize(("width", "height"), [(2500, 1000), (1000, 2500), (5000, 2000)])
def test_an_image_at_the_aspect_limit_that_the_upload_shrinks_past_it_is_refused(
    tmp_path: Path, width: int, height: int
) -> None:
    path = _png(tmp_path / "wide.png", width, height)
    problem = limits.image_problem(path, KLING_O3_PRO)
    assert problem is not None and "2048" in problem, problem
    # ... as the emulator refuses it once uploaded: shrunk past 2.5:1
    stored, _ = _normalised_image(path.read_bytes())
    with Image.open(io.BytesIO(stored)) as image:
        w, h = image.size
    assert max(w, h) == 2048 and not 1 / 2.5 <= w / h <= 2.5


@pytest.mark.parametrize(("width", "height"), [(2000, 800), (800, 2000), (2048, 900), (3000, 1500)])
def test_images_within_the_limits_after_the_shrink_pass(
    tmp_path: Path, width: int, height: int
) -> None:
    path = _png(tmp_path / "fine.png", width, height)
    assert limits.image_problem(path, KLING_O3_PRO) is None


@pytest.mark.parametrize(
    ("width", "height"),
    [(2500, 1000), (1000, 2500), (3000, 1500), (4001, 3000), (2049, 2049), (2100, 7), (9, 4000)],
)
def test_the_upload_size_is_the_emulators_and_keeps_the_longer_side_at_2048(
    width: int, height: int
) -> None:
    size = limits.upload_size(width, height)
    assert max(size) == limits.MAX_UPLOAD_SIDE
    thumb = Image.new("L", (width, height))
    thumb.thumbnail((2048, 2048))  # Pillow's rounding, which the emulator used before
    assert size == thumb.size
    assert limits.upload_size(2048, 819) == (2048, 819)  # not larger: unchanged


def test_an_undecodable_element_video_is_refused(tmp_path: Path) -> None:
    junk = tmp_path / "dancer.mp4"
    junk.write_bytes(os.urandom(5000))
    assert limits.element_video_problem(junk) == "'dancer.mp4' is not a readable video"
    image = _png(tmp_path / "still.mp4", 64, 36)  # an image is not a video either
    assert limits.element_video_problem(image) == "'still.mp4' is not a readable video"
    missing = limits.element_video_problem(tmp_path / "gone.mp4")
    assert missing is not None and missing.startswith("cannot read 'gone.mp4'")


def test_an_element_video_is_held_to_no_size_or_length(tmp_path: Path) -> None:
    # 1 s of 64x36: far under the limits of an edit source, and still a fine element video
    path = render_animatic(tmp_path / "dancer.mp4", width=64, height=36, duration_s=1)
    assert limits.video_problem(path, KLING_O3_PRO) is not None
    assert limits.element_video_problem(path) is None
