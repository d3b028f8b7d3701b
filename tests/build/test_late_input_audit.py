"""No take is paid for and then lost to a mistake in the input that could be found up front.

An audit of what a build could find wrong with its input only after a take was paid for:

- a card's background that is no image, or an image cut short; a music bed whose first frame
  decodes but not the rest; a caption holding a character the exports' XML cannot hold:
  ``check`` passed them, the build paid, and the cut failed (exit 3, an internal error, for
  the pictures and the text; exit 1 for the music). Now ``check`` refuses each at its place,
  and ``build`` refuses it before the first request (the emulator charges nothing);
- a file of the cut (a music bed, a font, a card's background) gone or spoiled while the takes
  were made: an internal error (exit 3) or a failed cut. Now the film is not cut, the record is
  written and :class:`~storyboard.core.errors.LateInputError` says where (exit 1); the paid
  take is in the lock, and the next build pays for nothing;
- a reference image edited while another take was made: sent as it was then, paid for, and
  cached under the key of the picture the plan checked. Now the take is not sent;
- a file of the writer's where a paid build writes its outputs: found after paying (exit 1,
  the new take left out of the lock). Now refused before anything is sent (exit 2);
- a storyboard whose name makes a file name the build writes too long (its records): found
  after paying (exit 1). Now refused before anything is sent (exit 2).
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from storyboard.backends.base import Output, Ticket
from storyboard.build.pipeline import build, prepare
from storyboard.core.errors import InputError, LateInputError
from storyboard.emulator.server import EmulatorServer
from storyboard.media.fonts import font_file
from tests.build.fakes import FakePaidBackend
from tests.conftest import CliResult, read_lock, tiny_audio, tiny_jpeg

Project = Callable[[dict[str, str | bytes]], Path]
HEAD = "storyboard: 1\ntitle: Late input\nshots:\n  - {id: a, duration: 3, prompt: a harbour}\n"


def png(width: int = 320, height: int = 180) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 40, 40)).save(buffer, "PNG")
    return buffer.getvalue()


def music_spoiled_past_its_first_frame() -> bytes:
    """An MP3 whose first frames decode (validate decodes one) and whose second half is not
    MP3 at all: the cut's mix reads it to the end."""
    data = bytearray(tiny_audio("mp3", seconds=2.0))
    half = len(data) // 2
    data[half:] = b"\xff" * (len(data) - half)
    return bytes(data)


def position(text: str, value: str) -> str:
    """``film.yaml:LINE:COL`` of ``value`` in ``text``."""
    offset = text.index(value)
    line = text.count("\n", 0, offset) + 1
    return f"film.yaml:{line}:{offset - (text.rfind(chr(10), 0, offset) + 1) + 1}"


TITLE = (
    "cut:\n  clips:\n    - title: {text: Dawn, background: back.png, duration: 1}\n"
    "    - {shot: a}\n"
)
# name -> (the cut, its files, the value the error points at, a piece of its message)
UP_FRONT: dict[str, tuple[str, dict[str, bytes], str, str]] = {
    "a card's background that is no image": (
        TITLE,
        {"back.png": b"not a picture\n"},
        "back.png",
        "cut.clips[0].title.background: 'back.png' is not a readable image",
    ),
    "a card's background cut short": (
        TITLE,
        {"back.png": png()[:300]},
        "back.png",
        "cut.clips[0].title.background: 'back.png' is not an image the cut can read whole",
    ),
    "a caption holding a control character": (
        'cut:\n  clips:\n    - {shot: a, caption: {text: "the \\x1b keeper"}}\n',
        {},
        '"the',
        "cut.clips[0].caption.text: the text holds a control character (U+001B)",
    ),
}


@pytest.mark.parametrize("name", list(UP_FRONT))
def test_check_and_build_refuse_what_the_cut_would_fail_on_before_any_charge(
    name: str, project: Project, run_cli: Callable[..., CliResult], paid: EmulatorServer
) -> None:
    cut, files, value, message = UP_FRONT[name]
    text = HEAD + cut
    root = project({"film.yaml": text, **files})
    expected = f"{position(text, value)}: error: {message}"

    checked = run_cli("check", "film.yaml", cwd=root)
    assert checked.status == 2 and expected in checked.err, checked.err

    built = run_cli("build", "film.yaml", cwd=root)
    assert built.status == 2 and expected in built.err, built.err
    assert paid.ledger() == []
    assert not (root / "film.lock").exists()


def test_build_refuses_a_music_bed_that_does_not_decode_to_its_end_before_any_charge(
    project: Project, run_cli: Callable[..., CliResult], paid: EmulatorServer
) -> None:
    """check decodes a bed's first frame (decoding a 3-minute bed whole is a tenth of a second
    or more, on every check); a build with takes to make decodes it whole before sending."""
    text = HEAD + "cut:\n  music: {file: bed.mp3}\n"
    root = project({"film.yaml": text, "bed.mp3": music_spoiled_past_its_first_frame()})
    assert run_cli("check", "film.yaml", cwd=root).status == 0
    built = run_cli("build", "film.yaml", cwd=root)
    expected = (
        f"{position(text, 'bed.mp3')}: error: cut.music.file: 'bed.mp3' does not decode to its end"
    )
    assert built.status == 2 and expected in built.err, built.err
    assert paid.ledger() == []
    assert not (root / "film.lock").exists() and not (root / "build").exists()


class Meddling(FakePaidBackend):
    """The fake paid backend, and a writer who changes a file while take ``when`` renders."""

    def __init__(self, meddle: Callable[[], None] | None = None, when: str = "a") -> None:
        super().__init__()
        self.meddle, self.when = meddle, when

    async def collect(self, ticket: Ticket, folder: Path) -> list[Output]:
        if ticket.job.take == self.when and self.meddle is not None:
            self.meddle()
        return await super().collect(ticket, folder)


