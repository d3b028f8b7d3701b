"""A contact sheet of the cut: each shot's first and last frame, its id and length, in a grid.

Place in the pipeline: an export of a finished build, read from its film record
(:mod:`storyboard.exports.record`). The frames are the exact ones the film shows at each
clip's in and out points, decoded with :mod:`storyboard.media.frames` (the first and last
frame of the clip's part of its take's video), so a hand-off that does not join up shows.
The HTML report (:mod:`storyboard.report`) takes its thumbnails from :func:`clip_frames` too.

The picture depends on nothing but the record and the videos: a fixed layout, Pillow's
embedded font (``ImageFont.load_default(size=...)``), no timestamps in the PNG, so two runs
write the same bytes.

A long cut's sheet is drawn in pages of :data:`PAGE_CLIPS` clips, one file each
(``NAME.contact.png``, then ``NAME.contact-2.png``...: :func:`page_paths`), one page at a time:
drawn as one picture, a 1,000-shot sheet would be 1516x63854 pixels (Pillow holds 4 bytes a
pixel: 387 MB). Between pages the C heap's free pages go back to the system.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageDraw, ImageFont

from storyboard.core.files import PLAIN_FILES, Writer
from storyboard.core.memory import give_back_memory
from storyboard.exports.record import ClipPlacement, FilmRecord, frame_count
from storyboard.media.frames import frame_array
from storyboard.media.probe import MediaError

Box = tuple[int, int, int, int]  # left, top, right, bottom (right and bottom exclusive)

BACKGROUND = (24, 24, 28)
FRAME_BACKGROUND = (0, 0, 0)
MISSING = (70, 70, 78)
TEXT = (235, 235, 240)
DIM = (150, 150, 160)
MARGIN = 16
GAP = 4
LABEL = 40
HEADER = 44
PAGE_CLIPS = 60
"""Clips on one page of the sheet (20 rows of 3: at most 1516x3880 pixels, 24 MB to draw)."""


@dataclass(frozen=True)
class Cell:
    """Where one clip sits on the sheet.

    Attributes:
        clip: the clip.
        index: its 1-based place in the cut.
        box: the whole cell.
        first, last: the slots of its first and last frame; a frame of another aspect
            ratio than the film's is letterboxed inside its slot.
        label: the top-left corner of its caption.
    """

    clip: ClipPlacement
    index: int
    box: Box
    first: Box
    last: Box
    label: tuple[int, int]


@dataclass(frozen=True)
class SheetLayout:
    """A page's size and its cells, in cut order (the whole sheet, for a short cut)."""

    size: tuple[int, int]
    cells: tuple[Cell, ...]
    thumb: tuple[int, int]
    page: int = 1
    pages: int = 1


