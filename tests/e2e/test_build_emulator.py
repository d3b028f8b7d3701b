"""The whole pipeline against the Runware emulator over real loopback HTTP.

A multi-shot, chained, edited storyboard builds; a second build sends no request; editing one
prompt regenerates exactly that take and what depends on it; a build killed at random moments
and resumed pays for every take exactly once and ends with the same videos.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from storyboard.backends.namespaces import namespace
from storyboard.build.pipeline import build, prepare
from storyboard.build.state.journal import read_pending
from storyboard.emulator.server import EmulatorServer
from tests.conftest import read_lock, tiny_jpeg
from tests.e2e.runner import fast_backend

Project = Callable[[dict[str, str | bytes]], Path]
REPO = Path(__file__).resolve().parents[2]

FILM = """\
storyboard: 1
title: Emulator film
defaults: {sound: true}
elements:
  hero: {frontal_image: hero.jpg, description: a hero, tags: [Character]}
shots:
  - sequence: opening
    continuity: multishot
    shots:
      - {id: wide, duration: 2, prompt: '<<<hero>>> on a cliff'}
      - {id: close, duration: 2, prompt: '<<<hero>>> looks down'}
  - sequence: walk
    continuity: chain
    shots:
      - {id: step1, start: close.last, duration: 3, prompt: the hero walks}
      - {id: step2, duration: 3, prompt: the hero keeps walking}
  - {id: restyle, edit: step2, prompt: restyle as a painting}
"""


@pytest.fixture
def film(project: Project, emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("RUNWARE_API_KEY", emulator.api_key)
    monkeypatch.setenv("RUNWARE_BASE_URL", emulator.base_url)
    root = project({"film.yaml": FILM, "hero.jpg": tiny_jpeg(640, 360)})
    return root / "film.yaml"


def video_submits(emulator: EmulatorServer) -> int:
    return int(emulator.stats()["tasks"].get("videoInference", 0))


def billed(emulator: EmulatorServer) -> list[Any]:
    return [e for e in emulator.ledger() if not e.dry_run and e.cost > 0]


def test_build_against_the_emulator(film: Path, emulator: EmulatorServer) -> None:
    plan = prepare(film, backend_name="runware").plan
    result = build(film, backend=fast_backend(), film_scale=1 / 12)
    assert result.ok, [o.message for o in result.outcomes.values()]
    assert [o.status for o in result.outcomes.values()] == ["generated"] * 4
    entries = billed(emulator)
    assert len(entries) == 4 and len({e.task_uuid for e in entries}) == 4
    # what the emulator charged is what the plan estimated (the edit: its 3 s source at 0.168)
    assert emulator.total_cost() == pytest.approx(plan.total)
    assert result.spent == pytest.approx(plan.total)
    lock = read_lock(film.with_suffix(".lock"))
    assert {t["task_uuid"] for t in lock.values()} == {e.task_uuid for e in entries}
    assert emulator.api_key not in film.with_suffix(".lock").read_text()

    # a second build sends no request and changes nothing
    before = (video_submits(emulator), film.with_suffix(".lock").read_text())
    again = build(film, backend=fast_backend(), film_scale=1 / 12)
    assert {o.status for o in again.outcomes.values()} == {"cached"}
    assert (video_submits(emulator), film.with_suffix(".lock").read_text()) == before
    assert len(billed(emulator)) == 4

    # one prompt edited: that take and its dependents, nothing else
    film.write_text(FILM.replace("the hero walks", "the hero runs"))
    changed = build(film, backend=fast_backend(), film_scale=1 / 12)
    regenerated = sorted(k for k, o in changed.outcomes.items() if o.status == "generated")
    assert regenerated == ["restyle", "step1", "step2"]
    assert len(billed(emulator)) == 7


def _uninterrupted(project_dir: Path, env: dict[str, str]) -> dict[str, list[str]]:
    subprocess.run(
        [sys.executable, "-m", "tests.e2e.runner", str(project_dir / "film.yaml")],
        cwd=REPO, env=env, check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    return _locked_hashes(project_dir)


def _locked_hashes(project_dir: Path) -> dict[str, list[str]]:
    lock = read_lock(project_dir / "film.lock")
    return {k: [r["sha256"] for r in v["results"]] for k, v in lock.items()}


KILL_TRIALS = int(os.environ.get("STORYBOARD_KILL_TRIALS", "20"))


def test_killed_builds_resume_and_never_pay_twice(
    project: Project, emulator: EmulatorServer, tmp_path: Path
) -> None:
    env = {**os.environ, "RUNWARE_API_KEY": emulator.api_key, "RUNWARE_BASE_URL": emulator.base_url}
    root = project({"film.yaml": FILM, "hero.jpg": tiny_jpeg(640, 360)})
    started = time.monotonic()
    expected = _uninterrupted(root, env)
    full = time.monotonic() - started
    assert len(billed(emulator)) == 4
    rng = random.Random(20261125)
    outcomes = []
    space = namespace("runware", base_url=emulator.base_url)
    resumes = 0
    for trial in range(KILL_TRIALS):
        emulator.reset()
        folder = tmp_path / f"trial-{trial}"
        folder.mkdir()
        (folder / ".storyboard").mkdir()
        (folder / "film.yaml").write_text(FILM)
        (folder / "hero.jpg").write_bytes((root / "hero.jpg").read_bytes())
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.e2e.runner", str(folder / "film.yaml")],
            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        time.sleep(rng.uniform(0.0, full))
        process.send_signal(signal.SIGKILL)
        process.wait()
        # what the killed build sent and never heard back from, plan calls "resume"
        prepared = prepare(folder / "film.yaml", backend_name=space, project_root=folder)
        sent = read_pending(prepared.workspace.journal, backend=space)
        for item in prepared.plan.items:
            if item.key in sent and item.status not in ("cached", "locked"):
                assert item.status == "resume", (trial, item.take.id, item.status)
                resumes += 1
        resumed = subprocess.run(
            [sys.executable, "-m", "tests.e2e.runner", str(folder / "film.yaml")],
            cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert resumed.returncode == 0, resumed.stderr[-2000:]
        entries = billed(emulator)
        per_task: dict[str, int] = {}
        for entry in entries:
            per_task[entry.task_uuid] = per_task.get(entry.task_uuid, 0) + 1
        assert all(n == 1 for n in per_task.values()), per_task
        assert len(entries) == 4, f"trial {trial}: {len(entries)} takes billed"
        assert _locked_hashes(folder) == expected
        outcomes.append(len(entries))
    assert outcomes == [4] * KILL_TRIALS
    print(f"takes planned as resume after the kills: {resumes}")
    assert resumes > 0  # some kills came while takes were in flight
