"""``deps -o`` and ``compile -o``: outputs written whole, never through a symlink."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from storyboard import api
from storyboard.compiler.compile import dumps
from tests.conftest import CliResult

REPO = Path(__file__).resolve().parents[2]
FILM = REPO / "examples" / "lighthouse" / "lighthouse.yaml"
Run = Callable[..., CliResult]
KEPT = b"# the victim's own bytes\n"


def _victim(tmp_path: Path) -> Path:
    victim = tmp_path / "outside" / "victim"
    victim.parent.mkdir(exist_ok=True)
    victim.write_bytes(KEPT)
    return victim


def _refused(result: CliResult, shown: str) -> None:
    assert result.status == 1, (result.out, result.err)
    assert "Traceback" not in result.err
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith("storyboard: error: ")
    assert shown in lines[0] and "is a symlink" in lines[0]


def _rule(run_cli: Run, cwd: Path | None = None) -> str:
    result = run_cli("deps", str(FILM), "--target", "film.mp4", cwd=cwd)
    assert result.status == 0, result.err
    return result.out


# -- deps -o --------------------------------------------------------------------------------


def test_deps_writes_the_same_rule_and_nothing_else(run_cli: Run, tmp_path: Path) -> None:
    out = tmp_path / "film.d"
    out.write_text("an older rule\n")
    result = run_cli("deps", str(FILM), "-o", str(out), "--target", "film.mp4")
    assert result.status == 0, result.err
    assert (result.out, result.err) == ("", "")
    assert out.read_bytes() == _rule(run_cli).encode("utf-8")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["film.d"]


def test_deps_does_not_write_through_a_link_at_out_tmp(run_cli: Run, tmp_path: Path) -> None:
    victim = _victim(tmp_path)
    (tmp_path / "film.d.tmp").symlink_to(victim)
    out = tmp_path / "film.d"
    result = run_cli("deps", str(FILM), "-o", str(out), "--target", "film.mp4")
    assert victim.read_bytes() == KEPT
    assert (tmp_path / "film.d.tmp").is_symlink()  # not storyboard's: left as it was
    assert result.status == 0, result.err
    assert out.read_bytes() == _rule(run_cli).encode("utf-8")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["film.d", "film.d.tmp", "outside"]


def test_deps_refuses_a_link_at_its_temporary(run_cli: Run, tmp_path: Path) -> None:
    victim = _victim(tmp_path)
    (tmp_path / ".film.d.storyboard-tmp").symlink_to(victim)
    out = tmp_path / "film.d"
    result = run_cli("deps", str(FILM), "-o", str(out), "--target", "film.mp4")
    _refused(result, ".film.d.storyboard-tmp")
    assert victim.read_bytes() == KEPT
    assert not out.exists()


def test_deps_refuses_a_link_at_out(run_cli: Run, tmp_path: Path) -> None:
    victim = _victim(tmp_path)
    out = tmp_path / "film.d"
    out.symlink_to(victim)
    result = run_cli("deps", str(FILM), "-o", str(out), "--target", "film.mp4")
    _refused(result, "film.d")
    assert out.is_symlink() and victim.read_bytes() == KEPT
    assert sorted(p.name for p in tmp_path.iterdir()) == ["film.d", "outside"]


def test_deps_refuses_a_linked_folder_on_the_way(run_cli: Run, tmp_path: Path) -> None:
    outside = _victim(tmp_path).parent
    project = tmp_path / "project"
    project.mkdir()
    (project / "build").symlink_to(outside, target_is_directory=True)
    result = run_cli("deps", str(FILM), "-o", "build/film.d", "--target", "x", cwd=project)
    _refused(result, "build")
    assert sorted(p.name for p in outside.iterdir()) == ["victim"]


# -- compile -o -----------------------------------------------------------------------------


def test_compile_writes_the_same_requests(run_cli: Run, tmp_path: Path) -> None:
    out = tmp_path / "requests"
    result = run_cli("compile", str(FILM), "-o", str(out))
    assert result.status == 0, result.err
    assert result.err == f"wrote 7 request(s) to {out}\n"
    takes = api.compile_storyboard(FILM).takes
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{t.id}.json" for t in takes)
    for take in takes:
        assert (out / f"{take.id}.json").read_bytes() == dumps(take.to_json()).encode("utf-8")


def test_compile_refuses_a_link_at_a_request(run_cli: Run, tmp_path: Path) -> None:
    victim = _victim(tmp_path)
    out = tmp_path / "requests"
    out.mkdir()
    (out / "dawn.json").symlink_to(victim)
    result = run_cli("compile", str(FILM), "-o", str(out))
    _refused(result, "dawn.json")
    assert victim.read_bytes() == KEPT
    assert [p.name for p in out.iterdir()] == ["dawn.json"]  # nothing written at all


def test_compile_refuses_a_linked_folder(run_cli: Run, tmp_path: Path) -> None:
    outside = _victim(tmp_path).parent
    project = tmp_path / "project"
    project.mkdir()
    (project / "requests").symlink_to(outside, target_is_directory=True)
    result = run_cli("compile", str(FILM), "-o", "requests", cwd=project)
    _refused(result, "requests")
    assert sorted(p.name for p in outside.iterdir()) == ["victim"]


def test_compile_into_a_new_folder_below_the_current_one(run_cli: Run, tmp_path: Path) -> None:
    result = run_cli("compile", str(FILM), "-o", "a/requests", cwd=tmp_path)
    assert result.status == 0, result.err
    made = tmp_path / "a" / "requests"
    assert len(list(made.iterdir())) == 7
    assert json.loads((made / "postcard.json").read_text())["id"] == "postcard"
