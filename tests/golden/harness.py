"""Run one golden case: the CLI in-process on a temporary copy of the case folder.

A case is a folder under ``cases/``::

    cases/<name>/
        film.yaml       the storyboard checked (``storyboard check film.yaml``)
        ...             any other inputs it needs: includes, templates, text files
        expected.txt    the exact stderr expected (``make golden`` rewrites it)
        setup.json      optional: inputs that cannot or should not be committed as files

``setup.json`` holds any of::

    {"images": ["assets/front.jpg"],            real tiny JPEG/PNG images (640x360), by extension
     "sized": {"assets/tall.png": [600, 800]},  real images of the given width and height
     "media": ["assets/clip.mp4"],              placeholder bytes (not a readable video or sound)
     "audio": ["assets/score.mp3"],             real audio files (half a second), by extension
     "videos": {"assets/in.mp4": 5},            real 1280x720 24 fps videos of so many seconds
     "outside": ["secret.jpg"],                 files next to the project folder, outside it
     "symlinks": {"assets/link.jpg": "../../secret.jpg"},
     "status": 0}                               the exit status expected (default 2)

Every case but those with ``"status": 0`` is an invalid storyboard; those are valid ones whose
warnings ``expected.txt`` pins (``check`` prints them on stderr, with its ``ok`` line).

The case is copied to ``TMP/project`` with a ``.storyboard`` marker, so the project root is
the case folder itself (not this repository). Messages that name the temporary folder
show it as ``<project>``.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from storyboard.cli.main import main

CASES = Path(__file__).parent / "cases"
STORYBOARD = "film.yaml"
EXPECTED = "expected.txt"
SETUP = "setup.json"
_NOT_INPUTS = (EXPECTED, SETUP)


@dataclass(frozen=True)
class Outcome:
    status: int
    stdout: str
    stderr: str
    written: tuple[str, ...]
    """Files created, changed or removed in the project folder by the run."""


def case_names() -> list[str]:
    return sorted(p.name for p in CASES.iterdir() if (p / STORYBOARD).is_file())


def expected_path(name: str) -> Path:
    return CASES / name / EXPECTED


def expected_status(name: str) -> int:
    """The exit status the case expects: 2 (invalid), unless its setup says otherwise."""
    setup = CASES / name / SETUP
    if not setup.is_file():
        return 2
    return int(json.loads(setup.read_text(encoding="utf-8")).get("status", 2))


def run_case(name: str, tmp: Path) -> Outcome:
    """Copy case ``name`` under ``tmp``, run ``storyboard check film.yaml`` in it."""
    project = tmp / "project"
    shutil.copytree(CASES / name, project, ignore=shutil.ignore_patterns(*_NOT_INPUTS))
    (project / ".storyboard").mkdir(exist_ok=True)
    _apply_setup(CASES / name / SETUP, project)
    before = _snapshot(project)
    out, err = io.StringIO(), io.StringIO()
    with (
        contextlib.chdir(project),
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
    ):
        try:
            status = main(["check", STORYBOARD])
        except SystemExit as exc:  # pragma: no cover - usage errors only
            status = int(exc.code or 0)
    after = _snapshot(project)
    written = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    return Outcome(
        status, _normalize(out.getvalue(), tmp), _normalize(err.getvalue(), tmp), tuple(written)
    )


def _apply_setup(setup: Path, project: Path) -> None:
    if not setup.is_file():
        return
    spec = json.loads(setup.read_text(encoding="utf-8"))
    for name in spec.get("images", []):
        _write_media(project / name)
    for name in spec.get("media", []):
        _write_media(project / name)
    for name, (width, height) in spec.get("sized", {}).items():
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        fmt = "PNG" if name.lower().endswith(".png") else "JPEG"
        Image.new("RGB", (width, height), (40, 90, 160)).save(project / name, fmt)
    for name in spec.get("audio", []):
        _write_audio(project / name)
    for name, seconds in spec.get("videos", {}).items():
        _write_video(project / name, seconds)
    for name in spec.get("outside", []):
        _write_media(project.parent / name)
    for link, target in spec.get("symlinks", {}).items():
        path = project / link
        path.parent.mkdir(parents=True, exist_ok=True)
        path.symlink_to(target)


def _write_media(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix.lower()
    if suffix in (".jpg", ".jpeg", ".png"):
        fmt = "PNG" if suffix == ".png" else "JPEG"
        Image.new("RGB", (640, 360), (40, 90, 160)).save(path, fmt)
    else:
        path.write_bytes(b"placeholder: check reads only input images and videos\n")


def _write_audio(path: Path) -> None:
    from tests.conftest import tiny_audio

    fmt = {".mp3": "mp3", ".wav": "wav", ".flac": "flac", ".m4a": "ipod"}[path.suffix.lower()]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(tiny_audio(fmt))


def _write_video(path: Path, seconds: float) -> None:
    """A video the model takes as an input (720 px on its shorter side, 24 fps)."""
    from tests.media.test_limits import video

    path.parent.mkdir(parents=True, exist_ok=True)
    video(path, seconds, "1280x720")


def _snapshot(folder: Path) -> dict[str, bytes | str]:
    """Every entry under ``folder``: file bytes, symlink targets, folders."""
    found: dict[str, bytes | str] = {}
    for path in sorted(folder.rglob("*")):
        key = path.relative_to(folder).as_posix()
        if path.is_symlink():
            found[key] = f"-> {path.readlink()}"
        elif path.is_dir():
            found[key] = "<dir>"
        else:
            found[key] = path.read_bytes()
    return found


def _normalize(text: str, tmp: Path) -> str:
    for folder, shown in ((tmp / "project", "<project>"), (tmp, "<tmp>")):
        for form in sorted({str(folder.resolve()), str(folder)}, key=len, reverse=True):
            text = text.replace(form, shown)
    return text
