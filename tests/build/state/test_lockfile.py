"""The lock file: version 2 merges in git, version 1 still reads, results are found by key,
and a lock (or journal) that cannot be read is an error before anything is sent.

Issue 12 item 3 and issue 13 item 1. Each test builds against the fake paid backend, which
counts what it is sent; "a fresh clone" is the project without ``.storyboard/``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from storyboard.build.pipeline import build, prepare
from storyboard.build.state.lockfile import LockFile
from storyboard.core.errors import InputError
from tests.build.fakes import FakePaidBackend
from tests.conftest import CliResult, read_lock

Project = Callable[[dict[str, str | bytes]], Path]

FILM = """\
storyboard: 1
title: Lock
shots:
  - {id: radio, duration: 3, prompt: a radio crackles in the dark}
  - {id: deck, duration: 3, prompt: waves wash over the deck}
  - {id: mast, duration: 3, prompt: the mast creaks in the wind}
"""


@pytest.fixture
def film(project: Project) -> Path:
    return project({"film.yaml": FILM}) / "film.yaml"


def fresh_clone(film: Path) -> None:
    """What a teammate has after cloning: the storyboard and its lock, no cache."""
    shutil.rmtree(film.parent / ".storyboard")
    shutil.rmtree(film.parent / "build", ignore_errors=True)
    (film.parent / ".storyboard").mkdir()


def built(film: Path) -> FakePaidBackend:
    """Build ``film`` once, paying; the backend keeps serving what it made."""
    backend = FakePaidBackend()
    assert build(film, backend=backend).ok
    return backend


def serving(first: FakePaidBackend) -> FakePaidBackend:
    """A new backend (a new build) whose URLs still serve ``first``'s results."""
    again = FakePaidBackend()
    again.served = first.served
    return again


# -- version 2: deterministic and merge-friendly --------------------------------------------


def test_the_lock_is_a_header_then_one_block_per_take(film: Path) -> None:
    built(film)
    text = (film.parent / "film.lock").read_text()
    lines = text.split("\n")
    assert json.loads(lines[0]) == {"storyboard": "film.yaml", "version": 2}
    assert lines[1] == "" and lines[-2:] == ["", ""]
    blocks = [lines[i : i + 3] for i in range(2, len(lines) - 1, 3)]
    assert [b[0] for b in blocks] == ["# deck", "# mast", "# radio"]
    assert [json.loads(b[1])["take"] for b in blocks] == ["deck", "mast", "radio"]
    assert all(b[2] == "" for b in blocks)
    # a build that changes no entry leaves it byte for byte
    again = FakePaidBackend()
    assert build(film, backend=again).ok and again.submitted == []
    assert (film.parent / "film.lock").read_text() == text


def _git(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}  # fmt: skip
    return subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_two_branches_that_change_different_takes_merge_cleanly_in_git(film: Path) -> None:
    root = film.parent
    (root / ".gitignore").write_text(".storyboard/\nbuild/\n")
    assert _git(root, "init", "-q", "-b", "main").returncode == 0
    first = built(film)
    _git(root, "add", "-A")
    assert _git(root, "commit", "-qm", "base").returncode == 0
    served = dict(first.served)
    zodiac = "  - {id: zodiac, duration: 3, prompt: stars over the bay}\n"
    mast = "  - {id: mast, duration: 3, prompt: the mast creaks in the wind}\n"
    for branch, change in [
        # one: a new prompt for the last take of the lock
        ("one", lambda text: text.replace("radio crackles", "radio hisses")),
        # two: a take removed from the middle and one added after the last
        ("two", lambda text: text.replace(mast, "") + zodiac),
    ]:
        _git(root, "checkout", "-q", "-b", branch, "main")
        film.write_text(change(film.read_text()))
        backend = serving(first)
        assert build(film, backend=backend).ok
        assert len(backend.submitted) == 1  # that take only
        served.update(backend.served)
        _git(root, "commit", "-qam", branch)
    _git(root, "checkout", "-q", "one")
    merged = _git(root, "merge", "-q", "two", "-m", "merge")
    assert merged.returncode == 0, merged.stdout + merged.stderr
    assert "<<<<<<<" not in (root / "film.lock").read_text()
    lock = read_lock(root / "film.lock")
    assert sorted(lock) == ["deck", "radio", "zodiac"]
    assert "hisses" in film.read_text() and "zodiac" in film.read_text()
    # the merged storyboard finds every take in the merged lock: a fresh clone pays nothing
    fresh_clone(film)
    clone = FakePaidBackend()
    clone.served = served
    result = build(film, backend=clone)
    assert result.ok and clone.submitted == []
    assert {o.status for o in result.outcomes.values()} == {"locked"}


