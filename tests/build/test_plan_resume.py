"""``plan`` after a build stopped: the takes whose requests the journal holds are resumed, not
generated, and the estimate still counts them (if the provider never got one, it is paid when
it is sent again, once)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from storyboard import api
from storyboard.build.pipeline import RESUME_SUBMITTED, prepare
from storyboard.build.state.journal import Journal, read_pending
from storyboard.compiler.plan import render_plan
from storyboard.core.errors import InputError

Project = Callable[[dict[str, str | bytes]], Path]

FILM = """\
storyboard: 1
title: Resume
shots:
  - {id: a, duration: 4, prompt: first shot}
  - {id: b, start: a.last, duration: 5, prompt: second shot}
  - {id: c, duration: 3, prompt: third shot}
"""
RUNWARE = "runware@127.0.0.1:9"  # a namespace: plan reads only what it needs of a backend


def test_a_take_sent_before_a_build_stopped_is_resumed(project: Project) -> None:
    film = project({"film.yaml": FILM}) / "film.yaml"
    before = prepare(film, backend_name=RUNWARE)
    keys = before.keys
    assert {i.status for i in before.plan.items} == {"generate"}
    journal = Journal(before.workspace.journal, backend=RUNWARE, endpoint="http://127.0.0.1:9/v1")
    journal.submit("a", keys["a"], "6f0c58a8-58a4-4d4b-9a4e-6f3b7a0c6f11")
    journal.submit("c", keys["c"], "0d1f6b7e-2f1c-4d0b-8f59-3e4f0a1b2c3d")
    journal.done(keys["c"], "0d1f6b7e-2f1c-4d0b-8f59-3e4f0a1b2c3d")  # c came back

    plan = prepare(film, backend_name=RUNWARE).plan
    statuses = {i.take.id: i.status for i in plan.items}
    assert statuses == {"a": "resume", "b": "generate", "c": "generate"}
    assert plan.total == before.plan.total == pytest.approx((4 + 5 + 3) * 0.112)
    table = render_plan(plan)
    assert f"resume ({RESUME_SUBMITTED})" in table
    # another backend's journal entries are not this one's
    other = prepare(film, backend_name="runware@127.0.0.1:10").plan
    assert {i.status for i in other.items} == {"generate"}


def test_read_pending_scopes_by_backend_and_endpoint(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    Journal(path, backend="x", endpoint="e1").submit("a", "k1", "u1")
    Journal(path, backend="x", endpoint="e2").submit("b", "k2", "u2")
    Journal(path, backend="y", endpoint="e1").submit("c", "k3", "u3")
    assert set(read_pending(path, backend="x")) == {"k1", "k2"}
    assert set(read_pending(path, backend="x", endpoint="e2")) == {"k2"}
    assert read_pending(tmp_path / "none.jsonl", backend="x") == {}


def test_a_selected_take_to_resume_still_needs_its_input(project: Project) -> None:
    film = project({"film.yaml": FILM}) / "film.yaml"
    keys = prepare(film, backend_name=RUNWARE).keys
    workspace = prepare(film, backend_name=RUNWARE).workspace
    Journal(workspace.journal, backend=RUNWARE, endpoint="e").submit("b", keys["b"], "u")
    with pytest.raises(InputError) as refused:
        prepare(film, backend_name=RUNWARE, select=["b"])
    assert "take 'b' needs 'a'" in str(refused.value)


def test_api_plan_reads_the_journal_of_its_backend(project: Project) -> None:
    film = project({"film.yaml": FILM}) / "film.yaml"
    keys = prepare(film, backend_name="preview@0.25").keys
    workspace = prepare(film, backend_name="preview@0.25").workspace
    Journal(workspace.journal, backend="preview@0.25", endpoint="local").submit("a", keys["a"], "u")
    plan = api.plan(film, backend="preview", preview_scale=0.25)
    assert [i.status for i in plan.items] == ["resume", "generate", "generate"]
