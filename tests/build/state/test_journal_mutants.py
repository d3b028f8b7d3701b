"""Mutation audit of the journal (storyboard/build/state/journal.py) and of ``storyboard doctor
--abandon``: each test here fails under a change of the code that every other test let pass,
and each such change is one of the ways the journal exists to prevent: a request sent twice,
a pending request dropped or given up that should not be, a damaged journal read as empty.

Journals are written with :class:`Journal` itself (records as builds write them), or line by
line where a test needs a line no build writes (one mended by hand); builds run on the fake
paid backend, which counts every request it is sent.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import storyboard.backends.factory
from storyboard.build.pipeline import build, prepare
from storyboard.build.state.journal import Journal, read_pending
from storyboard.core.errors import BuildError, InputError
from tests.build.fakes import FakePaidBackend
from tests.build.test_abandon import pending
from tests.conftest import CliResult

Project = Callable[[dict[str, str | bytes]], Path]
Run = Callable[..., CliResult]

FILM = """\
storyboard: 1
title: Mutants
shots:
  - {id: a, duration: 3, prompt: first shot}
  - {id: b, duration: 3, prompt: second shot}
"""
A = "6f0c58a8-58a4-4d4b-9a4e-6f3b7a0c6f11"
B = "0d1f6b7e-2f1c-4d0b-8f59-3e4f0a1b2c3d"
C = "9b2e4c1a-7d3f-4e5a-8b6c-1d2e3f4a5b6c"
V1, V2 = "http://127.0.0.1:9/v1", "http://127.0.0.1:9/v2"


@pytest.fixture
def film(project: Project) -> Path:
    return project({"film.yaml": FILM}) / "film.yaml"


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakePaidBackend:
    """``storyboard build`` and ``plan`` (in-process) use this fake paid backend."""
    backend = FakePaidBackend()
    monkeypatch.setenv("RUNWARE_API_KEY", "not-a-real-key")
    monkeypatch.setenv("CI", "1")
    monkeypatch.setattr(storyboard.backends.factory, "make_backend", lambda *_, **__: backend)
    return backend


def keys(film: Path) -> dict[str, str]:
    return dict(prepare(film, backend_name="fake").keys)


def path_of(film: Path) -> Path:
    return film.parent / ".storyboard" / "journal" / "film.jsonl"


def journal(film: Path, endpoint: str = "fake://") -> Journal:
    return Journal(path_of(film), backend="fake", endpoint=endpoint)


def at(endpoint: str) -> FakePaidBackend:
    backend = FakePaidBackend()
    backend.endpoint = endpoint
    return backend


def sent(backend: FakePaidBackend) -> list[tuple[str, str, bool]]:
    return [(job.take, job.task_uuid, job.resumed) for job in backend.submitted]


def line(event: str, key: str, **fields: Any) -> str:
    """A journal line as a build writes it (keys sorted), of the fake backend."""
    record = {"event": event, "key": key, "backend": "fake", "time": 1.0, **fields}
    return json.dumps(record, sort_keys=True) + "\n"


def unsent_at_v1_accepted_at_v2(film: Path) -> str:
    """Take a: a build at v1 could not reach the provider (A, unsent); a build at v2 then sent
    it anew (B), the provider accepted it, and that build stopped. The key of take a."""
    key = keys(film)["a"]
    one = journal(film, V1)
    one.submit("a", key, A)
    one.unsent(key, A, "connection refused: nothing was sent")
    two = journal(film, V2)
    two.submit("a", key, B)
    two.accepted(key, B)
    return key


# -- a request pending at another endpoint -----------------------------------------------------


def test_a_request_unsent_here_and_accepted_at_another_endpoint_is_not_sent_again(
    film: Path,
) -> None:
    """Product bug found by this audit (Journal.elsewhere left out every key with a request
    pending at this endpoint, even one never sent): the build at v1 sent take a anew under A,
    a second charge for the take the provider already held at v2."""
    unsent_at_v1_accepted_at_v2(film)
    here = at(V1)
    with pytest.raises(BuildError) as refused:
        build(film, backend=here)
    assert f"take 'a': a request is pending at {V2}" in str(refused.value)
    assert str(refused.value).endswith("nothing was sent")
    assert here.submitted == []
    there = at(V2)  # the way out it names: resumed there, at no new charge
    assert build(film, backend=there).ok
    assert [s for s in sent(there) if s[0] == "a"] == [("a", B, True)]


def test_a_request_accepted_at_another_endpoint_counts_whatever_was_written_after_it(
    film: Path,
) -> None:
    """The same two requests written in the other order (B accepted at v2, then A sent at v1
    and unsent: a journal an older storyboard, or a hand, could leave): the build at v1 must
    still refuse. Read over all endpoints at once, the later ``submit`` of A hid B, and take
    a was sent anew from v1 beside the request the provider held at v2."""
    key = keys(film)["a"]
    path = path_of(film)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        line("submit", key, take="a", task_uuid=B, endpoint=V2)
        + line("accepted", key, task_uuid=B, endpoint=V2)
        + line("submit", key, take="a", task_uuid=A, endpoint=V1)
        + line("unsent", key, task_uuid=A, endpoint=V1, error="connection refused"),
        encoding="utf-8",
    )
    here = at(V1)
    with pytest.raises(BuildError, match=f"take 'a': a request is pending at {V2}"):
        build(film, backend=here)
    assert here.submitted == []
    there = at(V2)
    assert build(film, backend=there).ok
    assert [s for s in sent(there) if s[0] == "a"] == [("a", B, True)]


def test_giving_up_the_unsent_request_leaves_the_one_accepted_at_another_endpoint(
    film: Path, run_cli: Run
) -> None:
    """Mutant: an outcome closes the pending request of its key whatever its task UUID
    (pending_of). Giving up A at v1 then dropped B at v2: sent anew from v1, paid twice."""
    key = unsent_at_v1_accepted_at_v2(film)
    given = run_cli("doctor", str(film), "--abandon", A)
    assert given.status == 0, given.err
    assert f"gave up task {A}" in given.err and "gave up 1 pending request" in given.err
    here = at(V1)
    with pytest.raises(BuildError, match=f"take 'a': a request is pending at {V2}"):
        build(film, backend=here)
    assert here.submitted == []
    assert [(p.task_uuid, p.endpoint, p.state) for p in pending(film.parent)] == [
        (B, V2, "accepted")
    ]
    assert read_pending(path_of(film), backend="fake")[key].task_uuid == B


def test_abandon_by_take_gives_up_its_requests_at_every_endpoint(film: Path, run_cli: Run) -> None:
    """Mutants: ``--abandon TAKE`` gives up only the first request of the take; the doctor
    reads the pending requests of a backend without their endpoints (one hides the other).
    Either leaves a request of take a pending, which no build here may go past."""
    unsent_at_v1_accepted_at_v2(film)
    listed = run_cli("doctor", str(film))
    assert listed.status == 0, listed.err
    assert f"task {A} is pending at {V1}" in listed.err
    assert f"task {B} is pending at {V2}" in listed.err
    given = run_cli("doctor", str(film), "--abandon", "a")
    assert given.status == 0, given.err
    assert f"gave up task {A}" in given.err and f"gave up task {B}" in given.err
    assert "gave up 2 pending requests" in given.err
    assert pending(film.parent) == []
    here = at(V1)  # the consented payment: once, under a new task UUID
    assert build(film, backend=here).ok
    ((_, task, resumed),) = [s for s in sent(here) if s[0] == "a"]
    assert task not in (A, B) and not resumed


def test_an_accepted_request_stays_accepted_when_an_unsent_record_follows(film: Path) -> None:
    """Mutant: an ``unsent`` record after ``accepted`` makes the request unsent (pending_of).
    What the provider said it holds, it holds: unsent, it would be sent anew from v1. No
    build writes that order now (Journal.unsent refuses it); a journal written by an older
    storyboard, or mended by hand, may hold it."""
    key = keys(film)["a"]
    path_of(film).parent.mkdir(parents=True, exist_ok=True)
    path_of(film).write_text(
        line("submit", key, take="a", task_uuid=B, endpoint=V2)
        + line("accepted", key, task_uuid=B, endpoint=V2)
        + line("unsent", key, task_uuid=B, endpoint=V2, reason="connection refused")
    )
    here = at(V1)
    with pytest.raises(BuildError, match=f"take 'a': a request is pending at {V2}"):
        build(film, backend=here)
    assert here.submitted == []
    (request,) = read_pending(path_of(film), backend="fake").values()
    assert (request.task_uuid, request.state) == (B, "accepted")
    plan = prepare(film, backend_name="fake").plan
    assert {i.take.id: (i.status, i.accepted) for i in plan.items}["a"] == ("resume", True)


# -- a damaged journal is never read as empty --------------------------------------------------


def test_a_record_of_an_event_no_build_writes_stops_plan_and_build(
    film: Path, run_cli: Run, fake: FakePaidBackend
) -> None:
    """Mutant: a record whose event is none of the journal's is read as one (parse): its
    ``acepted`` (mended by hand, a letter lost) was taken for the outcome of take a's request,
    which was dropped, and sent anew: paid for twice."""
    key = keys(film)["a"]
    journal(film).submit("a", key, A)
    with path_of(film).open("a") as mended:
        mended.write(line("acepted", key, task_uuid=A, endpoint="fake://"))
    damaged = path_of(film).read_bytes()
    for command in ("build", "plan"):
        result = run_cli(command, "film.yaml", cwd=film.parent)
        assert fake.submitted == [], sent(fake)
        assert result.status == 2, result.err
        assert ".storyboard/journal/film.jsonl:2:1" in result.err
        assert "not a journal record (event 'acepted')" in result.err
    doctor = run_cli("doctor", "film.yaml", cwd=film.parent)
    assert doctor.status == 2
    assert "--fix would drop the line: if that request reached the provider" in doctor.err
    assert path_of(film).read_bytes() == damaged


def test_a_cut_line_that_names_no_backend_is_not_recovered(
    film: Path, run_cli: Run, fake: FakePaidBackend
) -> None:
    """Mutant: a ``submit`` cut short is recovered whenever its task UUID survived, whatever
    else it lost (_cut_short): without its backend no build reads it, and plan went on as if
    the line were not there. (Storyboard writes the backend first: a line mended by hand.)"""
    path_of(film).parent.mkdir(parents=True, exist_ok=True)
    path_of(film).write_text(f'{{"event": "submit", "task_uuid": "{A}", "take": "a", "ti')
    result = run_cli("plan", "film.yaml", cwd=film.parent)
    assert result.status == 2, result.err
    assert ".storyboard/journal/film.jsonl:1:1" in result.err
    with pytest.raises(InputError):
        prepare(film, backend_name="fake")
    assert fake.submitted == []


def test_compacting_leaves_a_journal_with_a_line_it_cannot_read_as_it_is(film: Path) -> None:
    """Mutant: compact() rewrites a journal with a line it cannot read, dropping the line
    (here a request of take a, its task UUID kept, its key mistyped while the build ran)."""
    build_journal = journal(film)
    build_journal.submit("b", "b" * 64, B)
    with path_of(film).open("a") as other_hand:
        other_hand.write(line("submit", "", take="a", task_uuid=A, endpoint="fake://"))
    before = path_of(film).read_bytes()
    build_journal.done("b" * 64, B)
    after_done = path_of(film).read_bytes()
    assert after_done.startswith(before)
    build_journal.compact()
    assert path_of(film).read_bytes() == after_done


# -- abandon: all or none, and only what is named ----------------------------------------------


def test_abandon_after_a_last_line_without_its_line_break_loses_no_record(
    film: Path, run_cli: Run
) -> None:
    """Mutant: give_up appends its records to a last line that has no line break (a journal
    saved by an editor that drops the final newline): that line and the first ``failed`` are
    run together into a line no build reads. Take b's request, on that line, was lost: sent
    anew under a new task UUID, paid for twice; and take a was not given up."""
    key = keys(film)
    writer = journal(film)
    writer.submit("a", key["a"], A)
    writer.accepted(key["a"], A)
    writer.submit("b", key["b"], B)
    path_of(film).write_bytes(path_of(film).read_bytes().rstrip(b"\n"))
    given = run_cli("doctor", str(film), "--abandon", "a")
    assert given.status == 0, given.err
    assert f"gave up task {A}" in given.err
    again = FakePaidBackend()
    assert build(film, backend=again).ok
    by_take = {take: (task, resumed) for take, task, resumed in sent(again)}
    assert by_take["b"] == (B, True)  # resumed: not paid again
    assert by_take["a"][0] != A and not by_take["a"][1]  # given up: sent anew, as consented
    assert pending(film.parent) == []
    assert "the state is sound" in run_cli("doctor", str(film)).err


def test_an_ambiguous_name_among_others_gives_up_nothing(film: Path, run_cli: Run) -> None:
    """Mutant: a name that is both a take and another take's task UUID stops only itself;
    the others named with it were given up (not all or none)."""
    writer = journal(film)
    writer.submit(B, "c" * 64, C)  # a take whose id is written like a UUID
    writer.submit("b", "d" * 64, B)  # ...the task UUID of take 'b'
    writer.submit("a", "e" * 64, A)
    before = path_of(film).read_bytes()
    refused = run_cli("doctor", str(film), "--abandon", B, "--abandon", "a")
    assert refused.status == 2, refused.err
    assert f"--abandon {B}: it names take '{B}'" in refused.err
    assert "gave up" not in refused.err
    assert path_of(film).read_bytes() == before
    assert sorted(p.task_uuid for p in pending(film.parent)) == sorted([A, B, C])


def test_the_way_out_listed_for_a_take_whose_name_was_lost_gives_it_up(
    film: Path, run_cli: Run
) -> None:
    """Mutant: the doctor's list names a request recovered without its take as ``--abandon
    ?``, which is refused (it would name every such request): the way out it lists fails."""
    journal(film).submit("?", "a" * 64, A)
    listed = run_cli("doctor", str(film))
    assert listed.status == 0, listed.err
    command = listed.err.split("`storyboard doctor ", 1)[1].split("`", 1)[0].split()
    assert command[-2:] == ["--abandon", A]
    given = run_cli("doctor", *command)
    assert given.status == 0, given.err
    assert f"gave up task {A}" in given.err
    assert pending(film.parent) == []


def test_abandon_with_a_journal_that_cannot_be_read_does_not_say_nothing_is_pending(
    film: Path, run_cli: Run, tmp_path: Path
) -> None:
    """Mutant: the doctor reads a journal it cannot read (a symlink) as holding no pending
    request, and says so ("takes with one: none") where the take's request may be pending."""
    elsewhere = tmp_path / "journal.jsonl"
    Journal(elsewhere, backend="fake", endpoint="fake://").submit("a", "a" * 64, A)
    before = elsewhere.read_bytes()
    path_of(film).parent.mkdir(parents=True, exist_ok=True)
    path_of(film).symlink_to(elsewhere)
    refused = run_cli("doctor", str(film), "--abandon", "a")
    assert refused.status == 2, refused.err
    assert "the journal cannot be read: nothing was given up" in refused.err
    assert "no take or task UUID of that name has a pending request" not in refused.err
    assert elsewhere.read_bytes() == before
