"""What ``check`` accepts, the service takes: gaps an audit found between ``check`` and the
emulator (which validates as the service does, reference §3.3-§3.5, §4, §6).

Each storyboard here was accepted by ``check`` while its compiled request was refused by the
emulator (after other takes had been paid for, in some), or the other way round: refused by
``check`` though the service takes it. The emulator's side is asserted in-process on the
request the service would get.
"""

from __future__ import annotations

import base64
import io
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from storyboard import api
from storyboard.emulator.config import EmulatorConfig
from storyboard.emulator.store import MediaStore
from storyboard.emulator.validate import validate_video
from storyboard.emulator.wire import MODEL, ApiError
from storyboard.media import render_animatic
from tests.conftest import CliResult

Project = Callable[[dict[str, str | bytes]], Path]
Cli = Callable[..., CliResult]

HEAD = "storyboard: 1\ntitle: T\n"
REMOTE = "https://assets.example.test/"


def refused(project: Project, run_cli: Cli, text: str, **files: bytes) -> list[str]:
    """The error lines ``check`` prints for ``text`` (it must exit 2)."""
    root = project({"film.yaml": text, **files})
    result = run_cli("check", "film.yaml", cwd=root)
    assert result.status == 2, result.err
    return [line for line in result.err.splitlines() if ": error: " in line]


def accepted(project: Project, run_cli: Cli, text: str, **files: bytes) -> Path:
    root = project({"film.yaml": text, **files})
    result = run_cli("check", "film.yaml", cwd=root)
    assert result.status == 0, result.err
    return root


def emulator(task: dict[str, Any], tmp_path: Path, **remote: bytes) -> str | None:
    """The code the emulator refuses ``task`` with, or None when it takes it (remote URLs
    under ``REMOTE`` resolve to the given bytes)."""
    store = MediaStore(tmp_path / "emulator-store")
    for name, data in remote.items():
        store.register_remote(REMOTE + name, data)
    body = {"taskType": "videoInference", "taskUUID": str(uuid.uuid4()), "model": MODEL, **task}
    try:
        validate_video(body, store=store, elements=frozenset(), config=EmulatorConfig())
    except ApiError as error:
        return error.code
    return None


