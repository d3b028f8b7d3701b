"""``storyboard watch`` and ``storyboard review`` serve only what storyboard wrote: never a
file reached through a symlink (of the file, of a folder above it, of the build folder
itself), never a ``report.html`` it did not write (which it does not write over either), never
a special file that would hang the server; a name with a NUL is a plain ``404``."""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from storyboard.live import watch as watching
from storyboard.live.server import LocalServer

SECRET = b"the secret of another folder: 0451\n"
HAND_WRITTEN = (
    b"<!DOCTYPE html><html><body><p>my own notes</p><script>alert(1)</script></body></html>\n"
)


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder outside the project (beside it): a secret file, and one where a take is."""
    folder = tmp_path / "outside"
    (folder / "takes").mkdir(parents=True)
    (folder / "secret.txt").write_bytes(SECRET)
    (folder / "takes" / "a.mp4").write_bytes(SECRET)
    (folder / "report.html").write_bytes(SECRET)
    return folder


def start_watch(film: Path) -> tuple[watching.Watch, io.StringIO]:
    out = io.StringIO()
    watch = watching.Watch(film / "film.yaml", stream=out, preview_scale=1 / 12)
    watch.once()
    return watch, out


@contextlib.contextmanager
def serving(watch: watching.Watch) -> Iterator[str]:
    with LocalServer(watching.make_app(watch)) as server:
        yield server.url


def relink(path: Path, target: Path) -> None:
    """Put a symlink to ``target`` where the folder or file ``path`` was (moved aside)."""
    path.rename(path.with_name(path.name + ".moved"))
    path.symlink_to(target)


def secret_copy(preview: Path, folder: Path) -> None:
    """``folder``, outside, laid out as the backend folder ``preview`` with the secret in
    every file storyboard serves from it (its record kept, so that it names the takes)."""
    for file in preview.rglob("*"):
        if file.is_file():
            copy = folder / file.relative_to(preview)
            copy.parent.mkdir(parents=True, exist_ok=True)
            copy.write_bytes(file.read_bytes() if file.name == "build.json" else SECRET)
    (folder / "secret.txt").write_bytes(SECRET)


# -- watch: the page ------------------------------------------------------------------------


def test_watch_never_serves_a_report_html_that_links_out_of_the_project(
    film: Path, outside: Path
) -> None:
    preview = film / "build" / "film" / "preview"
    watch, _ = start_watch(film)
    assert (preview / "report.html").is_file()  # storyboard's own page, listed in the marker
    with serving(watch) as url:
        assert "Review test" in httpx.get(url).text
        relink(preview / "report.html", outside / "report.html")
        page = httpx.get(url, timeout=10)
        assert page.status_code == 200 and SECRET.decode() not in page.text
        assert b"0451" not in httpx.get(url + "report.html", timeout=10).content
        # the next build refuses the link: the banner is shown over no outside file either
        assert watch.once() is False and watch.errors
        page = httpx.get(url, timeout=10)
        assert "storyboard-errors" in page.text and "0451" not in page.text
    assert (outside / "report.html").read_bytes() == SECRET


def test_watch_does_not_take_a_link_made_before_the_build_for_its_report(
    film: Path, outside: Path
) -> None:
    report = film / "build" / "film" / "preview" / "report.html"
    report.symlink_to(outside / "report.html")  # not written by storyboard: never its page
    watch, out = start_watch(film)
    with serving(watch) as url:
        page = httpx.get(url, timeout=10)
    assert page.status_code == 200 and "0451" not in page.text
    assert "storyboard-refused" in page.text and "was not written by storyboard" in page.text
    assert report.is_symlink() and (outside / "report.html").read_bytes() == SECRET
    assert "report.html was not written" in out.getvalue()


def test_watch_neither_serves_nor_overwrites_a_hand_written_report_html(film: Path) -> None:
    report = film / "build" / "film" / "preview" / "report.html"
    report.write_bytes(HAND_WRITTEN)  # the writer's file, in storyboard's build folder
    watch, out = start_watch(film)
    with serving(watch) as url:
        page = httpx.get(url, timeout=10)
        as_file = httpx.get(url + "report.html", timeout=10)
    assert page.status_code == 200
    assert "my own notes" not in page.text and "alert(1)" not in page.text
    assert "storyboard-refused" in page.text and "was not written by storyboard" in page.text
    assert as_file.status_code == 404 and b"alert(1)" not in as_file.content
    assert report.read_bytes() == HAND_WRITTEN  # left byte for byte
    assert "report.html was not written" in out.getvalue()


def test_watch_does_not_hang_on_a_pipe_put_in_place_of_its_report(film: Path) -> None:
    report = film / "build" / "film" / "preview" / "report.html"
    watch, _ = start_watch(film)
    report.unlink()
    os.mkfifo(report)
    try:
        with serving(watch) as url:
            page = httpx.get(url, timeout=10)
            assert page.status_code == 200 and "Review test" not in page.text
            assert httpx.get(url + "report.html", timeout=10).status_code == 404
    finally:  # an old server blocked in the pipe's open: let it go
        with contextlib.suppress(OSError):
            os.close(os.open(report, os.O_WRONLY | os.O_NONBLOCK))


# -- watch: the build's files ---------------------------------------------------------------


@pytest.mark.parametrize("relinked", ["build/film/preview", "build/film", "build"])
def test_watch_serves_nothing_through_a_build_folder_relinked_outside(
    film: Path, outside: Path, relinked: str
) -> None:
    preview = film / "build" / "film" / "preview"
    take = (preview / "takes" / "a.mp4").read_bytes()
    watch, _ = start_watch(film)
    with serving(watch) as url:
        assert httpx.get(url + "takes/a.mp4").content == take
        # what the page links is what it serves, by ranges too (a <video> seeks so)
        part = httpx.get(url + "takes/a.mp4", headers={"Range": "bytes=10-109"})
        assert part.status_code == 206 and part.content == take[10:110]
        assert part.headers["content-range"] == f"bytes 10-109/{len(take)}"
        # a file storyboard did not write is not served, even in its folder
        (preview / "notes.txt").write_bytes(SECRET)
        assert httpx.get(url + "notes.txt").status_code == 404
        (preview / "notes.txt").unlink()
        # the folder is moved away and a link to an outside folder laid out as it put there
        elsewhere = outside / "elsewhere"
        secret_copy(preview, elsewhere / Path("build/film/preview").relative_to(relinked))
        relink(film / relinked, elsewhere)
        for name in ("secret.txt", "takes/a.mp4", "report.html", "film.mp4"):
            answer = httpx.get(url + name, timeout=10)
            assert answer.status_code == 404, name
            assert b"0451" not in answer.content, name
        page = httpx.get(url, timeout=10)
        assert "0451" not in page.text


def test_watch_answers_a_name_with_a_nul_with_404(
    film: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    watch, _ = start_watch(film)
    with serving(watch) as url:
        for name in ("takes/a.mp4%00", "takes%00/a.mp4", "%00", "report.html%00.txt"):
            answer = httpx.get(url + name, timeout=10)
            assert answer.status_code == 404, (name, answer.text)
            assert "Traceback" not in answer.text and "Internal Server Error" not in answer.text
    assert "Traceback" not in capfd.readouterr().err


# -- review: the videos ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "relinked", ["build/film/preview/takes", "build/film/preview", "build/film", "build"]
)
def test_review_serves_no_video_through_a_folder_relinked_outside(
    reviewed: LocalServer, film: Path, outside: Path, relinked: str,
    capfd: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    preview = film / "build" / "film" / "preview"
    url = reviewed.url + "media/takes/a.mp4"
    first = httpx.get(url)  # served at first: a take storyboard wrote
    assert first.status_code == 200 and first.content == (preview / "takes/a.mp4").read_bytes()
    for name in ("takes/a.mp4%00", "takes%00/a.mp4", "%00"):  # a NUL: a plain 404
        answer = httpx.get(reviewed.url + "media/" + name, timeout=10)
        assert answer.status_code == 404 and "Traceback" not in answer.text, name
    # after the page started, a folder on the way is moved away and a link put in its place,
    # to an outside folder laid out as it (the record kept: it names the same videos)
    elsewhere = outside / "elsewhere"
    if relinked.endswith("takes"):
        secret_copy(preview / "takes", elsewhere)
    else:
        secret_copy(preview, elsewhere / Path("build/film/preview").relative_to(relinked))
    relink(film / relinked, elsewhere)
    for name in ("takes/a.mp4", "takes/a.v2.mp4"):
        answer = httpx.get(reviewed.url + "media/" + name, timeout=10)
        assert answer.status_code == 404, (name, answer.status_code)
        assert b"0451" not in answer.content
    ranged = httpx.get(url, headers={"Range": "bytes=0-9"}, timeout=10)
    assert ranged.status_code == 404 and b"0451" not in ranged.content
    assert "Traceback" not in capfd.readouterr().err
