"""The layer below everything: reading a storyboard's text files (regular files only, never
more than a cap) and printing what they say (escaped for a terminal)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from storyboard.core.diagnostics import Diagnostic, Position, printable
from storyboard.core.inputs import NotAFile, TooLarge, read_capped
from storyboard.language.load import MAX_FILE_BYTES

Project = Callable[[dict[str, str | bytes]], Path]


def test_a_folder_is_refused(project: Project) -> None:
    root = project({})
    (root / "film.yaml").mkdir()
    with pytest.raises(NotAFile, match="a folder"):
        read_capped(root / "film.yaml", 100)


def test_a_file_larger_than_it_says_is_refused(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = project({"film.yaml": b"#" * (MAX_FILE_BYTES + 4096)})
    real_fstat = os.fstat

    def says_empty(fd: int) -> os.stat_result:  # as /proc files do, or a file still growing
        info = real_fstat(fd)
        return os.stat_result((*info[:6], 0, *info[7:]))

    monkeypatch.setattr("storyboard.core.inputs.os.fstat", says_empty)
    monkeypatch.setattr("storyboard.core.inputs.os.stat", says_empty_stat(os.stat))
    with pytest.raises(TooLarge) as exc:
        read_capped(root / "film.yaml", MAX_FILE_BYTES)
    assert exc.value.size is None
    assert "is more than 8,388,608 bytes; the largest file read is 8,388,608" in str(exc.value)


def says_empty_stat(real: Callable[..., os.stat_result]) -> Callable[..., os.stat_result]:
    def stat(path: Any, *args: Any, **kwargs: Any) -> os.stat_result:
        info = real(path, *args, **kwargs)
        return os.stat_result((*info[:6], 0, *info[7:]))

    return stat


def test_proc_files_that_say_they_are_empty_are_read(tmp_path: Path) -> None:
    status = Path("/proc/self/status")
    if not status.exists():
        pytest.skip("no /proc here")
    assert read_capped(status, 1 << 20).startswith(b"Name:")


def test_diagnostics_escape_what_they_quote() -> None:
    line = Diagnostic(Position("f.yaml", 1, 2), "unknown key 'a\x1b[2J\u202eb\u2066\rc'").render()
    assert line == "f.yaml:1:2: error: unknown key 'a\\x1b[2J\\u202eb\\u2066\\rc'"
    assert printable("tab\tand é, ok") == "tab\tand é, ok"
