"""State storyboard cannot read is never empty state, and never a traceback (the audit of
unreadable state).

Each case damages one state file of a built project the way the world can (a lock whose
header holds its entries, JSON nested too deeply for Python, a file or folder that cannot be
opened, a number out of range, a cache entry of a newer version, a folder where a file
should be) and asserts what the commands do: a clear error naming the file, the exit status
the docs give (2 before anything is sent), nothing paid (the emulator's ledger, the fake
provider's requests) and the damaged file left byte for byte.

The tests run as root, whom permissions do not stop: "cannot be opened" is made by failing
the open of that one path (``EACCES``), as the kernel does for another user.
"""

from __future__ import annotations

import errno
import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import storyboard.backends.factory
from storyboard.build.pipeline import build, prepare
from storyboard.build.state import outputs as outputs_module
from storyboard.build.state import safe
from storyboard.build.state.cache import Cache
from storyboard.build.state.journal import Journal
from storyboard.build.state.safe import Tree, UnsafePath
from storyboard.build.state.workspace import Workspace
from tests.build.fakes import FakePaidBackend
from tests.conftest import CliResult

Project = Callable[[dict[str, str | bytes]], Path]
Run = Callable[..., CliResult]

FILM = """\
storyboard: 1
title: Unreadable
shots:
  - {id: a, duration: 3, prompt: a lamp is lit in the window}
  - {id: b, duration: 3, prompt: the keeper climbs the stairs}
"""
DEEP = b"[" * 100_000 + b"]" * 100_000
"""JSON Python cannot read: ``json.loads`` raises RecursionError, not a ValueError."""


@pytest.fixture
def film(project: Project) -> Path:
    return project({"film.yaml": FILM}) / "film.yaml"


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakePaidBackend:
    """``storyboard build`` (in-process) builds with this fake paid backend, which counts
    every request it is sent."""
    backend = FakePaidBackend()
    monkeypatch.setenv("RUNWARE_API_KEY", "not-a-real-key")
    monkeypatch.setenv("CI", "1")
    monkeypatch.setattr(storyboard.backends.factory, "make_backend", lambda *_, **__: backend)
    return backend


@pytest.fixture
def built(film: Path, fake: FakePaidBackend) -> Path:
    """``film`` built once on the fake paid backend: its lock, journal, records, cache entries
    and build folder are all there (what it was asked then is forgotten)."""
    assert build(film, backend=fake).ok
    fake.submitted.clear()
    fake.fetched.clear()
    return film


def _state(film: Path) -> Path:
    return film.parent / ".storyboard"


def _entry(film: Path, take: str = "a") -> Path:
    lock = json.loads(film.with_suffix(".lock").read_text().splitlines()[3])
    assert lock["take"] == take
    key: str = lock["key"]
    return _state(film) / "cache" / "fake" / key[:2] / key / "entry.json"


def _clean_error(result: CliResult, status: int, *names: str) -> str:
    """No traceback, the exit status, and an error line naming each of ``names``."""
    assert "Traceback" not in result.err and "internal error" not in result.err, result.err
    assert result.status == status, result.err
    errors = [line for line in result.err.splitlines() if "error: " in line]
    assert errors, result.err
    for name in names:
        assert any(name in line for line in errors), result.err
    return "\n".join(errors)


