"""The commands that write files the user sees (fmt, init, report): a save made meanwhile is
kept, a disk that refuses is said (no traceback), a build record is never read through a link."""

from __future__ import annotations

import errno
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import storyboard.language.fmt as fmt_module
from tests.conftest import CliResult

Project = Callable[[dict[str, str | bytes]], Path]
Run = Callable[..., CliResult]

UNFORMATTED = "title: T\nstoryboard: 1\nshots:\n- prompt: A.\n  id: a\n"
SAVED = "title: T\nstoryboard: 1\nshots:\n- prompt: A, as the writer saved it.\n  id: a\n"


def _said(result: CliResult, status: int, text: str) -> None:
    assert result.status == status, result.err
    assert "Traceback" not in result.err
    assert text in result.err


# -- fmt ---------------------------------------------------------------------------------------


def test_fmt_keeps_a_save_made_while_it_formats(
    project: Project, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = project({"film.yaml": UNFORMATTED})
    formatted = fmt_module.format_files

    def saved_meanwhile(paths: Any) -> Any:
        results = formatted(paths)
        (root / "film.yaml").write_text(SAVED)  # the writer saves in the editor meanwhile
        return results

    monkeypatch.setattr(fmt_module, "format_files", saved_meanwhile)
    result = run_cli("fmt", "film.yaml", cwd=root)
    _said(result, 1, "storyboard: error: film.yaml changed on disk since fmt read it")
    assert (root / "film.yaml").read_text() == SAVED
    assert sorted(p.name for p in root.iterdir()) == [".storyboard", "film.yaml"]


def test_fmt_says_when_the_folder_cannot_be_written(
    project: Project, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = project({"film.yaml": UNFORMATTED})

    def read_only(*args: Any, **kwargs: Any) -> Any:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(root / ".film.yaml.x.tmp"))

    monkeypatch.setattr(tempfile, "mkstemp", read_only)  # as root, a mode refuses nothing
    result = run_cli("fmt", "film.yaml", cwd=root)
    _said(result, 1, "storyboard: error: cannot write film.yaml")
    assert "Read-only file system" in result.err
    assert (root / "film.yaml").read_text() == UNFORMATTED


# -- init --------------------------------------------------------------------------------------


def test_init_says_when_the_folder_cannot_be_written(
    tmp_path: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "films"
    folder.mkdir()
    mkdir = os.mkdir

    def read_only(path: Any, *args: Any, **kwargs: Any) -> None:
        if os.fspath(path) == ".storyboard":
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), path)
        mkdir(path, *args, **kwargs)

    monkeypatch.setattr(os, "mkdir", read_only)
    result = run_cli("init", str(folder))
    _said(result, 1, "storyboard: error: cannot make ")
    assert "Read-only file system" in result.err
    assert list(folder.iterdir()) == []  # no .gitignore either


# -- report ------------------------------------------------------------------------------------


def _record(title: str) -> dict[str, Any]:
    return {
        "version": 1,
        "name": "film",
        "storyboard": "film.yaml",
        "title": title,
        "backend": "preview",
        "film": None,
        "output": {"width": 1280, "height": 720, "fps": 24, "format": "mp4"},
        "clips": [],
        "takes": [],
        "totals": {"spent": 0.0, "estimate": 0.0, "estimate_all_takes": 0.0},
    }


def test_report_does_not_read_a_build_record_through_a_symlink(
    project: Project, run_cli: Run, tmp_path: Path
) -> None:
    outside = tmp_path / "outside" / "record.json"
    outside.parent.mkdir()
    outside.write_text(json.dumps(_record("Not this project's")))
    marker = {
        "storyboard-build": 1,
        "storyboard": "film.yaml",
        "made": True,
        "adopted": None,
        "folders": [".storyboard-tmp"],
        "files": [],
    }  # a build folder storyboard made, whose build has written no record yet
    root = project({"film.yaml": UNFORMATTED, "build/film/.storyboard-build.json": ""})
    folder = root / "build" / "film"
    (folder / ".storyboard-build.json").write_text(json.dumps(marker))
    (folder / "build.json").symlink_to(outside)
    result = run_cli("report", "film.yaml", cwd=root)
    _said(result, 2, "build/film/build.json is a symlink")
    assert not (folder / "report.html").exists()


def test_format_file_keeps_a_save_made_while_it_formats(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Python API writes as the command does (one writer: ``write_if_unchanged``)."""
    root = project({"film.yaml": UNFORMATTED})
    read = fmt_module.read_formatted

    def saved_meanwhile(path: Any) -> Any:
        result = read(path)
        (root / "film.yaml").write_text(SAVED)
        return result

    monkeypatch.setattr(fmt_module, "read_formatted", saved_meanwhile)
    with pytest.raises(fmt_module.FileChanged):
        fmt_module.format_file(root / "film.yaml")
    assert (root / "film.yaml").read_text() == SAVED
    assert sorted(p.name for p in root.iterdir()) == [".storyboard", "film.yaml"]
