"""Warnings a writer needs before paying (issue 13 item 7): printed by check, plan and build as
``FILE:LINE:COL: warning: ...`` on stderr, listed by ``--json``, never changing the exit
status."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path

from PIL import Image

from storyboard import api
from tests.conftest import CliResult

Project = Callable[[dict[str, str | bytes]], Path]

FILM = """\
storyboard: 1
title: Warnings
elements:
  keeper: {frontal_image: tall.png, description: the keeper, tags: [Character]}
shots:
  - id: arrival
    start: square.png
    duration: 4
    prompt: <<<keeper>>> climbs to the tower door.
  - id: lamp
    duration: 4
    variations: 3
    prompt: The lamp dies.
  - id: unused
    duration: 3
    prompt: Gulls over the sea.
cut:
  clips: [{shot: arrival}, {shot: lamp}]
"""


def png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (30, 60, 90)).save(buffer, "PNG")
    return buffer.getvalue()


def film(project: Project, text: str = FILM) -> Path:
    return project({"film.yaml": text, "tall.png": png(600, 800), "square.png": png(900, 900)})


EXPECTED = [
    "film.yaml:4:27: warning: element 'keeper': 'tall.png' is 600x800 (aspect 0.75), 137% off "
    "the film's 1920x1080 (1.78)",
    "film.yaml:7:12: warning: start: 'square.png' is 900x900 (aspect 1), 78% off the film's "
    "1920x1080 (1.78): the take takes its shape from the image (a request with a frame image "
    "sends no size), and the cut letter- or pillar-boxes it",
    "film.yaml:12:17: warning: variations: 3 results of take 'lamp' are generated and each is "
    "billed, but the film shows only variation 1 (pick); no clip uses the other 2 (kept in "
    "takes/ to choose from)",
    "film.yaml:14:9: warning: shot 'unused' is generated and paid for, but no clip of "
    "cut.clips shows it and no other shot starts, ends on, edits or refers to it: add it to "
    "cut.clips, or remove it",
]


def warning_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if ": warning: " in line]


def test_check_prints_every_warning_at_its_position_and_still_passes(
    project: Project, run_cli: Callable[..., CliResult]
) -> None:
    root = film(project)
    result = run_cli("check", "film.yaml", cwd=root)
    assert result.status == 0
    assert warning_lines(result.err) == EXPECTED
    assert result.err.endswith("film.yaml: ok (3 shots, 3 requests, 4 warnings)\n")
    quiet = run_cli("check", "-q", "film.yaml", cwd=root)
    assert quiet.status == 0 and quiet.err == "".join(f"{w}\n" for w in EXPECTED)


def test_check_json_lists_warnings_and_errors(
    project: Project, run_cli: Callable[..., CliResult]
) -> None:
    root = film(project)
    (root / "bad.yaml").write_text(FILM.replace("duration: 3", "duration: 0"))
    result = run_cli("check", "--json", "film.yaml", "bad.yaml", cwd=root)
    assert result.status == 2  # bad.yaml
    data = json.loads(result.out)
    assert data["ok"] is False
    good, bad = data["storyboards"]
    assert (good["file"], good["ok"], good["shots"], good["requests"]) == ("film.yaml", True, 3, 3)
    assert good["errors"] == []
    assert good["warnings"][0] == {
        "file": "film.yaml",
        "line": 4,
        "col": 27,
        "severity": "warning",
        "message": EXPECTED[0].split(": warning: ", 1)[1],
    }
    assert len(good["warnings"]) == 4
    assert (bad["ok"], bad["shots"], bad["warnings"]) == (False, None, [])
    assert [e["severity"] for e in bad["errors"]] == ["error"]
    assert bad["errors"][0]["line"] == 15


def test_plan_prints_and_lists_warnings(
    project: Project, run_cli: Callable[..., CliResult]
) -> None:
    root = film(project)
    result = run_cli("plan", "film.yaml", "--backend", "preview", cwd=root)
    assert result.status == 0 and warning_lines(result.err) == EXPECTED
    assert "total:" in result.out
    data = json.loads(run_cli("plan", "film.yaml", "--json", "--backend", "preview", cwd=root).out)
    assert [f"{w['file']}:{w['line']}:{w['col']}" for w in data["warnings"]] == [
        line.split(": warning:")[0] for line in EXPECTED
    ]


def test_build_prints_warnings_before_the_first_take_and_lists_them(
    project: Project, run_cli: Callable[..., CliResult]
) -> None:
    root = film(project)
    result = run_cli("build", "film.yaml", "--backend", "preview", "--json", cwd=root)
    assert result.status == 0, result.err
    lines = result.err.splitlines()
    assert [line for line in lines if ": warning: " in line] == EXPECTED
    first_take = next(i for i, line in enumerate(lines) if line.startswith(("arrival:", "lamp:")))
    assert max(i for i, line in enumerate(lines) if ": warning: " in line) < first_take
    data = json.loads(result.out)
    assert len(data["warnings"]) == 4 and data["ok"] is True and data["film"] is not None


def test_aspect_tolerance_is_ten_percent_either_way(project: Project) -> None:
    text = (
        "storyboard: 1\ntitle: Aspect\nshots:\n"
        "  - {id: a, start: narrow-ok.png, prompt: one}\n"  # 1.63: 9.1% narrower
        "  - {id: b, start: narrow.png, prompt: two}\n"  # 1.57: 12.9% narrower
        "  - {id: c, start: wide-ok.png, prompt: three}\n"  # 1.94: 9.4% wider
        "  - {id: d, start: wide.png, prompt: four}\n"  # 1.98: 11.1% wider
    )
    root = project(
        {
            "film.yaml": text,
            "narrow-ok.png": png(1760, 1080),
            "narrow.png": png(1700, 1080),
            "wide-ok.png": png(2100, 1080),
            "wide.png": png(2134, 1080),
        }
    )
    warned = api.compile_storyboard(root / "film.yaml").warnings
    assert [(w.position.line if w.position else 0) for w in warned] == [5, 7]
    assert "13% off" in warned[0].message and "11% off" in warned[1].message


def test_no_warning_for_a_default_cut_a_used_shot_or_one_variation(project: Project) -> None:
    text = (
        "storyboard: 1\ntitle: Quiet\nshots:\n"
        "  - {id: a, duration: 3, prompt: one}\n"
        "  - {id: b, start: a.last, duration: 3, prompt: two}\n"
        "  - {id: c, edit: a, prompt: three}\n"
    )
    root = project({"film.yaml": text})
    assert api.compile_storyboard(root / "film.yaml").warnings == ()
    clipped = text + "cut:\n  clips: [{shot: b}, {shot: c}]\n"  # a: handed off and edited
    (root / "film.yaml").write_text(clipped)
    assert api.compile_storyboard(root / "film.yaml").warnings == ()


def test_a_sequence_of_several_takes_gets_one_variations_warning(project: Project) -> None:
    text = (
        "storyboard: 1\ntitle: Storm\nshots:\n"
        "  - sequence: storm\n    continuity: chain\n    variations: 2\n    pick: 2\n"
        "    shots:\n"
        "      - {id: a, duration: 3, prompt: one}\n"
        "      - {id: b, duration: 3, prompt: two}\n"
    )
    root = project({"film.yaml": text})
    (warning,) = api.compile_storyboard(root / "film.yaml").warnings
    assert warning.position is not None and warning.position.line == 6
    assert "takes 'a', 'b'" in warning.message  # a chain: a take per shot
    assert "only variation 2" in warning.message and "the other one" in warning.message
