"""Mutation audit of how a command ends: its exit status and its last words.

Audited: ``storyboard/cli/main.py`` (errors to exit statuses: 2 invalid input and nothing
sent, 1 a build or provider failure, 3 a bug, 130 Ctrl-C; the messages escaped, no traceback
but for a bug), ``storyboard/build/result.py`` and ``outcome.py`` (``ok``, ``spent``, what
``--json`` says) and the error paths of ``storyboard/build/pipeline.py`` (what is refused
before anything is sent, and what a build that paid does with a later error: never exit 2).
Each test here fails under a change of that code that every other test let pass:

- a mistake found after a payment (a file of the cut changed while the take was made)
  printed without its ``FILE:LINE:COL``, or exit 2 (``LateInputError`` taken for any error);
- how ``storyboard build`` ends, error by error: the status, the lines said, the control
  characters a message quotes escaped (a provider's words, a path), a traceback only for a
  bug; Ctrl-C and a closed pipe are no internal error; a usage error is exit 2, escaped;
- the records of the last build damaged while a paid build runs: exit 2 after the payment,
  or the records of a take that did not finish dropped; ``--json`` saying ``ok`` for a build
  with a failed take, or a cost where none was charged (``ok`` ignoring a failure);
- records that cannot be read taken for none (the build then pays);
- a report that cannot be written again after a payment: exit 2, or not tried when the
  finish failed;
- a folder where a paid build links a take's video or moves the film: an internal error
  (exit 3, a traceback), which was a bug of the unchanged code (fixed in
  ``storyboard/build/state/outputs.py``: said as any file of the build folder that is a folder);
- ``--max-cost`` that cannot be checked (the cost of an edit of a remote video) let through,
  and the edit sent;
- the Runware client made only when a take is sent: a key it refuses found then, not before
  anything is written (and the key never shown);
- a ``.gitignore`` the disk refuses stopping the first build instead of being said;
- the internal error's message sending the user to an address the package does not name at
  https:// as its issue tracker.

Builds run in-process (``run_cli``) on the fake paid backend, which counts every request.
"""

from __future__ import annotations

import errno
import json
from collections.abc import Callable
from pathlib import Path

import pytest

import storyboard.backends.factory
import storyboard.build.pipeline
import storyboard.build.state.gitignore
import storyboard.build.state.records
from storyboard.backends.base import Output, Ticket
from storyboard.cli import main as cli_main
from storyboard.core.diagnostics import Diagnostic, Position, printable
from storyboard.core.errors import BuildError, InputError, LateInputError
from storyboard.core.files import disk_error
from tests.build.fakes import FakePaidBackend
from tests.conftest import CliResult, read_lock, tiny_audio

Project = Callable[[dict[str, str | bytes]], Path]
Run = Callable[..., CliResult]

HEAD = "storyboard: 1\ntitle: Exit\nshots:\n  - {id: a, duration: 3, prompt: a harbour}\n"
MUSIC = HEAD + "cut:\n  music: {file: bed.mp3}\n"


class Meddling(FakePaidBackend):
    """The fake paid backend, and a writer who does something while take ``a`` renders."""

    def __init__(self, meddle: Callable[[], object] | None = None) -> None:
        super().__init__()
        self.meddle = meddle

    async def collect(self, ticket: Ticket, folder: Path) -> list[Output]:
        if ticket.job.take == "a" and self.meddle is not None:
            self.meddle()
        return await super().collect(ticket, folder)


def uses(monkeypatch: pytest.MonkeyPatch, backend: FakePaidBackend) -> FakePaidBackend:
    """``storyboard build`` (in-process) builds on ``backend``."""
    monkeypatch.setenv("RUNWARE_API_KEY", "not-a-real-key")
    monkeypatch.setenv("CI", "1")
    monkeypatch.delenv("STORYBOARD_REMOTE", raising=False)
    monkeypatch.setattr(storyboard.backends.factory, "make_backend", lambda *_, **__: backend)
    return backend


def position(text: str, value: str) -> str:
    """``film.yaml:LINE:COL`` of ``value`` in ``text``."""
    offset = text.index(value)
    line = text.count("\n", 0, offset) + 1
    return f"film.yaml:{line}:{offset - (text.rfind(chr(10), 0, offset) + 1) + 1}"


