"""Audit of ``storyboard doctor FILE --abandon TAKE``: a name gives up only the requests it
names without doubt, all or none; never one more, which the next build would pay for again.

Journals are written with :class:`Journal` itself (records as a build writes them); one test
drives the emulator as tests/build/test_abandon.py does.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

from storyboard.build.state.journal import Journal
from storyboard.emulator.server import EmulatorServer
from tests.build.test_abandon import FILM, make, pending, stuck
from tests.conftest import CliResult

Project = Callable[[dict[str, str | bytes]], Path]
Run = Callable[..., CliResult]


def journal_of(root: Path, endpoint: str = "http://127.0.0.1:9/v1") -> Journal:
    path = root / ".storyboard" / "journal" / "film.jsonl"
    return Journal(path, backend="runware@127.0.0.1-9", endpoint=endpoint)


def test_a_name_that_is_a_take_and_another_takes_task_uuid_gives_up_nothing(
    project: Project, run_cli: Run
) -> None:
    """A take id may be written like a UUID (``[a-z0-9][a-z0-9_-]*``): the name of one take
    and the task UUID of another's request. Which one is meant cannot be told: refused."""
    root = project({"film.yaml": FILM})
    film = root / "film.yaml"
    theirs, mine = str(uuid.uuid4()), str(uuid.uuid4())
    journal_of(root).submit(theirs, "a" * 64, mine)  # a take whose id is a UUID
    journal_of(root).submit("two", "b" * 64, theirs)  # ...the task UUID of take 'two'
    path = root / ".storyboard" / "journal" / "film.jsonl"
    before = path.read_bytes()

    refused = run_cli("doctor", str(film), "--abandon", theirs)
    assert refused.status == 2, refused.err
    assert "nothing was given up" in refused.err
    assert path.read_bytes() == before
    assert len(pending(root)) == 2

    given = run_cli("doctor", str(film), "--abandon", mine)  # a task UUID alone: that one
    assert given.status == 0, given.err
    assert [p.take for p in pending(root)] == ["two"]


def test_a_take_whose_name_was_lost_is_given_up_only_by_its_task_uuid(
    project: Project, run_cli: Run
) -> None:
    """A record recovered from a cut line names its take '?': ``--abandon ?`` would give up
    every such request at once, of takes no one named."""
    root = project({"film.yaml": FILM})
    film = root / "film.yaml"
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    journal_of(root).submit("?", "a" * 64, first)
    journal_of(root).submit("?", "b" * 64, second)

    refused = run_cli("doctor", str(film), "--abandon", "?")
    assert refused.status == 2, refused.err
    assert "nothing was given up" in refused.err
    assert len(pending(root)) == 2

    given = run_cli("doctor", str(film), "--abandon", first)
    assert given.status == 0, given.err
    assert [p.task_uuid for p in pending(root)] == [second]


def test_the_way_out_a_failed_build_names_works_after_the_take_was_renamed(
    project: Project, paid: EmulatorServer, run_cli: Run
) -> None:
    film, task = stuck(project, paid)
    film.write_text(film.read_text().replace("id: one", "id: uno"))  # the same request
    again = make(film)
    message = again.outcomes["uno"].message
    assert f"Task {task} was pending before this build too" in message
    command = message.split("`storyboard doctor ", 1)[1].split("`", 1)[0].split()
    given = run_cli("doctor", *command)
    assert given.status == 0, given.err
    assert f"gave up task {task}" in given.err
