"""A renamed shot is not paid for again (issue 13 item 1), end to end over loopback.

One writer builds against the emulator and commits the storyboard and its lock. They rename
the shot ``radio`` to ``wheelhouse`` (the request is the same) and commit. A teammate clones
the repository (no cache) and builds: the emulator's one ledger shows no new charge, and the
plan said ``locked`` before the build.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from storyboard.backends.namespaces import namespace
from storyboard.build.pipeline import build, prepare
from storyboard.emulator.server import EmulatorServer
from tests.conftest import read_lock
from tests.e2e.runner import fast_backend

Project = Callable[[dict[str, str | bytes]], Path]

FILM = """\
storyboard: 1
title: Trawler
shots:
  - {id: radio, duration: 3, prompt: a radio crackles in the wheelhouse}
  - {id: deck, start: radio.last, duration: 3, prompt: waves wash over the deck}
"""


def git(cwd: Path, *args: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}  # fmt: skip
    subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)


def billed(emulator: EmulatorServer) -> int:
    return sum(1 for e in emulator.ledger() if not e.dry_run and e.cost > 0)


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_a_renamed_shot_is_not_paid_for_again_in_a_fresh_clone(
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
    git(writer, "add", "-A")
    git(writer, "commit", "-qm", "the film")
    # the rename: ids only, the requests stay the same
    film.write_text(
        FILM.replace("id: radio", "id: wheelhouse").replace("radio.last", "wheelhouse.last")
    )
    git(writer, "commit", "-qam", "radio is the wheelhouse")

    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(writer), str(clone))
    assert not (clone / ".storyboard").exists()
    (clone / ".storyboard").mkdir()
    plan = {
        i.take.id: i.status for i in prepare(clone / "film.yaml", backend_name=space).plan.items
    }
    assert plan == {"wheelhouse": "locked", "deck": "locked"}
    result = build(clone / "film.yaml", backend=fast_backend(), film_scale=1 / 12)
    assert result.ok, [o.message for o in result.outcomes.values()]
    assert {o.status for o in result.outcomes.values()} == {"locked"}
    assert billed(emulator) == 2  # one ledger, no new charge
    assert int(emulator.stats()["tasks"].get("videoInference", 0)) == 2
    assert sorted(read_lock(clone / "film.lock")) == ["deck", "wheelhouse"]
    assert result.film is not None and result.film.is_file()
