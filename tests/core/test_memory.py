"""``fewer_collections``: the garbage collector's thresholds raised inside the block and given
back after it, however blocks nest or overlap across threads, and when the block raises."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from storyboard import api
from storyboard.core.memory import COLLECT_EVERY, collector_paused, fewer_collections


@pytest.fixture(autouse=True)
def thresholds() -> Iterator[tuple[int, int, int]]:
    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    yield gc.get_threshold()
    gc.set_threshold(*before)


def test_the_thresholds_are_raised_inside_and_given_back_after_even_on_an_error(
    thresholds: tuple[int, int, int],
) -> None:
    with pytest.raises(RuntimeError), fewer_collections():
        assert gc.get_threshold() == (COLLECT_EVERY, 10, 10)
        with fewer_collections():  # nested: the outer block still holds
            pass
        assert gc.get_threshold() == (COLLECT_EVERY, 10, 10)
        raise RuntimeError("the block fails")
    assert gc.get_threshold() == thresholds


def test_blocks_that_overlap_in_two_threads_give_back_the_thresholds_of_before(
    thresholds: tuple[int, int, int],
) -> None:
    entered, leave = threading.Event(), threading.Event()

    def other() -> None:
        with fewer_collections():
            entered.set()
            leave.wait(10)

    thread = threading.Thread(target=other)
    with fewer_collections():
        thread.start()
        assert entered.wait(10)
    # this thread's block ended first: the other's still holds
    assert gc.get_threshold() == (COLLECT_EVERY, 10, 10)
    leave.set()
    thread.join(10)
    assert gc.get_threshold() == thresholds


FILM = "storyboard: 1\ntitle: T\nshots:\n  - {id: a, duration: 3, prompt: a quay}\n"


def _spy(monkeypatch: pytest.MonkeyPatch, owner: Any, name: str) -> list[tuple[int, int, int]]:
    """The thresholds in force each time ``owner.name`` is called."""
    seen: list[tuple[int, int, int]] = []
    real = getattr(owner, name)

    def spying(*args: Any, **kwargs: Any) -> Any:
        seen.append(gc.get_threshold())
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, spying)
    return seen


@pytest.mark.parametrize("front", ["check", "build"])
def test_the_front_of_the_pipeline_runs_with_fewer_collections_and_gives_them_back(
    thresholds: tuple[int, int, int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, front: str
) -> None:
    from storyboard.build import pipeline

    (tmp_path / ".storyboard").mkdir()
    film = tmp_path / "film.yaml"
    film.write_text(FILM)
    if front == "check":
        seen = _spy(monkeypatch, api, "check")
        api.compile_storyboard(film)
    else:
        seen = _spy(monkeypatch, pipeline, "validate_document")
        pipeline.prepare(film, backend_name="preview@0.25")
    assert seen == [(COLLECT_EVERY, 10, 10)]
    assert gc.get_threshold() == thresholds


# -- collector_paused ---------------------------------------------------------------------------


@pytest.fixture
def collecting() -> Iterator[None]:
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:
        gc.disable()


def test_the_collector_is_paused_inside_and_runs_again_after_even_on_an_error(
    collecting: None,
) -> None:
    with pytest.raises(RuntimeError), collector_paused():
        assert not gc.isenabled()
        with collector_paused():  # nested: the outer block still holds
            pass
        assert not gc.isenabled()
        raise RuntimeError("the block fails")
    assert gc.isenabled()


def test_a_collector_paused_before_stays_paused(collecting: None) -> None:
    gc.disable()
    with collector_paused():
        pass
    assert not gc.isenabled()


def test_pauses_that_overlap_in_two_threads_end_with_the_last(collecting: None) -> None:
    entered, leave = threading.Event(), threading.Event()

    def other() -> None:
        with collector_paused():
            entered.set()
            leave.wait(10)

    thread = threading.Thread(target=other)
    with collector_paused():
        thread.start()
        assert entered.wait(10)
    assert not gc.isenabled()  # the other thread's block still holds
    leave.set()
    thread.join(10)
    assert gc.isenabled()


def test_a_file_is_composed_and_built_with_the_collector_paused(
    collecting: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from storyboard.language import load

    (tmp_path / ".storyboard").mkdir()
    film = tmp_path / "film.yaml"
    film.write_text(FILM)
    seen = []
    real = load._compose

    def compose(*args: Any) -> Any:
        seen.append(gc.isenabled())
        return real(*args)

    monkeypatch.setattr(load, "_compose", compose)
    document = load.load_document(film)
    assert seen == [False]
    assert gc.isenabled()
    assert document.data["shots"][0]["prompt"] == "a quay"


# -- kept_until_exit ----------------------------------------------------------------------------


def test_only_a_process_that_ends_with_the_command_freezes_what_it_loaded(
    tmp_path: Path,
) -> None:
    """``storyboard check`` (its process ends with it) puts the loaded storyboard out of the
    collector's reach; the same command run in a process that goes on (``main``) does not."""
    (tmp_path / ".storyboard").mkdir()
    (tmp_path / "film.yaml").write_text(FILM)
    spy = (
        "import gc, sys\n"
        "real = gc.freeze\n"
        "def freeze():\n"
        "    sys.stderr.write('frozen\\n')\n"
        "    real()\n"
        "gc.freeze = freeze\n"
        "from storyboard.cli.main import entry, main\n"
        "if sys.argv[1] == 'main':\n"
        "    sys.stderr.write(f'status {main(sys.argv[2:])}\\n')\n"
        "    sys.exit(0)\n"
        "sys.argv[1:] = sys.argv[2:]\n"
        "entry()\n"
    )
    import subprocess
    import sys

    def run(*argv: str) -> str:
        done = subprocess.run(
            [sys.executable, "-c", spy, *argv],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        return done.stderr

    assert "frozen" in run("entry", "check", "film.yaml")
    assert "frozen" in run("entry", "plan", "--backend", "preview", "film.yaml")
    assert "frozen" not in run("main", "check", "film.yaml")
