"""Probing media files and sniffing payloads."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from storyboard.core.errors import BuildError
from storyboard.media import MediaError, probe, render_animatic, sniff_image, sniff_video


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("probe") / "clip.mp4"
    return render_animatic(path, width=320, height=180, duration_s=2, sound=True)


def test_probe_path_and_bytes_agree(clip: Path) -> None:
    from_path, from_bytes = probe(clip), probe(clip.read_bytes())
    assert from_path == from_bytes
    assert from_path.size_bytes == clip.stat().st_size
    assert (from_path.width, from_path.height, from_path.frame_count) == (320, 180, 48)
    assert from_path.container.startswith("mov,mp4")


@pytest.mark.parametrize("payload", [b"", b"hello, I am not a video", b"\x00" * 4096])
def test_non_media_raises_a_typed_error(tmp_path: Path, payload: bytes) -> None:
    path = tmp_path / "fake.mp4"
    path.write_bytes(payload)
    with pytest.raises(MediaError, match="not a readable media file"):
        probe(path)
    with pytest.raises(BuildError):
        probe(payload)


def test_an_image_is_not_a_video(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 32)).save(buffer, "PNG")
    with pytest.raises(MediaError):
        probe(buffer.getvalue())


def test_missing_file_raises_a_typed_error(tmp_path: Path) -> None:
    with pytest.raises(MediaError):
        probe(tmp_path / "nope.mp4")


def test_sniffing(clip: Path, tmp_path: Path) -> None:
    assert sniff_video(clip.read_bytes()[:16]) == "mp4"
    webm = render_animatic(tmp_path / "x.webm", width=64, height=36, duration_s=1, fmt="WEBM")
    mov = render_animatic(tmp_path / "x.mov", width=64, height=36, duration_s=1, fmt="MOV")
    assert sniff_video(webm.read_bytes()[:16]) == "webm"
    assert sniff_video(mov.read_bytes()[:16]) == "mov"
    assert sniff_video(b"GIF89a........") is None
    for fmt, name in (
        ("JPEG", "jpeg"),
        ("PNG", "png"),
        ("WEBP", "webp"),
        ("GIF", "gif"),
        ("BMP", "bmp"),
    ):
        buffer = io.BytesIO()
        Image.new("RGB", (8, 8)).save(buffer, fmt)
        assert sniff_image(buffer.getvalue()[:16]) == name
    assert sniff_image(clip.read_bytes()[:16]) is None
