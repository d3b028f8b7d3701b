"""A cache entry that is there but cannot be read (permission denied, an I/O error) is not a
miss: a miss would plan, and pay for, a result the cache holds. (The tests run as root, whom
permissions do not stop: the read is made to fail.)"""

from __future__ import annotations

import errno
from collections.abc import Callable
from pathlib import Path

import pytest

from storyboard.build.pipeline import build, prepare
from storyboard.build.state.cache import Cache
from storyboard.core.errors import BuildError
from tests.build.fakes import FakePaidBackend

Project = Callable[[dict[str, str | bytes]], Path]

FILM = """\
storyboard: 1
title: Unreadable
shots:
  - {id: a, duration: 3, prompt: first shot}
"""


def _denied(monkeypatch: pytest.MonkeyPatch, number: int) -> None:
    def read(*args: object, **kwargs: object) -> None:
        raise OSError(number, "denied for the test", "entry.json")

    monkeypatch.setattr(Cache, "_read", staticmethod(read))


@pytest.mark.parametrize("number", [errno.EACCES, errno.EIO])
def test_an_unreadable_entry_stops_the_plan_and_pays_nothing(
    project: Project, monkeypatch: pytest.MonkeyPatch, number: int
) -> None:
    film = project({"film.yaml": FILM}) / "film.yaml"
    assert build(film, backend=FakePaidBackend()).ok
    (film.parent / "film.lock").unlink()  # no copy of the paid result but the cache's
    _denied(monkeypatch, number)
    with pytest.raises(BuildError, match="cannot read the cache entry"):
        prepare(film, backend_name="fake")
    again = FakePaidBackend()
    with pytest.raises(BuildError, match="cannot read the cache entry"):
        build(film, backend=again)
    assert again.submitted == []


def test_a_missing_or_damaged_entry_is_still_a_miss(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    film = project({"film.yaml": FILM}) / "film.yaml"
    _denied(monkeypatch, errno.ELOOP)  # a link where entry.json should be: damaged
    assert [i.status for i in prepare(film, backend_name="fake").plan.items] == ["generate"]
