"""What the no-op build (storyboard/build/noop.py) must tell apart, found by mutation testing:
each test fails with one change to what the note records or how it is read (named in its
docstring), and passes with the code as it is (two, named "product bug", since noop.py keeps
a link's own ctime). A wrong "nothing to do" leaves a stale film."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import storyboard
from storyboard.backends.preview import PreviewBackend
from storyboard.build import noop, pipeline
from storyboard.build.noop import UNCHANGED
from storyboard.build.pipeline import build
from storyboard.core.errors import InputError
from storyboard.media.probe import probe
from tests.build import test_noop_inputs as base
from tests.build.test_noop_inputs import FILM, SCALE, Project, age, make, note
from tests.build.test_noop_inputs_audit import T_MISSING, _FileSystem, files_of, settle
from tests.conftest import CliResult, tiny_jpeg

checks, quiet = base.checks, base.quiet  # the fixtures of tests/build/test_noop_inputs.py


def statuses(result: Any) -> set[str]:
    return {o.status for o in result.outcomes.values()}


def folder_of(film: Path) -> Path:
    return film.parent / "build" / "film" / "preview"


def link(name: Path, to: str | Path) -> None:
    """Make ``name`` a link to ``to``, and wait until it is older than the racy rule's two
    seconds: a link's own time cannot be set back."""
    name.symlink_to(to)
    time.sleep(2.1)


def test_another_film_scale_cuts_the_film_again(quiet: Path, checks: list[str]) -> None:
    """Mutant: the film's scale left out of what the note was asked (``noop._asked``)."""
    result = build(quiet, backend=PreviewBackend(scale=SCALE), film_scale=1 / 6)
    assert checks == [str(quiet)]
    assert result.ok and result.film is not None
    assert probe(result.film).width == 1920 // 6


def test_another_preview_scale_makes_the_takes_again(quiet: Path, checks: list[str]) -> None:
    """Mutant: the backend's namespace (its preview scale) left out of ``noop._asked``."""
    result = build(quiet, backend=PreviewBackend(scale=1 / 6), film_scale=SCALE)
    assert checks == [str(quiet)]
    assert statuses(result) == {"generated"}


def test_another_storyboard_of_the_same_name_is_checked(quiet: Path, checks: list[str]) -> None:
    """Mutant: the storyboard's path left out of ``noop._asked``. ``film.yml`` beside
    ``film.yaml`` has the same build folder: its check refuses it, never "nothing to do"
    with ``film.yaml``'s film."""
    other = quiet.with_suffix(".yml")
    other.write_text(FILM.replace("at dawn", "at dusk"), encoding="utf-8")
    age(other)
    with pytest.raises(InputError, match=r"is the build folder of film\.yaml, not of film\.yml"):
        build(other, backend=PreviewBackend(scale=SCALE))
    assert checks == [str(other)]


@pytest.fixture
def code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[], list[int]]]:
    """storyboard's code as ``noop._code`` finds it in a copy of its folders (a module each,
    a minute old): the function gives what it finds there now, and keeps it for the builds."""
    top = tmp_path / "code" / "storyboard"
    parts = ("language", "compiler", "profiles", "build", "media", "core")
    for part in parts:
        (top / part).mkdir(parents=True)
        (top / part / "module.py").write_text("")
        age(top / part / "module.py")
    (top / "__init__.py").write_text("")

    def found() -> list[int]:
        real = storyboard.__file__
        noop._code.cache_clear()
        monkeypatch.setattr(storyboard, "__file__", str(top / "__init__.py"))
        try:
            return noop._code()  # kept (functools.cache) for the builds that follow
        finally:
            monkeypatch.setattr(storyboard, "__file__", real)

    yield found
    noop._code.cache_clear()  # the real code's, for the tests after this one


@pytest.mark.parametrize("part", ["language", "compiler", "profiles", "build", "media", "core"])
def test_an_edit_to_any_part_of_storyboards_code_is_seen(
    code: Callable[[], list[int]], tmp_path: Path, part: str
) -> None:
    """Mutants: a module's time not read (``noop._code``), a part of the code not looked at."""
    before = code()
    assert code() == before  # nothing changed: the same answer
    (tmp_path / "code" / "storyboard" / part / "module.py").write_text("x = 1\n")
    assert code() != before