def jpeg(width: int = 640, height: int = 360) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (40, 90, 160)).save(buffer, "JPEG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    folder = tmp_path_factory.mktemp("videos")
    return {
        # a WEBM (as a phone or a browser records one), and a portrait video narrower than
        # any image the model takes (720x1920: 1:2.67), both tiny or short
        "webm": render_animatic(
            folder / "a.webm", width=64, height=36, duration_s=1, fmt="WEBM"
        ).read_bytes(),
        "mp4": render_animatic(folder / "b.mp4", width=64, height=36, duration_s=1).read_bytes(),
        "tall": render_animatic(
            folder / "tall.mp4", width=720, height=1920, duration_s=3
        ).read_bytes(),
    }


# 1. provider: the values of the keys the service takes are held to its rules -----------------

REF_SHOT = "  - {id: a, duration: 5, prompt: A harbour at dawn.}\n"


def test_provider_sound_with_a_reference_video(project: Project, run_cli: Cli) -> None:
    text = (
        HEAD
        + "shots:\n"
        + REF_SHOT
        + (
            "  - {id: b, duration: 5, reference_videos: [a], provider: {sound: true},"
            " prompt: The same harbour.}\n"
        )
    )
    assert refused(project, run_cli, text) == [
        "film.yaml:5:67: error: 'provider' key 'sound': sound cannot be on when a video is an "
        "input (shot 'b' has 'reference_videos')"
    ]


def test_provider_sound_from_defaults_with_a_reference_video(
    project: Project, run_cli: Cli
) -> None:
    text = (
        HEAD
        + "defaults: {provider: {sound: true}}\nshots:\n"
        + REF_SHOT
        + ("  - {id: b, duration: 5, reference_videos: [a], prompt: The same harbour.}\n")
    )
    (line,) = refused(project, run_cli, text)
    assert line.startswith("film.yaml:3:30: error: 'provider' key 'sound': sound cannot be on")


def test_emulator_refuses_sound_with_a_reference_video(tmp_path: Path) -> None:
    task = {
        "positivePrompt": "The same harbour.",
        "width": 1920,
        "height": 1080,
        "duration": 5,
        "providerSettings": {"klingai": {"sound": True}},
        "inputs": {"referenceVideos": [REMOTE + "a.mp4"]},
    }
    assert emulator(task, tmp_path) == "incompatibleParameters"


def test_provider_multi_prompt(project: Project, run_cli: Cli, tmp_path: Path) -> None:
    text = HEAD + (
        "shots:\n  - {id: a, duration: 3, prompt: A harbour at dawn.,"
        " provider: {multiPrompt: [{prompt: x, duration: 3}]}}\n"
    )
    (line,) = refused(project, run_cli, text)
    assert line.startswith("film.yaml:4:78: error: 'provider' key 'multiPrompt': the compiler")
    task = {
        "positivePrompt": "A harbour at dawn.",
        "width": 1920,
        "height": 1080,
        "duration": 3,
        "providerSettings": {"klingai": {"multiPrompt": [{"prompt": "x", "duration": 3}]}},
    }
    assert emulator(task, tmp_path) == "incompatibleParameters"


@pytest.mark.parametrize(
    "provider,message",
    [
        ("{sound: 'yes'}", "'provider' key 'sound': expected true or false, got \"yes\""),
        (
            "{keepOriginalSound: 1}",
            "'provider' key 'keepOriginalSound': expected true or false, got 1",
        ),
        (
            "{characterOrientation: face}",
            "'provider' key 'characterOrientation': \"face\" is not one of 'image', 'video'",
        ),
    ],
)
def test_provider_value_of_the_wrong_kind(
    project: Project, run_cli: Cli, provider: str, message: str
) -> None:
    text = (
        HEAD
        + "shots:\n"
        + REF_SHOT
        + (
            f"  - {{id: b, duration: 5, reference_videos: [a], provider: {provider},"
            " prompt: The same harbour.}\n"
        )
    )
    (line,) = refused(project, run_cli, text)
    assert line.endswith(message)


def test_provider_keep_original_sound_without_a_video_input(
    project: Project, run_cli: Cli, tmp_path: Path
) -> None:
    # `keep_original_sound: false` is left out without a video input; the same in `provider`
    # was sent, and refused
    text = HEAD + (
        "defaults: {provider: {keepOriginalSound: false}}\n"
        "shots:\n  - {id: a, duration: 3, prompt: A harbour at dawn.}\n"
    )
    (line,) = refused(project, run_cli, text)
    assert line.startswith(
        "film.yaml:3:42: error: 'provider' key 'keepOriginalSound': the model takes "
        "keepOriginalSound only with a video input, and shot 'a' has no 'reference_videos'"
    )
    task = {
        "positivePrompt": "A harbour at dawn.",
        "width": 1920,
        "height": 1080,
        "duration": 3,
        "providerSettings": {"klingai": {"keepOriginalSound": False}},
    }
    assert emulator(task, tmp_path) == "incompatibleParameters"


def test_provider_values_the_service_takes_still_pass(project: Project, run_cli: Cli) -> None:
    text = (
        HEAD
        + "defaults: {provider: {sound: true}}\nshots:\n"
        + REF_SHOT
        + (
            "  - {id: b, duration: 5, reference_videos: [a], prompt: The same harbour.,"
            " provider: {characterOrientation: video, keepOriginalSound: false, sound: false}}\n"
        )
    )
    root = accepted(project, run_cli, text)
    take = api.compile_storyboard(root / "film.yaml").take("b")
    assert take.request["providerSettings"] == {
        "klingai": {"characterOrientation": "video", "keepOriginalSound": False, "sound": False}
    }


# 2. an input video in a container the model does not take ----------------------------------


def test_a_webm_named_mp4_as_the_video_to_edit(
    project: Project, run_cli: Cli, videos: dict[str, bytes], tmp_path: Path
) -> None:
    text = HEAD + (
        "shots:\n"
        "  - {id: a, edit: src.mp4, prompt: Restyle it.}\n"
        "  - {id: b, duration: 4, reference_videos: [ref.mov], prompt: Restyle it.}\n"
    )
    webm = videos["webm"]
    assert refused(project, run_cli, text, **{"src.mp4": webm, "ref.mov": webm}) == [
        "film.yaml:4:19: error: 'src.mp4' is a WEBM video; the model takes MP4 or MOV videos",
        "film.yaml:5:45: error: 'ref.mov' is a WEBM video; the model takes MP4 or MOV videos",
    ]
    assert (
        emulator(
            {"positivePrompt": "ab", "inputs": {"video": REMOTE + "src.mp4"}},
            tmp_path,
            **{"src.mp4": webm},
        )
        == "unsupportedVideoFormat"
    )


# 3. a video as a data: URI -----------------------------------------------------------------


def test_a_video_given_as_a_data_uri(
    project: Project, run_cli: Cli, videos: dict[str, bytes], tmp_path: Path
) -> None:
    uri = "data:video/mp4;base64," + base64.b64encode(videos["mp4"]).decode()
    text = HEAD + (
        f"elements:\n  hero: {{videos: ['{uri}']}}\n"
        "shots:\n"
        f"  - {{id: a, edit: '{uri}', prompt: Restyle it.}}\n"
        f"  - {{id: b, duration: 5, reference_videos: ['{uri}'], prompt: <<<hero>>> again.}}\n"
    )
    message = (
        "error: a video is sent to the model as a URL or an uploaded media UUID, not as a "
        "data: URI: name the video file instead"
    )
    assert refused(project, run_cli, text) == [
        f"film.yaml:4:19: {message}",
        f"film.yaml:6:19: {message}",
        f"film.yaml:7:45: {message}",
    ]
    assert emulator({"positivePrompt": "ab", "inputs": {"video": uri}}, tmp_path) == (
        "invalidVideo"
    )


# 4. a JPEG that Pillow calls MPO (a camera's multi-picture JPEG) ----------------------------


def test_a_multi_picture_jpeg_is_a_jpeg(project: Project, run_cli: Cli, tmp_path: Path) -> None:
    buffer = io.BytesIO()
    first, second = (Image.new("RGB", (640, 360), c) for c in ((10, 20, 30), (30, 20, 10)))
    first.save(buffer, "MPO", save_all=True, append_images=[second])
    mpo = buffer.getvalue()
    with Image.open(io.BytesIO(mpo)) as image:
        assert image.format == "MPO"
    text = HEAD + "shots:\n  - {id: a, duration: 3, start: f.jpg, prompt: A harbour.}\n"
    accepted(project, run_cli, text, **{"f.jpg": mpo})
    frames = {"frameImages": [{"image": REMOTE + "f.jpg", "frame": "first"}]}
    task = {"positivePrompt": "A harbour.", "duration": 3, "inputs": frames}
    assert emulator(task, tmp_path, **{"f.jpg": mpo}) is None


# 5. a frame of an edit is as large as the video it edits -----------------------------------


def test_a_frame_of_an_edit_of_a_narrow_video(
    project: Project, run_cli: Cli, videos: dict[str, bytes], tmp_path: Path
) -> None:
    text = HEAD + (
        "shots:\n"
        "  - {id: e, edit: src.mp4, prompt: Restyle it.}\n"
        "  - {id: again, edit: e, prompt: Restyle it again.}\n"
        "  - {id: b, duration: 3, start: e.last, prompt: It goes on.}\n"
        "  - sequence: s\n"
        "    continuity: chain\n"
        "    shots:\n"
        "      - {id: c, edit: src.mp4, prompt: Restyle it.}\n"
        "      - {id: d, duration: 3, prompt: It goes on., end: again@1s}\n"
    )
    assert refused(project, run_cli, text, **{"src.mp4": videos["tall"]}) == [
        "film.yaml:6:33: error: shot 'e' is an edit as large as 'src.mp4', so its frames are "
        "720x1920; the model takes images from 1:2.5 to 2.5:1",
        # chained: d starts on c's last frame
        "film.yaml:11:9: error: shot 'c' is an edit as large as 'src.mp4', so its frames are "
        "720x1920; the model takes images from 1:2.5 to 2.5:1",
        "film.yaml:11:56: error: shot 'again' is an edit as large as 'src.mp4', so its frames "
        "are 720x1920; the model takes images from 1:2.5 to 2.5:1",
    ]
    frame = jpeg(720, 1920)
    frames = {"frameImages": [{"image": REMOTE + "f.jpg", "frame": "first"}]}
    task = {"positivePrompt": "It goes on.", "duration": 3, "inputs": frames}
    assert emulator(task, tmp_path, **{"f.jpg": frame}) == "invalidImageAspectRatio"


def test_a_frame_of_an_edit_of_a_video_the_model_takes(
    project: Project, run_cli: Cli, tmp_path: Path
) -> None:
    source = render_animatic(tmp_path / "wide.mp4", width=1280, height=720, duration_s=3)
    text = HEAD + (
        "shots:\n"
        "  - {id: e, edit: src.mp4, prompt: Restyle it.}\n"
        "  - {id: b, duration: 3, start: e.last, prompt: It goes on.}\n"
    )
    accepted(project, run_cli, text, **{"src.mp4": source.read_bytes()})


# 6. a data: URI written over several lines -------------------------------------------------


def test_a_data_uri_over_several_lines_is_sent_without_spaces(
    project: Project, run_cli: Cli, tmp_path: Path
) -> None:
    payload = base64.b64encode(jpeg()).decode()
    half = len(payload) // 2
    text = HEAD + (
        "shots:\n"
        "  - id: a\n"
        "    duration: 3\n"
        "    references:\n"
        f"      - data:image/jpeg;base64,{payload[:half]}\n"
        f"        {payload[half:]}\n"
        "    prompt: A harbour.\n"
    )
    root = accepted(project, run_cli, text)
    (take,) = api.compile_storyboard(root / "film.yaml").takes
    assert take.request["inputs"]["referenceImages"] == [f"data:image/jpeg;base64,{payload}"]
    assert emulator(take.request, tmp_path) is None
    spaced = {"inputs": {"referenceImages": [f"data:image/jpeg;base64,{payload[:half]} x"]}}
    assert emulator({**take.request, **spaced}, tmp_path) == "invalidImage"


# 7. a URL whose scheme is written in capitals -----------------------------------------------


def test_a_url_scheme_in_capitals_is_sent_in_lower_case(
    project: Project, run_cli: Cli, tmp_path: Path
) -> None:
    text = HEAD + (
        "shots:\n  - {id: a, duration: 3, references: ['HTTPS://assets.example.test/Ref.jpg'],"
        " prompt: A harbour.}\n"
    )
    root = accepted(project, run_cli, text)
    (take,) = api.compile_storyboard(root / "film.yaml").takes
    assert take.request["inputs"]["referenceImages"] == [REMOTE + "Ref.jpg"]
    assert emulator(take.request, tmp_path, **{"Ref.jpg": jpeg()}) is None
    upper = {"inputs": {"referenceImages": ["HTTPS://assets.example.test/Ref.jpg"]}}
    assert emulator({**take.request, **upper}, tmp_path) == "invalidImage"


# 8. a frame at a time after the shot's last frame starts ------------------------------------


def test_a_time_after_the_last_frame_starts_is_the_last_frame(project: Project) -> None:
    # 4.99 s is before the end of a 5 s shot (validate takes it) but rounds to frame 120 of a
    # video whose last frame is 119: the build failed after the first take was paid for. In a
    # multi-shot take, 2.99 s of a 3 s segment rounded to the next shot's first frame.
    text = HEAD + (
        "shots:\n"
        "  - {id: a, duration: 5, prompt: A harbour.}\n"
        "  - sequence: s\n"
        "    continuity: multishot\n"
        "    shots:\n"
        "      - {id: m1, duration: 3, prompt: A boat.}\n"
        "      - {id: m2, duration: 3, prompt: A gull.}\n"
        "  - {id: b, duration: 3, start: a@4.99s, end: m1@2.99s, prompt: Later.}\n"
        "  - {id: c, duration: 3, start: a@4.97s, end: m2@2.5s, prompt: Later still.}\n"
    )
    root = project({"film.yaml": text})
    compiled = api.compile_storyboard(root / "film.yaml")
    frames = {
        take: [f["image"] for f in compiled.take(take).request["inputs"]["frameImages"]]
        for take in ("b", "c")
    }
    assert frames == {
        "b": ["take:a/frame/119", "take:s/frame/71"],
        "c": ["take:a/frame/119", "take:s/frame/132"],  # unchanged: they round inside
    }


def test_a_time_after_the_last_frame_starts_builds(project: Project, paid: Any) -> None:
    from storyboard.build.pipeline import build
    from tests.e2e.runner import fast_backend

    text = HEAD + (
        "shots:\n"
        "  - {id: a, duration: 3, prompt: A harbour.}\n"
        "  - {id: b, duration: 3, start: a@2.99s, prompt: Later.}\n"
    )
    root = project({"film.yaml": text})
    result = build(root / "film.yaml", backend=fast_backend(), film_scale=1 / 12)
    assert result.ok, [o.message for o in result.outcomes.values()]
    assert len(paid.ledger()) == 2
