"""A Runware build with nothing to do makes nothing it does not use: no client (no TLS
context), no request; through the command line, it does not even import httpx, ssl, asyncio
or the media libraries. A build with something to do makes its client as before."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from storyboard.backends.runware.backend import RunwareBackend
from storyboard.backends.runware.client import RunwareClient
from storyboard.build.pipeline import UNCHANGED, build
from storyboard.emulator.server import EmulatorServer
from tests.conftest import CliResult

Project = Callable[[dict[str, str | bytes]], Path]

FILM = """\
storyboard: 1
title: No-op
shots:
  - {id: a, duration: 3, prompt: first shot}
  - {id: b, start: a.last, duration: 3, prompt: second shot}
"""
HEAVY = {"httpx", "httpcore", "ssl", "asyncio", "av", "PIL", "numpy", "networkx", "moviepy"}
PROBE = """
import json, sys
from storyboard.cli.main import main
status = main(sys.argv[1:])
print(json.dumps({"status": status, "modules": sorted({m.split(".")[0] for m in sys.modules})}))
"""


def requests(emulator: EmulatorServer) -> int:
    stats = emulator.stats()
    return sum(stats["statuses"].values()) + sum(stats["downloads"].values())


@pytest.fixture
def built(project: Project, emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A storyboard built against the emulator, then built again (which leaves the note)."""
    monkeypatch.setenv("RUNWARE_API_KEY", emulator.api_key)
    monkeypatch.setenv("RUNWARE_BASE_URL", emulator.base_url)
    film = project({"film.yaml": FILM}) / "film.yaml"
    first = build(film, backend=RunwareBackend.from_environment(), film_scale=1 / 12)
    assert first.ok and {o.status for o in first.outcomes.values()} == {"generated"}
    again = build(film, backend=RunwareBackend.from_environment(), film_scale=1 / 12)
    assert {o.status for o in again.outcomes.values()} == {"cached"}
    assert (again.prepared.workspace.output_dir / UNCHANGED).is_file()
    return film


def test_a_build_with_work_makes_its_client(
    project: Project, emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUNWARE_API_KEY", emulator.api_key)
    monkeypatch.setenv("RUNWARE_BASE_URL", emulator.base_url)
    film = project({"film.yaml": FILM}) / "film.yaml"
    backend = RunwareBackend.from_environment()
    assert backend._client is None
    result = build(film, backend=backend, film_scale=1 / 12)
    assert result.ok and backend._client is not None
    assert emulator.total_cost() > 0


def test_a_bad_key_fails_before_anything_is_sent(
    project: Project, emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUNWARE_API_KEY", "two words")
    monkeypatch.setenv("RUNWARE_BASE_URL", emulator.base_url)
    film = project({"film.yaml": FILM}) / "film.yaml"
    with pytest.raises(Exception, match="whitespace or control characters"):
        build(film, backend=RunwareBackend.from_environment(), film_scale=1 / 12)
    assert requests(emulator) == 0


def test_a_no_op_build_makes_no_client_and_sends_nothing(
    built: Path, emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_client(*args: object, **kwargs: object) -> None:
        raise AssertionError("a build with nothing to do made a Runware client")

    monkeypatch.setattr(RunwareClient, "__init__", no_client)
    before = requests(emulator)
    backend = RunwareBackend.from_environment()
    result = build(built, backend=backend, film_scale=1 / 12)
    assert result.ok and {o.status for o in result.outcomes.values()} == {"cached"}
    assert backend._client is None
    assert requests(emulator) == before


def test_a_no_op_build_through_the_command_line_imports_no_client_or_media(
    built: Path, emulator: EmulatorServer
) -> None:
    before = requests(emulator)
    done = subprocess.run(
        [sys.executable, "-c", PROBE, "build", str(built), "--film-scale", str(1 / 12)],
        cwd=built.parent,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.splitlines()[-1])
    assert found["status"] == 0
    assert HEAVY.isdisjoint(found["modules"]), sorted(HEAVY & set(found["modules"]))
    assert "2 of 2 takes ready" in done.stderr
    assert requests(emulator) == before


def test_the_film_scale_of_the_command_line_cuts_an_emulators_takes_as_they_are(
    project: Project,
    emulator: EmulatorServer,
    monkeypatch: pytest.MonkeyPatch,
    run_cli: Callable[..., CliResult],
) -> None:
    """Against an emulator started with --scale 1/12, --film-scale 1/12 copies every frame of
    its 160x90 takes (without it, each frame would be scaled up to 1920x1080 and encoded)."""
    from storyboard.media.probe import probe

    monkeypatch.setenv("RUNWARE_API_KEY", emulator.api_key)
    monkeypatch.setenv("RUNWARE_BASE_URL", emulator.base_url)
    root = project({"film.yaml": FILM})
    result = run_cli("build", "film.yaml", "--film-scale", str(1 / 12), cwd=root)
    assert result.status == 0, result.err
    assert "cut film.mp4: 144 frames, 144 of them copied without re-encoding" in result.err
    films = list((root / "build" / "film").glob("runware@*/film.mp4"))
    info = probe(films[0])
    assert (info.width, info.height) == (160, 90)
    for bad in ("0", "1.5", "-1"):
        refused = run_cli("build", "film.yaml", "--film-scale", bad, cwd=root)
        assert refused.status == 2 and "--film-scale must be in (0, 1]" in refused.err