def test_storyboards_own_code_edited_checks_the_storyboard_again(
    project: Project, checks: list[str], code: Callable[[], list[int]], tmp_path: Path
) -> None:
    """Mutant: storyboard's code (``noop._code``) left out of ``noop._asked``: an edit to
    the compiler in a checkout, without a new version, must not leave the film as it was."""
    code()
    root = project({"film.yaml": FILM, "still.jpg": tiny_jpeg(640, 360)})
    film = root / "film.yaml"
    settle(root, film)
    checks.clear()
    make(film)
    assert checks == []  # nothing changed: not even checked
    (tmp_path / "code" / "storyboard" / "compiler" / "module.py").write_text("x = 1\n")
    code()
    make(film)
    assert checks == [str(film)]


def test_a_change_during_a_long_check_on_a_file_system_behind_this_machine(
    quiet: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Mutants: the check's span not subtracted from the note's time
    (``noop._racy_by_the_note``), or written as 0 (``pipeline._inputs_noted``). On a share
    five seconds behind, the storyboard saved during a check that went on for 2.5 s more is
    older than the note by more than the two seconds of the racy rule, but not older than
    the check's start: it is not taken for unchanged."""
    for module in (pipeline, noop):  # the note's writer and its reader
        monkeypatch.setattr(module, "os", _FileSystem(behind=5))
    load = getattr(pipeline, "load_document")  # noqa: B009 (not exported: mypy)

    def read_then_saved(path: Any, **kw: Any) -> Any:
        document = load(path, **kw)
        quiet.write_text(FILM.replace("at dawn", "at dusk"))
        time.sleep(2.5)  # the check goes on
        return document

    monkeypatch.setattr(pipeline, "load_document", read_then_saved)
    (folder_of(quiet) / UNCHANGED).unlink()
    make(quiet)  # checks dawn; the file says dusk once it is measured
    monkeypatch.setattr(pipeline, "load_document", load)
    assert note(quiet)["span"] >= 2_500_000_000
    result = build(quiet, backend=PreviewBackend(scale=SCALE))
    assert "generated" in statuses(result)


def test_an_input_reached_through_a_link_whose_file_changed(
    project: Project, checks: list[str]
) -> None:
    """Mutant: an input's link not followed (``noop._input_state`` records the link alone)."""
    root = project({"film.yaml": FILM, "real.jpg": tiny_jpeg(640, 360)})
    link(root / "still.jpg", "real.jpg")
    film = root / "film.yaml"
    settle(root, film)
    (root / "real.jpg").write_bytes(tiny_jpeg(640, 360, color=(200, 10, 10)))
    checks.clear()
    result = make(film)
    assert checks == [str(film)]
    assert "generated" in statuses(result)


def test_a_link_retargeted_outside_the_project_is_refused(
    project: Project, checks: list[str], tmp_path: Path
) -> None:
    """Product bug (fixed in noop._input_state): ``still.jpg``, a link to a file of the
    project, is made a link to another name of that same file outside the project: the bytes
    and the file's times are as they were, the check's answer is not. The new link may get
    the removed one's inode (ext4 gives it back at once): only its ctime tells them apart.
    Mutant: the link's own ctime left out of the state."""
    root = project({"film.yaml": FILM, "real.jpg": tiny_jpeg(640, 360)})
    outside = tmp_path / "outside.jpg"
    os.link(root / "real.jpg", outside)  # the same file, another name
    link(root / "still.jpg", "real.jpg")
    film = root / "film.yaml"
    settle(root, film)
    (root / "still.jpg").unlink()
    (root / "still.jpg").symlink_to(outside)
    checks.clear()
    with pytest.raises(InputError, match="outside the project"):
        build(film, backend=PreviewBackend(scale=SCALE))
    assert checks == [str(film)]


def test_a_link_retargeted_to_an_old_file_during_the_check_is_not_recorded(
    project: Project, checks: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Product bug (fixed in noop._racy): the racy rule for a link. ``still.jpg`` made a link
    to another, older, file once the check has read it and keyed the takes (``ln -sf``): the
    file it now reaches has old times, the link's own ctime is the only time of the change.
    Mutants: the link's ctime left out of the state, or of the racy rule."""
    root = project({"film.yaml": FILM, "real.jpg": tiny_jpeg(640, 360)})
    root.joinpath("other.jpg").write_bytes(tiny_jpeg(640, 360, color=(200, 10, 10)))
    link(root / "still.jpg", "real.jpg")
    film = root / "film.yaml"
    settle(root, film)
    keyed = getattr(pipeline, "keys_and_materials")  # noqa: B009 (not exported: mypy)

    def keyed_then_retargeted(*args: Any, **kw: Any) -> Any:
        found = keyed(*args, **kw)
        (root / "still.jpg").unlink()
        (root / "still.jpg").symlink_to("other.jpg")
        return found

    monkeypatch.setattr(pipeline, "keys_and_materials", keyed_then_retargeted)
    (folder_of(film) / UNCHANGED).unlink()
    make(film)  # keys a with real.jpg; still.jpg reaches other.jpg once it is measured
    monkeypatch.setattr(pipeline, "keys_and_materials", keyed)
    checks.clear()
    result = make(film)
    assert checks == [str(film)]
    assert "generated" in statuses(result)  # a's start image is other.jpg now


def test_a_template_named_and_missing_does_not_stop_the_fast_path(
    project: Project, checks: list[str]
) -> None:
    """Mutant: a missing input's state (``None``) given to the racy rule
    (``noop._racy_by_the_note``): the storyboard is checked on every build."""
    root = project({"film.yaml": T_MISSING})
    film = root / "film.yaml"
    settle(root, film)
    assert None in note(film)["inputs"].values()  # extra.j2, named, is not there
    checks.clear()
    result = make(film)
    assert checks == []
    assert statuses(result) == {"cached"}


@pytest.mark.parametrize("how", ["replaced", "cut short"])
def test_a_cache_file_changed_with_its_time_given_back_is_made_again(
    quiet: Path, checks: list[str], how: str
) -> None:
    """Mutants: the inode (``replaced``: another file of the same size) or the size (``cut
    short``: the same file) left out of a watched file's state (``noop._state``). A tool
    that keeps times (``rsync -t``, ``cp -p``) gives the file its old time back."""
    video = next((quiet.parent / ".storyboard" / "cache").rglob("0.mp4"))
    old = video.stat()
    data = bytearray(video.read_bytes())
    if how == "replaced":
        data[-100] ^= 0xFF  # same size, other bytes
        os.unlink(video)
        video.write_bytes(bytes(data))
    else:
        with open(video, "r+b") as stream:
            stream.truncate(len(data) - 100)
    os.utime(video, ns=(old.st_atime_ns, old.st_mtime_ns))
    result = make(quiet)
    assert checks == [str(quiet)]
    assert "generated" in statuses(result)


def test_a_note_named_file_in_a_folder_of_the_build_folder_is_a_stray_file(
    quiet: Path, checks: list[str]
) -> None:
    """Mutant: every ``.build.json`` of the build folder left out of its state
    (``noop._states``), not the note alone: a file there that storyboard did not write is
    found, as any other, by a build that runs in full."""
    stray = folder_of(quiet) / "takes" / UNCHANGED
    stray.write_text("mine", encoding="utf-8")
    result = make(quiet)
    assert checks == [str(quiet)]
    assert statuses(result) == {"cached"}
    assert stray.read_text(encoding="utf-8") == "mine"


def test_the_film_scale_of_the_command_line_is_part_of_what_is_asked(
    project: Project, run_cli: Callable[..., CliResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Mutant: ``storyboard build`` asking the note with the backend's film scale, not
    ``--film-scale`` (``cli/cmd_build.py``)."""
    monkeypatch.delenv("RUNWARE_API_KEY", raising=False)
    root = project({"film.yaml": FILM, "still.jpg": tiny_jpeg(640, 360)})
    age(*files_of(root))
    args = ("build", "film.yaml", "--backend", "preview", "--preview-scale", "0.1")
    for _ in range(2):  # makes the takes, then finds them all: the note, with the inputs
        assert run_cli(*args, cwd=root).status == 0
    assert note(root / "film.yaml")["inputs"] is not None
    done = run_cli(*args, "--film-scale", "0.2", cwd=root)
    assert done.status == 0, done.err
    assert probe(folder_of(root / "film.yaml") / "film.mp4").width == 384
