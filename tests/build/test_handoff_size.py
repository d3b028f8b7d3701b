"""A hand-off frame is sent at the size the service works with: a frame of an edit of a 4K
source (3840x2160) was a PNG over the model's 10 MB for an image, refused by the client
after the edit it came from was paid for; it is now scaled to what ``imageUpload`` keeps
(2048 px on its longer side), as the service would scale it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from storyboard.backends.runware.client import MAX_UPLOAD_BYTES, _check_upload_size
from storyboard.backends.runware.errors import RunwareValidationError
from storyboard.build.execute import _over_upload_side, _to_sent_size
from storyboard.media.limits import upload_size


def noisy_png(path: Path, width: int, height: int) -> Path:
    """A frame that compresses as badly as a real one can (every pixel random)."""
    pixels = np.random.default_rng(7).integers(0, 256, (height, width, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path, "PNG", compress_level=1)
    return path


def test_a_4k_frame_is_sent_at_the_size_the_service_keeps(tmp_path: Path) -> None:
    frame = noisy_png(tmp_path / "frame.png", 3840, 2160)
    assert frame.stat().st_size > MAX_UPLOAD_BYTES["image"]
    with pytest.raises(RunwareValidationError, match="at most 10 MB"):
        _check_upload_size(frame, "image/png")  # what the paid build ran into
    assert _over_upload_side(frame)
    _to_sent_size(frame, min_side=300)
    with Image.open(frame) as sent:
        assert sent.size == upload_size(3840, 2160) == (2048, 1152)
    assert frame.stat().st_size <= MAX_UPLOAD_BYTES["image"]
    _check_upload_size(frame, "image/png")  # uploaded now
    assert not _over_upload_side(frame)


def test_a_frame_of_a_scaled_down_take_is_still_scaled_up(tmp_path: Path) -> None:
    frame = noisy_png(tmp_path / "frame.png", 160, 90)
    _to_sent_size(frame, min_side=300)
    with Image.open(frame) as sent:
        assert sent.size == (640, 360)  # a whole factor (4): the aspect kept exactly


def test_a_frame_the_service_takes_as_it_is_is_left_alone(tmp_path: Path) -> None:
    frame = noisy_png(tmp_path / "frame.png", 1920, 1080)
    before = frame.read_bytes()
    _to_sent_size(frame, min_side=300)
    assert frame.read_bytes() == before
