"""The animatic renderer, checked by decoding what it writes (PyAV)."""

from __future__ import annotations

import io
from pathlib import Path

import av
import pytest
from PIL import Image

from storyboard.media import AnimaticSpec, MediaError, keyframe_indices, probe, render_animatic
from storyboard.media.animatic import timecode


def frames(path: Path) -> list[Image.Image]:
    with av.open(str(path)) as container:
        return [frame.to_image() for frame in container.decode(video=0)]


def png(width: int, height: int, color: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, "PNG")
    return buffer.getvalue()


def mean(image: Image.Image) -> tuple[float, float, float]:
    pixels = list(image.resize((8, 8)).getdata())
    red, green, blue = (sum(p[c] for p in pixels) / len(pixels) for c in range(3))
    return (red, green, blue)


def distance(a: Image.Image, b: Image.Image) -> float:
    return sum(abs(x - y) for x, y in zip(mean(a), mean(b), strict=True))


@pytest.mark.parametrize(
    ("fmt", "video_codec", "audio_codec"),
    [("MP4", "h264", "aac"), ("WEBM", "vp9", "opus"), ("MOV", "h264", "aac")],
)
@pytest.mark.parametrize("sound", [False, True])
def test_format_size_rate_frames_audio_keyframes(
    tmp_path: Path, fmt: str, video_codec: str, audio_codec: str, sound: bool
) -> None:
    out = render_animatic(
        tmp_path / f"clip.{fmt.lower()}",
        width=1920,
        height=1080,
        duration_s=3,
        segments=[("shot-1", "A lighthouse at dusk", 3)],
        sound=sound,
        fmt=fmt,  # type: ignore[arg-type]
        scale=1 / 12,
    )
    info = probe(out)
    assert (info.width, info.height, info.fps, info.frame_count) == (160, 90, 24.0, 72)
    assert info.duration_s == 3.0
    assert info.video_codec == video_codec
    assert info.has_audio is sound
    if sound:
        assert info.audio_codec == audio_codec
        assert info.audio_duration_s is not None
        assert abs(info.audio_duration_s - info.duration_s) < 0.01
    else:
        assert info.audio_codec is None and info.audio_duration_s is None
    assert keyframe_indices(out) == [0, 24, 48]


def test_same_spec_same_bytes(tmp_path: Path) -> None:
    start, end = png(400, 300, (200, 30, 30)), png(400, 300, (30, 30, 200))
    outputs = []
    for name in ("a", "b"):
        for fmt in ("MP4", "WEBM"):
            outputs.append(
                render_animatic(
                    tmp_path / name / f"x.{fmt.lower()}",
                    width=320,
                    height=180,
                    duration_s=1,
                    start_image=start,
                    end_image=end,
                    sound=True,
                    fmt=fmt,
                ).read_bytes()
            )
    assert outputs[0] == outputs[2] and outputs[1] == outputs[3]
    other = render_animatic(
        tmp_path / "c.mp4", width=320, height=180, duration_s=1, start_image=end, sound=True
    )
    assert other.read_bytes() != outputs[0]


@pytest.mark.parametrize(
    ("width", "height", "scale"),
    [(1920, 1080, 0.1), (1080, 1920, 1 / 7), (1001, 563, 0.5), (1440, 1440, 1 / 12)],
)
def test_size_is_scaled_and_even(tmp_path: Path, width: int, height: int, scale: float) -> None:
    spec = AnimaticSpec(width=width, height=height, duration_s=1, scale=scale)
    out = render_animatic(tmp_path / "x.mp4", width=width, height=height, duration_s=1, scale=scale)
    info = probe(out)
    assert (info.width, info.height) == spec.size
    assert info.width % 2 == 0 and info.height % 2 == 0
    assert abs(info.width - width * scale) <= 1 and abs(info.height - height * scale) <= 1


