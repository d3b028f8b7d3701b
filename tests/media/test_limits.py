"""Local input images and videos are held to the model's limits at compile time, each problem
reported at the value that names the file (and nothing is sent: this is ``check``)."""

from __future__ import annotations

import io
import subprocess
from collections.abc import Callable
from pathlib import Path

import imageio_ffmpeg
import pytest
from PIL import Image

from storyboard.media import limits
from storyboard.profiles.kling_o3_pro import KLING_O3_PRO
from tests.compiler.test_compile import HEAD, compiled_json, errors_of
from tests.conftest import CliResult, tiny_jpeg

Project = Callable[[dict[str, str | bytes]], Path]


def at(text: str, value: str, after: str = "") -> str:
    """``LINE:COL`` of ``value`` in ``text`` (the first one after ``after``), 1-based."""
    offset = text.index(value, text.index(after) if after else 0)
    line = text.count("\n", 0, offset) + 1
    return f"{line}:{offset - (text.rfind(chr(10), 0, offset) + 1) + 1}"


def image(width: int, height: int, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (30, 60, 90)).save(buffer, fmt)
    return buffer.getvalue()


def video(path: Path, seconds: float, size: str = "160x90", fps: int = 24) -> bytes:
    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi",
         "-i", f"testsrc2=size={size}:rate={fps}:duration={seconds}",
         "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(path)],
        check=True,
    )  # fmt: skip
    return path.read_bytes()


def test_images_the_model_refuses_are_errors_at_their_place(project: Project) -> None:
    text = (
        HEAD
        + "elements:\n"
        + "  hero:\n    frontal_image: small.png\n    images: [ok.jpg, wide.png]\n"
        + "shots:\n"
        + "  - {id: a, prompt: <<<hero>>> walks, start: small.png}\n"
        + "  - {id: b, prompt: bb, start: ok.jpg, references: [gif.png, wide.png]}\n"
    )
    root = project(
        {
            "film.yaml": text,
            "small.png": image(400, 200),
            "ok.jpg": tiny_jpeg(640, 360),
            "wide.png": image(1200, 300),
            "gif.png": image(400, 400, "GIF"),
        }
    )
    film = root / "film.yaml"
    small = "'small.png' is 400x200; the model needs at least 300 px on each side"
    wide = "'wide.png' is 1200x300; the model takes images from 1:2.5 to 2.5:1"
    assert sorted(errors_of(root)) == sorted(
        [
            f"{film}:{at(text, 'small.png')}: error: {small}",
            f"{film}:{at(text, 'wide.png')}: error: {wide}",
            f"{film}:{at(text, 'small.png', 'walks')}: error: {small}",
            f"{film}:{at(text, 'gif.png')}: error: 'gif.png' is a GIF image; the model takes "
            "JPEG or PNG",
            f"{film}:{at(text, 'wide.png', 'gif.png')}: error: {wide}",
        ]
    )


def test_an_image_over_10_mb_is_refused_before_it_is_read(project: Project) -> None:
    root = project({"film.yaml": HEAD + "shots:\n  - {id: a, prompt: aa, start: big.jpg}\n"})
    with (root / "big.jpg").open("wb") as handle:
        handle.truncate(10 * 1024 * 1024 + 1)  # not an image at all: its size is enough
    (message,) = errors_of(root)
    assert message.endswith("error: 'big.jpg' is 10.0 MB; the model takes images of at most 10 MB")


def test_a_default_reference_is_reported_once(project: Project) -> None:
    text = (
        HEAD
        + "defaults:\n  references: [tiny.png]\n"
        + "shots:\n"
        + "".join(f"  - {{id: s{i}, prompt: shot {i}}}\n" for i in range(3))
    )
    root = project({"film.yaml": text, "tiny.png": image(100, 100)})
    (message,) = errors_of(root)
    assert f":{at(text, 'tiny.png')}: error: 'tiny.png' is 100x100;" in message


def test_fit_images_compile(project: Project) -> None:
    root = project(
        {
            "film.yaml": HEAD + "shots:\n  - {id: a, prompt: aa, start: ok.png, end: tall.jpg}\n",
            "ok.png": image(300, 300),
            "tall.jpg": tiny_jpeg(300, 750),  # 1:2.5 exactly
        }
    )
    assert compiled_json(root)["a"]["request"]["inputs"]["frameImages"][0]["image"] == "file:ok.png"


@pytest.mark.parametrize(
    "seconds,size,fps,problem",
    [
        (2, "1280x720", 24, "lasts 2.00 s; the model takes videos of 3..10 s"),
        (
            3,
            "640x360",
            24,
            "is 640x360; the model takes videos of 720..2160 px on the shorter side",
        ),
        (3, "720x720", 12, "runs at 12 fps; the model takes 24..60 fps"),
        (3, "720x720", 24, None),
    ],
)
def test_input_videos_the_model_refuses(
    project: Project, tmp_path: Path, seconds: int, size: str, fps: int, problem: str | None
) -> None:
    clip = video(tmp_path / "clip.mp4", seconds, size, fps)
    text = (
        HEAD
        + "shots:\n"
        + "  - {id: a, prompt: make it night, edit: clip.mp4}\n"
        + "  - {id: b, prompt: the same walk, reference_videos: [clip.mp4]}\n"
    )
    root = project({"film.yaml": text, "clip.mp4": clip})
    if problem is None:
        assert set(compiled_json(root)) == {"a", "b"}
        return
    errors = errors_of(root)
    assert errors == [
        f"{root / 'film.yaml'}:{at(text, 'clip.mp4')}: error: 'clip.mp4' {problem}",
        f"{root / 'film.yaml'}:{at(text, 'clip.mp4', 'walk')}: error: 'clip.mp4' {problem}",
    ]


def test_check_says_so_with_status_2_and_writes_nothing(
    project: Project, run_cli: Callable[..., CliResult]
) -> None:
    text = HEAD + "shots:\n  - {id: a, prompt: aa, start: small.png}\n"
    root = project({"film.yaml": text, "small.png": image(200, 120)})
    before = sorted(p.relative_to(root) for p in root.rglob("*"))
    result = run_cli("check", "film.yaml", cwd=root)
    assert result.status == 2
    assert f"film.yaml:{at(text, 'small.png')}: error: 'small.png' is 200x120" in result.err
    assert "Traceback" not in result.err
    assert sorted(p.relative_to(root) for p in root.rglob("*")) == before


def test_headers_are_read_once_while_the_file_is_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "a.png"
    path.write_bytes(image(200, 200))
    assert "200x200" in (limits.image_problem(path, KLING_O3_PRO) or "")
    hits = limits._image_header.cache_info().hits
    assert "200x200" in (limits.image_problem(path, KLING_O3_PRO) or "")
    assert limits._image_header.cache_info().hits == hits + 1
    path.write_bytes(image(400, 400) + b"")  # a new size: read again
    assert limits.image_problem(path, KLING_O3_PRO) is None