def test_a_mistake_found_after_a_payment_exits_1_and_says_where(
    project: Project, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = project({"film.yaml": MUSIC, "bed.mp3": tiny_audio("mp3", seconds=2.0)})
    backend = uses(monkeypatch, Meddling(lambda: (root / "bed.mp3").unlink()))

    built = run_cli("build", "film.yaml", cwd=root)
    assert built.status == 1, built.err  # the take was paid for: never 2
    assert [job.take for job in backend.submitted] == ["a"]
    assert set(read_lock(root / "film.lock")) == {"a"}
    assert f"{position(MUSIC, 'bed.mp3')}: error: " in built.err  # the place, printed
    assert "storyboard: error: the film was not cut: a file it reads" in built.err
    assert "Traceback" not in built.err


TWO = HEAD + "  - {id: b, duration: 3, prompt: a boat}\n"


def records_of(root: Path) -> Path:
    return root / ".storyboard" / "records" / "film.fake.json"


def test_records_damaged_while_a_paid_build_runs_are_no_exit_2_and_keep_every_take(
    project: Project, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The records of the last build are read before anything is sent (damaged: exit 2), and
    again once the takes are made, to be written with this build's: damaged in between, what
    the plan read is written with them, and the build that paid ends as it went."""
    root = project({"film.yaml": TWO})
    uses(monkeypatch, FakePaidBackend())
    assert run_cli("build", "film.yaml", cwd=root).status == 0
    assert set(json.loads(records_of(root).read_text())) == {"a", "b"}

    (root / "film.yaml").write_text(
        TWO.replace("a harbour", "a harbour at night").replace("a boat", "a boat at night")
    )
    backend = Meddling(lambda: records_of(root).write_bytes(b'{"a": {'))
    backend.fail = {"b"}  # refused: b has no result in this build
    uses(monkeypatch, backend)
    built = run_cli("build", "film.yaml", "--keep-going", "--json", cwd=root)
    assert built.status == 1, built.err  # paid for a, b failed: never 2
    said = json.loads(built.out)  # what --json tells a program: not ok, and what a cost
    assert (said["ok"], said["spent"]) == (False, 3.0)
    assert sorted((t["id"], t["status"], t["cost"]) for t in said["takes"]) == [
        ("a", "generated", 3.0),
        ("b", "failed", 0.0),
    ]
    assert "(spent $3.0000)" in built.err
    assert sorted(job.take for job in backend.submitted) == ["a", "b"]
    assert "Traceback" not in built.err
    records = json.loads(records_of(root).read_text())
    assert set(records) == {"a", "b"}  # b's, as the plan read it, kept
    assert "a harbour at night" in json.dumps(records["a"])
    assert "a boat at night" not in json.dumps(records["b"])


def test_a_report_that_cannot_be_written_again_after_a_payment_is_no_exit_2(
    project: Project, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A build writes ``report.html`` again from the record it wrote, when one was written
    before, even when the finish failed: a record it cannot read then (an input error of
    ``storyboard report``) is said, and the build that paid ends with the finish's error."""
    root = project({"film.yaml": HEAD})
    uses(monkeypatch, FakePaidBackend())
    assert run_cli("build", "film.yaml", cwd=root).status == 0
    folder = root / "build" / "film" / "fake"
    assert run_cli("report", "film.yaml", "--backend", "fake", cwd=root).status == 0
    assert (folder / "report.html").is_file()

    def record_made_a_folder() -> None:
        (folder / "build.json").unlink()
        (folder / "build.json").mkdir()

    (root / "film.yaml").write_text(HEAD.replace("a harbour", "a harbour at night"))
    backend = uses(monkeypatch, Meddling(record_made_a_folder))
    built = run_cli("build", "film.yaml", cwd=root)
    assert [job.take for job in backend.submitted] == ["a"]
    assert built.status == 1, built.err  # paid for a: never 2
    assert "report.html was not written again" in built.err
    assert "Traceback" not in built.err
    assert set(read_lock(root / "film.lock")) == {"a"}


ESCAPE = "\x1b]0;owned\x07\x1b[2J"
"""What a message may quote (a provider's words, a path): a terminal's title set, its screen
cleared, had it been printed as it is."""
HERE = Position("film.yaml", 4, 30)
# what the build raises -> (exit status, lines standard error must hold, a traceback printed)
ENDINGS: dict[str, tuple[BaseException, int, list[str], bool]] = {
    "input": (
        InputError([Diagnostic(HERE, "one"), Diagnostic(HERE, "two")]),
        2,
        ["film.yaml:4:30: error: one", "film.yaml:4:30: error: two", "2 errors"],
        False,
    ),
    "late input": (
        LateInputError([Diagnostic(HERE, "too long")], f"the film was not cut {ESCAPE}"),
        1,
        [
            "film.yaml:4:30: error: too long",
            f"storyboard: error: the film was not cut {printable(ESCAPE)}",
        ],
        False,
    ),
    "build": (
        BuildError(f"the provider said {ESCAPE}"),
        1,
        [f"storyboard: error: the provider said {printable(ESCAPE)}"],
        False,
    ),
    "Ctrl-C": (KeyboardInterrupt(), 130, ["storyboard: interrupted"], False),
    "a reader gone": (BrokenPipeError(), 1, [], False),
    "a bug": (
        RuntimeError("boom"),
        3,
        ["storyboard: internal error: this is a bug in storyboard"],
        True,
    ),
}


@pytest.mark.parametrize("name", list(ENDINGS))
def test_how_a_build_ends_is_its_exit_status_and_its_last_words(
    name: str, project: Project, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    raised, status, said, traceback = ENDINGS[name]

    def build(*_: object, **__: object) -> None:
        raise raised

    monkeypatch.setattr(storyboard.build.pipeline, "build", build)
    root = project({"film.yaml": HEAD})
    ended = run_cli("build", "film.yaml", "--backend", "preview", cwd=root)
    assert ended.status == status, ended.err
    lines = ended.err.splitlines()
    for line in said:
        assert any(shown.startswith(line) for shown in lines), (line, ended.err)
    assert "\x1b" not in ended.err and "\x07" not in ended.err
    assert ("Traceback (most recent call last)" in ended.err) is traceback, ended.err


def test_a_usage_error_is_exit_2_and_quotes_the_command_line_escaped(
    project: Project, run_cli: Run
) -> None:
    root = project({"film.yaml": HEAD})
    ended = run_cli("build", "film.yaml", ESCAPE, "--backend", "preview", cwd=root)
    assert ended.status == 2, ended.err
    assert f"storyboard: error: unrecognized arguments: {printable(ESCAPE)}" in ended.err
    assert "\x1b" not in ended.err and "\x07" not in ended.err
    assert not (root / "build").exists()


@pytest.mark.parametrize("name", ["takes/a.mp4", "film.mp4"])
def test_a_folder_where_a_paid_build_puts_a_video_is_exit_1_and_nothing_is_lost(
    name: str, project: Project, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A take's video is linked into the build folder, and the film moved there, once the take
    is paid for: a folder the writer made in its place meanwhile was an internal error (exit 3,
    a traceback, "this is a bug"); now it is said as the other files' folders are, exit 1."""
    root = project({"film.yaml": HEAD})
    uses(monkeypatch, FakePaidBackend())
    assert run_cli("build", "film.yaml", cwd=root).status == 0
    folder = root / "build" / "film" / "fake"

    def folder_in_its_place() -> None:
        (folder / name).unlink()
        (folder / name).mkdir()

    (root / "film.yaml").write_text(HEAD.replace("a harbour", "a harbour at night"))
    backend = uses(monkeypatch, Meddling(folder_in_its_place))
    built = run_cli("build", "film.yaml", cwd=root)
    assert [job.take for job in backend.submitted] == ["a"]
    assert built.status == 1, built.err  # paid for a: never 2, and no bug
    said = f"storyboard: error: build/film/fake/{name} is a folder where storyboard keeps a file"
    assert f"{said}: move it away" in built.err
    assert "Traceback" not in built.err and "internal error" not in built.err
    assert (folder / name).is_dir()  # the writer's folder, left as it is

    (folder / name).rmdir()  # moved away: the paid take is cached, nothing is paid again
    again = uses(monkeypatch, FakePaidBackend())
    assert run_cli("build", "film.yaml", cwd=root).status == 0
    assert again.submitted == [] and (folder / name).is_file()


def test_records_that_cannot_be_read_stop_a_paid_build_before_anything_is_sent(
    project: Project, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Records there but not readable (a file of another user's mode: these tests run as
    root, who reads anything, so the read is told to fail as it then does) are never no
    records: the build stops with exit 2 before a request, and says how to repair them."""
    root = project({"film.yaml": HEAD})
    uses(monkeypatch, FakePaidBackend())
    assert run_cli("build", "film.yaml", cwd=root).status == 0
    shown = ".storyboard/records/film.fake.json"

    def unreadable(*_: object) -> None:
        raise PermissionError(errno.EACCES, "Permission denied", shown)

    monkeypatch.setattr(storyboard.build.state.records, "read", unreadable)
    (root / "film.yaml").write_text(HEAD.replace("a harbour", "a harbour at night"))
    backend = uses(monkeypatch, FakePaidBackend())
    built = run_cli("build", "film.yaml", cwd=root)
    assert built.status == 2, built.err
    assert backend.submitted == []  # nothing sent, nothing paid
    assert f"{shown}:1:1: error: cannot read {shown}: " in built.err
    assert "`storyboard doctor film.yaml` says how to repair it; nothing was sent" in built.err


def test_a_budget_that_cannot_be_checked_is_exit_1_before_anything_is_sent(
    project: Project, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cost of an edit of a remote video is known only once it is made: ``--max-cost``
    cannot be checked, and the build stops before sending it (exit 1, as over a budget)."""
    text = HEAD + "  - {id: e, edit: 'https://assets.example/platform.mp4', prompt: brass}\n"
    root = project({"film.yaml": text})
    backend = uses(monkeypatch, FakePaidBackend())
    built = run_cli("build", "film.yaml", "--max-cost", "100", cwd=root)
    assert built.status == 1, built.err
    assert "storyboard: error: --max-cost $100.0000 cannot be checked: the cost of e" in built.err
    assert backend.submitted == []  # nothing sent, nothing paid


def test_a_key_the_client_refuses_stops_the_build_before_anything_is_written(
    project: Project, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Runware client is made before the plan: a key it refuses stops the build there
    (exit 1, one line that does not show the key), not once a take is about to be sent."""
    key = "sk-not valid\tat all"
    root = project({"film.yaml": HEAD})
    monkeypatch.setenv("RUNWARE_API_KEY", key)
    monkeypatch.setenv("RUNWARE_BASE_URL", "http://127.0.0.1:9/v1")  # never reached
    monkeypatch.delenv("STORYBOARD_REMOTE", raising=False)
    built = run_cli("build", "film.yaml", "--backend", "runware", cwd=root)
    assert built.status == 1, built.err
    assert built.err.splitlines()[-1] == (
        "storyboard: error: RUNWARE_API_KEY contains whitespace or control characters"
    )
    assert "not valid" not in built.err and "Traceback" not in built.err
    assert not (root / "build").exists() and list((root / ".storyboard").iterdir()) == []


def test_a_gitignore_the_disk_refuses_is_said_and_the_first_build_goes_on(
    project: Project, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first build of a project makes its ``.gitignore``; a disk that refuses it (full,
    read-only: told to, as root writes anywhere) is said, and stops nothing."""
    root = project({"film.yaml": HEAD})
    (root / ".storyboard").rmdir()  # the project's first build

    def refused(*_: object, **__: object) -> None:
        full = OSError(errno.ENOSPC, "No space left on device", ".gitignore")
        raise disk_error(full, "write .gitignore")

    monkeypatch.setattr(storyboard.build.state.gitignore, "ensure_ignored", refused)
    backend = uses(monkeypatch, FakePaidBackend())
    built = run_cli("build", "film.yaml", cwd=root)
    assert built.status == 0, built.err
    assert "left .gitignore as it is: cannot write .gitignore: No space left on device" in built.err
    assert [job.take for job in backend.submitted] == ["a"]
    assert not (root / ".gitignore").exists()


class Metadata:
    """A distribution's metadata naming these ``Project-URL`` entries."""

    def __init__(self, *entries: str) -> None:
        self.entries = list(entries)

    def get_all(self, name: str) -> list[str] | None:
        return self.entries if name == "Project-URL" else None


@pytest.mark.parametrize(
    ("entries", "where"),
    [
        (("Issues, https://tracker.example/storyboard/issues",), "at https://tracker.example/"),
        (("Issues, http://tracker.example/storyboard/issues",), "as the 'Reporting a bug'"),
        (("Issues, javascript:alert(1)",), "as the 'Reporting a bug'"),
        (("Homepage, https://storyboard.example",), "as the 'Reporting a bug'"),
    ],
)
def test_a_bug_is_reported_only_at_an_https_tracker_the_package_names(
    entries: tuple[str, ...], where: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The internal error's message sends the user to the package's issue tracker, when its
    metadata names one at an https:// address, else to the README: never elsewhere."""
    import importlib.metadata

    monkeypatch.setattr(importlib.metadata, "metadata", lambda _: Metadata(*entries))
    said = cli_main.bug_report()
    assert f"Please report it {where}" in said, said
