"""Where a build's outputs go, and how they are left (issue 13, items 3, 8 and 9).

Each backend builds into a folder of its own of ``build/NAME/``, so that a preview never
replaces a paid film (against the emulator over loopback: the paid film stays byte for byte);
the report and the exports describe the film of the folder they are in; a build folder of the
layout before backend folders is neither clobbered nor left uncleanable. Every file a build
writes has the mode a plain ``open`` gives a new file under the umask (checked in processes
started with umask 022 and 027). The first build of a project leaves a ``.gitignore`` that
keeps ``build/`` and ``.storyboard/`` out of git, never rewriting the user's lines.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import opentimelineio as otio
import pytest

from storyboard.backends.preview import PreviewBackend
from storyboard.build.pipeline import build
from storyboard.build.state.gitignore import ensure_ignored
from storyboard.build.state.outputs import backend_folder
from storyboard.build.state.safe import Tree
from storyboard.core.files import new_file_mode
from storyboard.emulator.server import EmulatorServer
from storyboard.media.probe import probe
from tests.build.fakes import FakePaidBackend
from tests.conftest import CliResult
from tests.e2e.runner import fast_backend

Project = Callable[[dict[str, str | bytes]], Path]
REPO = Path(__file__).resolve().parents[2]

FILM = """\
storyboard: 1
title: Outputs
shots:
  - {id: a, duration: 3, prompt: first shot}
  - {id: b, start: a.last, duration: 3, prompt: second shot}
