"""The records of the last build (``.storyboard/records/NAME.BACKEND.json``) that cannot be
read are an error, never no records: on the preview they are what a kept take keeps."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import CliResult

Project = Callable[[dict[str, str | bytes]], Path]
Run = Callable[..., CliResult]

FILM = """\
storyboard: 1
title: Keep
shots:
  - {id: wide, duration: 3, prompt: a harbour at dawn}
  - {id: close, duration: 3, prompt: a gull lands on the quay}
"""
KEPT = FILM.replace(
    "{id: close, duration: 3, prompt: a gull lands on the quay}",
    "{id: close, keep: true, duration: 3, prompt: a gull flies away}",
)


@pytest.mark.parametrize(
    ("damage", "where"),
    [
        (b'{"close": {', ":1:12: error: "),
        (b"\xff\xfe", ":1:1: error: "),
        (b"[1, 2]", ":1:1: error: "),
    ],
)
def test_damaged_records_stop_plan_and_build_before_anything_is_made(
    project: Project, run_cli: Run, damage: bytes, where: str
) -> None:
    root = project({"film.yaml": FILM})
    args = ("--backend", "preview", "--preview-scale", "0.1")
    assert run_cli("build", "film.yaml", *args, cwd=root).status == 0
    take = root / "build" / "film" / "preview" / "takes" / "close.mp4"
    made = take.read_bytes()
    (root / "film.yaml").write_text(KEPT, encoding="utf-8")
    (records,) = (root / ".storyboard" / "records").iterdir()
    records.write_bytes(damage)
    for command in ("plan", "build"):
        result = run_cli(command, "film.yaml", *args, cwd=root)
        assert result.status == 2, result.err
        assert f"{records.relative_to(root)}{where}" in result.err
        assert "`storyboard doctor film.yaml` says how to repair it; nothing was sent" in result.err
        assert "Traceback" not in result.err
    assert take.read_bytes() == made  # the kept take was not made again
    assert records.read_bytes() == damage  # nor its records written over


def test_records_read_whole_keep_the_kept_take(project: Project, run_cli: Run) -> None:
    root = project({"film.yaml": FILM})
    args = ("--backend", "preview", "--preview-scale", "0.1")
    assert run_cli("build", "film.yaml", *args, cwd=root).status == 0
    take = root / "build" / "film" / "preview" / "takes" / "close.mp4"
    made = take.read_bytes()
    (root / "film.yaml").write_text(KEPT, encoding="utf-8")
    assert run_cli("build", "film.yaml", *args, cwd=root).status == 0
    assert take.read_bytes() == made


def test_doctor_moves_damaged_records_aside(project: Project, run_cli: Run) -> None:
    root = project({"film.yaml": FILM})
    args = ("--backend", "preview", "--preview-scale", "0.1")
    assert run_cli("build", "film.yaml", *args, cwd=root).status == 0
    (records,) = (root / ".storyboard" / "records").iterdir()
    records.write_bytes(b'{"close": {')
    report = run_cli("doctor", "film.yaml", cwd=root)
    assert report.status == 2, report.err
    assert f"{records.relative_to(root)}:1:12: error: the records of the last build are" in (
        report.err
    )
    assert records.read_bytes() == b'{"close": {'  # reported only
    fixed = run_cli("doctor", "film.yaml", "--fix", cwd=root)
    assert fixed.status == 0, fixed.err
    aside = records.with_name(records.name + ".damaged")
    assert not records.exists() and aside.read_bytes() == b'{"close": {'  # kept
    assert run_cli("build", "film.yaml", *args, cwd=root).status == 0
    assert records.is_file()
