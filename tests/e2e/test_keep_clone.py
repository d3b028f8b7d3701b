"""A kept take in a teammate's clone (issue 17), end to end over loopback against the
emulator: the writer approves a take, changes its prompt and keeps it; a teammate clones the
repository (no cache, no records) and builds: the kept result and what depends on it come
from the lock, and the emulator's ledger shows no new charge."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from storyboard.backends.namespaces import namespace
from storyboard.build.pipeline import build, prepare
from storyboard.emulator.server import EmulatorServer
from storyboard.media.frames import frame_array
from tests.e2e.runner import fast_backend
from tests.e2e.test_rename import billed, git

Project = Callable[[dict[str, str | bytes]], Path]

FILM = """\
storyboard: 1
title: Trawler
shots:
  - {id: radio, duration: 3, prompt: a radio crackles in the wheelhouse}
  - {id: deck, start: radio.last, duration: 3, prompt: waves wash over the deck}
"""


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_a_kept_take_costs_nothing_in_a_fresh_clone(
    project: Project, emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("RUNWARE_API_KEY", emulator.api_key)
    monkeypatch.setenv("RUNWARE_BASE_URL", emulator.base_url)
    space = namespace("runware", base_url=emulator.base_url)
    writer = project({"film.yaml": FILM, ".gitignore": ".storyboard/\nbuild/\n"})
    film = writer / "film.yaml"
    git(writer, "init", "-q", "-b", "main")
    assert build(film, backend=fast_backend(), film_scale=1 / 12).ok
    assert billed(emulator) == 2
    # the writer likes the radio shot, rewrites its prompt and keeps it
    film.write_text(
        FILM.replace("{id: radio,", "{id: radio, keep: true,").replace(
            "a radio crackles", "a radio crackles and hisses"
        )
    )
    plan = {i.take.id: (i.status, i.reason) for i in prepare(film, backend_name=space).plan.items}
    assert plan == {
        "radio": ("kept", "prompt changed since"),
        "deck": ("cached", "in the cache"),
    }
    git(writer, "add", "-A")
    git(writer, "commit", "-qm", "radio kept")

    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(writer), str(clone))
    (clone / ".storyboard").mkdir()
    statuses = {
        i.take.id: i.status for i in prepare(clone / "film.yaml", backend_name=space).plan.items
    }
    assert statuses == {"radio": "kept", "deck": "locked"}
    result = build(clone / "film.yaml", backend=fast_backend(), film_scale=1 / 12)
    assert result.ok, [o.message for o in result.outcomes.values()]
    assert billed(emulator) == 2  # one ledger, no new charge
    assert int(emulator.stats()["tasks"].get("videoInference", 0)) == 2
    first = writer / "build" / "film" / space.replace(":", "-") / "takes" / "radio.mp4"
    mine = clone / "build" / "film" / space.replace(":", "-") / "takes" / "radio.mp4"
    assert (frame_array(first, 36) == frame_array(mine, 36)).all()
    assert result.film is not None and result.film.is_file()
