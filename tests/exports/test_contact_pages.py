"""A long cut's contact sheet comes in pages, drawn one at a time: no page is larger than
:data:`PAGE_CLIPS` clips' worth, whatever the number of shots; a build removes the pages a
longer cut left."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from storyboard.backends.preview import PreviewBackend
from storyboard.build.pipeline import build
from storyboard.exports import contact_sheet as sheets
from storyboard.exports.contact_sheet import PAGE_CLIPS, contact_sheet, page_paths, sheet_layout
from tests.exports.film import SHOTS, Built

Project = Callable[[dict[str, str | bytes]], Path]


def test_pages_hold_the_clips_in_order(built: Built, tmp_path: Path) -> None:
    out = tmp_path / "film.contact.png"
    layout = contact_sheet(built.record, out, per_page=2)
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["film.contact-2.png", "film.contact-3.png", "film.contact.png"]
    assert (layout.page, layout.pages) == (1, 3)
    assert [c.clip.shot for c in layout.cells] == ["a", "b"]
    shots = []
    for number, path in enumerate(page_paths(out, len(SHOTS), 2), start=1):
        start = (number - 1) * 2
        page = sheet_layout(
            built.record, clips=built.record.clips[start : start + 2], first=start + 1,
            page=(number, 3),
        )  # fmt: skip
        with Image.open(path) as image:
            assert image.size == page.size
        shots += [(c.index, c.clip.shot) for c in page.cells]
    assert shots == list(enumerate(SHOTS, start=1))


def test_one_page_is_the_sheet_as_before(built: Built, tmp_path: Path) -> None:
    paged = contact_sheet(built.record, tmp_path / "a.png")
    assert (paged.page, paged.pages) == (1, 1)
    assert paged == sheet_layout(built.record)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png"]


def test_no_page_is_larger_than_a_pages_worth_of_clips(built: Built, tmp_path: Path) -> None:
    """1,000 clips: drawn as one picture the sheet would be 1516x63854 pixels (290 MB)."""
    many = replace(built.record, clips=tuple(built.record.clips[i % 5] for i in range(1000)))
    full_page = sheet_layout(many, clips=many.clips[:PAGE_CLIPS])
    drawn: list[tuple[int, int]] = []

    def measured(record: object, layout: sheets.SheetLayout) -> bytes:
        drawn.append(layout.size)
        return b"png"

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sheets, "_draw_page", measured)
        contact_sheet(many, tmp_path / "many.png")
    assert len(drawn) == -(-1000 // PAGE_CLIPS)
    assert max(w * h for w, h in drawn) <= full_page.size[0] * full_page.size[1]
    assert full_page.size[0] * full_page.size[1] * 3 < 40 * 2**20


def test_a_shorter_cut_removes_the_pages_of_the_longer_one(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sheets, "PAGE_CLIPS", 2)
    shots = "".join(f"  - {{id: s{n}, duration: 3, prompt: shot {n}}}\n" for n in range(5))
    film = project({"film.yaml": f"storyboard: 1\ntitle: Pages\nshots:\n{shots}"}) / "film.yaml"
    folder = film.parent / "build" / "film" / "preview"
    build(film, backend=PreviewBackend(scale=1 / 12))
    names = sorted(p.name for p in folder.glob("film.contact*.png"))
    assert names == ["film.contact-2.png", "film.contact-3.png", "film.contact.png"]
    with Image.open(folder / "film.contact-3.png") as image:
        assert np.asarray(image).std() > 5  # a drawn page, not an empty one
    shorter = "".join(f"  - {{id: s{n}, duration: 3, prompt: shot {n}}}\n" for n in range(3))
    film.write_text(f"storyboard: 1\ntitle: Pages\nshots:\n{shorter}", encoding="utf-8")
    build(film, backend=PreviewBackend(scale=1 / 12))
    names = sorted(p.name for p in folder.glob("film.contact*.png"))
    assert names == ["film.contact-2.png", "film.contact.png"]
