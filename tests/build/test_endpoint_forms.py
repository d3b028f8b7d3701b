"""A request pending in the journal is resumed at the endpoint it was sent to, whatever form
its URL is written in, and never sent anew from another endpoint of the same server (where
it would be paid for a second time)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from storyboard.backends.factory import pricing_of
from storyboard.backends.namespaces import endpoint_form
from storyboard.build.pipeline import ELSEWHERE, build, prepare
from storyboard.build.state.journal import Journal, read_pending
from storyboard.core.errors import BuildError
from tests.build.fakes import FakePaidBackend

Project = Callable[[dict[str, str | bytes]], Path]

FILM = """\
storyboard: 1
title: Endpoints
shots:
  - {id: a, duration: 3, prompt: first shot}
  - {id: b, duration: 3, prompt: second shot}
"""
A = "6f0c58a8-58a4-4d4b-9a4e-6f3b7a0c6f11"
HERE = "http://127.0.0.1:9/v1"


@pytest.mark.parametrize(
    ("one", "other", "same"),
    [
        ("http://127.0.0.1:9/v1/", "http://127.0.0.1:9/v1", True),
        ("HTTP://LOCALHOST:9/v1", "http://localhost:9/v1", True),
        ("https://api.runware.ai/v1", "https://api.runware.ai:443/v1/", True),
        ("http://host/v1", "http://host:80/v1", True),
        ("http://host/v1", "http://host/v2", False),
        ("http://host/V1", "http://host/v1", False),  # a path's case is the server's to read
        ("http://host:8080/v1", "http://host/v1", False),
        ("fake://", "fake://", True),
        ("http://[REDACTED]@127.0.0.1:9/v1", "http://127.0.0.1:9/v1", True),  # no crash
        ("http://u:p@127.0.0.1:9/v1", "http://127.0.0.1:9/v1/", True),
        ("http://[x/v1", "http://[x/v1", True),  # no URL: as it is
        ("e1", "e2", False),
    ],
)
def test_endpoint_forms(one: str, other: str, same: bool) -> None:
    assert (endpoint_form(one) == endpoint_form(other)) is same


def _pending_at(film: Path, endpoint: str, *, accepted: bool = True) -> str:
    """Journal take a as sent to ``endpoint`` (and accepted); its key."""
    before = prepare(film, backend_name="fake")
    journal = Journal(before.workspace.journal, backend="fake", endpoint=endpoint)
    journal.submit("a", before.keys["a"], A)
    if accepted:
        journal.accepted(before.keys["a"], A)
    return before.keys["a"]


def test_a_request_sent_to_another_form_of_the_url_is_resumed(project: Project) -> None:
    film = project({"film.yaml": FILM}) / "film.yaml"
    _pending_at(film, "HTTP://127.0.0.1:9/v1/")
    backend = FakePaidBackend()
    backend.endpoint = HERE
    result = build(film, backend=backend)
    assert result.ok
    sent_for_a = [(job.task_uuid, job.resumed) for job in backend.submitted if job.take == "a"]
    assert sent_for_a == [(A, True)]  # resumed under its UUID: not paid again
    assert (
        read_pending(film.parent / ".storyboard" / "journal" / "film.jsonl", backend="fake") == {}
    )


def test_a_request_pending_at_another_endpoint_is_not_sent_again(project: Project) -> None:
    film = project({"film.yaml": FILM}) / "film.yaml"
    key = _pending_at(film, "http://127.0.0.1:9/v2")
    backend = FakePaidBackend()
    backend.endpoint = HERE
    plan = prepare(film, backend_name="fake", pricing=pricing_of(backend)).plan  # `plan`
    (a,) = [item for item in plan.items if item.take.id == "a"]
    assert (a.status, a.accepted) == ("resume", True)
    assert a.reason == ELSEWHERE.format(endpoint="http://127.0.0.1:9/v2")
    with pytest.raises(BuildError) as refused:
        build(film, backend=backend)
    message = str(refused.value)
    assert "take 'a': a request is pending at http://127.0.0.1:9/v2" in message
    assert f"(at {HERE})" in message and message.endswith("nothing was sent")
    assert backend.submitted == []  # neither a nor b
    journal = film.parent / ".storyboard" / "journal" / "film.jsonl"
    assert set(read_pending(journal, backend="fake")) == {key}  # still there to resume
    # from the endpoint it was sent to, it is resumed
    backend = FakePaidBackend()
    backend.endpoint = "http://127.0.0.1:9/v2"
    assert build(film, backend=backend).ok
    assert [(j.take, j.task_uuid, j.resumed) for j in backend.submitted if j.take == "a"] == [
        ("a", A, True)
    ]


def test_a_request_never_sent_may_be_sent_from_another_endpoint(project: Project) -> None:
    film = project({"film.yaml": FILM}) / "film.yaml"
    before = prepare(film, backend_name="fake")
    journal = Journal(before.workspace.journal, backend="fake", endpoint="http://127.0.0.1:9/v2")
    journal.submit("a", before.keys["a"], A)
    journal.unsent(before.keys["a"], A, "connection refused")
    backend = FakePaidBackend()
    backend.endpoint = HERE
    assert build(film, backend=backend).ok
    assert sorted(j.take for j in backend.submitted) == ["a", "b"]
