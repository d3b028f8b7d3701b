"""Mutation audit of ``storyboard doctor`` (storyboard/build/doctor.py): each test here fails
under a change of the doctor that every other test let pass, and each such change is one of
the ways the doctor exists to prevent: a paid result or a paid request's task UUID lost by a
repair, a repair that is only half done, state it cannot read taken for none, a take paid for
twice.

Builds run in-process on the fake paid backend, which counts every request it is sent; the
doctor runs as the command line runs it.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from storyboard.build.pipeline import build
from tests.build.fakes import FakePaidBackend
from tests.build.state.test_outputs_legacy import _legacy
from tests.conftest import CliResult

Project = Callable[[dict[str, str | bytes]], Path]
Run = Callable[..., CliResult]

FILM = """\
storyboard: 1
title: Doctor
shots:
  - {id: a, duration: 3, prompt: first shot}
  - {id: b, duration: 3, prompt: second shot}
"""
TASK = "6f0c58a8-58a4-4d4b-9a4e-6f3b7a0c6f11"


@pytest.fixture
def film(project: Project) -> Path:
    return project({"film.yaml": FILM}) / "film.yaml"


def journal_of(film: Path) -> Path:
    return film.parent / ".storyboard" / "journal" / "film.jsonl"


def built(film: Path) -> tuple[FakePaidBackend, Any]:
    """Build ``film`` once, paying for every take."""
    backend = FakePaidBackend()
    result = build(film, backend=backend)
    assert result.ok and len(backend.submitted) == 2
    return backend, result


def cut_submit(key: str, take: str = "a", task: str = TASK) -> str:
    """A ``submit`` line a build was killed while writing: cut after its task UUID."""
    record = {"backend": "fake", "endpoint": "fake://", "event": "submit", "key": key,
              "take": take, "task_uuid": task, "time": 1.0}  # fmt: skip
    return json.dumps(record, sort_keys=True)[:-12] + "\n"


def damage_lock_entry(film: Path) -> str:
    """Take the sha256 out of the lock's first entry; the lock's new text."""
    lock = film.with_suffix(".lock")
    text = lock.read_text()
    damaged = text.replace('"sha256": "', '"sha": "', 1)
    assert damaged != text
    lock.write_text(damaged)
    return damaged


# -- --fix repairs what it can even when something else is left for a person -----------------


def test_fix_repairs_the_journal_when_the_lock_is_left_for_a_person(
    film: Path, run_cli: Run
) -> None:
    """Mutants: --fix repairs only when the first finding has a repair; --fix writes a lock
    that has a problem no repair solves. A damaged lock entry the cache cannot restore comes
    first; the journal's cut ``submit`` (its task UUID whole) must still be written whole,
    and the lock left byte for byte."""
    _, result = built(film)
    key = result.outcomes["a"].entry.key
    shutil.rmtree(film.parent / ".storyboard" / "cache")  # nothing to restore the entry from
    lock = damage_lock_entry(film)
    journal_of(film).write_text(cut_submit(key))
    fixed = run_cli("doctor", str(film), "--fix")
    assert fixed.status == 2, fixed.err
    assert "restore it from git" in fixed.err
    assert "repaired: write the record whole" in fixed.err
    assert film.with_suffix(".lock").read_text() == lock  # left for a person
    (line,) = journal_of(film).read_text().splitlines()
    record = json.loads(line)
    assert record["task_uuid"] == TASK and record["key"] == key and record["event"] == "submit"


def test_fix_says_what_it_found_once(film: Path, run_cli: Run) -> None:
    """Mutant: the findings (or notes) of the look before the project lock are kept beside
    those of the look under it: every problem and note said twice."""
    assert _legacy(film.parent, run_cli).is_dir()  # a build folder an older storyboard made
    journal_of(film).parent.mkdir(parents=True, exist_ok=True)
    journal_of(film).write_text("garbage\n")
    fixed = run_cli("doctor", str(film), "--fix")
    assert fixed.status == 0, fixed.err
    assert fixed.err.count("was made by an older storyboard") == 1
    assert fixed.err.count("not a journal record") == 1
    assert journal_of(film).read_text() == ""


def test_a_symlink_met_under_the_project_lock_repairs_nothing_and_says_so(
    film: Path, run_cli: Run, tmp_path: Path
) -> None:
    """Mutant: the symlink that stops the doctor taking the project lock goes unsaid (only
    the first look's findings are left, as if --fix had merely not run)."""
    _, result = built(film)
    key = result.outcomes["a"].entry.key
    journal_of(film).write_text(cut_submit(key))
    outside = tmp_path / "elsewhere.lock"
    outside.write_text("not storyboard's\n")
    (film.parent / ".storyboard" / "build.lock").unlink(missing_ok=True)
    (film.parent / ".storyboard" / "build.lock").symlink_to(outside)
    fixed = run_cli("doctor", str(film), "--fix")
    assert fixed.status == 2, fixed.err
    assert "nothing was repaired" in fixed.err
    assert journal_of(film).read_text() == cut_submit(key)  # not written
    assert outside.read_text() == "not storyboard's\n"


@pytest.mark.parametrize("folder", [".storyboard/frames", ".storyboard/tmp"])
def test_a_state_folder_that_cannot_be_read_is_reported_not_taken_for_empty(
    film: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch, folder: str
) -> None:
    """Mutant: a state folder that cannot be listed is passed over,
    and the doctor says the state is sound."""
    built(film)
    from storyboard.build.state.safe import Tree

    names = Tree.names

    def denied(self: Tree, path: Any) -> list[tuple[str, bool]]:
        if str(path).endswith(folder):
            raise PermissionError(13, "denied for the test", str(path))
        return names(self, path)

    monkeypatch.setattr(Tree, "names", denied)
    report = run_cli("doctor", str(film))
    assert report.status == 2, report.err
    assert f"{folder}:1:1: error: " in report.err and "cannot be read" in report.err
    assert "the state is sound" not in report.err


@pytest.mark.parametrize("which", ["lock", "journal"])
def test_a_lock_or_journal_that_is_a_symlink_out_of_the_project_is_reported_and_left(
    film: Path, run_cli: Run, tmp_path: Path, which: str
) -> None:
    """Mutant: a lock file (or journal) that is a symlink is read as no file: the doctor
    said the state is sound, and --fix had nothing to say of it."""
    built(film)
    path = film.with_suffix(".lock") if which == "lock" else journal_of(film)
    outside = tmp_path / f"outside.{which}"
    outside.write_bytes(path.read_bytes())
    kept = outside.read_bytes()
    path.unlink()
    path.symlink_to(outside)
    for args in ((), ("--fix",)):
        report = run_cli("doctor", str(film), *args)
        assert report.status == 2, report.err
        assert path.name in report.err and "the state is sound" not in report.err
    assert path.is_symlink() and outside.read_bytes() == kept


def test_a_conflict_whose_side_holds_an_entry_nothing_restores_is_all_said_and_left(
    film: Path, run_cli: Run
) -> None:
    """Mutant: a problem the repair meets beyond those of the first reading (a damaged entry
    inside a side of a merge conflict, which the cache cannot restore) goes unsaid."""
    built(film)
    shutil.rmtree(film.parent / ".storyboard" / "cache")
    lock = film.with_suffix(".lock")
    lines = lock.read_text().split("\n")
    at = next(i for i, line in enumerate(lines) if '"take": "b"' in line)
    ours = lines[at]
    theirs = ours.replace('"cost": 3.0', '"cost": 3.5').replace('"sha256": "', '"sha": "', 1)
    assert theirs != ours and '"sha": "' in theirs
    lines[at : at + 1] = ["<<<<<<< HEAD", ours, "=======", theirs, ">>>>>>> other"]
    text = "\n".join(lines)
    lock.write_text(text)
    for args in ((), ("--fix",)):
        report = run_cli("doctor", str(film), *args)
        assert report.status == 2, report.err
        assert f"film.lock:{at + 1}:1: error: the entry of take 'b' has no sha256" in report.err
        assert "restore it from git" in report.err
    assert lock.read_text() == text  # left for a person: no side is dropped


def test_only_this_storyboards_damaged_records_are_moved_aside_and_only_once(
    film: Path, run_cli: Run
) -> None:
    """Mutants: the doctor of film.yaml moves aside the records of another storyboard (or of
    film2.yaml), or takes the records it moved aside for records and moves them again."""
    built(film)
    folder = film.parent / ".storyboard" / "records"
    (mine,) = folder.iterdir()
    assert mine.name == "film.fake.json"
    others = {
        name: b'{"cut": ' + name.encode()
        for name in ("film2.fake.json", "other.fake.json", "film.preview.json.damaged")
    }
    for name, data in others.items():
        (folder / name).write_bytes(data)
    mine.write_bytes(b'{"a": {')
    fixed = run_cli("doctor", str(film), "--fix")
    assert fixed.status == 0, fixed.err
    assert "repaired: move it aside as film.fake.json.damaged" in fixed.err
    assert fixed.err.count("the records of the last build are") == 1
    assert not mine.exists()
    assert (folder / "film.fake.json.damaged").read_bytes() == b'{"a": {'
    for name, data in others.items():
        assert (folder / name).read_bytes() == data
    again = run_cli("doctor", str(film), "--fix")
    assert again.status == 0 and "the state is sound" in again.err, again.err
    assert sorted(p.name for p in folder.iterdir()) == sorted([*others, "film.fake.json.damaged"])


def test_records_that_cannot_be_read_are_reported_not_taken_for_none(
    film: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Mutant: records that are there but cannot be read (no permission, an I/O error) are
    passed over, and the doctor says the state is sound."""
    built(film)
    from storyboard.build.state import records as take_records

    def denied(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "denied for the test")

    monkeypatch.setattr(take_records, "read", denied)
    report = run_cli("doctor", str(film))
    assert report.status == 2, report.err
    assert ".storyboard/records/film.fake.json:1:1: error: cannot be read" in report.err
    assert "the state is sound" not in report.err


def test_fix_with_nothing_to_repair_does_not_wait_for_a_running_build(
    film: Path, run_cli: Run
) -> None:
    """Mutant: --fix takes the project lock even when nothing has a repair, and so fails
    (exit 1, another build is running) on a sound state while a build runs."""
    from storyboard.build.state.workspace import ProjectLock, Workspace

    built(film)
    with ProjectLock(Workspace.for_storyboard(film, film.parent)):
        report = run_cli("doctor", str(film), "--fix")
    assert report.status == 0, report.err
    assert "the state is sound" in report.err


def test_records_that_cannot_be_moved_aside_are_not_said_to_be_repaired(
    film: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Mutant: the damaged records are marked repaired before they are moved aside, so a
    move that fails is said to be done."""
    from storyboard.build.state.safe import Tree

    built(film)
    (records,) = (film.parent / ".storyboard" / "records").iterdir()
    records.write_bytes(b'{"a": {')

    def refused(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "denied for the test")

    monkeypatch.setattr(Tree, "replace", refused)
    fixed = run_cli("doctor", str(film), "--fix")
    assert fixed.status == 2, fixed.err
    assert "repaired:" not in fixed.err
    assert "--fix would move it aside as film.fake.json.damaged" in fixed.err
    assert records.read_bytes() == b'{"a": {'


def test_fix_leaves_a_sound_lock_of_version_1_as_it_is(film: Path, run_cli: Run) -> None:
    """Mutant: --fix writes the lock over even when it has no problem (a lock of version 1,
    committed before, rewritten as version 2 when only the journal needed repair)."""
    from storyboard.build.state.lockfile import LockFile

    built(film)
    lock = LockFile.read(film.with_suffix(".lock"), film.name)
    takes = {e.take: {k: v for k, v in e.to_json().items() if k != "take"} for e in lock.entries}
    v1 = json.dumps({"storyboard": "film.yaml", "takes": takes, "version": 1}, indent=2) + "\n"
    film.with_suffix(".lock").write_text(v1)
    journal_of(film).write_text("garbage\n")
    fixed = run_cli("doctor", str(film), "--fix")
    assert fixed.status == 0, fixed.err
    assert journal_of(film).read_text() == ""
    assert film.with_suffix(".lock").read_text() == v1


def test_abandon_still_lists_the_requests_left_pending(film: Path, run_cli: Run) -> None:
    """Mutant: with --abandon, the requests still pending go unlisted (the writer is not told
    that take 'b' is pending, nor how to give it up)."""
    _, result = built(film)
    other = "0d1f6b7e-2f1c-4d0b-8f59-3e4f0a1b2c3d"
    lines = [
        json.dumps(
            {
                "backend": "fake",
                "endpoint": "fake://",
                "event": "submit",
                "key": key,
                "take": take,
                "task_uuid": task,
                "time": 1.0,
            },
            sort_keys=True,
        )
        for take, key, task in [
            ("a", result.outcomes["a"].entry.key, TASK),
            ("b", result.outcomes["b"].entry.key, other),
        ]
    ]
    journal_of(film).write_text("\n".join(lines) + "\n")
    given = run_cli("doctor", str(film), "--abandon", "a")
    assert given.status == 0, given.err
    assert f"take 'a': gave up task {TASK}" in given.err
    assert f"take 'b': task {other} is pending" in given.err
    assert f"take 'a': task {TASK} is pending" not in given.err


def test_a_state_folder_that_is_a_symlink_out_of_the_project_is_reported(
    film: Path, run_cli: Run, tmp_path: Path
) -> None:
    """Mutant: a state folder that is a symlink (here, out of the project) is passed over,
    and the doctor says the state is sound."""
    built(film)
    outside = tmp_path / "frames-elsewhere"
    outside.mkdir()
    (outside / "theirs.png").write_bytes(b"not storyboard's")
    frames = film.parent / ".storyboard" / "frames"
    shutil.rmtree(frames, ignore_errors=True)
    frames.symlink_to(outside)
    for args in ((), ("--fix",)):
        report = run_cli("doctor", str(film), *args)
        assert report.status == 2, report.err
        assert "frames" in report.err and "the state is sound" not in report.err
    assert frames.is_symlink() and (outside / "theirs.png").read_bytes() == b"not storyboard's"


def test_fix_waits_for_a_running_build_as_long_as_it_is_told(film: Path, run_cli: Run) -> None:
    """Mutant: --fix does not wait (--wait) for the build that holds the project lock."""
    import threading

    from storyboard.build.state.workspace import ProjectLock, Workspace

    built(film)
    journal_of(film).write_text("garbage\n")
    held = ProjectLock(Workspace.for_storyboard(film, film.parent))
    held.__enter__()
    timer = threading.Timer(0.3, held.__exit__, args=(None, None, None))
    timer.start()
    try:
        fixed = run_cli("doctor", str(film), "--fix", "--wait", "10")
    finally:
        timer.join()
    assert fixed.status == 0, fixed.err
    assert journal_of(film).read_text() == ""
