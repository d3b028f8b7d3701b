"""The HTML report: what the page says, that it escapes the writer's text, and — in headless
Chromium — that a reader sees every thumbnail, prompt and the total cost."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import opentimelineio as otio  # type: ignore[import-untyped]
import pytest
from PIL import Image

from storyboard.exports.contact_sheet import contact_sheet
from storyboard.exports.record import FilmRecord, TakeRecord
from storyboard.media.frames import frame_array
from storyboard.report import ASSETS, clock, usd, write_report
from storyboard.report.graph_svg import graph_svg
from tests.browser import CHROMIUM, artifacts, needs_chromium
from tests.conftest import CliResult
from tests.exports.film import SHOTS, Built
from tests.exports.test_otio import rich

HOSTILE = '<script>document.title="pwned"</script><img src=x onerror=alert(1)> & "quotes"'
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
    "--disable-default-apps", "--mute-audio",
)  # fmt: skip


class Page(HTMLParser):
    """What a reader sees in a (rendered) page: images, prompts, texts by id, body attrs."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.body: dict[str, str | None] = {}
        self.images: list[dict[str, str | None]] = []
        self.scripts = 0
        self.prompts: list[str] = []
        self.by_id: dict[str, str] = {}
        self._open: list[tuple[str, str | None, str | None, list[str]]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "body":
            self.body = found
        elif tag == "img":
            self.images.append(found)
        elif tag == "script":
            self.scripts += 1
        if tag not in ("img", "br", "meta", "link", "source"):
            self._open.append((tag, found.get("class"), found.get("id"), []))

    def handle_data(self, data: str) -> None:
        for _, _, _, text in self._open:
            text.append(data)

    def handle_endtag(self, tag: str) -> None:
        while self._open:
            name, cls, ident, text = self._open.pop()
            if cls and "prompt" in cls.split():
                self.prompts.append("".join(text))
            if ident:
                self.by_id[ident] = " ".join("".join(text).split())
            if name == tag:
                break


@pytest.fixture(scope="module")
def page(built: Built) -> Path:
    return write_report(built.record)


def test_the_page_shows_every_shot_take_prompt_and_the_totals(built: Built, page: Path) -> None:
    assert page == built.build_dir / "report.html"
    html = page.read_text(encoding="utf-8")
    seen = Page(html)
    assert seen.prompts[: len(SHOTS)] == [built.record.prompt(s) for s in SHOTS]
    frames = [(img["alt"], img["src"]) for img in seen.images]
    assert frames == [
        (f"{shot}: {which} frame", f"{ASSETS}/{i:02d}-{shot}-{which}.png")
        for i, shot in enumerate(SHOTS, 1)
        for which in ("first", "last")
    ]
    for _, src in frames:
        assert (built.build_dir / str(src)).is_file()
    for take in built.record.takes:  # a player per take, on the picked video
        assert f'src="{take.video}"' in html and f'id="take-{take.id}"' in html
    assert seen.by_id["total-spent"] == "$0.0000"
    assert seen.by_id["total-estimate"] == "$1.8200"
    assert 'class="graph"' in html and html.count('class="node take') == 4
    assert built.record.film == "film.mp4"
    assert 'src="film.mp4"' in html and "No film in this build folder yet" not in html
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in html
    assert seen.scripts == 1


def test_the_page_is_deterministic_and_replaces_stale_thumbnails(
    built: Built, tmp_path: Path
) -> None:
    out = tmp_path / "copy" / "report.html"
    (tmp_path / "copy" / ASSETS).mkdir(parents=True)
    (tmp_path / "copy" / ASSETS / "99-gone-first.png").write_bytes(b"stale")
    write_report(built.record, out)
    first = out.read_text(encoding="utf-8")
    write_report(built.record, out)
    assert out.read_text(encoding="utf-8") == first
    assert not (tmp_path / "copy" / ASSETS / "99-gone-first.png").exists()
    assert len(list((tmp_path / "copy" / ASSETS).glob("*.png"))) == 2 * len(SHOTS)
    # a page outside the build folder links the videos relative to itself
    (src,) = set(re.findall(r'src="([^"]*takes/open\.mp4)"', first))
    assert not src.startswith(("/", "file:"))
    assert (out.parent / src).resolve() == (built.build_dir / "takes/open.mp4").resolve()


def hostile(record: FilmRecord) -> FilmRecord:
    takes = tuple(
        replace(t, prompts={**t.prompts, "a": HOSTILE}) if "a" in t.prompts else t
        for t in record.takes
    )
    return replace(record, takes=takes, title=HOSTILE)


def test_a_build_without_a_film_says_so(built: Built, tmp_path: Path) -> None:
    out = write_report(replace(built.record, film=None), tmp_path / "report.html")
    html = out.read_text(encoding="utf-8")
    assert "No film in this build folder yet" in html and 'id="film"' in html
    assert "film.mp4" not in html


def test_title_cards_and_captions_are_shown_with_the_films_frames(
    built: Built, tmp_path: Path
) -> None:
    record = rich(built.record)  # a title card at 4..6 s of the film, a caption over c
    out = write_report(record, tmp_path / "report.html")
    html = out.read_text(encoding="utf-8")
    assert 'data-card="title"' in html and "3. title: The Keeper</span>" in html
    assert "a title card, drawn by the cut" in html and "caption: Skerry Point, 1893" in html
    assert 'href=""' not in html and '#take-"' not in html
    # the card's thumbnails are the film's frames where it sits
    first = tmp_path / ASSETS / "03-card-first.png"
    film = frame_array(built.build_dir / "film.mp4", 96)
    thumb = np.asarray(Image.open(first).convert("RGB"), dtype=np.int16)
    small = Image.fromarray(film).resize((thumb.shape[1], thumb.shape[0]))
    assert np.abs(thumb - np.asarray(small, dtype=np.int16)).mean() < 8
    layout = contact_sheet(record, tmp_path / "sheet.png")
    assert len(layout.cells) == 6 and (tmp_path / "sheet.png").is_file()


def test_prompts_and_titles_are_escaped(built: Built, tmp_path: Path) -> None:
    out = write_report(hostile(built.record), tmp_path / "report.html")
    html = out.read_text(encoding="utf-8")
    assert HOSTILE not in html
    assert "&lt;script&gt;document.title=&#34;pwned&#34;&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt; &amp; &#34;quotes&#34;" in html
    seen = Page(html)
    assert seen.scripts == 1  # only the page's own
    assert HOSTILE in seen.prompts  # shown to the reader as the text it is
    assert not any(img.get("src") == "x" for img in seen.images)


def test_graph_svg_escapes_and_draws_every_take_and_edge() -> None:
    graph = {
        "takes": [
            {"id": "a<b", "shots": ["x"], "seconds": 3, "elements": ["hero"]},
            {"id": "c", "shots": ["y", "z"], "seconds": 8, "elements": []},
            {"id": "d", "shots": ["w"], "seconds": None, "elements": []},
        ],
        "elements": ["hero"],
        "edges": [
            {"from": "element:hero", "to": "a<b", "kind": "element"},
            {"from": "a<b", "to": "c", "kind": "x last -> start"},
            {"from": "c", "to": "d", "kind": "edit"},
        ],
    }
    svg = str(graph_svg(graph, {"a<b": "generated", "c": "cached"}))
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert "a<b" not in svg and 'data-take="a&lt;b"' in svg
    assert svg.count('class="edge"') == 2 and svg.count("element-edge") == 1
    assert "status-generated" in svg and "status-cached" in svg and "status-unknown" in svg
    assert "x last -&gt; start" in svg and "w · edit" in svg
    # depth grows along the hand-offs: element, then a<b, c, d in successive columns
    xs = [float(x) for x in re.findall(r'<g class="node take[^>]*>.*?<rect x="([\d.]+)"', svg)]
    assert xs == sorted(xs) and len(set(xs)) == 3
    assert str(graph_svg({})) == '<svg class="graph" width="0" height="0" role="img"></svg>'


def test_money_and_time_for_people() -> None:
    assert [usd(0), usd(0.42), usd(0.336), usd(1.8200), usd(12.5), usd(None)] == [
        "$0.0000", "$0.4200", "$0.3360", "$1.8200", "$12.5000", "unknown",
    ]  # fmt: skip
    assert [clock(0), clock(7.5), clock(65.25)] == ["0:00.00", "0:07.50", "1:05.25"]


def test_failed_take_shows_why_and_no_player(built: Built, tmp_path: Path) -> None:
    failed: TakeRecord = replace(
        built.record.take("d"), status="failed", video=None, variations=(), message="boom"
    )
    record = replace(
        built.record,
        takes=tuple(failed if t.id == "d" else t for t in built.record.takes),
        clips=tuple(
            replace(c, source="takes/none.mp4") if c.shot == "d" else c for c in built.record.clips
        ),
    )
    html = write_report(record, tmp_path / "report.html").read_text(encoding="utf-8")
    assert "No video: boom." in html and "status-failed" in html
    assert html.count('<div class="missing">no video</div>') == 2


# -- in a browser -------------------------------------------------------------------------------


def chromium(tmp_path: Path, page: Path, *args: str) -> str:
    assert CHROMIUM is not None
    done = subprocess.run(
        [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'chromium'}", *args,
         page.resolve().as_uri()],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    return done.stdout


@needs_chromium
def test_a_reader_sees_every_thumbnail_prompt_and_the_total(
    built: Built, page: Path, tmp_path: Path
) -> None:
    dom = chromium(tmp_path, page, "--virtual-time-budget=10000", "--dump-dom")
    seen = Page(dom)
    # the page's script ran after every image settled: all of them decoded
    assert seen.body.get("data-images") == "loaded", seen.body
    assert seen.body.get("data-images-loaded") == str(2 * len(SHOTS))
    assert not any("broken" in (img.get("class") or "") for img in seen.images)
    assert seen.prompts[: len(SHOTS)] == [built.record.prompt(s) for s in SHOTS]
    assert seen.by_id["total-spent"] == "$0.0000"
    assert seen.by_id["total-estimate"] == "$1.8200"
    for shot in SHOTS:
        assert f"{SHOTS.index(shot) + 1}. {shot}" in seen.by_id[f"shot-{shot}"]


@needs_chromium
def test_a_missing_thumbnail_is_marked_broken(built: Built, tmp_path: Path) -> None:
    out = write_report(built.record, tmp_path / "report.html")
    (tmp_path / ASSETS / "02-b-last.png").unlink()
    seen = Page(chromium(tmp_path, out, "--virtual-time-budget=10000", "--dump-dom"))
    assert seen.body.get("data-images") == "broken"
    assert seen.body.get("data-images-loaded") == str(2 * len(SHOTS) - 1)
    broken = [img["alt"] for img in seen.images if "broken" in (img.get("class") or "")]
    assert broken == ["b: last frame"]


@needs_chromium
def test_a_hostile_prompt_stays_text_in_the_browser(built: Built, tmp_path: Path) -> None:
    out = write_report(hostile(built.record), tmp_path / "report.html")
    seen = Page(chromium(tmp_path, out, "--virtual-time-budget=10000", "--dump-dom"))
    assert seen.scripts == 1 and HOSTILE in seen.prompts
    assert not any(img.get("src") == "x" for img in seen.images)


@needs_chromium
def test_the_page_draws(page: Path, tmp_path: Path) -> None:
    with Image.open(page.parent / ASSETS / "01-a-first.png") as thumb:
        card = np.asarray(thumb.convert("RGB"))[40, 40].astype(int)  # shot a's card colour
    shot = tmp_path / "page.png"
    chromium(tmp_path, page, "--window-size=1200,1600", f"--screenshot={shot}",
             "--virtual-time-budget=10000", "--hide-scrollbars")  # fmt: skip
    shutil.copyfile(shot, artifacts() / "report-page.png")
    with Image.open(shot) as image:
        assert image.size == (1200, 1600)
        pixels = np.asarray(image.convert("RGB")).astype(int)
    # shot a's thumbnails are on screen (images drew), and the page is not blank
    assert (np.abs(pixels - card).sum(axis=2) < 30).sum() > 5000
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 200


# -- the command --------------------------------------------------------------------------------


@pytest.fixture
def report_cli(
    run_cli: Callable[..., CliResult], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., CliResult]:
    """``storyboard ...`` with the report command registered (until main.py lists it)."""
    from storyboard.cli import main

    if "report" not in main.COMMAND_MODULES:
        monkeypatch.setattr(main, "COMMAND_MODULES", (*main.COMMAND_MODULES, "report"))
    return run_cli


def test_report_without_a_build_is_exit_2_with_a_clear_message(
    report_cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    (tmp_path / "new.yaml").write_text("storyboard: 1\n")
    result = report_cli("report", "new.yaml", cwd=tmp_path)
    assert result.status == 2 and result.out == ""
    assert "new.yaml has not been built yet (no folder of build/new holds a build.json): " \
        "run `storyboard build new.yaml` first" in result.err  # fmt: skip
    result = report_cli("report", "nothing.yaml", cwd=tmp_path)
    assert result.status == 2 and "nothing.yaml: no such storyboard file" in result.err


def test_report_command_writes_the_page_and_the_exports(
    report_cli: Callable[..., CliResult], built: Built, tmp_path: Path
) -> None:
    copy = tmp_path / "project"
    shutil.copytree(built.storyboard.parent, copy, ignore=shutil.ignore_patterns(".storyboard"))
    (copy / "build" / "film" / "preview" / "report.html").unlink(missing_ok=True)
    result = report_cli("report", "film.yaml", "--exports", cwd=copy)
    assert result.status == 0, result.err
    assert result.out.strip() == str(Path("build/film/preview/report.html"))
    folder = copy / "build" / "film" / "preview"
    assert (folder / "report.html").is_file() and (folder / "film.otio").is_file()
    assert (folder / "film.contact.png").is_file()
    assert "wrote build/film/preview/film.otio" in result.err
    html = (folder / "report.html").read_text(encoding="utf-8")
    assert 'href="film.otio"' in html and 'href="film.contact.png"' in html
    relative = otio.adapters.read_from_file(str(folder / "film.otio"))
    urls = {c.media_reference.target_url for c in relative.find_clips()}
    assert urls == {"takes/open.mp4", "takes/c.mp4", "takes/d.mp4", "takes/e.mp4"}
    result = report_cli("report", "film.yaml", "--exports", "--absolute-paths", cwd=copy)
    assert result.status == 0, result.err
    absolute = otio.adapters.read_from_file(str(folder / "film.otio"))
    urls = {c.media_reference.target_url for c in absolute.find_clips()}
    names = ("open.mp4", "c.mp4", "d.mp4", "e.mp4")
    assert urls == {(folder / "takes" / name).resolve().as_uri() for name in names}
    result = report_cli("report", "film.yaml", "--absolute-paths", cwd=copy)
    assert result.status == 2 and "--absolute-paths is for the exports: add --exports" in result.err