def page_paths(out_png: Path, clips: int, per_page: int = PAGE_CLIPS) -> list[Path]:
    """The files of a sheet of ``clips`` clips: ``out_png`` for the first page, then
    ``STEM-2.png``, ``STEM-3.png``... (``film.contact-2.png``)."""
    count = max(1, -(-clips // per_page))
    stem = out_png.name.removesuffix(".png")
    return [out_png] + [out_png.with_name(f"{stem}-{n}.png") for n in range(2, count + 1)]


def clip_frames(
    record: FilmRecord, clip: ClipPlacement
) -> tuple[NDArray[np.uint8] | None, NDArray[np.uint8] | None]:
    """The RGB pixels of a clip's first and last frame; ``None`` where there is no video.
    A title card's or credits' are the film's own frames (the cut drew them)."""
    if clip.card is not None:
        film = record.path(record.film) if record.film else None
        if film is None or not film.is_file():
            return None, None
        start = frame_count(clip.start, record.output.fps)
        length = frame_count(clip.duration, record.output.fps)
        try:
            return frame_array(film, start), frame_array(film, start + max(0, length - 1))
        except MediaError:
            return None, None
    video = record.path(clip.source)
    if not clip.source or not video.is_file():
        return None, None
    first, last = clip.frames(record.output.fps)
    total: int | None = None
    try:
        take = record.take(clip.take)
    except KeyError:
        take = None
    if take is not None and take.duration is not None:
        total = frame_count(take.duration, record.output.fps)
    # "first" and "last" decode the frames a player shows at the ends, whatever the
    # container claims; an index is exact inside the video.
    which_last: str | int = "last" if total is None or last >= total - 1 else last
    try:
        return (
            frame_array(video, "first" if first == 0 else first),
            frame_array(video, which_last),
        )
    except MediaError:
        return None, None


def sheet_layout(
    record: FilmRecord,
    *,
    columns: int = 3,
    thumb_width: int = 240,
    clips: Sequence[ClipPlacement] | None = None,
    first: int = 1,
    page: tuple[int, int] = (1, 1),
) -> SheetLayout:
    """The geometry of the sheet: a cell per clip, ``columns`` cells a row.

    A cell is the clip's first and last frame side by side, each ``thumb_width`` wide at the
    film's aspect ratio, over a two-line caption. ``clips`` (default: all of them) are those
    of one page, the first of them the ``first``-th of the cut; ``page`` is its number and
    the number of pages.
    """
    clips = record.clips if clips is None else clips
    first_index = first
    columns = max(1, min(columns, len(clips) or 1))
    thumb = (thumb_width, max(1, round(thumb_width * record.output.height / record.output.width)))
    cell_w = 2 * thumb[0] + GAP
    cell_h = thumb[1] + LABEL
    rows = (len(clips) + columns - 1) // columns
    width = 2 * MARGIN + columns * cell_w + (columns - 1) * MARGIN
    height = HEADER + MARGIN + rows * cell_h + max(0, rows - 1) * MARGIN + MARGIN
    cells = []
    for n, clip in enumerate(clips):
        row, col = divmod(n, columns)
        left = MARGIN + col * (cell_w + MARGIN)
        top = HEADER + MARGIN + row * (cell_h + MARGIN)
        first_box = (left, top, left + thumb[0], top + thumb[1])
        last_box = (left + thumb[0] + GAP, top, left + cell_w, top + thumb[1])
        cells.append(
            Cell(clip, first_index + n, (left, top, left + cell_w, top + cell_h), first_box,
                 last_box, (left, top + thumb[1] + 4))
        )  # fmt: skip
    return SheetLayout((width, height), tuple(cells), thumb, *page)


def contact_sheet(
    record: FilmRecord,
    out_png: Path,
    *,
    columns: int = 3,
    thumb_width: int = 240,
    writer: Writer = PLAIN_FILES,
    per_page: int | None = None,
) -> SheetLayout:
    """Draw the contact sheet of ``record``'s cut and write it to ``out_png`` (and, past
    ``per_page`` clips, to the further pages of :func:`page_paths`).

    Args:
        record: the film record.
        out_png: the PNG of its first page (each page is written atomically).
        columns: cells per row.
        thumb_width: width of one frame on the sheet, in pixels.
        writer: how the files are written (the build folder's, for a build).
        per_page: clips on one page (default :data:`PAGE_CLIPS`).

    Returns:
        The first page's layout: where each of its clips' frames were drawn.
    """
    clips = record.clips
    per_page = PAGE_CLIPS if per_page is None else max(1, per_page)
    paths = page_paths(out_png, len(clips), per_page)
    layouts = []
    for number, path in enumerate(paths, start=1):
        start = (number - 1) * per_page
        layout = sheet_layout(
            record, columns=columns, thumb_width=thumb_width,
            clips=clips[start : start + per_page], first=start + 1, page=(number, len(paths)),
        )  # fmt: skip
        writer.write_file(path, _draw_page(record, layout))
        layouts.append(layout)
    return layouts[0]


def _draw_page(record: FilmRecord, layout: SheetLayout) -> bytes:
    """One page of the sheet, as PNG bytes."""
    sheet = Image.new("RGB", layout.size, BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    title_font = ImageFont.load_default(size=18)
    font = ImageFont.load_default(size=13)
    small = ImageFont.load_default(size=11)
    seconds = f"{record.duration:.2f} s"
    title = f"{record.title}  ·  {len(record.clips)} shots, {seconds}"
    if layout.pages > 1:
        shown = f"{layout.cells[0].index}-{layout.cells[-1].index}"
        title += f"  ·  page {layout.page} of {layout.pages} (shots {shown})"
    draw.text((MARGIN, 14), title, fill=TEXT, font=title_font)
    # Decoding lets go of the interpreter lock: a few clips' frames are found at once (and
    # only a few are held: a 1080p frame is 6 MB).
    workers = min(8, os.cpu_count() or 2)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for at in range(0, len(layout.cells), workers):
            chunk = layout.cells[at : at + workers]
            found = pool.map(lambda cell: clip_frames(record, cell.clip), chunk)
            for cell, frames in zip(chunk, found, strict=True):
                _draw_cell(sheet, draw, cell, frames, (font, small))
            give_back_memory()  # each video opened and decoded leaves holes in the C heap
    buffer = BytesIO()
    # Lossless all the same: zlib's fastest level writes it about 3x faster than the default
    # (most of a re-cut's finish), for a somewhat larger file.
    sheet.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def _draw_cell(
    sheet: Image.Image,
    draw: ImageDraw.ImageDraw,
    cell: Cell,
    frames: tuple[NDArray[np.uint8] | None, NDArray[np.uint8] | None],
    fonts: tuple[Any, Any],
) -> None:
    """One clip's cell: its first and last frame, its number, shot, length and take."""
    font, small = fonts
    for slot, pixels in zip((cell.first, cell.last), frames, strict=True):
        _paste(sheet, draw, slot, pixels)
    x, y = cell.label
    draw.text((x, y), f"{cell.index}. {cell.clip.label}", fill=TEXT, font=font)
    length = f"{cell.clip.duration:.2f} s"
    right = cell.box[2] - int(draw.textlength(length, font=font))
    draw.text((right, y), length, fill=TEXT, font=font)
    detail = f"take {cell.clip.take}  ·  {cell.clip.source_in:g}-{cell.clip.source_out:g} s"
    if cell.clip.card is not None:
        detail = f"drawn by the cut at {cell.clip.start:g} s"
    if cell.clip.transition != "cut":
        detail += f"  ·  {cell.clip.transition} {cell.clip.transition_duration:g} s"
    draw.text((x, y + 18), detail, fill=DIM, font=small)


def _paste(
    sheet: Image.Image, draw: ImageDraw.ImageDraw, slot: Box, pixels: NDArray[np.uint8] | None
) -> None:
    """Draw a frame fitted into ``slot`` (letterboxed), or a 'no video' card."""
    width, height = slot[2] - slot[0], slot[3] - slot[1]
    if pixels is None:
        draw.rectangle((slot[0], slot[1], slot[2] - 1, slot[3] - 1), fill=MISSING)
        draw.text((slot[0] + 8, slot[1] + 8), "no video", fill=TEXT,
                  font=ImageFont.load_default(size=13))  # fmt: skip
        return
    draw.rectangle((slot[0], slot[1], slot[2] - 1, slot[3] - 1), fill=FRAME_BACKGROUND)
    image = Image.fromarray(np.ascontiguousarray(pixels))
    scale = min(width / image.width, height / image.height)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    image = image.resize(size, Image.Resampling.LANCZOS)
    left = slot[0] + (width - size[0]) // 2
    top = slot[1] + (height - size[1]) // 2
    sheet.paste(image, (left, top))
