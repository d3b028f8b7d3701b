"""The report shows a take's variations side by side, each a thumbnail of its own middle
frame that plays in place; ``build`` writes the report again whenever one was written."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from storyboard.backends.preview import PreviewBackend
from storyboard.build.pipeline import build
from storyboard.exports.record import frame_count, read_record, record_path
from storyboard.media.frames import frame_array
from storyboard.report import ASSETS, REPORT_NAME, write_report
from tests.browser import keep_screenshot, needs_webdriver
from tests.live.conftest import FILM
from tests.report.test_report import Page


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("variations") / "project"
    (root / ".storyboard").mkdir(parents=True)
    (root / "film.yaml").write_text(FILM, encoding="utf-8")
    assert build(root / "film.yaml", backend=PreviewBackend(scale=1 / 12)).ok
    return root


def folder(root: Path) -> Path:
    return root / "build" / "film" / "preview"


def test_each_variation_is_a_thumbnail_of_its_own_beside_the_others(
    project: Path, tmp_path: Path
) -> None:
    record = read_record(record_path(folder(project)))
    page = write_report(record, tmp_path / "report.html")
    html = page.read_text(encoding="utf-8")
    seen = Page(html)
    thumbs = [img["src"] for img in seen.images]  # shots' first and last frames only
    assert all("take-" not in str(src) for src in thumbs)
    assert ">1</a>" not in html and "variations:" not in html  # no more numbered links
    for take, count in (("a", 4), ("storm", 2)):
        posters = [tmp_path / ASSETS / f"take-{take}-v{n}.png" for n in range(1, count + 1)]
        for n in range(1, count + 1):
            assert f'poster="{ASSETS}/take-{take}-v{n}.png"' in html
        pictures = [np.asarray(Image.open(p).convert("RGB")) for p in posters]
        take_record = record.take(take)
        middle = frame_count(take_record.duration / 2, record.output.fps)
        for picture, video in zip(pictures, take_record.variations, strict=True):
            # the thumbnail is its own variation's middle frame (160x90: not scaled)
            assert np.array_equal(picture, frame_array(record.path(video), middle))
        assert len({p.tobytes() for p in pictures}) == count  # and each a picture of its own
    a = html[html.index('id="take-a"') :]
    a = a[: a.index("</article>")]
    assert a.count('<figure class="variation') == 4
    assert a.count('<figure class="variation picked"') == 1
    assert "variation 2 · $0.336" in " ".join(a.split())


@needs_webdriver
def test_the_variations_are_drawn_side_by_side(driver: Any, project: Path) -> None:
    from selenium.webdriver.common.by import By

    record = read_record(record_path(folder(project)))
    page = write_report(record, folder(project).parent / "elsewhere" / "report.html")
    driver.get(page.as_uri())
    figures = driver.find_elements(By.CSS_SELECTOR, "#take-a figure.variation")
    assert len(figures) == 4 and len({f.location["y"] for f in figures}) == 1
    posters = driver.execute_script(
        "return Array.from(document.querySelectorAll('#take-a figure video[poster]'))"
        ".map(v => v.poster.split('/').pop())"
    )
    assert posters == [f"take-a-v{n}.png" for n in range(1, 5)]
    driver.execute_script("document.getElementById('take-a').scrollIntoView()")
    keep_screenshot(driver, "report-variations")


def test_build_writes_the_report_again_whenever_one_was_written(
    project: Path, tmp_path: Path
) -> None:
    root = tmp_path / "project"
    shutil.copytree(project, root)
    out = folder(root)
    storyboard = root / "film.yaml"
    assert not (out / REPORT_NAME).exists()  # a build writes no report of its own
    assert build(storyboard, backend=PreviewBackend(scale=1 / 12)).ok
    assert not (out / REPORT_NAME).exists()
    from storyboard.build.state.outputs import BuildFolder
    from storyboard.build.state.safe import Tree

    outputs = BuildFolder(Tree(root), root / "build" / "film", storyboard).backend("preview")
    write_report(read_record(record_path(out)), writer=outputs)  # as `storyboard report` does
    before = (out / REPORT_NAME).read_text(encoding="utf-8")
    assert "waves crash on the rocks" not in before
    storyboard.write_text(FILM.replace("waves break on", "waves crash on"), encoding="utf-8")
    assert build(storyboard, backend=PreviewBackend(scale=1 / 12)).ok
    after = (out / REPORT_NAME).read_text(encoding="utf-8")
    assert "waves crash on the rocks" in after and "waves break on the rocks" not in after
    assert f"{ASSETS}/take-storm-v2.png" in after
    # the next build finds every take cached, and says so on the page
    assert build(storyboard, backend=PreviewBackend(scale=1 / 12)).ok
    assert 'class="badge status-generated"' not in (out / REPORT_NAME).read_text(encoding="utf-8")
    # a build with nothing to do leaves the page as it was (not even written again)
    stamp = (out / REPORT_NAME).stat().st_mtime_ns
    assert build(storyboard, backend=PreviewBackend(scale=1 / 12)).ok
    assert (out / REPORT_NAME).stat().st_mtime_ns == stamp
