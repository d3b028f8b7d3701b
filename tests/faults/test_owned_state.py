"""Hostile state: storyboard writes, reads and removes only what it owns.

Issue 12 items 1-3 and issue 13 item 1, as the fault suite measures them:

- storyboard names that make no build folder, ``--build-dir`` values that are not a build
  folder (the project, ``..``, ``.git``, ``.storyboard``, a folder of the writer's), folders
  marked for another storyboard, hostile markers;
- symlinks where the state or the build folder should be (the project lock, the journal, the
  cache, the records, the frames, the staging folders, the lock file, ``build``, the build
  folder, its ``takes``, a file of it);
- damaged state a teammate's build meets against the emulator: a lock with merge conflicts, a
  lock entry without its sha256, a journal record without its task UUID, a journal cut short
  after a paid submit (before and after its UUID), a version 1 lock, a renamed shot.

Every case runs the real commands in-process on a project beside an ``outside`` folder (a home
folder with a ``.bashrc``, someone else's files). The figures: hostile cases tried, refused
cleanly (the expected exit status and message, no traceback), files deleted or written outside
what storyboard owns (target 0), double charges from damaged state (target 0).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

import storyboard.backends.factory
from storyboard.backends.base import Backend
from storyboard.emulator.server import EmulatorServer
from tests.conftest import CliResult
from tests.faults.conftest import Figures
from tests.faults.films import billed_per_take
from tests.faults.runner import fast_backend

Run = Callable[..., CliResult]

FILM = """\
storyboard: 1
title: Owned
shots:
  - {id: wide, duration: 3, prompt: '[wide] a harbour at dawn'}
  - {id: close, start: wide.last, duration: 3, prompt: '[close] a gull lands on the quay'}