@pytest.mark.parametrize(("width", "height"), [(96, 54), (32, 18), (2, 2)])
def test_tiny_sizes_render_every_frame(tmp_path: Path, width: int, height: int) -> None:
    # a progress bar of no width on the first frames once broke the card at small sizes
    out = render_animatic(tmp_path / "x.mp4", width=width, height=height, duration_s=2, fps=24)
    info = probe(out)
    assert (info.width, info.height, info.frame_count) == (width, height, 48)


def test_frame_count_follows_duration_and_rate(tmp_path: Path) -> None:
    out = render_animatic(tmp_path / "x.mp4", width=160, height=90, duration_s=2.5, fps=24)
    assert probe(out).frame_count == 60


def test_segment_boundaries_change_the_picture(tmp_path: Path) -> None:
    out = render_animatic(
        tmp_path / "x.mp4",
        width=320,
        height=180,
        duration_s=3,
        segments=[("shot-a", "first part", 1.5), ("shot-b", "second part", 1.5)],
    )
    video = frames(out)
    corner = (2, 2)  # the card's background, away from text
    before, after = video[35].getpixel(corner), video[36].getpixel(corner)
    assert video[0].getpixel(corner) == pytest.approx(before, abs=6)
    assert sum(abs(a - b) for a, b in zip(before, after, strict=True)) > 60  # a new card at 1.5 s
    assert distance(video[10], video[11]) < distance(video[35], video[36])


def test_timecode_runs(tmp_path: Path) -> None:
    out = render_animatic(tmp_path / "x.mp4", width=320, height=180, duration_s=1)
    video = frames(out)
    assert list(video[3].getdata()) != list(video[4].getdata())
    assert timecode(24 * 61 + 5, 24) == "00:01:01:05"


def test_move_from_start_image_to_end_image(tmp_path: Path) -> None:
    start, end = png(640, 360, (220, 20, 20)), png(640, 360, (20, 20, 220))
    out = render_animatic(
        tmp_path / "x.mp4", width=320, height=180, duration_s=2, start_image=start, end_image=end
    )
    video = frames(out)
    red, blue = Image.new("RGB", (8, 8), (220, 20, 20)), Image.new("RGB", (8, 8), (20, 20, 220))
    assert distance(video[0], red) < 20
    assert distance(video[-1], blue) < 20
    middle = mean(video[24])
    assert 60 < middle[0] < 180 and 60 < middle[2] < 180  # cross-fading


def test_slow_move_over_a_single_image(tmp_path: Path) -> None:
    gradient = Image.linear_gradient("L").resize((400, 300)).convert("RGB")
    out = render_animatic(
        tmp_path / "x.mp4", width=200, height=150, duration_s=1, start_image=gradient
    )
    video = frames(out)
    assert distance(video[0], gradient) < 15  # starts on the whole image
    assert distance(video[0], video[-1]) > 3  # and moves


@pytest.mark.parametrize("size", [(1280, 700), (700, 1280), (301, 1000), (2000, 300)])
def test_images_of_any_aspect_fill_the_frame(tmp_path: Path, size: tuple[int, int]) -> None:
    image = png(*size, (10, 200, 10))
    out = render_animatic(
        tmp_path / "x.mp4", width=160, height=90, duration_s=1, start_image=image, end_image=image
    )
    assert probe(out).frame_count == 24
    green = Image.new("RGB", (8, 8), (10, 200, 10))
    assert all(distance(f, green) < 20 for f in frames(out)[::6])


def test_bad_inputs_are_refused(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="start image"):
        render_animatic(
            tmp_path / "x.mp4", width=160, height=90, duration_s=1, start_image=b"not an image"
        )
    assert not (tmp_path / "x.mp4").exists()
    assert list(tmp_path.iterdir()) == []  # no partial file left behind
    with pytest.raises(ValueError):
        AnimaticSpec(width=160, height=90, duration_s=1, end_image=b"x")
    with pytest.raises(ValueError):
        AnimaticSpec(width=160, height=90, duration_s=0)
    with pytest.raises(ValueError):
        AnimaticSpec(width=160, height=90, duration_s=1, fmt="GIF")  # type: ignore[arg-type]
