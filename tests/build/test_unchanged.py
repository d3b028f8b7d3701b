"""A build asked the same as the last one, which found everything done, does nothing: it reads
the note that build left and checks every file against it. Anything changed, it runs in full.
And a full build with nothing new to do re-checks the finish without redoing it."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from storyboard.backends.preview import PreviewBackend
from storyboard.build.pipeline import UNCHANGED, BuildResult, build
from storyboard.build.state.cache import Cache
from storyboard.core.events import Event, TakeCached
from storyboard.media.probe import probe
from tests.build.test_build import FILM
from tests.conftest import tiny_jpeg

Project = Callable[[dict[str, str | bytes]], Path]


def preview() -> PreviewBackend:
    return PreviewBackend(scale=1 / 12)


@pytest.fixture
def film(project: Project) -> Path:
    root = project({"film.yaml": FILM, "still.jpg": tiny_jpeg(640, 360)})
    return root / "film.yaml"


def build_dir(film: Path) -> Path:
    """Where the preview backend builds (its folder of ``build/film/``)."""
    return film.parent / "build" / "film" / "preview"


def done(film: Path) -> Path:
    """Build until the note is written: a generating build, then one that finds all done."""
    build(film, backend=preview())
    assert not (build_dir(film) / UNCHANGED).exists()  # that build made takes: no note
    result = build(film, backend=preview())
    assert {o.status for o in result.outcomes.values()} == {"cached"}
    note = build_dir(film) / UNCHANGED
    assert note.is_file()
    return note


class NoLookups:
    """Makes any cache lookup fail the test."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0

        def get(*args: Any, **kwargs: Any) -> None:
            self.calls += 1
            return None

        monkeypatch.setattr(Cache, "get", get)


def snapshot(folder: Path) -> dict[str, int]:
    return {str(p): p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()}


def test_the_same_build_again_does_nothing(film: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    done(film)
    before = snapshot(film.parent)
    lookups = NoLookups(monkeypatch)
    events: list[Event] = []
    result = build(film, backend=preview(), emit=events.append)
    assert lookups.calls == 0
    assert isinstance(result, BuildResult) and result.ok
    assert {o.status for o in result.outcomes.values()} == {"cached"}
    assert all(o.entry is not None and o.entry.path(0).is_file() for o in result.outcomes.values())
    assert [e.take for e in events if isinstance(e, TakeCached)] == ["open", "c", "d", "e"]
    assert result.film == build_dir(film) / "film.mp4"
    assert {i.status for i in result.prepared.plan.items} == {"cached"}
    assert snapshot(film.parent) == before  # nothing written


@pytest.mark.parametrize(
    "change",
    ["storyboard", "film removed", "take replaced", "cache damaged", "other scale", "stray file"],
)
def test_anything_changed_runs_the_build(
    film: Path, change: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    note = done(film)
    noted = note.stat().st_mtime_ns
    lookups: list[str] = []
    get = Cache.get

    def counted(self: Cache, namespace: str, key: str, **kwargs: Any) -> Any:
        lookups.append(key)
        return get(self, namespace, key, **kwargs)

    monkeypatch.setattr(Cache, "get", counted)
    scale = 1 / 12
    folder = build_dir(film)
    if change == "storyboard":
        film.write_text(FILM + "cut:\n  fade_in: 0.5\n", encoding="utf-8")
    elif change == "film removed":
        (folder / "film.mp4").unlink()
    elif change == "take replaced":
        take = folder / "takes" / "c.mp4"
        data = take.read_bytes()
        take.unlink()
        take.write_bytes(data)  # same bytes, another file: linked again
    elif change == "cache damaged":
        video = next((film.parent / ".storyboard" / "cache").rglob("0.mp4"))
        data = bytearray(video.read_bytes())
        data[-100] ^= 0xFF  # same size, other bytes
        os.unlink(video)  # the cache's own file, not the build folder's link to it
        video.write_bytes(bytes(data))
    elif change == "other scale":
        scale = 1 / 6
    else:
        (folder / "notes.txt").write_text("mine", encoding="utf-8")
    result = build(film, backend=preview(), film_scale=scale)
    assert result.ok
    assert (folder / "film.mp4").is_file()
    # it ran in full: every take looked up in the cache (a build that skips does none)
    assert set(lookups) >= set(result.prepared.keys.values())
    if change == "other scale":  # and the film was cut again at the new scale
        assert probe(folder / "film.mp4").width == 1920 // 6
    if change == "cache damaged":  # the damaged take is found and made again: no note
        assert "generated" in {o.status for o in result.outcomes.values()}
        assert not (folder / UNCHANGED).exists()
        return
    assert {o.status for o in result.outcomes.values()} == {"cached"}
    assert (folder / UNCHANGED).is_file()  # all done again: a new note
    assert (folder / UNCHANGED).stat().st_mtime_ns != noted
    entry = result.outcomes["c"].entry
    assert entry is not None and os.path.samefile(folder / "takes" / "c.mp4", entry.path(0))


def test_a_build_that_changes_things_removes_the_note_first(film: Path) -> None:
    note = done(film)
    film.write_text(FILM.replace("third shot", "third shot at night"), encoding="utf-8")
    build(film, backend=preview())  # generates c and e again
    assert not note.exists()


def test_a_full_build_with_nothing_to_do_redoes_nothing_in_the_finish(film: Path) -> None:
    note = done(film)
    folder = build_dir(film)
    kept = {
        name: (folder / name).stat().st_mtime_ns
        for name in ("film.mp4", "film.contact.png", "film.otio", "film.edl", "film.fcpxml")
    }
    note.unlink()  # the build runs in full: every take looked up, the finish re-checked
    build(film, backend=preview())
    assert {name: (folder / name).stat().st_mtime_ns for name in kept} == kept
    assert note.is_file()
