"""No paid take is lost to a mistake in the cut that ``check`` could have caught (issue 13).

Each storyboard below passed ``check`` before, was paid for by ``build`` and then failed in the
cut. Now ``check`` refuses each at its position, and ``build`` against the emulator refuses it
before the first request: the emulator's ledger stays empty. A length that exists only once a
take is made (an edit of a remote video) is checked as soon as it is known: what depends on it
is not sent, and the build exits with status 1, never 2, after that payment.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from storyboard.emulator.server import EmulatorServer
from storyboard.media.animatic import render_animatic
from tests.conftest import CliResult, tiny_audio

Project = Callable[[dict[str, str | bytes]], Path]
HEAD = "storyboard: 1\ntitle: Cut fit\n"
REMOTE = "https://assets.example/platform.mp4"


@pytest.fixture(scope="session")
def platform(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A 5 s, 1280x720, 24 fps video: a source the model takes for an edit."""
    path = tmp_path_factory.mktemp("platform") / "platform.mp4"
    render_animatic(
        path, width=1280, height=720, duration_s=5, segments=[("platform", "a platform", 5)]
    )
    return path.read_bytes()


def silent_m4a(platform: bytes, folder: Path) -> bytes:
    """An .m4a file holding a video and no sound."""
    (folder / "v.mp4").write_bytes(platform)
    shutil.copy(folder / "v.mp4", folder / "v.m4a")
    return (folder / "v.m4a").read_bytes()


# name -> (storyboard after HEAD, the value the error points at, a piece of its message)
MISTAKES: dict[str, tuple[str, str, str]] = {
    "out past the end of an edit of a local 5 s file": (
        "shots:\n"
        "  - {id: a, duration: 3, prompt: a harbour at dawn}\n"
        "  - {id: e, edit: clip.mp4, prompt: restyle it as brass}\n"
        "cut:\n  clips:\n    - {shot: a}\n    - {shot: e, out: 6}\n",
        "out: |6",
        "cut.clips[1].out: 6 s is past the end of shot 'e' (its video is 5 s long)",
    ),
    "a frame past the end of an edit of a local 5 s file": (
        "shots:\n"
        "  - {id: e, edit: clip.mp4, prompt: restyle it as brass}\n"
        "  - {id: b, start: e@5.5s, duration: 3, prompt: the busker bows}\n",
        "e@5.5s",
        "start: e@5.5s is past the end of shot 'e'",
    ),
    "a crossfade on the first clip": (
        "shots:\n"
        "  - {id: a, duration: 3, prompt: a harbour at dawn}\n"
        "  - {id: b, duration: 3, prompt: a boat at sea}\n"
        "cut:\n  clips:\n    - {shot: a, transition: crossfade}\n    - {shot: b}\n",
        "crossfade}",
        "cut.clips[0].transition: the first clip has nothing to crossfade from",
    ),
    "a crossfade longer than the two clips allow": (
        "shots:\n"
        "  - {id: a, duration: 3, prompt: a harbour at dawn}\n"
        "  - {id: b, duration: 3, prompt: a boat at sea}\n"
        "cut:\n  transition: crossfade\n  transition_duration: 3.5\n",
        "3.5",
        "the crossfade into 'b' is longer than the clip allows",
    ),
    "a fade in longer than the first clip": (
        "shots:\n  - {id: a, duration: 3, prompt: a harbour at dawn}\n"
        "cut:\n  fade_in: 2\n  fade_out: 2\n",
        "2\n  fade_out",
        "cut.fade_in: 2 s does not fit in the first clip 'a'",
    ),
    "a transition shorter than a frame": (
        "shots:\n"
        "  - {id: a, duration: 3, prompt: a harbour at dawn}\n"
        "  - {id: b, duration: 3, prompt: a boat at sea}\n"
        "cut:\n  transition: fade\n  transition_duration: 0.01\n",
        "0.01",
        "a 0.01 s fade is shorter than one frame",
    ),
    "a music file that is not audio": (
        "shots:\n  - {id: a, duration: 3, prompt: a harbour at dawn}\n"
        "cut:\n  music: {file: fake.mp3}\n",
        "fake.mp3",
        "cut.music.file: 'fake.mp3' is not a readable audio file",
    ),
    "a music file without sound": (
        "shots:\n  - {id: a, duration: 3, prompt: a harbour at dawn}\n"
        "cut:\n  music: {file: silent.m4a}\n",
        "silent.m4a",
        "cut.music.file: 'silent.m4a' has no audio stream",
    ),
}


