"""The build record (``build.json``) is read through the project's folder, no link followed.

A running review read it by its path at every request: a record relinked out of the project
after the review started was read (and the takes it named looked for). The command itself,
``report`` and ``watch`` already refused such a record before reading it (the build folder's
check, the build's own); their tests here hold that."""

from __future__ import annotations

import io
import shutil
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from storyboard.build.state.safe import UnsafePath
from storyboard.live import review as reviewing
from storyboard.live import watch as watching
from storyboard.live.server import LocalServer

OTHER_TITLE = "A film of another folder"


def relinked_record(film: Path, tmp_path: Path) -> Path:
    """Put a symlink where the preview build's ``build.json`` was, to a record outside the
    project: a readable record, of another title. Returns the outside file."""
    record = film / "build" / "film" / "preview" / "build.json"
    text = record.read_text(encoding="utf-8")
    assert '"title": "Review test"' in text
    outside = tmp_path / "elsewhere" / "build.json"
    outside.parent.mkdir()
    outside.write_text(text.replace("Review test", OTHER_TITLE), encoding="utf-8")
    record.unlink()
    record.symlink_to(outside)
    return outside


def test_review_reads_no_record_through_a_symlink(
    review: reviewing.Review, film: Path, tmp_path: Path
) -> None:
    assert review.record().title == "Review test"  # storyboard's own record, read
    relinked_record(film, tmp_path)
    with pytest.raises(UnsafePath, match=r"build\.json is a symlink"):
        review.record()
    assert review.media("takes/a.mp4") is None  # no record: nothing served


def test_review_command_refuses_a_relinked_record(
    film: Path, tmp_path: Path, run_cli: Callable[..., object]
) -> None:
    relinked_record(film, tmp_path)
    result = run_cli("review", "film.yaml", "--port", "0", cwd=film)
    assert result.status == 2, result  # type: ignore[attr-defined]
    assert "build.json" in result.err and "Traceback" not in result.err  # type: ignore[attr-defined]
    assert result.out == ""  # type: ignore[attr-defined]  # no server address: nothing served


def test_watch_writes_no_report_of_a_relinked_record(film: Path, tmp_path: Path) -> None:
    preview = film / "build" / "film" / "preview"
    out = io.StringIO()
    watch = watching.Watch(film / "film.yaml", stream=out, preview_scale=1 / 12)
    relinked_record(film, tmp_path)
    assert not (preview / "report.html").exists()  # the built film has none yet
    watch.once()
    assert not (preview / "report.html").exists()
    assert "build.json is a symlink" in out.getvalue()


def test_review_says_when_the_record_is_gone_and_serves_on(
    film: Path, reviewed: LocalServer
) -> None:
    """The build folder removed while review runs: its page and state say so (503), not a
    traceback (500), and it answers again once the build is back."""
    built = film / "build"
    assert httpx.get(reviewed.url).status_code == 200
    shutil.move(built, film / "build-aside")
    gone = httpx.get(reviewed.url)
    assert gone.status_code == 503 and "no build record" in gone.text
    state = httpx.get(reviewed.url + "api/state")
    assert state.status_code == 503 and "no build record" in state.json()["error"]
    shutil.move(film / "build-aside", built)
    assert httpx.get(reviewed.url).status_code == 200
