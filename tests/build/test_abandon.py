"""A pending request the provider cannot deliver is given up only at the writer's word:
``storyboard doctor FILE --abandon TAKE`` (the way out of a task whose result is broken, whose
URL expired, or whose resending is refused, which every build would otherwise ask for again).

The real client and backend drive the emulator over loopback: its ``corrupt-result`` fault
serves the first job's result as an ``ftyp`` box and noise, for good. Every test asserts on the
emulator's ledger, the journal and the lock file.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from storyboard.build.pipeline import build
from storyboard.build.state.journal import ABANDONED, Pending, pending_of, read_records
from storyboard.build.state.workspace import ProjectLock, Workspace
from storyboard.emulator.server import EmulatorServer
from tests.conftest import CliResult, read_lock
from tests.faults.runner import FILM_SCALE, fast_backend

Project = Callable[[dict[str, str | bytes]], Path]
Run = Callable[..., CliResult]

FILM = """\
storyboard: 1
title: Broken
shots:
  - {id: one, duration: 3, prompt: '[one] a harbour at dawn'}
  - {id: two, duration: 3, prompt: '[two] nets drying'}
"""


def charged(emulator: EmulatorServer) -> list[str]:
    return [e.task_uuid for e in emulator.ledger() if not e.dry_run and e.cost > 0]


def make(film: Path) -> Any:
    return build(film, backend=fast_backend(), jobs=1, film_scale=FILM_SCALE, keep_going=True)


def pending(root: Path) -> list[Pending]:
    """Every request the journal holds as pending (any backend)."""
    records = read_records(root / ".storyboard" / "journal" / "film.jsonl")
    backends = {str(e["backend"]) for _, e in records}
    return [p for b in sorted(backends) for p in pending_of(records, backend=b).values()]


def journal(root: Path) -> list[dict[str, Any]]:
    path = root / ".storyboard" / "journal" / "film.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line]


def stuck(project: Project, emulator: EmulatorServer) -> tuple[Path, str]:
    """A film whose take 'one' is paid for and pending, its result broken for good, after
    two builds: the second asked for it again, and says how to give it up."""
    root = project({"film.yaml": FILM})
    film = root / "film.yaml"
    emulator.add_fault("corrupt-result", times=1)  # the first job: take 'one'
    first = make(film)
    assert first.outcomes["one"].status == "failed"
    assert first.outcomes["two"].status == "generated"
    (request,) = pending(root)
    task = request.task_uuid
    assert "--abandon" not in first.outcomes["one"].message  # once may be a passing fault
    second = make(film)
    message = second.outcomes["one"].message
    assert "not a usable video" in message
    assert f"Task {task} was pending before this build too" in message
    assert "film.yaml --abandon one` gives it up" in message, message
    assert "refund. Task" in message
    assert charged(emulator).count(task) == 1 and len(charged(emulator)) == 2
    return film, task


def test_abandon_gives_up_the_request_and_the_next_build_pays_once_more(
    project: Project, paid: EmulatorServer, run_cli: Run
) -> None:
    film, task = stuck(project, paid)
    root = film.parent

    listed = run_cli("doctor", str(film))
    assert listed.status == 0, listed.err
    assert f"take 'one': task {task} is pending at {paid.base_url}" in listed.err
    assert "(the provider said it holds it: paid for, or about to be)" in listed.err
    assert "--abandon one` gives it up" in listed.err

    given = run_cli("doctor", str(film), "--abandon", "one")
    assert given.status == 0, given.err
    assert f"take 'one': gave up task {task}" in given.err
    assert "if it was charged, that charge is lost" in given.err
    assert "gave up 1 pending request" in given.err
    last = journal(root)[-1]
    assert (last["event"], last["task_uuid"], last["reason"]) == ("failed", task, ABANDONED)
    assert last["endpoint"] == paid.base_url and last["backend"].startswith("runware@")
    assert not pending(root)
    assert "pending" not in run_cli("doctor", str(film)).err

    planned = run_cli("plan", str(film))
    assert planned.status == 0, planned.err
    assert "generate" in planned.out and "resume" not in planned.out

    third = make(film)
    assert third.ok, third.outcomes["one"].message
    new = read_lock(film.with_suffix(".lock"))["one"]["task_uuid"]
    assert new != task  # a new request, under a new task UUID
    assert charged(paid) == [task, charged(paid)[1], new]  # the consented second payment
    assert not pending(root)


def test_abandon_by_task_uuid_and_of_nothing_pending(
    project: Project, paid: EmulatorServer, run_cli: Run
) -> None:
    film, task = stuck(project, paid)
    root = film.parent
    before = (root / ".storyboard" / "journal" / "film.jsonl").read_bytes()

    # a take with nothing pending: refused, and nothing given up (all or none)
    refused = run_cli("doctor", str(film), "--abandon", "two", "--abandon", "one")
    assert refused.status == 2
    assert "--abandon two: no take or task UUID of that name has a pending request" in refused.err
    assert "(takes with one: 'one')" in refused.err
    assert (root / ".storyboard" / "journal" / "film.jsonl").read_bytes() == before

    given = run_cli("doctor", str(film), "--abandon", task.upper())
    assert given.status == 0, given.err
    assert f"gave up task {task}" in given.err
    assert journal(root)[-1]["task_uuid"] == task


def test_abandon_waits_for_a_running_build_and_refuses_a_damaged_journal(
    project: Project, paid: EmulatorServer, run_cli: Run
) -> None:
    film, task = stuck(project, paid)
    root = film.parent
    path = root / ".storyboard" / "journal" / "film.jsonl"
    workspace = Workspace.for_storyboard(film, root)
    with ProjectLock(workspace):
        busy = run_cli("doctor", str(film), "--abandon", "one")
    assert busy.status == 1 and "another build of this project is running" in busy.err
    assert pending(root)  # still pending

    with path.open("a") as handle:
        handle.write("not a record\n")
    damaged = path.read_bytes()
    refused = run_cli("doctor", str(film), "--abandon", "one")
    assert refused.status == 2
    assert "nothing was given up (run `storyboard doctor --fix` first)" in refused.err
    assert path.read_bytes() == damaged

    fixed = run_cli("doctor", str(film), "--fix", "--abandon", "one")
    assert fixed.status == 0, fixed.err
    assert f"gave up task {task}" in fixed.err
    assert not pending(root)


def test_abandon_is_all_or_none_when_the_journal_cannot_be_written(
    project: Project, paid: EmulatorServer, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    from storyboard.build.state.safe import Tree
    from storyboard.core.errors import BuildError

    root = project({"film.yaml": FILM})
    film = root / "film.yaml"
    paid.add_fault("corrupt-result", times=2)  # both takes: paid, pending, broken
    first = make(film)
    assert {o.status for o in first.outcomes.values()} == {"failed"}
    assert sorted(p.take for p in pending(root)) == ["one", "two"]
    path = root / ".storyboard" / "journal" / "film.jsonl"
    before = path.read_bytes()
    written = Tree.write_atomic

    def full(self: Tree, target: Any, data: bytes, **kw: Any) -> None:
        if Path(target).name == "film.jsonl":
            raise BuildError("cannot write the journal: No space left on device")
        written(self, target, data, **kw)

    monkeypatch.setattr(Tree, "write_atomic", full)
    refused = run_cli("doctor", str(film), "--abandon", "one", "--abandon", "two")
    assert refused.status == 1, refused.err
    assert "No space left on device" in refused.err
    assert path.read_bytes() == before  # neither given up
    assert sorted(p.take for p in pending(root)) == ["one", "two"]
    monkeypatch.setattr(Tree, "write_atomic", written)
    again = run_cli("doctor", str(film), "--abandon", "one", "--abandon", "two")
    assert again.status == 0, again.err
    assert not pending(root)
