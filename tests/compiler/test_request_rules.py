"""Requests the service refuses are refused by ``check`` first, at the offending value
(reference §3.3, §3.4, §3.5, §6, §9): nothing is sent, no other take is paid for."""

from __future__ import annotations

import base64
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec.structs
import pytest
from PIL import Image

from storyboard import api
from storyboard.build.pipeline import build
from storyboard.emulator.server import EmulatorServer
from storyboard.profiles import KLING_O3_PRO
from tests.conftest import CliResult, tiny_jpeg
from tests.e2e.runner import fast_backend

Project = Callable[[dict[str, str | bytes]], Path]
Cli = Callable[..., CliResult]

HEAD = "storyboard: 1\ntitle: T\n"


def refused(project: Project, run_cli: Cli, text: str, **files: bytes) -> list[str]:
    """The error lines ``check`` prints for ``text`` (it must exit 2)."""
    root = project({"film.yaml": text, **files})
    result = run_cli("check", "film.yaml", cwd=root)
    assert result.status == 2, result.err
    return [line for line in result.err.splitlines() if ": error: " in line]


def png_uri(width: int, height: int, fmt: str = "PNG") -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (10, 20, 30)).save(buffer, fmt)
    mime = {"PNG": "image/png", "GIF": "image/gif", "JPEG": "image/jpeg"}[fmt]
    return f"data:{mime};base64,{base64.b64encode(buffer.getvalue()).decode()}"


# 1. provider: only the keys the service accepts -------------------------------------------


def test_provider_key_the_service_does_not_take(project: Project, run_cli: Cli) -> None:
    text = HEAD + (
        "shots:\n"
        "  - id: a\n"
        "    prompt: A harbour at dawn.\n"
        "    provider: {cameraControl: zoom, sound: true}\n"
    )
    assert refused(project, run_cli, text) == [
        "film.yaml:6:31: error: 'provider' key 'cameraControl' is not a provider setting the "
        "model takes (it takes sound, multiPrompt, keepOriginalSound, characterOrientation)"
    ]


def test_provider_key_in_defaults_is_reported_once(project: Project, run_cli: Cli) -> None:
    text = HEAD + (
        "defaults: {provider: {bgmPrompt: calm}}\n"
        "shots:\n"
        "  - {id: a, prompt: A harbour at dawn.}\n"
        "  - {id: b, prompt: A harbour at dusk.}\n"
    )
    (line,) = refused(project, run_cli, text)
    assert line.startswith("film.yaml:3:34: error: 'provider' key 'bgmPrompt'")


# 2. keep_original_sound: false without a video input is not sent --------------------------

KEEP_FALSE = HEAD + (
    "shots:\n  - {id: a, duration: 3, keep_original_sound: false, prompt: A harbour at dawn.}\n"
)


def test_keep_original_sound_false_without_video_is_not_sent(project: Project) -> None:
    root = project({"film.yaml": KEEP_FALSE})
    (take,) = api.compile_storyboard(root / "film.yaml").takes
    assert "providerSettings" not in take.request


def test_keep_original_sound_false_with_a_reference_video_is_sent(project: Project) -> None:
    text = HEAD + (
        "shots:\n"
        "  - {id: a, duration: 5, prompt: A harbour at dawn.}\n"
        "  - {id: b, duration: 5, reference_videos: [a], keep_original_sound: false,"
        " prompt: The same harbour at dusk.}\n"
    )
    root = project({"film.yaml": text})
    take = api.compile_storyboard(root / "film.yaml").take("b")
    assert take.request["providerSettings"] == {"klingai": {"keepOriginalSound": False}}


def test_keep_original_sound_true_without_video_is_still_refused(
    project: Project, run_cli: Cli
) -> None:
    text = KEEP_FALSE.replace("false", "true")
    assert refused(project, run_cli, text) == [
        "film.yaml:4:47: error: 'keep_original_sound' needs a video input ('reference_videos')"
    ]


