"""A lock file or a journal that is not UTF-8 text is damaged state, never empty state.

``plan`` and ``build`` refuse it as they refuse a line they cannot read: exit 2, one
``FILE:LINE:COL: error:`` at the first byte that cannot be read, the ``storyboard doctor``
hint, "nothing was sent", no traceback. ``storyboard doctor`` reports it and, even with
``--fix``, leaves the file byte for byte (a line it cannot read may hold a paid task's UUID).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

import storyboard.backends.factory
from storyboard.build.pipeline import build
from storyboard.build.state.journal import Journal
from tests.build.fakes import FakePaidBackend
from tests.conftest import CliResult

Project = Callable[[dict[str, str | bytes]], Path]
Run = Callable[..., CliResult]

FILM = """\
storyboard: 1
title: Bytes
shots:
  - {id: radio, duration: 3, prompt: a radio crackles in the dark}
  - {id: deck, duration: 3, prompt: waves wash over the deck}
  - {id: mast, duration: 3, prompt: the mast creaks in the wind}
"""


@pytest.fixture
def film(project: Project) -> Path:
    return project({"film.yaml": FILM}) / "film.yaml"


@pytest.fixture
def paid(monkeypatch: pytest.MonkeyPatch) -> FakePaidBackend:
    """``storyboard build`` (in-process) builds with this fake paid backend, which counts
    every request it is sent and every result it is asked to download."""
    backend = FakePaidBackend()
    monkeypatch.setenv("RUNWARE_API_KEY", "not-a-real-key")
    monkeypatch.setenv("CI", "1")
    monkeypatch.setattr(storyboard.backends.factory, "make_backend", lambda *_, **__: backend)
    return backend


def _journal(film: Path) -> Path:
    return film.parent / ".storyboard" / "journal" / "film.jsonl"


def _fresh_clone(film: Path) -> None:
    """The storyboard and its lock, no cache, no build folder: every take is to fetch or pay."""
    shutil.rmtree(film.parent / ".storyboard")
    shutil.rmtree(film.parent / "build", ignore_errors=True)
    (film.parent / ".storyboard").mkdir()


def _damage_lock(film: Path) -> bytes:
    """A real lock whose line 3 (``# deck``) has the byte 0xff at column 5."""
    assert build(film, backend=FakePaidBackend()).ok
    lines = film.with_suffix(".lock").read_bytes().split(b"\n")
    assert lines[2] == b"# deck"
    lines[2] = b"# de\xffck"
    data = b"\n".join(lines)
    film.with_suffix(".lock").write_bytes(data)
    _fresh_clone(film)
    return data


def _damage_journal(film: Path) -> bytes:
    """A journal of a build killed after sending 'radio', with a 0xff in its line 3 (at
    column 13): a record of take 'deck' whose take id is damaged."""
    result = build(film, backend=FakePaidBackend(), select=["radio"])
    entry = result.outcomes["radio"].entry
    assert result.ok and entry is not None and entry.task_uuid is not None
    shutil.rmtree(entry.folder)
    film.with_suffix(".lock").unlink()
    base = {"backend": "fake", "endpoint": "fake://", "key": entry.key, "time": 1.0}
    submit = {**base, "event": "submit", "take": "radio", "task_uuid": entry.task_uuid}
    accepted = {**base, "event": "accepted", "task_uuid": entry.task_uuid}
    lines = [json.dumps(r, sort_keys=True).encode() for r in (submit, accepted)]
    lines.append(b'{"take": "de\xffck", "event": "submit", "backend": "fake"}')
    data = b"\n".join(lines) + b"\n"
    _journal(film).write_bytes(data)
    return data


def _refused(result: CliResult, where: str, says: str) -> None:
    """One positioned error at ``where``, the doctor's hint, nothing sent, no traceback."""
    assert result.status == 2, result.err
    assert "Traceback" not in result.err and "internal error" not in result.err
    errors = [line for line in result.err.splitlines() if ": error: " in line]
    assert len(errors) == 1, result.err
    assert errors[0].startswith(f"{where}: error: {says}"), errors[0]
    assert "`storyboard doctor " in errors[0] and errors[0].endswith("nothing was sent")


# -- plan and build: refused, nothing sent ---------------------------------------------------


def test_a_lock_that_is_not_utf8_stops_plan_and_build_at_its_byte(
    film: Path, run_cli: Run, paid: FakePaidBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = _damage_lock(film)
    built = run_cli("build", "film.yaml", cwd=film.parent)
    _refused(built, "film.lock:3:5", "the lock file is not UTF-8 text (the byte 0xff")
    assert paid.submitted == [] and paid.fetched == []
    monkeypatch.delenv("RUNWARE_API_KEY")
    planned = run_cli("plan", "film.yaml", "--backend", "preview", cwd=film.parent)
    _refused(planned, "film.lock:3:5", "the lock file is not UTF-8 text (the byte 0xff")
    assert film.with_suffix(".lock").read_bytes() == data  # never rewritten
    assert not (film.parent / "build").exists()


def test_a_journal_that_is_not_utf8_stops_plan_and_build_at_its_byte(
    film: Path, run_cli: Run, paid: FakePaidBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = _damage_journal(film)
    where = ".storyboard/journal/film.jsonl:3:13"
    built = run_cli("build", "film.yaml", cwd=film.parent)
    _refused(built, where, "the journal is not UTF-8 text (the byte 0xff")
    assert paid.submitted == [] and paid.fetched == []  # 'radio' not even resumed
    monkeypatch.delenv("RUNWARE_API_KEY")
    planned = run_cli("plan", "film.yaml", "--backend", "preview", cwd=film.parent)
    _refused(planned, where, "the journal is not UTF-8 text (the byte 0xff")
    assert _journal(film).read_bytes() == data


# -- doctor: reported, left as it is -----------------------------------------------------------


def test_doctor_reports_a_lock_and_a_journal_that_are_not_utf8_and_leaves_them(
    film: Path, run_cli: Run
) -> None:
    lock = _damage_lock(film)
    film.with_suffix(".lock").unlink()  # out of the way of the journal's setup, which builds
    journal = _damage_journal(film)
    film.with_suffix(".lock").write_bytes(lock)
    for args in ((), ("--fix",)):
        report = run_cli("doctor", "film.yaml", *args, cwd=film.parent)
        assert report.status == 2, report.err
        assert "Traceback" not in report.err and "internal error" not in report.err
        assert (
            "film.lock:3:5: error: the lock file is not UTF-8 text (the byte 0xff cannot be "
            "read); --fix leaves it as it is: mend line 3 by hand"
        ) in report.err
        assert (
            ".storyboard/journal/film.jsonl:3:13: error: the journal is not UTF-8 text (the "
            "byte 0xff cannot be read); --fix leaves it as it is: mend line 3 by hand, keeping "
            "its task_uuid"
        ) in report.err
        assert "2 problems left" in report.err and "repaired" not in report.err
        assert film.with_suffix(".lock").read_bytes() == lock
        assert _journal(film).read_bytes() == journal


def test_doctor_reports_a_build_folder_marker_that_is_not_utf8(
    film: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RUNWARE_API_KEY", raising=False)
    monkeypatch.setenv("CI", "1")
    built = run_cli("build", "film.yaml", "--preview-scale", "0.1", cwd=film.parent)
    assert built.status == 0, built.err
    marker = film.parent / "build" / "film" / ".storyboard-build.json"
    data = marker.read_bytes() + b"\xff\n"
    marker.write_bytes(data)
    report = run_cli("doctor", "film.yaml", "--fix", cwd=film.parent)
    assert report.status == 2 and "Traceback" not in report.err, report.err
    line = data.count(b"\n")
    assert (
        "error: build/film/.storyboard-build.json is not UTF-8 text (the byte 0xff cannot be "
        f"read) at line {line}, column 1: storyboard cannot tell which files"
    ) in report.err
    assert marker.read_bytes() == data
    again = run_cli("build", "film.yaml", "--preview-scale", "0.1", cwd=film.parent)
    assert again.status == 2 and "Traceback" not in again.err, again.err
    assert "is not UTF-8 text (the byte 0xff cannot be read)" in again.err
    assert marker.read_bytes() == data


# -- the pieces ----------------------------------------------------------------------------------


def test_the_position_of_a_bad_byte_counts_lines_and_characters() -> None:
    from storyboard.build.state.safe import text_position

    assert text_position(b"\xff", 0) == (1, 1)
    assert text_position(b"ab\n\xc3\xa9t\xe9\xff", 6) == (2, 3)  # 'é' is one column
    assert text_position(b"a\n\nxy\xfe\n", 5) == (3, 3)


def test_not_text_is_still_a_decode_error_for_callers_that_take_it_for_no_record(
    tmp_path: Path,
) -> None:
    from storyboard.build.state.safe import NotText, Tree

    (tmp_path / "x.json").write_bytes(b'{"a": 1}\n{"b": "\xe2\x82"}\nok\n\xff\n')
    with pytest.raises(UnicodeDecodeError) as raised:
        Tree.at(tmp_path).read_text(tmp_path / "x.json")
    found = raised.value
    assert isinstance(found, NotText) and isinstance(found, ValueError)
    assert (found.line, found.col, found.byte, found.bad_lines) == (2, 8, 0xE2, 2)


def test_compacting_leaves_a_journal_that_is_not_utf8_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    journal = Journal(path, backend="fake", endpoint="fake://")
    journal.submit("radio", "k" * 64, "00000000-0000-4000-8000-000000000000")
    damaged = path.read_bytes() + b'{"event": "\xff"}\n'
    path.write_bytes(damaged)
    journal.compact()
    assert path.read_bytes() == damaged
