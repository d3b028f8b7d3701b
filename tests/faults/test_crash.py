"""Crashes: a build killed with SIGKILL at a random moment, then resumed, many times.

Each trial builds a fresh copy of a six-take film (uploads, a chain hand-off of an exact
last frame, an edit of a generated take, the cut) as a separate process, kills it with
SIGKILL at a random moment, looks at what the kill left behind, then builds again. Half the
kills land at a uniformly random time of a whole build (the cut included), half right
after a random build event (a request journaled, a take done, ...), when the state is
changing. After every trial:

- nothing is corrupt: every cache entry that is in place verifies byte for byte, the lock
  file (if any) is whole JSON, every journal line but a torn last one parses, and every
  take video and film in ``build/`` is whole;
- the resumed build finishes, and the emulator's ledger shows no take paid for twice;
- the lock names the same media (sha256) as an uninterrupted build, and the film is the
  same bytes;
- the resumed build leaves no request pending in the journal and no temporary file of the
  killed one behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from storyboard.build.state.cache import Cache
from storyboard.build.state.lockfile import LockFile
from storyboard.core.errors import InputError
from storyboard.emulator.server import EmulatorServer
from tests.faults.conftest import Figures, Size
from tests.faults.films import double_charges, film_files, locked_hashes

Project = Callable[[dict[str, str | bytes]], Path]
REPO = Path(__file__).resolve().parents[2]
TAKES = 6
#: Hidden names a build keeps on purpose; any other one is a temporary file a kill left.
_EXPECTED_HIDDEN = frozenset(
    {".storyboard", ".cut.json", ".build.json", ".storyboard-build.json", ".tmp", ".storyboard-tmp"}
)
#: Where a build makes its temporary files (what a kill leaves there is a leftover).
_STAGING = (".storyboard/tmp", ".storyboard/cache/.tmp", "build/film/.storyboard-tmp")


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _films(root: Path) -> dict[str, str]:
    """The cut film(s) in the backend folders of ``build/film/``, by name, as sha256."""
    films = sorted((root / "build" / "film").glob("*/*.mp4"))
    return {str(p.relative_to(root / "build" / "film")): _sha(p) for p in films}


@dataclass
class Damage:
    """What a kill left behind that is wrong (must stay empty) or merely untidy."""

    corrupt: list[str] = field(default_factory=list)
    leftovers: list[str] = field(default_factory=list)


def inspect(root: Path, expected_films: dict[str, str]) -> Damage:
    """Look at a project right after a kill."""
    damage = Damage()
    state = root / ".storyboard"
    cache = Cache(state / "cache")
    known: set[str] = set()
    for folder in sorted((state / "cache").glob("*/*/*")):
        if any(part.startswith(".") for part in folder.relative_to(state).parts):
            continue  # a staging folder (.tmp): leftovers, counted below, not entries
        entry = cache.get(folder.parent.parent.name, folder.name, verify=True)
        if entry is None:
            damage.corrupt.append(f"cache entry {folder.relative_to(root)}")
        else:
            known.update(r.sha256 for r in entry.results)
    lockfile = root / "film.lock"
    if lockfile.exists():
        try:
            LockFile.read(lockfile, "film.yaml")
        except InputError:
            damage.corrupt.append("film.lock")
    journal = state / "journal" / "film.jsonl"
    if journal.exists():
        lines = journal.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines[:-1], 1):
            try:
                json.loads(line)
            except ValueError:
                damage.corrupt.append(f"journal line {number}")
    for video in sorted((root / "build" / "film").glob("*/takes/*.mp4")):
        if _sha(video) not in known:
            damage.corrupt.append(f"take video {video.relative_to(root)}")
    for name, digest in _films(root).items():
        if expected_films.get(name) != digest:
            damage.corrupt.append(f"film {name}")
    staging = {root / folder for folder in _STAGING}
    for path in sorted(root.rglob(".*")):  # a sibling temporary (.NAME.storyboard-tmp) anywhere
        if path.name not in _EXPECTED_HIDDEN and staging.isdisjoint(path.parents):
            damage.leftovers.append(str(path.relative_to(root)))
    for staging in _STAGING:
        if (root / staging).is_dir():
            damage.leftovers += [str(p.relative_to(root)) for p in (root / staging).iterdir()]
    return damage


def _runner(folder: Path, env: dict[str, str], **kwargs: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.faults.runner", str(folder / "film.yaml")],
        cwd=REPO, env=env, text=True, **kwargs,  # type: ignore[call-overload]
    )  # fmt: skip


def _write(folder: Path, files: dict[str, str | bytes]) -> None:
    folder.mkdir(parents=True)
    (folder / ".storyboard").mkdir()
    for name, content in files.items():
        path = folder / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")


def _pending(root: Path) -> int:
    """Requests the journal still holds as sent without an outcome: a ``submit`` closed only
    by a ``done`` or ``failed`` of its task (``accepted`` and ``unsent`` leave it pending)."""
    open_: dict[str, str] = {}
    journal = root / ".storyboard" / "journal" / "film.jsonl"
    for line in journal.read_text(encoding="utf-8").splitlines() if journal.exists() else []:
        event = json.loads(line)
        if event["event"] == "submit":
            open_[event["key"]] = event["task_uuid"]
        elif event["event"] in ("done", "failed") and open_.get(event["key"]) == event["task_uuid"]:
            del open_[event["key"]]
    return len(open_)


def test_killed_builds_resume_whole_and_never_pay_twice(
    emulator: EmulatorServer, tmp_path: Path, size: Size, figures: Figures
) -> None:
    env = {**os.environ, "RUNWARE_API_KEY": emulator.api_key, "RUNWARE_BASE_URL": emulator.base_url}
    files = film_files(TAKES)

    # the reference: one build that nobody interrupts
    reference = tmp_path / "reference"
    _write(reference, files)
    run = _runner(reference, env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert run.stdout is not None and run.stdout.readline() == "Ready\n"
    started = time.monotonic()
    out, err = run.communicate(timeout=120)
    whole = time.monotonic() - started
    assert run.returncode == 0, err[-2000:]
    events = out.splitlines()
    expected = locked_hashes(reference / "film.lock")
    expected_films = _films(reference)
    assert len(expected) == TAKES and double_charges(emulator) == 0
    assert expected_films, "the build writes the film into build/film/BACKEND/"

    rng = random.Random(20261125)
    finished = interrupted = charged_twice = mismatched = 0
    corrupt: list[str] = []
    leftovers = 0
    kept: list[str] = []
    unresolved = 0
    for trial in range(size.kill_trials):
        emulator.reset()
        folder = tmp_path / f"trial-{trial}"
        _write(folder, files)
        process = _runner(folder, env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        assert process.stdout is not None and process.stdout.readline() == "Ready\n"
        if trial % 2 == 0:  # a random moment of the whole build, before its last event
            _sleep_before_the_end(process, rng.uniform(0.0, 0.95 * whole), len(events) - 1)
        else:  # just after a random event, while the state is changing
            target = rng.randrange(len(events) - 1)  # not after the last: it is exiting
            for _ in range(target + 1):
                if not process.stdout.readline():
                    break
            time.sleep(rng.uniform(0.0, 0.05))
        interrupted += process.poll() is None
        process.send_signal(signal.SIGKILL)
        process.wait()
        process.stdout.close()

        damage = inspect(folder, expected_films)
        corrupt += [f"trial {trial}: {what}" for what in damage.corrupt]
        leftovers += len(damage.leftovers)

        resumed = subprocess.run(
            [sys.executable, "-m", "tests.faults.runner", str(folder / "film.yaml")],
            cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        finished += resumed.returncode == 0
        charged_twice += double_charges(emulator)
        same = resumed.returncode == 0 and locked_hashes(folder / "film.lock") == expected
        same = same and _films(folder) == expected_films
        mismatched += not same
        unresolved += _pending(folder)
        after = inspect(folder, expected_films)
        corrupt += [f"trial {trial}, resumed: {what}" for what in after.corrupt]
        kept += after.leftovers
        assert resumed.returncode == 0, f"trial {trial}: {resumed.stderr[-2000:]}"

    figures.add("kill trials", size.kill_trials)
    figures.add("killed while running", interrupted)
    figures.add("resumed builds that finished", finished)
    figures.add("double charges", charged_twice)
    figures.add("corrupt cache, lock, journal or build entries", len(corrupt))
    figures.add("final films different from the uninterrupted build", mismatched)
    figures.add("temporary files left by kills (before resuming)", leftovers)
    figures.add("temporary files still there after the resumed build", len(kept))
    figures.add("journal entries left pending after a resumed build", unresolved)
    figures.add("seconds per uninterrupted build", round(whole, 2))

    assert corrupt == []
    assert charged_twice == 0
    assert mismatched == 0
    assert finished == size.kill_trials
    assert unresolved == 0
    assert kept == [], kept
    assert interrupted >= size.kill_trials * 0.8, "most kills must land while the build runs"


def _sleep_before_the_end(process: subprocess.Popen[str], seconds: float, events: int) -> None:
    """Sleep ``seconds``, or less: until the build has printed ``events`` lines (the event
    before its last, after which it exits). The reference build's time is only an estimate of
    a trial's: on a machine whose load changes, a trial can finish sooner, and a kill after it
    exits tests nothing."""
    assert process.stdout is not None
    fd = process.stdout.fileno()
    deadline = time.monotonic() + seconds
    seen = 0
    while seen < events:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            return
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            return
        seen += chunk.count(b"\n")
