"""A state file larger than any storyboard writes is refused without being read, never taken
for empty: a 2 GiB lock file used to be read whole (30 s and 4.2 GB) before its error.

Each file is made sparse (``truncate``) just past :data:`MAX_STATE_BYTES`: nothing of it is
on disk, so a reader that reads it at all reads 64 MiB of zeros, and the message shows which
reader refused it by its size.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from storyboard.backends.preview import PreviewBackend
from storyboard.build.pipeline import build
from storyboard.build.state.safe import MAX_STATE_BYTES, TooLarge, Tree
from tests.conftest import CliResult

Project = Callable[[dict[str, str | bytes]], Path]
Run = Callable[..., CliResult]

FILM = """\
storyboard: 1
title: Heavy
shots:
  - {id: a, duration: 3, prompt: a lighthouse at dawn}
  - {id: b, duration: 3, prompt: the keeper climbs the stairs}
"""
TOO_LARGE = MAX_STATE_BYTES + 1
SCALE = 0.1
PREVIEW = ("--backend", "preview", "--preview-scale", str(SCALE))


def swell(path: Path) -> None:
    """Make ``path`` a sparse file one byte past the cap."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("ab") as handle:
        os.ftruncate(handle.fileno(), TOO_LARGE)


def pad(path: Path) -> None:
    """Make the JSON file ``path`` one byte past the cap with spaces after its text: still
    the JSON it was (a reader without the cap would take it as it is)."""
    with path.open("ab") as handle:
        left = TOO_LARGE - handle.tell()
        while left > 0:
            handle.write(b" " * min(left, 1 << 22))
            left -= 1 << 22
    assert path.stat().st_size == TOO_LARGE


def made(project: Project) -> Path:
    root = project({"film.yaml": FILM})
    film = root / "film.yaml"
    assert build(film, backend=PreviewBackend(scale=SCALE)).ok
    return film


def test_read_text_refuses_past_the_cap_and_reads_up_to_it(tmp_path: Path) -> None:
    tree = Tree.around(tmp_path / "x")
    big = tmp_path / "big"
    swell(big)
    with pytest.raises(TooLarge) as caught:
        tree.read_text(big)
    assert caught.value.size == TOO_LARGE and caught.value.limit == MAX_STATE_BYTES
    assert f"it holds {TOO_LARGE:,} bytes" in str(caught.value)
    small = tmp_path / "small"
    small.write_text("{}")
    assert tree.read_text(small) == "{}"
    assert tree.read_bytes(big) is not None  # no limit asked: a medium is read whole


@pytest.mark.parametrize("which", ["lock", "journal"])
def test_a_lock_or_journal_too_large_stops_plan_and_build_before_sending(
    project: Project, run_cli: Run, which: str
) -> None:
    film = made(project)
    root = film.parent
    path = (
        root / "film.lock" if which == "lock" else root / ".storyboard" / "journal" / "film.jsonl"
    )
    swell(path)
    for command in ("plan", "build"):
        result = run_cli(command, str(film), *PREVIEW, cwd=root)
        assert result.status == 2, result.err
        assert "is too large to be read" in result.err, result.err
        assert f"{TOO_LARGE:,} bytes" in result.err
        assert "does not take it for missing" in result.err
    assert path.stat().st_size == TOO_LARGE  # left as it was
    doctor = run_cli("doctor", str(film), cwd=root)
    assert doctor.status == 2 and "is too large to be read" in doctor.err


def test_records_too_large_are_damaged_and_moved_aside_by_the_doctor(
    project: Project, run_cli: Run
) -> None:
    film = made(project)
    root = film.parent
    (records,) = (root / ".storyboard" / "records").glob("film.*.json")
    swell(records)
    refused = run_cli("plan", str(film), *PREVIEW, cwd=root)
    assert refused.status == 2 and "too large to be read" in refused.err, refused.err
    fixed = run_cli("doctor", str(film), "--fix", cwd=root)
    assert fixed.status == 0, fixed.err
    assert records.with_name(records.name + ".damaged").stat().st_size == TOO_LARGE
    assert run_cli("build", str(film), *PREVIEW, cwd=root).status == 0


def test_a_cache_entry_too_large_is_a_damaged_entry(project: Project) -> None:
    film = made(project)
    root = film.parent
    entries = sorted((root / ".storyboard" / "cache").rglob("entry.json"))
    assert len(entries) == 2
    pad(entries[0])
    again = build(film, backend=PreviewBackend(scale=SCALE))
    assert again.ok, [o.message for o in again.failed]
    statuses = sorted(o.status for o in again.outcomes.values())
    assert statuses == ["cached", "generated"]  # the swollen one made again (a free preview)
    assert entries[0].stat().st_size < 1 << 20  # written anew


@pytest.mark.parametrize("name", [".build.json", ".cut.json"])
def test_a_build_folder_note_too_large_is_forgotten(project: Project, name: str) -> None:
    film = made(project)
    folder = film.parent / "build" / "film" / "preview"
    assert build(film, backend=PreviewBackend(scale=SCALE)).ok  # a no-op: leaves the note
    state = folder / name
    assert state.exists()
    pad(state)
    again = build(film, backend=PreviewBackend(scale=SCALE))
    assert again.ok, [o.message for o in again.failed]
    assert all(o.status == "cached" for o in again.outcomes.values())
    assert not state.exists() or state.stat().st_size < 1 << 20  # forgotten, written anew


def test_a_build_folder_marker_too_large_is_refused(project: Project, run_cli: Run) -> None:
    film = made(project)
    root = film.parent
    marker = root / "build" / "film" / ".storyboard-build.json"
    assert marker.is_file()
    swell(marker)
    (marker.parent / "preview" / ".build.json").unlink(missing_ok=True)  # not a no-op
    result = run_cli("build", str(film), *PREVIEW, cwd=root)
    assert result.status in (1, 2), result.err
    assert "is too large to be read" in result.err, result.err
    assert marker.stat().st_size == TOO_LARGE


def test_a_build_record_too_large_is_refused_by_its_readers(project: Project, run_cli: Run) -> None:
    """``build.json`` past the cap, still the JSON it was: ``report`` and ``review`` refuse it
    by its size, exit 2, without reading it (they read it whole before: 64 MiB of spaces, then
    took it for the record it began with), and so does a record named by path."""
    from storyboard.core.errors import InputError
    from storyboard.exports.record import read_record, record_path

    film = made(project)
    root = film.parent
    record = record_path(root / "build" / "film" / "preview")
    pad(record)
    for command in ("report", "review"):
        result = run_cli(command, str(film), "--backend", "preview", cwd=root)
        assert result.status == 2, (command, result.err)
        assert "cannot read the build record" in result.err
        assert f"it holds {TOO_LARGE:,} bytes" in result.err
    # the default reader too (core.inputs.read_capped, which says it its own way)
    with pytest.raises(InputError, match=f"is {TOO_LARGE:,} bytes; the largest file read is "):
        read_record(record)