def position(text: str, value: str) -> str:
    """``film.yaml:LINE:COL`` of ``value`` in ``text``; with a ``|`` in ``value``, of what
    follows it (``out: |6``: the 6 of the first ``out: 6``)."""
    offset = text.index(value.replace("|", "")) + max(value.find("|"), 0)
    line = text.count("\n", 0, offset) + 1
    return f"film.yaml:{line}:{offset - (text.rfind(chr(10), 0, offset) + 1) + 1}"


def files(text: str, platform: bytes, folder: Path) -> dict[str, str | bytes]:
    return {
        "film.yaml": HEAD + text,
        "clip.mp4": platform,
        "fake.mp3": b"ID3 this is text, not sound\n",
        "silent.m4a": silent_m4a(platform, folder),
        "music.mp3": tiny_audio("mp3"),
    }


def on_emulator(emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNWARE_API_KEY", emulator.api_key)
    monkeypatch.setenv("RUNWARE_BASE_URL", emulator.base_url)


def submits(emulator: EmulatorServer) -> int:
    return int(emulator.stats()["tasks"].get("videoInference", 0))


@pytest.mark.parametrize("name", list(MISTAKES))
def test_check_and_build_refuse_a_cut_mistake_before_any_request(
    name: str,
    project: Project,
    run_cli: Callable[..., CliResult],
    emulator: EmulatorServer,
    monkeypatch: pytest.MonkeyPatch,
    platform: bytes,
    tmp_path: Path,
) -> None:
    text, value, message = MISTAKES[name]
    root = project(files(text, platform, tmp_path))
    expected = f"{position(HEAD + text, value)}: error: {message}"

    checked = run_cli("check", "film.yaml", cwd=root)
    assert checked.status == 2, checked.err
    assert expected in checked.err

    planned = run_cli("plan", "film.yaml", cwd=root)
    assert planned.status == 2 and expected in planned.err

    on_emulator(emulator, monkeypatch)
    built = run_cli("build", "film.yaml", cwd=root)
    assert built.status == 2, built.err
    assert expected in built.err
    assert emulator.ledger() == [] and submits(emulator) == 0
    assert not (root / "build").exists() and not (root / "film.lock").exists()


def test_a_fixed_cut_builds(
    project: Project,
    run_cli: Callable[..., CliResult],
    emulator: EmulatorServer,
    monkeypatch: pytest.MonkeyPatch,
    platform: bytes,
    tmp_path: Path,
) -> None:
    """The same checks let a cut that fits through: an edit's trim within its 5 s, music."""
    text = (
        "shots:\n"
        "  - {id: a, duration: 3, prompt: a harbour at dawn}\n"
        "  - {id: e, edit: clip.mp4, prompt: restyle it as brass}\n"
        "cut:\n  music: {file: music.mp3}\n  clips:\n    - {shot: a}\n"
        "    - {shot: e, in: 1, out: 5, transition: crossfade}\n"
    )
    root = project(files(text, platform, tmp_path))
    assert run_cli("check", "film.yaml", cwd=root).status == 0
    on_emulator(emulator, monkeypatch)
    built = run_cli("build", "film.yaml", "--json", cwd=root)
    assert built.status == 0, built.err
    assert len(emulator.ledger()) == 2
    assert (emulator_folder(root) / "film.mp4").is_file()


def emulator_folder(root: Path) -> Path:
    """The build folder's folder of the emulator's outputs (``runware@127.0.0.1-PORT``)."""
    (folder,) = (root / "build" / "film").glob("runware@*")
    return folder


REMOTE_FILM = (
    "shots:\n"
    f"  - {{id: e, edit: '{REMOTE}', prompt: restyle it as brass}}\n"
    "  - {id: b, start: e@6s, duration: 3, prompt: the busker bows}\n"
    "  - {id: c, start: b.last, duration: 3, prompt: the crowd claps}\n"
    "  - {id: d, duration: 3, prompt: a train leaves}\n"
    "cut:\n  clips:\n    - {shot: e, out: 7}\n    - {shot: b}\n    - {shot: c}\n    - {shot: d}\n"
)


def test_an_edit_of_a_remote_video_is_checked_once_made_before_its_dependents(
    project: Project,
    run_cli: Callable[..., CliResult],
    emulator: EmulatorServer,
    monkeypatch: pytest.MonkeyPatch,
    platform: bytes,
) -> None:
    root = project({"film.yaml": HEAD + REMOTE_FILM})
    assert run_cli("check", "film.yaml", cwd=root).status == 0  # its length is not known
    emulator.register_remote(REMOTE, platform)
    on_emulator(emulator, monkeypatch)
    built = run_cli("build", "film.yaml", "-j", "1", cwd=root)
    assert built.status == 1, built.err  # something was paid for: never 2
    start = position(HEAD + REMOTE_FILM, "e@6s")
    out = position(HEAD + REMOTE_FILM, "out: |7")
    assert f"{start}: error: start: e@6s is past the end of shot 'e'" in built.err
    assert f"{out}: error: cut.clips[0].out: 7 s is past the end of shot 'e'" in built.err
    assert re.search(
        r"b: skipped \(not sent: the storyboard does not fit the video of 'e'", built.err
    )
    assert "c: skipped" in built.err and "d: skipped (not started" in built.err
    assert "fix the storyboard where the errors above say" in built.err
    [paid] = emulator.ledger()  # the edit only: nothing that depends on its length was sent
    assert submits(emulator) == 1
    lock = (root / "film.lock").read_text()
    assert paid.task_uuid in lock  # the paid edit is kept
    # again, unfixed: the edit comes from the cache, is measured before anything else starts,
    # and nothing is sent
    again = run_cli("build", "film.yaml", "-j", "1", cwd=root)
    assert again.status == 1 and "e: cached" in again.err
    assert f"{start}: error: start: e@6s" in again.err
    assert "b: skipped (not sent" in again.err and "d: skipped (not started" in again.err
    assert len(emulator.ledger()) == 1 and submits(emulator) == 1


def test_a_remote_edit_that_breaks_only_the_cut_is_exit_1_after_paying(
    project: Project,
    run_cli: Callable[..., CliResult],
    emulator: EmulatorServer,
    monkeypatch: pytest.MonkeyPatch,
    platform: bytes,
) -> None:
    text = (
        "shots:\n"
        f"  - {{id: e, edit: '{REMOTE}', prompt: restyle it as brass}}\n"
        "  - {id: d, duration: 3, prompt: a train leaves}\n"
        "cut:\n  clips:\n    - {shot: d}\n    - {shot: e, in: 5.5}\n"
    )
    root = project({"film.yaml": HEAD + text})
    emulator.register_remote(REMOTE, platform)
    on_emulator(emulator, monkeypatch)
    built = run_cli("build", "film.yaml", "--keep-going", cwd=root)
    assert built.status == 1, built.err
    where = position(HEAD + text, "in: |5.5")
    message = f"{where}: error: cut.clips[1].in: 5.5 s is at or past the end of shot 'e'"
    assert message in built.err
    assert "storyboard: error: the film was not cut" in built.err
    assert len(emulator.ledger()) == 2  # both takes were made (--keep-going) and are kept
    assert not (emulator_folder(root) / "film.mp4").exists()
    record: dict[str, Any] = json.loads((emulator_folder(root) / "build.json").read_text())
    assert record["film"] is None
    # fixed, the next build pays for nothing and cuts the film
    (root / "film.yaml").write_text(HEAD + text.replace("in: 5.5", "in: 4.5"))
    again = run_cli("build", "film.yaml", cwd=root)
    assert again.status == 0, again.err
    assert len(emulator.ledger()) == 2
    assert (emulator_folder(root) / "film.mp4").is_file()