def test_keep_original_sound_false_builds_against_the_emulator(
    project: Project, emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUNWARE_API_KEY", emulator.api_key)
    monkeypatch.setenv("RUNWARE_BASE_URL", emulator.base_url)
    root = project({"film.yaml": KEEP_FALSE})
    result = build(root / "film.yaml", backend=fast_backend(), film_scale=1 / 12)
    assert result.ok, [o.message for o in result.outcomes.values()]


# 3. character_orientation needs a video input ---------------------------------------------


def test_character_orientation_with_only_reference_images(project: Project, run_cli: Cli) -> None:
    text = HEAD + (
        "shots:\n"
        "  - id: a\n"
        "    prompt: A keeper turns to the sea.\n"
        "    references: [keeper.jpg]\n"
        "    character_orientation: image\n"
    )
    assert refused(project, run_cli, text, **{"keeper.jpg": tiny_jpeg()}) == [
        "film.yaml:7:28: error: 'character_orientation' needs a video input ('reference_videos')"
    ]


# 4, 5. elements: description length, distinct ids -----------------------------------------


def test_element_description_over_100_characters(project: Project, run_cli: Cli) -> None:
    text = HEAD + (
        "elements:\n"
        f"  keeper: {{id: keeper-1, description: {'x' * 101}}}\n"
        "shots:\n"
        "  - {id: a, prompt: '<<<keeper>>> climbs the tower.'}\n"
    )
    assert refused(project, run_cli, text) == [
        "film.yaml:4:39: error: element 'keeper': the description is 101 characters; the "
        "model takes at most 100"
    ]


def test_two_elements_with_one_id_in_a_request(project: Project, run_cli: Cli) -> None:
    text = HEAD + (
        "elements:\n"
        "  keeper: {id: same-id}\n"
        "  boat: {id: same-id}\n"
        "shots:\n"
        "  - {id: a, prompt: '<<<keeper>>> rows <<<boat>>> out.'}\n"
    )
    assert refused(project, run_cli, text) == [
        "film.yaml:5:14: error: elements 'keeper' and 'boat' have the same id 'same-id' and "
        "take 'a' uses both; a request cannot send two elements with one id"
    ]


# 6. edit excludes start and end -----------------------------------------------------------


def test_edit_with_a_start_frame(project: Project, run_cli: Cli) -> None:
    text = HEAD + (
        "shots:\n"
        "  - {id: a, duration: 5, prompt: A harbour at dawn.}\n"
        "  - {id: b, edit: a, start: keeper.jpg, prompt: Restyle it as a painting.}\n"
    )
    assert refused(project, run_cli, text, **{"keeper.jpg": tiny_jpeg()}) == [
        "film.yaml:5:29: error: 'start' cannot be combined with 'edit': an edit takes its "
        "frames from the video it edits"
    ]


# 7. a hand-off reference video is 3..10 s -------------------------------------------------


def test_reference_video_of_a_short_segment(project: Project, run_cli: Cli) -> None:
    text = HEAD + (
        "shots:\n"
        "  - sequence: open\n"
        "    continuity: multishot\n"
        "    shots:\n"
        "      - {id: wide, duration: 2, prompt: A wide harbour.}\n"
        "      - {id: close, duration: 3, prompt: A close boat.}\n"
        "  - {id: b, duration: 5, reference_videos: [wide], prompt: The same camera move.}\n"
    )
    assert refused(project, run_cli, text) == [
        "film.yaml:9:45: error: shot 'wide' is 2 s; the model takes reference videos of 3..10 s"
    ]


# 8. data URI images meet the same limits as local files -----------------------------------


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        (png_uri(100, 100), "the data: URI holds 100x100; the model needs at least 300 px"),
        (png_uri(1200, 300), "the data: URI holds 1200x300; the model takes images from"),
        (png_uri(400, 400, "GIF"), "the data: URI holds a GIF image; the model takes JPEG or PNG"),
        ("data:image/jpeg;base64,/9j/4AAQSkZJRg==", "the data: URI does not hold a readable"),
    ],
)
def test_data_uri_reference_is_checked(
    project: Project, run_cli: Cli, uri: str, message: str
) -> None:
    text = HEAD + f"shots:\n  - id: a\n    prompt: A harbour.\n    references:\n      - {uri}\n"
    (line,) = refused(project, run_cli, text)
    assert line.startswith(f"film.yaml:7:9: error: {message}")


def test_data_uri_reference_that_fits_passes(project: Project, run_cli: Cli) -> None:
    text = (
        HEAD
        + f"shots:\n  - id: a\n    prompt: A harbour.\n    references: ['{png_uri(400, 400)}']\n"
    )
    root = project({"film.yaml": text})
    assert run_cli("check", "film.yaml", cwd=root).status == 0


def test_data_uri_over_the_size_limit_is_not_decoded(monkeypatch: pytest.MonkeyPatch) -> None:
    from storyboard.media.limits import data_image_problem

    profile = msgspec.structs.replace(KLING_O3_PRO, max_image_bytes=64)
    uri = png_uri(400, 400)
    decode = base64.b64decode

    def no_decoding(*args: Any, **kwargs: Any) -> bytes:
        raise AssertionError("decoded")

    monkeypatch.setattr(base64, "b64decode", no_decoding)
    problem = data_image_problem(uri, profile)
    size = len(decode(uri.split(",")[1]))
    assert problem == (
        f"the data: URI holds {size / 1024 / 1024:.1f} MB; the model takes images of at most 0.0 MB"
    )


# element videos: no limits, but a video ------------------------------------------------------


def test_an_element_video_that_is_no_video(project: Project, run_cli: Cli) -> None:
    text = HEAD + (
        "elements:\n"
        "  dancer: {id: dancer-1, videos: [dancer.mp4]}\n"
        "shots:\n"
        "  - {id: a, prompt: '<<<dancer>>> spins on the quay.'}\n"
    )
    (line,) = refused(project, run_cli, text, **{"dancer.mp4": bytes(range(256)) * 20})
    assert line == "film.yaml:4:35: error: 'dancer.mp4' is not a readable video"
