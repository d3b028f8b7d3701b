"""``storyboard watch`` and an editor that saves in place: it empties the file, then writes
it. A round that reads the file in between must not report the empty storyboard as the
writer's mistake; a file that stays empty is reported."""

from __future__ import annotations

import io
import os
import threading
from pathlib import Path
from typing import Any

import pytest

from storyboard import api
from storyboard.live import watch as watching
from storyboard.live.watch import Watch

GOOD = """\
storyboard: 1
title: Settled
shots:
  - {id: a, duration: 3, prompt: a harbour at dawn}
"""


@pytest.fixture
def film(tmp_path: Path) -> Path:
    (tmp_path / ".storyboard").mkdir()
    path = tmp_path / "film.yaml"
    path.write_text("")  # emptied by the editor; its write comes later
    return path


def test_an_empty_read_is_not_reported_when_the_save_goes_on_and_the_next_round_builds_it(
    film: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = api.compile_storyboard
    writes: list[threading.Timer] = []

    def read_then_the_editor_writes(path: Any, **kwargs: Any) -> Any:
        try:
            return real(path, **kwargs)
        finally:
            if not writes:  # the first round has read the empty file: the write comes now
                writes.append(threading.Timer(0.1, film.write_text, (GOOD,)))
                writes[0].start()

    monkeypatch.setattr(api, "compile_storyboard", read_then_the_editor_writes)
    out = io.StringIO()
    watch = Watch(film, stream=out, preview_scale=0.1)

    assert watch.once() is False  # nothing built from the empty read...
    writes[0].join()
    assert "error" not in out.getvalue()  # ...and nothing said about it
    assert watch.changed_since() == [os.path.realpath(film)]  # what the loop runs again on
    assert watch.once() is True, out.getvalue()
    assert "built in" in out.getvalue()


def test_a_storyboard_that_stays_empty_is_reported_after_the_wait(
    film: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(watching, "SETTLE", 0.2)
    out = io.StringIO()
    watch = Watch(film, stream=out)

    assert watch.once() is False
    said = out.getvalue()
    assert "film.yaml:1:1: error:" in said and "empty" in said, said
    assert "1 error: not built" in said