def test_a_lock_of_version_1_is_read_and_left_as_it_is(film: Path) -> None:
    first = built(film)
    lock = LockFile.read(film.with_suffix(".lock"), film.name)
    takes = {e.take: {k: v for k, v in e.to_json().items() if k != "take"} for e in lock.entries}
    v1 = json.dumps({"storyboard": "film.yaml", "takes": takes, "version": 1}, indent=2)
    film.with_suffix(".lock").write_text(v1 + "\n")  # what a lock committed before looks like
    fresh_clone(film)
    clone = serving(first)
    result = build(film, backend=clone)
    assert result.ok and clone.submitted == [] and len(clone.fetched) == 3
    assert film.with_suffix(".lock").read_text() == v1 + "\n"  # no entry changed: untouched
    film.write_text(FILM.replace("waves wash", "spray washes"))
    again = serving(first)
    assert build(film, backend=again).ok and [j.take for j in again.submitted] == ["deck"]
    assert json.loads(film.with_suffix(".lock").read_text().split("\n")[0])["version"] == 2
    assert sorted(read_lock(film.with_suffix(".lock"))) == ["deck", "mast", "radio"]


# -- found by key: a renamed take, equal takes -------------------------------------------------


def test_a_renamed_shot_is_found_in_the_lock_and_not_paid_again(
    film: Path, run_cli: Callable[..., CliResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    first = built(film)
    film.write_text(FILM.replace("id: radio", "id: wheelhouse"))
    fresh_clone(film)
    plan = {i.take.id: i.status for i in prepare(film, backend_name="fake").plan.items}
    assert plan["wheelhouse"] == "locked"
    clone = serving(first)
    result = build(film, backend=clone)
    assert result.ok and clone.submitted == []
    assert result.outcomes["wheelhouse"].status == "locked"
    assert sorted(read_lock(film.with_suffix(".lock"))) == ["deck", "mast", "wheelhouse"]


RENAMED = """\
storyboard: 1
title: Lock
shots:
  - sequence: harbour
    continuity: multishot
    shots:
      - {id: quay, duration: 2, prompt: the quay at dawn}
      - {id: nets, duration: 2, prompt: nets drying on the quay}
"""


@pytest.mark.parametrize(
    ("after", "take"),
    [
        (RENAMED.replace("sequence: harbour", "sequence: port"), "port"),  # sequence renamed
        (  # a shot moved into the sequence: packed apart, the first take is the same request
            RENAMED.replace("continuity: multishot", "continuity: auto")
            + "      - {id: gulls, duration: 12, prompt: gulls over the water}\n",
            "harbour.1",
        ),
    ],
    ids=["sequence renamed", "shot moved into the sequence"],
)
def test_a_take_of_a_new_name_with_the_same_request_comes_from_the_lock(
    project: Project, after: str, take: str
) -> None:
    film = project({"film.yaml": RENAMED}) / "film.yaml"
    first = built(film)
    film.write_text(after)
    fresh_clone(film)
    plan = {i.take.id: i.status for i in prepare(film, backend_name="fake").plan.items}
    assert plan[take] == "locked", plan
    clone = serving(first)
    result = build(film, backend=clone)
    assert result.ok and result.outcomes[take].status == "locked"
    assert [j.take for j in clone.submitted] == [t for t in plan if plan[t] == "generate"]
    assert take not in {j.take for j in clone.submitted}


def test_takes_of_the_same_request_are_made_once(project: Project) -> None:
    twins = FILM + "  - {id: radio-again, duration: 3, prompt: a radio crackles in the dark}\n"
    film = project({"film.yaml": twins}) / "film.yaml"
    plan = {i.take.id: i for i in prepare(film, backend_name="fake").plan.items}
    assert plan["radio-again"].status == "shared"
    assert plan["radio-again"].reason == "the same request as radio, made once"
    assert prepare(film, backend_name="fake").plan.total == pytest.approx(3 * 3 * 0.112)
    backend = FakePaidBackend()
    result = build(film, backend=backend, jobs=4)
    assert result.ok
    assert sorted(j.take for j in backend.submitted) == ["deck", "mast", "radio"]
    assert result.outcomes["radio-again"].status == "cached"
    assert result.spent == pytest.approx(9.0)  # 3 takes of 3 s at the fake's 1 USD/s
    takes = film.parent / "build" / "film" / "fake" / "takes"
    assert (takes / "radio.mp4").read_bytes() == (takes / "radio-again.mp4").read_bytes()
    lock = read_lock(film.with_suffix(".lock"))
    assert lock["radio"]["key"] == lock["radio-again"]["key"]


# -- a lock that cannot be read: an error, nothing sent ----------------------------------------


def _conflicted(film: Path) -> str:
    """The lock as ``git merge`` leaves it when both sides changed the same take."""
    lines = film.with_suffix(".lock").read_text().split("\n")
    at = next(i for i, line in enumerate(lines) if '"take": "mast"' in line)
    ours = lines[at]
    theirs = ours.replace('"cost": 3.0', '"cost": 3.5')
    assert theirs != ours
    lines[at : at + 1] = ["<<<<<<< HEAD", ours, "=======", theirs, ">>>>>>> other"]
    return "\n".join(lines)


def test_a_lock_with_merge_conflicts_is_an_error_and_nothing_is_sent(
    film: Path, run_cli: Callable[..., CliResult]
) -> None:
    first = built(film)
    text = _conflicted(film)
    film.with_suffix(".lock").write_text(text)
    fresh_clone(film)
    line = text.split("\n").index("<<<<<<< HEAD") + 1
    clone = serving(first)
    with pytest.raises(InputError) as refused:
        build(film, backend=clone)
    assert f"film.lock:{line}:1: error: a git merge conflict" in str(refused.value)
    assert "resolve the merge conflict" in str(refused.value)
    assert clone.submitted == [] and clone.fetched == []
    assert film.with_suffix(".lock").read_text() == text  # not rewritten
    planned = run_cli("plan", str(film))
    assert planned.status == 2 and f"film.lock:{line}:1: error" in planned.err


def test_a_lock_entry_without_its_sha256_is_an_error_at_that_entry(film: Path) -> None:
    first = built(film)
    lines = film.with_suffix(".lock").read_text().split("\n")
    at = next(i for i, line in enumerate(lines) if '"take": "deck"' in line)
    entry = json.loads(lines[at])
    del entry["results"][0]["sha256"]
    lines[at] = json.dumps(entry)
    film.with_suffix(".lock").write_text("\n".join(lines))
    fresh_clone(film)
    clone = serving(first)
    with pytest.raises(InputError) as refused:
        build(film, backend=clone)
    message = str(refused.value)
    assert f"film.lock:{at + 1}:1: error: the entry of take 'deck' has no sha256" in message
    assert clone.submitted == [] and clone.fetched == []


def test_doctor_keeps_both_sides_of_a_conflict_and_restores_an_entry_from_the_cache(
    film: Path, run_cli: Callable[..., CliResult]
) -> None:
    first = built(film)
    good = film.with_suffix(".lock").read_text()
    film.with_suffix(".lock").write_text(_conflicted(film))
    report = run_cli("doctor", str(film))
    assert report.status == 2 and "--fix would keep the entries of both sides" in report.err
    fixed = run_cli("doctor", str(film), "--fix")
    assert fixed.status == 0, fixed.err
    assert "resolved 1 merge conflict" in fixed.err
    lock = LockFile.read(film.with_suffix(".lock"), film.name)
    assert sorted(e.take for e in lock.entries) == ["deck", "mast", "mast", "radio"]
    # a damaged entry this machine's cache holds is restored from it, byte for byte
    film.with_suffix(".lock").write_text(good.replace('"sha256": "', '"sha": "', 1))
    assert run_cli("doctor", str(film), "--fix").status == 0
    assert film.with_suffix(".lock").read_text() == good
    fresh_clone(film)
    clone = serving(first)
    assert build(film, backend=clone).ok and clone.submitted == []
    assert run_cli("doctor", str(film)).status == 0


# -- a journal that cannot be read: an error, never a second payment --------------------------


def _journal(film: Path) -> Path:
    return film.parent / ".storyboard" / "journal" / "film.jsonl"


def _pending_submit(film: Path, take: str) -> tuple[str, str]:
    """Leave ``take`` as a build killed after sending it: a submit line, no result cached.
    Return its key and task UUID."""
    result = build(film, backend=FakePaidBackend(), select=[take])
    entry = result.outcomes[take].entry
    assert result.ok and entry is not None and entry.task_uuid is not None
    shutil.rmtree(entry.folder)
    film.with_suffix(".lock").unlink()
    record = {"backend": "fake", "endpoint": "fake://", "event": "submit", "key": entry.key,
              "take": take, "task_uuid": entry.task_uuid, "time": 1.0}  # fmt: skip
    _journal(film).write_text(json.dumps(record, sort_keys=True) + "\n")
    return entry.key, entry.task_uuid


def test_a_journal_line_without_its_task_uuid_is_an_error_and_doctor_repairs_it(
    film: Path, run_cli: Callable[..., CliResult]
) -> None:
    _pending_submit(film, "radio")
    record = json.loads(_journal(film).read_text())
    del record["task_uuid"]
    _journal(film).write_text(json.dumps(record, sort_keys=True) + "\n")
    backend = FakePaidBackend()
    with pytest.raises(InputError, match=r"film.jsonl:1:1: error: a 'submit' record of take "):
        build(film, backend=backend)
    assert backend.submitted == []
    assert run_cli("plan", str(film)).status == 2
    report = run_cli("doctor", str(film))
    assert report.status == 2 and "--fix would drop the line" in report.err
    assert run_cli("doctor", str(film), "--fix").status == 0
    assert _journal(film).read_text() == ""
    assert build(film, backend=FakePaidBackend()).ok  # and every later build too


def test_a_journal_cut_short_after_the_task_uuid_resumes_that_task(film: Path) -> None:
    _, task_uuid = _pending_submit(film, "radio")
    text = _journal(film).read_text()
    _journal(film).write_text(text[: text.index('"time"')])  # truncated: no end, no newline
    backend = FakePaidBackend()
    assert build(film, backend=backend).ok
    resumed = [j for j in backend.submitted if j.take == "radio"]
    assert [(j.task_uuid, j.resumed) for j in resumed] == [(task_uuid, True)]


def test_a_journal_cut_short_before_the_task_uuid_is_an_error_and_nothing_is_sent(
    film: Path, run_cli: Callable[..., CliResult]
) -> None:
    _pending_submit(film, "radio")
    text = _journal(film).read_text()
    _journal(film).write_text(text[: text.index('"task_uuid"') + 5])
    backend = FakePaidBackend()
    with pytest.raises(InputError, match="whose task UUID is lost") as refused:
        build(film, backend=backend)
    assert "film.jsonl:1:1" in str(refused.value) and "storyboard doctor" in str(refused.value)
    assert backend.submitted == []
    report = run_cli("doctor", str(film))
    assert report.status == 2 and "the next build pays for the take again" in report.err