@pytest.fixture
def deny(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[Path], None]]:
    """``deny(path)``: opening ``path`` (a file, or a folder on the way to one) fails with
    EACCES, as it does for a user without the permission."""
    denied: set[Path] = set()
    real_open, real_dir = Tree.open, safe._open_dir

    def open_(self: Tree, path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if Path(path).resolve() in denied:
            raise PermissionError(errno.EACCES, "Permission denied", Path(path).name)
        return real_open(self, path, flags, *args, **kwargs)

    def open_dir(fd: int, name: str, shown: Path, *, create: bool) -> int:
        if shown.resolve() in denied:
            raise PermissionError(errno.EACCES, "Permission denied", name)
        return real_dir(fd, name, shown, create=create)

    monkeypatch.setattr(Tree, "open", open_)
    monkeypatch.setattr(safe, "_open_dir", open_dir)
    yield lambda path: denied.add(Path(path).resolve())


# -- the lock file: a header that holds its entries ------------------------------------------


def _charges(emulator: Any) -> int:
    return sum(1 for e in emulator.ledger() if not e.dry_run and e.cost > 0)


def test_a_lock_whose_header_holds_its_entries_is_refused_not_read_as_empty(
    film: Path, run_cli: Run, paid: Any
) -> None:
    """A lock rewritten as one object (``{"storyboard", "version": 2, "takes": {...}}``: an
    editor's or a script's "format JSON") was read as a lock without entries: a clone without
    the cache paid for every take again (2 charges), and the build wrote the lock over."""
    assert run_cli("build", "film.yaml", cwd=film.parent).status == 0
    assert _charges(paid) == 2
    lock = film.with_suffix(".lock")
    takes = {}
    for line in lock.read_text().splitlines():
        if line.startswith('{"take"'):
            entry = json.loads(line)
            takes[entry.pop("take")] = entry
    data = json.dumps({"storyboard": "film.yaml", "version": 2, "takes": takes}, indent=2)
    lock.write_text(data)
    shutil.rmtree(_state(film) / "cache")  # a fresh clone: the lock is the only record
    for command in ("plan", "build"):
        result = run_cli(command, "film.yaml", cwd=film.parent)
        errors = _clean_error(result, 2, "film.lock:1:1")
        assert "'takes'" in errors and "nothing was sent" in errors
    assert _charges(paid) == 2  # nothing paid again
    assert lock.read_text() == data  # not written over


# -- JSON nested too deeply: damaged, never a RecursionError ----------------------------------


Damage = Callable[[Path], tuple[str, str, tuple[str, ...]]]
"""Damages a state file of a built film; returns where the error is, what it says, and the
commands that read that file (``plan`` reads the runware namespace's records: not the fake's,
and no build folder)."""


def _deep_lock(film: Path) -> tuple[str, str, tuple[str, ...]]:
    lock = film.with_suffix(".lock")
    data = lock.read_bytes()
    lock.write_bytes(data + DEEP + b"\n")
    line = data.count(b"\n") + 1
    return f"film.lock:{line}:1", "not a lock entry: nested too deeply", ("plan", "build")


def _deep_journal(film: Path) -> tuple[str, str, tuple[str, ...]]:
    (_state(film) / "journal" / "film.jsonl").write_bytes(DEEP + b"\n")
    return ".storyboard/journal/film.jsonl:1:1", "not a journal record", ("plan", "build")


def _deep_records(film: Path) -> tuple[str, str, tuple[str, ...]]:
    (_state(film) / "records" / "film.fake.json").write_bytes(DEEP)
    return ".storyboard/records/film.fake.json:1:1", "nested too deeply", ("build",)


def _deep_marker(film: Path) -> tuple[str, str, tuple[str, ...]]:
    (film.parent / "build" / "film" / ".storyboard-build.json").write_bytes(DEEP)
    return "build/film/.storyboard-build.json", "nested too deeply", ("build", "clean")


@pytest.mark.parametrize(
    "damage", [_deep_lock, _deep_journal, _deep_records, _deep_marker], ids=lambda f: f.__name__
)
def test_state_nested_too_deeply_is_damaged_not_a_crash(
    built: Path, run_cli: Run, fake: FakePaidBackend, damage: Damage
) -> None:
    before = {p: p.read_bytes() for p in built.parent.rglob("*") if p.is_file()}
    where, says, commands = damage(built)
    damaged = {p: p.read_bytes() for p in built.parent.rglob("*") if p.is_file()}
    for command in commands:
        result = run_cli(command, "film.yaml", cwd=built.parent)
        assert says in _clean_error(result, 2, where)
    doctor = run_cli("doctor", "film.yaml", cwd=built.parent)
    _clean_error(doctor, 2, where.split(":")[0])
    assert fake.submitted == []
    assert damaged != before
    assert {p: p.read_bytes() for p in damaged} == damaged  # the damaged file left as it is


def test_a_cache_entry_nested_too_deeply_is_a_miss_and_the_lock_stands_in(
    built: Path, run_cli: Run, fake: FakePaidBackend
) -> None:
    _entry(built).write_bytes(DEEP)
    result = run_cli("build", "film.yaml", cwd=built.parent)
    assert result.status == 0, result.err
    assert "a: fetched from the lock" in result.err
    assert fake.submitted == []


def test_clean_previews_reads_a_preview_entry_nested_too_deeply_as_damaged(
    film: Path, run_cli: Run
) -> None:
    assert run_cli("build", "film.yaml", "--backend", "preview", cwd=film.parent).status == 0
    entries = sorted((_state(film) / "cache").glob("preview*/*/*/entry.json"))
    assert entries
    entries[0].write_bytes(DEEP)
    result = run_cli("clean", "film.yaml", "--previews", cwd=film.parent)
    assert result.status == 0, result.err
    assert not entries[0].parent.exists()  # its results are storyboard's: 0.mp4


def test_a_build_record_nested_too_deeply_is_damaged_for_report(built: Path, run_cli: Run) -> None:
    record = built.parent / "build" / "film" / "fake" / "build.json"
    record.write_bytes(DEEP)
    errors = _clean_error(run_cli("report", "film.yaml", cwd=built.parent), 2, "build.json")
    assert "is damaged" in errors and "nested too deeply" in errors
    assert record.read_bytes() == DEEP


def test_a_build_record_with_a_number_it_cannot_hold_is_damaged_for_report(
    built: Path, run_cli: Run
) -> None:
    """JSON holds 1e999 (read as infinity); a width cannot: it was an OverflowError."""
    record = built.parent / "build" / "film" / "fake" / "build.json"
    data = record.read_text().replace('"width": 1920', '"width": 1e999', 1)
    assert "1e999" in data
    record.write_text(data)
    errors = _clean_error(run_cli("report", "film.yaml", cwd=built.parent), 2, "build.json")
    assert "is damaged" in errors and "infinity" in errors
    assert record.read_text() == data


# -- a file or folder that cannot be opened: an error naming it, never missing ---------------


@pytest.mark.parametrize(
    ("denied", "named"),
    [
        ("film.lock", "film.lock:1:1"),
        (".storyboard/journal/film.jsonl", ".storyboard/journal/film.jsonl:1:1"),
        (".storyboard/journal", ".storyboard/journal/film.jsonl:1:1"),
    ],
)
def test_a_lock_or_journal_that_cannot_be_opened_stops_plan_build_and_doctor(
    built: Path,
    run_cli: Run,
    fake: FakePaidBackend,
    deny: Callable[[Path], None],
    denied: str,
    named: str,
) -> None:
    before = (built.parent / denied).read_bytes() if "." in Path(denied).name else None
    shutil.rmtree(_state(built) / "cache")  # the lock is the only record of the takes
    deny(built.parent / denied)
    for command in ("plan", "build"):
        result = run_cli(command, "film.yaml", cwd=built.parent)
        errors = _clean_error(result, 2, named)
        assert "cannot be read" in errors and "Permission denied" in errors
    doctor = run_cli("doctor", "film.yaml", cwd=built.parent)
    assert "cannot be read" in _clean_error(doctor, 2, named.split(":")[0])
    assert fake.submitted == [] and fake.fetched == []
    if before is not None:
        assert (built.parent / denied).read_bytes() == before


def test_a_build_folder_marker_that_cannot_be_opened_stops_every_command(
    built: Path, run_cli: Run, fake: FakePaidBackend, deny: Callable[[Path], None]
) -> None:
    marker = built.parent / "build" / "film" / ".storyboard-build.json"
    deny(marker)
    for command in ("build", "doctor", "report", "clean"):
        result = run_cli(command, "film.yaml", cwd=built.parent)
        assert "cannot be read" in _clean_error(result, 2, "build/film/.storyboard-build.json")
    assert fake.submitted == []
    assert sorted(p.name for p in (built.parent / "build" / "film" / "fake").iterdir())  # kept


def test_a_build_folder_whose_files_cannot_be_looked_at_is_refused_by_clean(
    built: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    def denied(*args: Any, **kwargs: Any) -> None:
        raise PermissionError(errno.EACCES, "Permission denied", "takes")

    monkeypatch.setattr(outputs_module, "_check_at", denied)
    result = run_cli("clean", "film.yaml", cwd=built.parent)
    errors = _clean_error(result, 2, "build/film")
    assert "cannot be read" in errors and "nothing was removed" in errors
    assert (built.parent / "build" / "film" / "fake" / "takes" / "a.mp4").is_file()


def test_the_state_check_refuses_a_folder_it_cannot_open(
    built: Path, deny: Callable[[Path], None]
) -> None:
    workspace = Workspace.for_storyboard(built, built.parent, backend="fake")
    deny(_state(built) / "journal")
    with pytest.raises(UnsafePath, match=r"cannot be read.*Permission denied"):
        workspace.check_state()


def test_compacting_leaves_a_journal_it_cannot_read_as_it_is(
    tmp_path: Path, deny: Callable[[Path], None]
) -> None:
    path = tmp_path / ".storyboard" / "journal" / "film.jsonl"
    journal = Journal(path, backend="fake", endpoint="fake://")
    journal.submit("a", "a" * 64, "6c460563-e72a-440d-836d-c4fafc76b297")
    before = path.read_bytes()
    deny(path)
    journal.compact()  # it ran after takes were paid for: a traceback there is exit 3
    assert path.read_bytes() == before


# -- the cache: a newer version's entry, an entry that is no object ---------------------------


def test_a_cache_entry_of_a_newer_version_is_not_a_miss_to_pay_for_again(
    built: Path, run_cli: Run, fake: FakePaidBackend
) -> None:
    """Read as a miss, it was paid for again (the lock gone, as in a project that does not
    commit it), and the new result's entry removed the newer storyboard's."""
    built.with_suffix(".lock").unlink()
    entry = _entry_of_take(built, "a")
    data = entry.read_text().replace('"version": 1', '"version": 2')
    entry.write_text(data)
    result = run_cli("build", "film.yaml", cwd=built.parent)
    errors = _clean_error(result, 1, "entry.json")
    assert "version 2" in errors and "newer storyboard" in errors
    assert fake.submitted == []
    assert entry.read_text() == data


def test_a_cache_entry_that_is_not_an_object_is_a_miss_not_a_crash(
    built: Path, run_cli: Run, fake: FakePaidBackend
) -> None:
    _entry(built).write_text("[]")
    result = run_cli("build", "film.yaml", cwd=built.parent)
    assert result.status == 0, result.err
    assert "a: fetched from the lock" in result.err
    assert fake.submitted == []


def _entry_of_take(film: Path, take: str) -> Path:
    for entry in (_state(film) / "cache" / "fake").glob("*/*/entry.json"):
        if json.loads(entry.read_text())["meta"].get("take") == take:
            return entry
    raise AssertionError(f"no cache entry of {take}")


# -- doctor ------------------------------------------------------------------------------------


def test_doctor_reports_records_that_are_a_folder(built: Path, run_cli: Run) -> None:
    """plan and build refuse a folder where the records are; the doctor said "the state is
    sound" (exit 0)."""
    records = _state(built) / "records" / "film.fake.json"
    records.unlink()
    records.mkdir()
    doctor = run_cli("doctor", "film.yaml", cwd=built.parent)
    assert "is a folder" in _clean_error(doctor, 2, ".storyboard/records/film.fake.json")
    assert "sound" not in doctor.out + doctor.err
    assert records.is_dir()


def test_doctor_reports_a_damaged_lock_entry_when_the_cache_cannot_restore_it(
    built: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The doctor asks the cache for a damaged entry's result; an entry it cannot read
    (here: denied) stopped the doctor with that error, and the lock's problem went unsaid."""
    lock = built.with_suffix(".lock")
    lines = lock.read_text().splitlines()
    entry = json.loads(lines[3])
    del entry["results"][0]["sha256"]
    lines[3] = json.dumps(entry)
    lock.write_text("\n".join(lines) + "\n")

    def unreadable(*args: object, **kwargs: object) -> None:
        raise OSError(errno.EACCES, "denied for the test", "entry.json")

    monkeypatch.setattr(Cache, "_read", staticmethod(unreadable))
    result = run_cli("doctor", "film.yaml", cwd=built.parent)
    errors = _clean_error(result, 2, "film.lock:4:1")
    assert "has no sha256" in errors


# -- the lock file changed while a build ran ---------------------------------------------------


class _MergedMeanwhile(FakePaidBackend):
    """A fake paid backend that runs ``meanwhile`` when it is sent a take: a ``git merge`` or
    ``git pull`` changing the lock file while the build runs."""

    def __init__(self, meanwhile: Callable[[], None]) -> None:
        super().__init__()
        self.meanwhile = meanwhile

    async def submit(self, job: Any) -> Any:
        self.meanwhile()
        return await super().submit(job)


def _teammates(film: Path) -> str:
    """A line of the lock: a take 'c' a teammate paid for (another key, its own result)."""
    entry = json.loads(film.with_suffix(".lock").read_text().splitlines()[3])
    entry.update(take="c", key="c" * 64, task_uuid="teammate-task")
    return json.dumps(entry)


def test_a_lock_merged_while_the_build_ran_keeps_both_sides_entries(built: Path) -> None:
    """The build wrote the lock as it had read it, plus its own entries: the entry a merge
    brought in meanwhile was lost (the next clone pays for that take again)."""
    lock = built.with_suffix(".lock")
    theirs = _teammates(built)
    built.write_text(FILM.replace("the keeper climbs", "the keeper runs up"))

    def merge() -> None:
        lock.write_text(lock.read_text() + f"# c\n{theirs}\n\n")

    assert build(built, backend=_MergedMeanwhile(merge)).ok
    text = lock.read_text()
    assert theirs in text.splitlines()  # the teammate's paid result, still locked
    entries = [json.loads(line) for line in text.splitlines() if line.startswith("{")][1:]
    assert sorted(e["take"] for e in entries) == ["a", "b", "c"]
    b = next(e for e in entries if e["take"] == "b")
    assert b["key"] == prepare(built, backend_name="fake").keys["b"]  # this build's


def test_a_lock_left_in_conflict_while_the_build_ran_is_not_written_over(
    built: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A merge that stopped on a conflict while the build ran: the build wrote its lock over
    the conflict, and the other side's entries were lost without a word."""
    lock = built.with_suffix(".lock")
    theirs = _teammates(built)
    built.write_text(FILM.replace("the keeper climbs", "the keeper runs up"))
    conflicted: list[str] = []

    def merge() -> None:
        text = lock.read_text() + f"<<<<<<< HEAD\n=======\n# c\n{theirs}\n>>>>>>> theirs\n"
        lock.write_text(text)
        conflicted.append(text)

    backend = _MergedMeanwhile(merge)
    monkeypatch.setattr(storyboard.backends.factory, "make_backend", lambda *_, **__: backend)
    result = run_cli("build", "film.yaml", cwd=built.parent)
    errors = _clean_error(result, 1, "film.lock")
    assert [job.take for job in backend.submitted] == ["b"]  # paid: exit 1, never 2
    assert "changed while this build ran" in errors and "merge conflict" in errors
    assert lock.read_text() == conflicted[0]  # left as the merge left it
