"""Disk trouble: a full disk and a cache that turns read-only, in the middle of a paid build.

The project lives on a small tmpfs (``mount -t tmpfs -o size=...``), so the build runs out of
space wherever it happens to be writing: a download, a cache entry, the journal, the lock,
the film. Several sizes are tried (``disk_levels``), as fractions of what an uninterrupted
build writes. For the read-only case the cache is its own tmpfs, remounted read-only once
the emulator has billed its first takes, while others are in flight.

Each time, ``storyboard build`` must end with exit status 1 or 2 and a message that names
the problem (no traceback, no "internal error"); then, once the disk is healthy again
(remounted larger, or writable), a second build finishes, and the emulator's ledger shows
every take paid for exactly once: what the first build paid for and lost was resumed, not
bought again.

These tests need root (``mount``); they are skipped, saying why, when it is not available.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import storyboard.backends.factory
from storyboard.backends.base import Backend
from storyboard.emulator.server import EmulatorServer
from tests.conftest import CliResult
from tests.faults.conftest import Figures, Size
from tests.faults.films import billed_per_take, film_files
from tests.faults.runner import fast_backend

TAKES = 6
#: The small disks hold from this fraction of an uninterrupted build's bytes up to that one,
#: in ``disk_levels`` even steps: small ones fill up while takes are stored, large ones
#: while the film is cut.
SMALLEST, LARGEST = 0.08, 0.9


def fractions(levels: int) -> list[float]:
    step = (LARGEST - SMALLEST) / max(1, levels - 1)
    return [round(SMALLEST + i * step, 3) for i in range(levels)]


def _mount(folder: Path, *options: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", ",".join(options), "tmpfs", str(folder)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip


def _remount(folder: Path, *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["mount", "-o", ",".join(("remount", *options)), str(folder)],
        capture_output=True, text=True,
    )  # fmt: skip


def _umount(folder: Path) -> None:
    subprocess.run(["umount", "-l", str(folder)], capture_output=True)


@pytest.fixture
def mounts(tmp_path: Path) -> Iterator[Callable[[Path, str], Path]]:
    """``mount(folder, size)``: a tmpfs of ``size`` at ``folder``; unmounted at the end.

    Skips the test when mounting is not possible (not root, no CAP_SYS_ADMIN).
    """
    mounted: list[Path] = []
    if os.geteuid() != 0:
        pytest.skip("the disk tests mount tmpfs file systems, which needs root")
    probe = tmp_path / "probe"
    try:
        _mount(probe, "size=64k")
    except (OSError, subprocess.CalledProcessError) as exc:
        reason = getattr(exc, "stderr", "") or exc
        pytest.skip(f"cannot mount a tmpfs here ({str(reason).strip()})")
    _umount(probe)

    def mount(folder: Path, size: str) -> Path:
        _mount(folder, f"size={size}", "mode=0755")
        mounted.append(folder)
        return folder

    try:
        yield mount
    finally:
        for folder in reversed(mounted):
            _umount(folder)


def _write(root: Path, files: dict[str, str | bytes]) -> Path:
    (root / ".storyboard").mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        path = root / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return root / "film.yaml"


def _used(folder: Path) -> int:
    stat = os.statvfs(folder)
    return (stat.f_blocks - stat.f_bfree) * stat.f_frsize


def _clean_failure(result: CliResult, *problems: str) -> str:
    """The build failed the way a writer can act on; the line that names the problem (the
    last ``storyboard: error:`` or ``take '...' failed:`` line that does)."""
    assert result.status in (1, 2), (result.status, result.err[-3000:])
    assert "Traceback" not in result.err, result.err[-3000:]
    assert "internal error" not in result.err, result.err[-3000:]
    lines = [line for line in result.err.splitlines() if any(p in line for p in problems)]
    assert lines, f"no line names {problems}:\n{result.err[-3000:]}"
    final = [line for line in lines if line.startswith(("storyboard: error:", "take '"))]
    return (final or lines)[-1]


@pytest.fixture
def fast_cli(emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """``storyboard build`` (in-process) uses the Runware backend, polling quickly."""
    monkeypatch.setenv("RUNWARE_API_KEY", emulator.api_key)
    monkeypatch.setenv("RUNWARE_BASE_URL", emulator.base_url)
    monkeypatch.setenv("CI", "1")  # plain progress lines

    def make(name: str, **_: object) -> Backend:
        return fast_backend()

    monkeypatch.setattr(storyboard.backends.factory, "make_backend", make)


def _paid(emulator: EmulatorServer) -> tuple[int, int]:
    """(takes billed, takes billed more than once) from the ledger."""
    billed = billed_per_take(emulator)
    return len(billed), sum(1 for n in billed.values() if n > 1)


def test_a_full_disk_fails_clearly_and_the_next_build_pays_nothing_again(
    mounts: Callable[[Path, str], Path],
    fast_cli: None,
    emulator: EmulatorServer,
    run_cli: Callable[..., CliResult],
    tmp_path: Path,
    size: Size,
    figures: Figures,
) -> None:
    files = film_files(TAKES)
    # what an uninterrupted build writes, measured on a roomy tmpfs
    roomy = mounts(tmp_path / "roomy", "64m")
    before = _used(roomy)
    film = _write(roomy, files)
    estimate = _estimate(film)
    assert run_cli("build", film.name, cwd=roomy).status == 0
    needed = _used(roomy) - before
    emulator.reset()

    levels = fractions(size.disk_levels)
    messages: list[str] = []
    lost = resumed_ok = charged_twice = 0
    for level, fraction in enumerate(levels):
        emulator.reset()
        small = tmp_path / f"small-{level}"
        mounts(small, f"{max(4096, int(needed * fraction) // 4096 * 4096)}")
        film = _write(small, files)
        first = run_cli("build", film.name, cwd=small)
        messages.append(_clean_failure(first, "No space left on device"))
        billed_first, twice = _paid(emulator)
        lost += billed_first
        charged_twice += twice

        # the writer frees some space, and builds again
        assert _remount(small, "size=64m").returncode == 0
        second = run_cli("build", film.name, cwd=small)
        assert second.status == 0, second.err[-3000:]
        billed, twice = _paid(emulator)
        charged_twice += twice
        resumed_ok += billed == TAKES and twice == 0
        assert billed == TAKES and twice == 0, billed_per_take(emulator)
        assert emulator.total_cost() == pytest.approx(estimate)

    figures.add("disk sizes tried (fraction of a build's bytes)", levels)
    figures.add("bytes an uninterrupted build writes", needed)
    figures.add("builds that failed cleanly on a full disk", len(messages))
    figures.add("takes paid for by the failed builds", lost)
    figures.add("later builds that finished paying nothing twice", resumed_ok)
    figures.add("double charges", charged_twice)
    figures.add("error lines", messages)
    assert charged_twice == 0
    assert resumed_ok == len(levels)


def _estimate(film: Path) -> float:
    """What the plan says building every take costs (nothing is cached yet)."""
    from storyboard.build.pipeline import prepare

    return prepare(film, backend_name="runware").plan.total


def test_a_cache_turned_read_only_fails_clearly_and_the_next_build_pays_nothing_again(
    mounts: Callable[[Path, str], Path],
    fast_cli: None,
    emulator: EmulatorServer,
    run_cli: Callable[..., CliResult],
    tmp_path: Path,
    figures: Figures,
) -> None:
    root = tmp_path / "project"
    film = _write(root, film_files(TAKES))
    cache = mounts(root / ".storyboard" / "cache", "64m")
    estimate = _estimate(film)
    emulator.configure(latency_s=(0.5, 0.5))  # time for the remount while takes are in flight
    turned = threading.Event()
    stop = threading.Event()

    def turn_read_only() -> None:
        """Once two takes are billed (more are in flight), make the cache read-only."""
        while not stop.is_set():
            if sum(1 for e in emulator.ledger() if e.cost > 0) >= 2:
                # a file being written keeps a remount busy: try until it goes through
                while not stop.is_set() and _remount(cache, "ro").returncode != 0:
                    time.sleep(0.005)
                turned.set()
                return
            time.sleep(0.01)

    watcher = threading.Thread(target=turn_read_only, daemon=True)
    watcher.start()
    try:
        first = run_cli("build", film.name, cwd=root)
    finally:
        stop.set()
        watcher.join()
    assert turned.is_set(), "the cache never turned read-only"
    message = _clean_failure(first, "Read-only file system")
    billed_first, twice_first = _paid(emulator)
    assert billed_first < TAKES, "the build finished before the cache turned read-only"

    assert _remount(cache, "rw").returncode == 0
    second = run_cli("build", film.name, cwd=root)
    assert second.status == 0, second.err[-3000:]
    billed, twice = _paid(emulator)
    figures.add("takes paid for before the cache turned read-only", billed_first)
    figures.add("error line", message)
    figures.add("takes billed after the healthy build", billed)
    figures.add("double charges", twice_first + twice)
    assert billed == TAKES and twice == 0, billed_per_take(emulator)
    assert emulator.total_cost() == pytest.approx(estimate)