"""


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder``, by relative path, as sha256."""
    return {str(p.relative_to(folder)): sha(p) for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def paid_film(project: Project, emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("RUNWARE_API_KEY", emulator.api_key)
    monkeypatch.setenv("RUNWARE_BASE_URL", emulator.base_url)
    film = project({"film.yaml": FILM}) / "film.yaml"
    result = build(film, backend=fast_backend(), film_scale=1 / 12)
    assert result.ok and result.spent > 0
    return film


def test_backend_folders() -> None:
    assert backend_folder("preview") == backend_folder("preview@0.25") == "preview"
    assert backend_folder("runware") == "runware"
    assert backend_folder("runware@127.0.0.1:8787") == "runware@127.0.0.1-8787"
    assert backend_folder("runware@::1:8787") == "runware@--1-8787"
    assert backend_folder("runware@proxy.example:443") == "runware@proxy.example-443"
    assert backend_folder("fake/../x") == "fake-..-x"  # one name, never a path
    for bad in ("takes", "requests", ".hidden"):  # names of the older layout, hidden names
        with pytest.raises(ValueError):
            backend_folder(bad)


def test_a_preview_build_leaves_the_paid_film_byte_for_byte(
    paid_film: Path, emulator: EmulatorServer, run_cli: Callable[..., CliResult]
) -> None:
    top = paid_film.parent / "build" / "film"
    paid = top / backend_folder(f"runware@127.0.0.1:{emulator.port}")
    assert (paid / "film.mp4").is_file()
    before = snapshot(paid)
    charged = emulator.total_cost()

    result = run_cli("build", "film.yaml", "--backend", "preview", "--preview-scale", "0.1",
                     cwd=paid_film.parent)  # fmt: skip
    assert result.status == 0, result.err
    # the paid film, its record, exports and takes: every byte as it was
    assert snapshot(paid) == before
    assert emulator.total_cost() == charged
    preview = top / "preview"
    assert result.err.rstrip().splitlines()[-1] == "film: build/film/preview/film.mp4"
    assert (probe(preview / "film.mp4").width, probe(paid / "film.mp4").width) == (192, 160)
    # each record describes its own film, and names its own backend
    records = {f: json.loads((top / f / "build.json").read_text()) for f in (paid, preview)}
    assert records[paid]["backend"] == "runware" and records[preview]["backend"] == "preview"
    assert records[paid]["film"] == records[preview]["film"] == "film.mp4"
    for folder in (paid, preview):
        timeline = otio.adapters.read_from_file(str(folder / "film.otio"))
        clips = list(timeline.find_clips())
        assert clips, f"{folder.name}/film.otio has no clips"
        for clip in clips:
            url = clip.media_reference.target_url  # relative to the export: its own takes
            assert url.startswith("takes/") and (folder / url).is_file(), url

    # the report: the latest build by default, another by --backend
    latest = run_cli("report", "film.yaml", cwd=paid_film.parent)
    assert latest.status == 0, latest.err
    assert latest.out.strip() == "build/film/preview/report.html"
    assert f"also built: {paid.name}" in latest.err
    chosen = run_cli("report", "film.yaml", "--backend", "runware", cwd=paid_film.parent)
    assert chosen.status == 0 and chosen.out.strip() == f"build/film/{paid.name}/report.html"
    page = (paid / "report.html").read_text(encoding="utf-8")
    assert 'src="film.mp4"' in page and 'src="takes/a.mp4"' in page
    assert snapshot(paid).items() >= before.items()  # the report added to it, changed nothing
    missing = run_cli("report", "film.yaml", "--backend", "runware@10.0.0.1-1",
                      cwd=paid_film.parent)  # fmt: skip
    assert missing.status == 2 and "has not been built with --backend runware@10.0.0.1-1 yet" \
        " (build/film/runware@10.0.0.1-1/build.json is missing)" in missing.err  # fmt: skip

    # clean removes both backends' outputs; nothing paid is lost: the next build pays nothing
    assert run_cli("clean", "film.yaml", cwd=paid_film.parent).status == 0
    assert not top.exists()
    again = build(paid_film, backend=fast_backend(), film_scale=1 / 12)
    assert again.ok and again.spent == 0 and emulator.total_cost() == charged
    assert again.film == paid / "film.mp4" and again.film.is_file()


def test_report_takes_only_a_record_storyboard_wrote_for_a_build(
    project: Project, run_cli: Callable[..., CliResult]
) -> None:
    root = project({"film.yaml": FILM})
    assert run_cli("build", "film.yaml", "--backend", "preview", cwd=root).status == 0
    mine = root / "build" / "film" / "runware"  # a writer's copy, newer than the build
    mine.mkdir()
    shutil.copy(root / "build" / "film" / "preview" / "build.json", mine / "build.json")
    result = run_cli("report", "film.yaml", cwd=root)
    assert result.status == 0 and result.out.strip() == "build/film/preview/report.html"
    assert not (mine / "report.html").exists() and "also built" not in result.err


def _older_layout(folder: Path) -> None:
    """Lay a build folder out as the storyboard before backend folders did: every file at
    the top, the marker listing them there."""
    backend = folder / "preview"
    for path in sorted(backend.rglob("*"), reverse=True):
        if path.is_file():
            top = folder / path.relative_to(backend)
            top.parent.mkdir(parents=True, exist_ok=True)
            path.rename(top)
    shutil.rmtree(backend)
    marker = folder / ".storyboard-build.json"
    data = json.loads(marker.read_text())
    data["files"] = [f.removeprefix("preview/") for f in data["files"]]
    data["folders"] = [f.removeprefix("preview/") for f in data["folders"] if f != "preview"]
    marker.write_text(json.dumps(data))


def test_a_build_folder_of_the_older_layout_is_neither_clobbered_nor_left_uncleanable(
    project: Project, run_cli: Callable[..., CliResult]
) -> None:
    root = project({"film.yaml": FILM})
    assert run_cli("build", "film.yaml", "--backend", "preview", cwd=root).status == 0
    folder = root / "build" / "film"
    _older_layout(folder)
    older = snapshot(folder)
    assert "film.mp4" in older and "takes/a.mp4" in older

    report = run_cli("report", "film.yaml", cwd=root)  # the older record, where it is
    assert report.status == 0 and report.out.strip() == "build/film/report.html", report.err

    result = run_cli("build", "film.yaml", "--backend", "preview", "--preview-scale", "0.1",
                     cwd=root)  # fmt: skip
    assert result.status == 0, result.err
    assert "build/film/film.mp4 and" in result.err and "older storyboard" in result.err
    now = snapshot(folder)
    marker = ".storyboard-build.json"  # lists the new files too
    kept = {k: v for k, v in now.items() if k in older and k != marker}
    assert kept == {k: v for k, v in older.items() if k != marker}  # not one byte changed
    assert (folder / "preview" / "film.mp4").is_file()
    latest = run_cli("report", "film.yaml", cwd=root)
    assert latest.out.strip() == "build/film/preview/report.html"

    cleaned = run_cli("clean", "film.yaml", cwd=root)
    assert cleaned.status == 0 and "removed build/film" in cleaned.err, cleaned.err
    assert not folder.exists()


# -- modes ---------------------------------------------------------------------------------


def _modes(root: Path) -> dict[str, int]:
    found = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if path.is_file() and rel.parts[0] != ".storyboard" and path.suffix != ".yaml":
            found[str(rel)] = stat.S_IMODE(path.stat().st_mode)
    return found


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_every_file_a_build_writes_has_the_mode_the_umask_gives(
    tmp_path: Path, emulator: EmulatorServer, umask: int
) -> None:
    root = tmp_path / "project"  # no .storyboard yet: the project's first build
    root.mkdir()
    (root / "film.yaml").write_text(FILM, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNWARE_")}
    env.update(PYTHONPATH=str(REPO), RUNWARE_API_KEY=emulator.api_key,
               RUNWARE_BASE_URL=emulator.base_url)  # fmt: skip
    for command in (
        ["-m", "tests.e2e.runner", "film.yaml"],  # a paid build: the lock file too
        ["-m", "storyboard", "report", "film.yaml", "--exports"],
        ["-m", "storyboard", "build", "film.yaml", "--backend", "preview"],
        ["-m", "storyboard", "report", "film.yaml"],
    ):
        done = subprocess.run([sys.executable, *command], cwd=root, env=env, umask=umask,
                              capture_output=True, text=True, timeout=180)  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
    modes = _modes(root)
    want = 0o666 & ~umask
    assert {"film.lock", ".gitignore", "build/film/preview/film.mp4"} <= set(modes)
    for kind in ("film.mp4", "report.html", "build.json", "film.otio", "film.contact.png",
                 "takes/a.mp4", "requests/a.json", ".storyboard-build.json"):  # fmt: skip
        assert any(name.endswith(kind) for name in modes), kind
    assert {name: oct(mode) for name, mode in modes.items() if mode != want} == {}
    # the takes are links to the cache's files: those have the same mode
    cache = [p for p in (root / ".storyboard" / "cache").rglob("*.mp4")]
    assert cache and {stat.S_IMODE(p.stat().st_mode) for p in cache} == {want}


def test_takes_linked_to_private_cache_files_of_an_older_storyboard_get_the_mode(
    project: Project,
) -> None:
    root = project({"film.yaml": FILM})
    film = root / "film.yaml"
    assert build(film, backend=PreviewBackend(scale=0.1)).ok
    videos = list((root / ".storyboard" / "cache").rglob("*.mp4"))
    for video in videos:
        video.chmod(0o600)  # as mkstemp left them before
    assert build(film, backend=PreviewBackend(scale=0.1)).ok
    take = root / "build" / "film" / "preview" / "takes" / "a.mp4"
    assert stat.S_IMODE(take.stat().st_mode) == new_file_mode()
    assert {stat.S_IMODE(v.stat().st_mode) for v in videos} == {new_file_mode()}


def test_new_file_mode_follows_the_umask_in_a_fresh_process() -> None:
    code = "from storyboard.core.files import new_file_mode; print(oct(new_file_mode()))"
    for umask, want in ((0o022, "0o644"), (0o027, "0o640"), (0o002, "0o664")):
        done = subprocess.run([sys.executable, "-c", code], umask=umask, capture_output=True,
                              text=True, check=True)  # fmt: skip
        assert done.stdout.strip() == want


# -- .gitignore ----------------------------------------------------------------------------


def test_the_first_build_of_a_project_leaves_a_gitignore(
    tmp_path: Path, run_cli: Callable[..., CliResult]
) -> None:
    root = tmp_path / "project"
    (root / ".git").mkdir(parents=True)  # a new repository: no .storyboard yet
    (root / "films").mkdir()
    (root / "films" / "harbour.yaml").write_text(FILM, encoding="utf-8")
    result = run_cli("build", "films/harbour.yaml", "--backend", "preview", cwd=root)
    assert result.status == 0, result.err
    assert "made .gitignore with .storyboard/ and build/" in result.err
    text = (root / ".gitignore").read_text()
    assert text.splitlines()[1:] == [".storyboard/", "build/"]
    # the next build leaves it alone, even after the writer changed it
    (root / ".gitignore").write_text("# mine\n")
    again = run_cli("build", "films/harbour.yaml", "--backend", "preview", cwd=root)
    assert again.status == 0 and (root / ".gitignore").read_text() == "# mine\n"


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_git_add_commits_the_storyboard_and_its_lock_not_the_videos(
    tmp_path: Path, run_cli: Callable[..., CliResult]
) -> None:
    root = tmp_path / "project"
    root.mkdir()
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    (root / "film.yaml").write_text(FILM, encoding="utf-8")
    assert build(root / "film.yaml", backend=FakePaidBackend()).ok  # the lock file too
    assert run_cli("build", "film.yaml", "--backend", "preview", cwd=root).status == 0
    subprocess.run(["git", "-C", str(root), "add", "-A"], check=True)
    listed = subprocess.run(["git", "-C", str(root), "ls-files", "--cached"], check=True,
                            capture_output=True, text=True).stdout.split()  # fmt: skip
    assert sorted(listed) == [".gitignore", "film.lock", "film.yaml"]


def test_a_gitignore_of_the_users_gets_only_the_lines_it_lacks(tmp_path: Path) -> None:
    tree = Tree.at(tmp_path)
    path = tmp_path / ".gitignore"
    path.write_text("node_modules\n/build\n*.log")  # no newline at the end
    path.chmod(0o600)
    done = ensure_ignored(tree, tmp_path / "build" / "film")
    assert done.added == [".storyboard/"]  # /build already ignores build/film
    lines = path.read_text().split("\n")
    assert lines[:3] == ["node_modules", "/build", "*.log"]  # the user's, as they were
    assert lines[-2:] == [".storyboard/", ""] and lines[3] == ""
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # appended in place
    assert ensure_ignored(tree, tmp_path / "build" / "film").added == []
    # a storyboard in a sub-folder: /build does not ignore sub/build, build/ does
    assert ensure_ignored(tree, tmp_path / "sub" / "build" / "x").added == ["build/"]
    # a build folder elsewhere: its own anchored line, not a wrong build/
    assert ensure_ignored(tree, tmp_path / "renders" / "x").added == ["/renders/x/"]


def test_a_symlink_in_the_gitignores_place_is_left_alone(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.write_text("theirs\n")
    root = tmp_path / "project"
    root.mkdir()
    (root / ".gitignore").symlink_to(outside)
    done = ensure_ignored(Tree.at(root))
    assert done.problem is not None and "symlink" in done.problem and not done.added
    assert outside.read_text() == "theirs\n"


def test_init_makes_a_project_ready_for_git(
    tmp_path: Path, run_cli: Callable[..., CliResult]
) -> None:
    root = tmp_path / "films"
    (root / "sub").mkdir(parents=True)
    result = run_cli("init", "films", cwd=tmp_path)
    assert result.status == 0, result.err
    assert (root / ".storyboard").is_dir()
    assert (root / ".gitignore").read_text().splitlines()[1:] == [".storyboard/", "build/"]
    again = run_cli("init", cwd=root)
    assert again.status == 0 and "ignores .storyboard/ and build/ already" in again.err
    # a folder inside it: its own .storyboard would part its storyboards from their state
    inner = run_cli("init", "films/sub", cwd=tmp_path)
    assert inner.status == 2 and "run `storyboard init films` instead" in inner.err
    assert not (root / "sub" / ".storyboard").exists()


def test_deps_names_the_film_of_the_backend(
    project: Project, run_cli: Callable[..., CliResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = project({"film.yaml": FILM})
    monkeypatch.delenv("RUNWARE_API_KEY", raising=False)
    monkeypatch.delenv("RUNWARE_BASE_URL", raising=False)
    result = run_cli("deps", "film.yaml", cwd=root)
    assert result.out.startswith("build/film/preview/film.mp4: film.yaml"), result.out
    result = run_cli("deps", "film.yaml", "--backend", "runware", cwd=root)
    assert result.out.startswith("build/film/runware/film.mp4:")
    monkeypatch.setenv("RUNWARE_BASE_URL", "http://127.0.0.1:8787/v1")
    result = run_cli("deps", "film.yaml", "--backend", "runware", cwd=root)
    assert result.out.startswith("build/film/runware@127.0.0.1-8787/film.mp4:")