"""


# -- what changed, and whose it was -------------------------------------------------------------


def snapshot(top: Path) -> dict[str, tuple[str, str]]:
    """Every entry under ``top`` (links not followed): its kind and content."""
    found: dict[str, tuple[str, str]] = {}
    for folder, dirs, files in os.walk(top, followlinks=False):
        for name in dirs + files:
            path = Path(folder) / name
            rel = str(path.relative_to(top))
            if path.is_symlink():
                found[rel] = ("link", os.readlink(path))
            elif path.is_dir():
                found[rel] = ("dir", "")
            else:
                found[rel] = ("file", hashlib.sha256(path.read_bytes()).hexdigest())
    return found


def trespasses(before: dict[str, tuple[str, str]], after: dict[str, tuple[str, str]],
               protect: tuple[str, ...]) -> list[str]:  # fmt: skip
    """Entries created, changed or removed that storyboard does not own: everything outside
    the project, and in it everything but ``.storyboard/``, ``build/film/`` and ``film.lock``
    (its own), and whatever the case protects (a link a writer put there, a folder of theirs).
    """
    own = ("project/.storyboard/", "project/build/film/", "project/build/")
    changed = {p for p in before.keys() | after.keys() if before.get(p) != after.get(p)}
    bad = []
    for path in sorted(changed):
        mine = path.startswith(own) or path in ("project/film.lock", "project/build")
        theirs = any(path == p or path.startswith(p + "/") for p in protect)
        if not mine or theirs or before.get(path, ("",))[0] == "link":  # a link a writer put
            bad.append(path)
    return bad


@dataclass(frozen=True)
class Case:
    """A hostile setup, the commands run against it, and what each must answer."""

    name: str
    setup: Callable[[Path, Path, Run], None]
    commands: tuple[tuple[tuple[str, ...], int, str], ...]
    protect: tuple[str, ...] = ()


def _link(root: Path, rel: str, target: Path) -> None:
    path = root / rel
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(target)


def _built(root: Path, outside: Path, run: Run) -> None:
    assert run("build", "film.yaml", cwd=root).status == 0


def _linked(rel: str, to: str, *, build_first: bool = False) -> Callable[[Path, Path, Run], None]:
    def setup(root: Path, outside: Path, run: Run) -> None:
        if build_first:
            _built(root, outside, run)
        _link(root, rel, outside / to)

    return setup


def _named(name: str) -> Callable[[Path, Path, Run], None]:
    def setup(root: Path, outside: Path, run: Run) -> None:
        (root / name).write_text(FILM)

    return setup


def _storyboard_outside(root: Path, outside: Path, run: Run) -> None:
    """The storyboard itself a link to a file in the home folder (laid out for fmt to change)."""
    (outside / "home" / "film.yaml").write_text(FILM.replace("title: Owned", "title:    Owned"))
    _link(root, "film.yaml", outside / "home" / "film.yaml")


def _user_folder(rel: str) -> Callable[[Path, Path, Run], None]:
    def setup(root: Path, outside: Path, run: Run) -> None:
        for name in ("main.c", "deep/er/.build.tmp", "deep/er/down/.x.part", "a/.film.cut"):
            (root / rel / name).parent.mkdir(parents=True, exist_ok=True)
            (root / rel / name).write_text(f"the writer's {name}")

    return setup


def _notes_inside(root: Path, outside: Path, run: Run) -> None:
    _built(root, outside, run)
    _user_folder("build/film/notes")(root, outside, run)
    (root / "build" / "film" / "preview" / "takes" / ".wide.mp4.tmp").write_text("the writer's")


def _hostile_marker(root: Path, outside: Path, run: Run) -> None:
    _built(root, outside, run)
    marker = root / "build" / "film" / ".storyboard-build.json"
    data = json.loads(marker.read_text())
    data["files"].append("takes/../../../notes.txt")
    marker.write_text(json.dumps(data))


def _other_storyboard(root: Path, outside: Path, run: Run) -> None:
    _built(root, outside, run)
    (root / "other.yaml").write_text(FILM)


REFUSED = "nothing was removed"
LINK = "is a symlink"
NAME = "makes no build folder"
NOT_OURS = "was not made by storyboard"
BUILD, CLEAN = ("build", "film.yaml"), ("clean", "film.yaml")

# fmt: off
CASES = [
    *(
        Case(
            f"name {name!r}",
            _named(name),
            ((("build", name), 2, NAME), (("clean", name), 2, NAME), (("plan", name), 2, NAME)),
        )
        for name in (
            "...yaml", "..yaml", "a\\b.yaml", "a\x07b.yaml", ".git.yaml", " .yaml",
            "f" * 235 + ".yaml",  # .NAME.lock.storyboard-tmp would be 256 bytes
        )
    ),
    *(
        Case(f"clean --build-dir {d}", _built, (((*CLEAN, "--build-dir", d), 2, why),))
        for d, why in [
            (".", "is the project folder itself"),
            ("..", "is outside the project"),
            ("../outside/home", "is outside the project"),
            (".git", "is inside .git"),
            (".storyboard", "is inside .git"),
            (".storyboard/cache", "is inside .git"),
            ("{outside}", "is outside the project"),  # an absolute path
        ]
    ),
    *(
        Case(
            f"build --build-dir {d}",
            _user_folder("src"),
            (((*BUILD, "--build-dir", d), 2, why),),
            protect=("project/src",),
        )
        for d, why in [
            (".", "is the project folder itself"),
            ("../outside/home", "is outside the project"),
            ("src", NOT_OURS),
            (".git", "is inside .git"),
            ("src/..", "is the project folder"),
        ]
    ),
    Case(
        "clean --build-dir a folder of the writer's",
        _user_folder("src"),
        (((*CLEAN, "--build-dir", "src"), 2, NOT_OURS),),
        protect=("project/src",),
    ),
    Case(
        "a build/film the writer made",
        _user_folder("build/film"),
        ((BUILD, 2, NOT_OURS), (CLEAN, 2, NOT_OURS), (("report", "film.yaml"), 2, NOT_OURS)),
        protect=("project/build/film",),
    ),
    Case(
        "another storyboard's build folder",
        _other_storyboard,
        (
            (("build", "other.yaml", "--build-dir", "build/film"), 2, "build folder of film.yaml"),
            (("clean", "other.yaml", "--build-dir", "build/film"), 2, "build folder of film.yaml"),
        ),
        protect=("project/build/film",),
    ),
    Case(
        "a marker listing ../../../notes.txt",
        _hostile_marker,
        ((CLEAN, 2, "is damaged"), (BUILD, 2, "is damaged")),
    ),
    Case(
        ".storyboard/build.lock -> ~/.bashrc",
        _linked(".storyboard/build.lock", "home/.bashrc"),
        ((BUILD, 2, LINK), (CLEAN, 2, LINK)),
        protect=("project/.storyboard/build.lock",),
    ),
    Case(
        "build -> ~",
        _linked("build", "home"),
        ((BUILD, 2, LINK), (CLEAN, 2, LINK), (("report", "film.yaml"), 2, LINK)),
    ),
    Case(
        "build/film -> ~",
        _linked("build/film", "home"),
        ((BUILD, 2, LINK), (CLEAN, 2, LINK), (("report", "film.yaml"), 2, LINK)),
        protect=("project/build/film",),
    ),
    Case(
        "build/film/preview -> ~",
        _linked("build/film/preview", "home", build_first=True),
        ((BUILD, 2, LINK), (CLEAN, 2, LINK), (("report", "film.yaml"), 2, LINK)),
        protect=("project/build/film/preview",),
    ),
    Case(
        "build/film/preview/takes -> ~",
        _linked("build/film/preview/takes", "home", build_first=True),
        ((BUILD, 2, LINK), (CLEAN, 2, LINK)),
        protect=("project/build/film/preview/takes",),
    ),
    Case(
        "build/film/preview/film.mp4 -> ~/.bashrc",
        _linked("build/film/preview/film.mp4", "home/.bashrc", build_first=True),
        ((BUILD, 2, LINK), (CLEAN, 2, LINK), (("report", "film.yaml"), 2, LINK)),
        protect=("project/build/film/preview/film.mp4",),
    ),
    Case(
        "build/film/.storyboard-tmp -> ~",
        _linked("build/film/.storyboard-tmp", "home", build_first=True),
        ((BUILD, 2, LINK), (CLEAN, 2, LINK)),
        protect=("project/build/film/.storyboard-tmp",),
    ),
    *(
        Case(
            f"{rel} -> {to}",
            _linked(rel, to),
            ((BUILD, 2, LINK), (("plan", "film.yaml"), code, msg)),
            protect=(f"project/{rel}",),
        )
        for rel, to, code, msg in [
            (".storyboard/journal/film.jsonl", "home/.bashrc", 2, LINK),
            (".storyboard/journal", "home", 2, LINK),
            (".storyboard/cache", "home", 2, LINK),
            (".storyboard", "home", 2, LINK),
            ("film.lock", "home/.bashrc", 2, LINK),
            (".storyboard/records", "home", 2, LINK),
            (".storyboard/frames", "home", 0, ""),
            (".storyboard/tmp", "home", 0, ""),
            (".storyboard/cache/.tmp", "home", 0, ""),
            (".film.lock.storyboard-tmp", "home/.bashrc", 0, ""),
        ]
    ),
    Case(
        ".storyboard/cache -> ~, clean --previews",
        _linked(".storyboard/cache", "home"),
        (((*CLEAN, "--previews"), 2, LINK),),
        protect=("project/.storyboard/cache",),
    ),
    Case(
        ".storyboard/frames -> ~, clean --previews",
        _linked(".storyboard/frames", "home", build_first=True),
        (((*CLEAN, "--previews"), 2, LINK),),
        protect=("project/.storyboard/frames",),
    ),
    Case(
        "film.yaml -> ~/film.yaml (the storyboard itself)",
        _storyboard_outside,
        tuple(
            (args, 2, "is a symlink to")
            for args in (("fmt", "film.yaml"), ("check", "film.yaml"), BUILD,
                         ("plan", "film.yaml"), ("review", "film.yaml"))
        ),
        protect=("project/film.yaml",),
    ),
    Case(
        "hidden .tmp/.part/.cut files of the writer's in the build folder",
        _notes_inside,
        ((BUILD, 0, ""), (BUILD, 0, ""), (CLEAN, 0, "kept build/film/notes/main.c")),
        protect=("project/build/film/notes", "project/build/film/preview/takes/.wide.mp4.tmp"),
    ),
]
# fmt: on


@pytest.fixture
def preview_cli(monkeypatch: pytest.MonkeyPatch) -> None:
    """``storyboard`` in-process builds offline previews (free): no key in the environment."""
    monkeypatch.delenv("RUNWARE_API_KEY", raising=False)
    monkeypatch.setenv("CI", "1")


def _project(top: Path) -> tuple[Path, Path]:
    root, outside = top / "project", top / "outside"
    for path, text in {
        "project/film.yaml": FILM, "project/notes.txt": "the writer's notes",
        "project/.git/HEAD": "ref: refs/heads/main\n", "outside/home/.bashrc": "export PS1\n",
        "outside/home/docs/letter.txt": "dear", "outside/x/theirs.txt": "not yours",
    }.items():  # fmt: skip
        (top / path).parent.mkdir(parents=True, exist_ok=True)
        (top / path).write_text(text)
    (root / ".storyboard").mkdir()
    return root, outside


def test_hostile_paths_are_refused_and_nothing_outside_is_touched(
    tmp_path: Path, run_cli: Run, preview_cli: None, figures: Figures
) -> None:
    tried = refused = 0
    outside_touched: list[str] = []
    unclean: list[str] = []
    for number, case in enumerate(CASES):
        top = tmp_path / f"case-{number}"
        root, outside = _project(top)
        case.setup(root, outside, run_cli)
        before = snapshot(top)
        for args, status, says in case.commands:
            tried += 1
            result = run_cli(*(a.format(outside=outside) for a in args), cwd=root)
            clean = (
                result.status == status
                and says in result.err
                and "Traceback" not in result.err
                and "internal error" not in result.err
            )
            refused += clean
            if not clean:
                unclean.append(f"{case.name}: {' '.join(args)} -> {result.status}: "
                               f"{result.err[-400:]}")  # fmt: skip
        outside_touched += [f"{case.name}: {p}" for p in trespasses(before, snapshot(top),
                                                                    case.protect)]  # fmt: skip
    figures.add("hostile cases tried", len(CASES))
    figures.add("commands run against them", tried)
    figures.add("refused cleanly (exit status and message as expected)", refused)
    figures.add("files deleted or written outside what storyboard owns", len(outside_touched))
    assert unclean == []
    assert outside_touched == []


# -- damaged state against the emulator: never a second payment ------------------------------


@pytest.fixture
def paid_cli(emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """``storyboard build`` (in-process) uses the Runware backend against the emulator."""
    monkeypatch.setenv("RUNWARE_API_KEY", emulator.api_key)
    monkeypatch.setenv("RUNWARE_BASE_URL", emulator.base_url)
    monkeypatch.setenv("CI", "1")

    def make(name: str, **_: object) -> Backend:
        return fast_backend()

    monkeypatch.setattr(storyboard.backends.factory, "make_backend", make)


def _clone(source: Path, target: Path) -> Path:
    """A fresh clone of ``source``: the storyboard and its lock, no cache, no build folder."""
    target.mkdir(parents=True)
    (target / ".storyboard").mkdir()
    for name in ("film.yaml", "film.lock"):
        if (source / name).exists():
            shutil.copyfile(source / name, target / name)
    return target


def _damage_lock(clone: Path) -> str:
    lines = (clone / "film.lock").read_text().split("\n")
    at = next(i for i, line in enumerate(lines) if '"take": "close"' in line)
    lines[at : at + 1] = ["<<<<<<< HEAD", lines[at], "=======", lines[at], ">>>>>>> theirs"]
    (clone / "film.lock").write_text("\n".join(lines))
    return "resolve the merge conflict"


def _lose_sha(clone: Path) -> str:
    text = (clone / "film.lock").read_text()
    (clone / "film.lock").write_text(text.replace('"sha256": ', '"sha": ', 1))
    return "has no sha256"


def _as_version_1(clone: Path) -> str:
    from storyboard.build.state.lockfile import LockFile

    lock = LockFile.read(clone / "film.lock", "film.yaml")
    takes = {e.take: {k: v for k, v in e.to_json().items() if k != "take"} for e in lock.entries}
    body = {"storyboard": "film.yaml", "takes": takes, "version": 1}
    (clone / "film.lock").write_text(json.dumps(body, indent=2, sort_keys=True) + "\n")
    return ""


def _rename(clone: Path) -> str:
    (clone / "film.yaml").write_text(FILM.replace("id: wide", "id: harbour")
                                     .replace("wide.last", "harbour.last"))  # fmt: skip
    return ""


def _killed_after_submit(clone: Path, cut: str) -> str:
    """The clone as a build killed after paying for ``close`` leaves it: the journal's submit
    line (cut short as ``cut`` says), no result in the cache, the take not in the lock."""
    from storyboard.build.state.lockfile import LockFile

    lock = LockFile.read(clone / "film.lock", "film.yaml")
    close = lock.takes["close"]
    record = {
        "backend": close.backend, "endpoint": os.environ["RUNWARE_BASE_URL"], "event": "submit",
        "key": close.key, "take": "close", "task_uuid": close.task_uuid, "time": 1.0,
    }  # fmt: skip
    lock.entries = [e for e in lock.entries if e.take != "close"]
    (clone / "film.lock").write_text(lock.text())
    line = json.dumps(record, sort_keys=True)
    if cut == "after the task UUID":
        line = line[: line.index('"time"')]
    elif cut == "before the task UUID":
        line = line[: line.index('"task_uuid"') + 8]
    else:
        del record["task_uuid"]
        line = json.dumps(record, sort_keys=True) + "\n"
    (clone / ".storyboard" / "journal").mkdir()
    (clone / ".storyboard" / "journal" / "film.jsonl").write_text(line)
    if cut == "after the task UUID":
        return "close: resuming"
    return "whose task UUID is lost" if cut == "before the task UUID" else "without its task_uuid"


def test_damaged_state_is_an_error_before_anything_is_sent_and_nothing_is_paid_twice(
    tmp_path: Path, run_cli: Run, paid_cli: None, emulator: EmulatorServer, figures: Figures
) -> None:
    source = tmp_path / "source"
    source.mkdir()
    (source / ".storyboard").mkdir()
    (source / "film.yaml").write_text(FILM)
    assert run_cli("build", "film.yaml", cwd=source).status == 0
    paid = sum(billed_per_take(emulator).values())
    assert paid == 2
    cases: list[tuple[str, Callable[[Path], str], int]] = [
        ("a lock with merge conflicts", _damage_lock, 2),
        ("a lock entry without its sha256", _lose_sha, 2),
        ("a lock of version 1", _as_version_1, 0),
        ("a shot renamed", _rename, 0),
        *(
            (
                f"a journal cut short {cut}",
                lambda clone, cut=cut: _killed_after_submit(clone, cut),
                code,
            )
            for cut, code in [
                ("after the task UUID", 0),
                ("before the task UUID", 2),
                ("without its task UUID", 2),
            ]
        ),
    ]
    refused = 0
    unclean = []
    for number, (name, damage, status) in enumerate(cases):
        clone = _clone(source, tmp_path / f"clone-{number}")
        says = damage(clone)
        result = run_cli("build", "film.yaml", cwd=clone)
        ok = result.status == status and says in result.err and "Traceback" not in result.err
        if status == 2:  # at its place
            ok = ok and ("film.lock:" in result.err or "film.jsonl:" in result.err)
        refused += ok
        if not ok:
            unclean.append(f"{name}: {result.status}: {result.err[-600:]}")
    charges = billed_per_take(emulator)
    twice = sum(n - 1 for n in charges.values() if n > 1)
    figures.add("damaged-state cases tried", len(cases))
    figures.add("refused or recovered cleanly", refused)
    figures.add("takes billed (the first build paid for 2)", sum(charges.values()))
    figures.add("double charges from damaged state", twice)
    assert unclean == []
    assert twice == 0 and sum(charges.values()) == paid


def test_a_pipe_or_a_folder_where_the_journal_should_be_is_refused_without_hanging(
    project: Callable[[dict[str, str | bytes]], Path], run_cli: Run, preview_cli: None
) -> None:
    root = project({"film.yaml": FILM})
    journal = root / ".storyboard" / "journal" / "film.jsonl"
    journal.parent.mkdir(parents=True)
    os.mkfifo(journal)  # opening it for reading would wait for a writer for ever
    result = run_cli("plan", "film.yaml", cwd=root)
    assert result.status == 2 and "is neither a file nor a folder" in result.err
    journal.unlink()
    journal.mkdir()
    result = run_cli("build", "film.yaml", cwd=root)
    assert result.status == 2 and "is a folder where storyboard keeps a file" in result.err


def test_a_symlink_that_appears_after_a_take_was_paid_for_is_exit_1_never_2(
    project: Callable[[dict[str, str | bytes]], Path], tmp_path: Path, run_cli: Run
) -> None:
    from storyboard.backends.base import Output, Ticket
    from storyboard.build.pipeline import build
    from storyboard.core.errors import BuildError, InputError
    from tests.build.fakes import FakePaidBackend

    root = project({"film.yaml": FILM})
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text("someone's file")

    class Sneaky(FakePaidBackend):
        """Paid for the first take, then a link appears where the lock file goes."""

        async def collect(self, ticket: Ticket, folder: Path) -> list[Output]:
            outputs = await super().collect(ticket, folder)
            if not (root / "film.lock").is_symlink():
                (root / "film.lock").symlink_to(elsewhere)
            return outputs

    backend = Sneaky()
    with pytest.raises(BuildError) as failed:
        build(root / "film.yaml", backend=backend)
    assert not isinstance(failed.value, InputError) and failed.value.exit_code == 1
    assert "film.lock is a symlink" in str(failed.value)
    assert len(backend.submitted) == 2  # both paid for, both kept in the cache
    assert elsewhere.read_text() == "someone's file"
    (root / "film.lock").unlink()
    again = FakePaidBackend()
    assert build(root / "film.yaml", backend=again).ok and again.submitted == []
