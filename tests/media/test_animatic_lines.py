"""The preview's animatics draw each line of dialogue as a subtitle at its time (issue 16,
section 6), checked on decoded frames; never on the first and last frame (hand-offs)."""

from __future__ import annotations

import io
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from storyboard.media.animatic import Segment, render_animatic

LINES = ((0.5, 1.5, "Hold the light!"),)


def frames(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24").astype(int) for frame in container.decode(video=0)]


def start_png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (640, 360), (40, 90, 160)).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.mark.parametrize("kind", ["card", "image"])
def test_lines_show_at_their_times_and_only_then(tmp_path: Path, kind: str) -> None:
    start = start_png() if kind == "image" else None

    def render(name: str, lines: tuple[tuple[float, float, str], ...]) -> list[np.ndarray]:
        out = render_animatic(
            tmp_path / name,
            width=320,
            height=180,
            duration_s=2.0,
            segments=[Segment("gallery", "The keeper lifts the lantern.", 2.0, lines)],
            start_image=start,
        )
        return frames(out)

    plain, spoken = render("plain.mp4", ()), render("spoken.mp4", LINES)
    assert len(plain) == len(spoken) == 48
    changed = [
        index
        for index, (a, b) in enumerate(zip(plain, spoken, strict=True))
        if np.abs(a - b).max() > 60  # a white-on-black subtitle, not coding noise
    ]
    # frames 12..35 show the line (0.5 s to 1.5 s at 24 fps)
    assert changed == list(range(12, 36))
    # it is drawn in the lower part of the picture, centred
    diff = np.abs(plain[24] - spoken[24]).max(axis=2) > 60
    rows, cols = np.nonzero(diff)
    assert rows.min() > 180 // 2
    assert abs((cols.min() + cols.max()) / 2 - 160) < 8


def test_not_on_the_first_or_the_last_frame(tmp_path: Path) -> None:
    """A line over the whole clip: the first and last frames stay as they were (other shots may
    start or end on them)."""
    segment = Segment("gallery", "The keeper.", 1.0, ((0.0, 1.0, "Hold it!"),))
    plain = frames(
        render_animatic(tmp_path / "a.mp4", width=160, height=90, duration_s=1.0,
                        segments=[Segment("gallery", "The keeper.", 1.0)])
    )  # fmt: skip
    spoken = frames(
        render_animatic(tmp_path / "b.mp4", width=160, height=90, duration_s=1.0,
                        segments=[segment])
    )  # fmt: skip
    assert np.abs(plain[0] - spoken[0]).max() < 30
    assert np.abs(plain[-1] - spoken[-1]).max() < 30
    assert np.abs(plain[12] - spoken[12]).max() > 60
