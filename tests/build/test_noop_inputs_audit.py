"""Audit of the no-op build that does not check the storyboard (tests/build/test_noop_inputs.py)."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from storyboard.backends.preview import PreviewBackend
from storyboard.build import noop, pipeline
from storyboard.build.pipeline import UNCHANGED, build
from tests.build import test_noop_inputs as base
from tests.build.test_noop_inputs import FILM, SCALE, Project, age, make, note
from tests.conftest import tiny_jpeg

checks, quiet = base.checks, base.quiet  # the fixtures of the tests audited


def files_of(root: Path) -> list[Path]:
    return [
        p
        for p in root.rglob("*")
        if p.is_file() and "build" not in p.parts and ".storyboard" not in p.parts
    ]


def settle(root: Path, film: Path) -> None:
    age(*files_of(root))
    make(film)
    make(film)
    assert note(film)["inputs"] is not None, "inputs not recorded"


T_MISSING = """\
storyboard: 1
title: Quiet
shots:
  - id: a
    duration: 3
    prompt: "a lighthouse at dawn {% include 'extra.j2' ignore missing %}"
"""


def test_ignore_missing_template_added(project: Project, checks: list[str]) -> None:
    root = project({"film.yaml": T_MISSING})
    film = root / "film.yaml"
    settle(root, film)
    (root / "extra.j2").write_text("in a storm")
    checks.clear()
    result = build(film, backend=PreviewBackend(scale=SCALE))
    assert checks == [str(film)]
    assert "generated" in {o.status for o in result.outcomes.values()}


T_LIST = """\
storyboard: 1
title: Quiet
shots:
  - id: a
    duration: 3
    prompt: "a lighthouse at dawn {% include ['first.j2', 'second.j2'] %}"
"""


def test_first_of_list_template_added(project: Project, checks: list[str]) -> None:
    root = project({"film.yaml": T_LIST, "second.j2": "calm"})
    film = root / "film.yaml"
    settle(root, film)
    (root / "first.j2").write_text("in a storm")
    checks.clear()
    result = build(film, backend=PreviewBackend(scale=SCALE))
    assert checks == [str(film)]
    assert "generated" in {o.status for o in result.outcomes.values()}


T_DIR = """\
storyboard: 1
title: Quiet
shots:
  - id: a
    duration: 3
    prompt: "a lighthouse at dawn {% include 'styles/look.j2' %}"
"""


def test_template_folder_link_retargeted(project: Project, checks: list[str]) -> None:
    root = project({"film.yaml": T_DIR, "one/look.j2": "calm", "two/look.j2": "in a storm"})
    (root / "styles").symlink_to("one")
    film = root / "film.yaml"
    settle(root, film)
    (root / "styles").unlink()
    (root / "styles").symlink_to("two")
    checks.clear()
    result = build(film, backend=PreviewBackend(scale=SCALE))
    assert checks == [str(film)]
    assert "generated" in {o.status for o in result.outcomes.values()}


class _FileSystem:
    """``os`` on a file system whose times are kept to the second (ext3, HFS+), or set by a
    clock ``behind`` this machine's (a network share, a virtual machine's shared folder)."""

    def __init__(self, *, whole: bool = False, behind: float = 0) -> None:
        self.whole, self.behind = whole, int(behind * 10**9)

    def __getattr__(self, name: str) -> Any:
        return getattr(os, name)

    def _seen(self, info: os.stat_result) -> Any:
        seen = {f: getattr(info, f) for f in ("st_size", "st_ino", "st_mode")}
        for name in ("st_mtime_ns", "st_ctime_ns"):
            value = getattr(info, name) - self.behind
            seen[name] = value // 10**9 * 10**9 if self.whole else value
        return SimpleNamespace(**seen)

    def stat(self, path: Any, **kw: Any) -> Any:
        return self._seen(os.stat(path, **kw))

    def lstat(self, path: Any, **kw: Any) -> Any:
        return self._seen(os.lstat(path, **kw))


def changed_during_the_check(
    film: Path, monkeypatch: pytest.MonkeyPatch, *, time_given_back: bool
) -> None:
    """Build ``film`` (everything done) while it is saved again once its check has read it."""
    load = pipeline.load_document
    old = film.stat()

    def read_then_saved(path: Any, **kw: Any) -> Any:
        document = load(path, **kw)
        film.write_text(FILM.replace("at dawn", "at dusk"))
        if time_given_back:
            os.utime(film, ns=(old.st_atime_ns, old.st_mtime_ns))
        return document

    monkeypatch.setattr(pipeline, "load_document", read_then_saved)
    (film.parent / "build" / "film" / "preview" / UNCHANGED).unlink()
    make(film)  # checks dawn; the file says dusk once it is measured
    monkeypatch.setattr(pipeline, "load_document", load)


def test_a_change_during_the_check_on_times_to_the_second(
    quiet: Path, checks: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A change made just after the check began, by a tool that gives the old mtime back (tar
    x, cp -p, rsync -t): on a file system that keeps times to the second its ctime, the only
    time of the change, is before the check began."""
    for module in (pipeline, noop):  # the note's writer and its reader
        monkeypatch.setattr(module, "os", _FileSystem(whole=True))
    changed_during_the_check(quiet, monkeypatch, time_given_back=True)
    result = build(quiet, backend=PreviewBackend(scale=SCALE))
    assert "generated" in {o.status for o in result.outcomes.values()}


CREDITS = """\
storyboard: 1
title: Quiet
shots:
  - {id: a, duration: 3, prompt: a lighthouse at dawn}
cut:
  credits:
    opening: {lines: [Quiet], duration: 1, background: sea.jpg}
"""


def test_a_title_card_background_changed_cuts_again(project: Project, checks: list[str]) -> None:
    root = project({"film.yaml": CREDITS, "sea.jpg": tiny_jpeg(640, 360)})
    film = root / "film.yaml"
    settle(root, film)
    before = make(film).film.read_bytes()
    (root / "sea.jpg").write_bytes(tiny_jpeg(640, 360, color=(200, 10, 10)))
    checks.clear()
    result = make(film)
    assert checks == [str(film)]
    assert result.film.read_bytes() != before


def test_a_change_during_the_check_on_a_file_system_behind_this_machine(
    quiet: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Git's rule: a file's times against the index's own. A network share whose clock is
    five seconds behind gives a file saved during the check times older than the check."""
    for module in (pipeline, noop):  # the note's writer and its reader
        monkeypatch.setattr(module, "os", _FileSystem(behind=5))
    changed_during_the_check(quiet, monkeypatch, time_given_back=False)
    result = build(quiet, backend=PreviewBackend(scale=SCALE))
    assert "generated" in {o.status for o in result.outcomes.values()}