def gone(path: Path) -> None:
    path.unlink()


def spoiled(path: Path) -> None:
    path.write_bytes(b"spoiled\n")


MUSIC = "cut:\n  music: {file: bed.mp3}\n"
FONT = "cut:\n  clips:\n    - {shot: a, caption: {text: the keeper, font: hand.ttf}}\n"
# name -> (the cut, the file it reads and the error points at, what happens to the file)
DURING: dict[str, tuple[str, str, Callable[[Path], None]]] = {
    "the music bed removed": (MUSIC, "bed.mp3", gone),
    "the music bed spoiled": (MUSIC, "bed.mp3", spoiled),
    "a caption's font removed": (FONT, "hand.ttf", gone),
    "a caption's font spoiled": (FONT, "hand.ttf", spoiled),
    "a card's background removed": (TITLE, "back.png", gone),
}


@pytest.mark.parametrize("name", list(DURING))
def test_a_file_of_the_cut_changed_while_the_takes_were_made_is_exit_1_and_nothing_is_lost(
    name: str, project: Project
) -> None:
    cut, file, change = DURING[name]
    text = HEAD + cut
    originals = {
        "bed.mp3": tiny_audio("mp3", seconds=2.0),
        "hand.ttf": font_file("lato").read_bytes(),
        "back.png": png(),
    }
    root = project({"film.yaml": text, file: originals[file]})
    film = root / "film.yaml"
    backend = Meddling(lambda: change(root / file))

    with pytest.raises(LateInputError) as raised:
        build(film, backend=backend)
    assert raised.value.exit_code == 1  # a take was paid for: never 2, never an internal error
    where = [str(d.position) for d in raised.value.diagnostics]
    assert len(where) == 1 and where[0].endswith(f"/{position(text, file)}"), where
    assert "changed after the build checked it" in str(raised.value)
    assert [job.take for job in backend.submitted] == ["a"]
    assert set(read_lock(root / "film.lock")) == {"a"}  # the paid take is kept
    folder = root / "build" / "film" / "fake"
    assert not (folder / "film.mp4").exists()
    assert '"film": null' in (folder / "build.json").read_text()

    (root / file).write_bytes(originals[file])  # put back: the film is cut, nothing is paid
    again = Meddling()
    result = build(film, backend=again)
    assert result.ok and again.submitted == [] and result.film == folder / "film.mp4"
    assert result.film.is_file()


REFERENCED = HEAD + "  - {id: b, duration: 3, prompt: a boat, references: [ref.jpg]}\n"


def test_a_reference_edited_while_another_take_was_made_is_not_sent(project: Project) -> None:
    root = project({"film.yaml": REFERENCED, "ref.jpg": tiny_jpeg(640, 360)})
    film = root / "film.yaml"
    original = (root / "ref.jpg").read_bytes()
    edited = tiny_jpeg(640, 360, (250, 10, 10))
    backend = Meddling(lambda: (root / "ref.jpg").write_bytes(edited))

    result = build(film, backend=backend, jobs=1)  # a is made (and paid) before b is sent
    assert [job.take for job in backend.submitted] == ["a"]  # b, sent, would pay for a
    # result made from a picture the plan never checked, cached under the old one's key
    outcome = result.outcomes["b"]
    assert outcome.status == "failed" and "ref.jpg changed after the build checked it" in (
        outcome.message
    )
    assert set(read_lock(root / "film.lock")) == {"a"}
    (root / "ref.jpg").write_bytes(original)
    plan = prepare(film, backend_name="fake").plan
    assert {i.take.id: i.status for i in plan.items} == {"a": "cached", "b": "generate"}


@pytest.mark.parametrize("name", ["takes/b.mp4", "requests/b.json", "film.srt", "film.mp4"])
def test_a_file_of_the_writers_where_a_paid_build_writes_is_refused_before_sending(
    name: str, project: Project
) -> None:
    root = project({"film.yaml": HEAD})
    film = root / "film.yaml"
    assert build(film, backend=FakePaidBackend()).ok
    folder = root / "build" / "film" / "fake"
    film.write_text(HEAD + "  - {id: b, duration: 3, prompt: a boat}\n")
    if name == "film.mp4":  # the film storyboard cut is its own: a new name, the writer's file
        film.write_text(film.read_text() + "output: {file: mine.mp4}\n")
        name = "mine.mp4"
    mine = folder / name
    mine.parent.mkdir(exist_ok=True)
    mine.write_bytes(b"the writer's own\n")

    backend = FakePaidBackend()
    with pytest.raises(InputError) as raised:
        build(film, backend=backend)
    assert raised.value.exit_code == 2 and "was not written by storyboard" in str(raised.value)
    assert backend.submitted == []  # nothing sent, nothing paid
    assert mine.read_bytes() == b"the writer's own\n"

    os.remove(mine)  # moved away: the build goes on
    again = FakePaidBackend()
    assert build(film, backend=again).ok and [j.take for j in again.submitted] == ["b"]


def test_a_storyboard_name_too_long_for_what_the_build_writes_is_refused_before_sending(
    project: Project, run_cli: Callable[..., CliResult], paid: EmulatorServer
) -> None:
    """``NAME.lock`` and its temporary file fit, ``.storyboard/records/NAME.NAMESPACE.json``
    does not (the emulator's namespace names its host and port): it was written, and failed,
    once the take was paid for."""
    name = "f" * 232
    root = project({f"{name}.yaml": HEAD})
    built = run_cli("build", f"{name}.yaml", cwd=root)
    assert built.status == 2, built.err
    assert "file systems allow 255: give the storyboard a shorter file name" in built.err
    assert paid.ledger() == []
