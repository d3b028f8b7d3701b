"""The HTML report of a build: one static page a writer opens from disk, with no server.

Place in the pipeline: the last stage (``... -> cut -> report``). It reads the film record
(:mod:`storyboard.exports.record`, ``build/NAME/build.json``) and writes
``build/NAME/report.html`` with its thumbnails in ``build/NAME/report_files/``. The page shows
the film and each take in HTML5 players, every shot of the cut in order with its first and
last frame (the exact frames, from :func:`storyboard.exports.contact_sheet.clip_frames`),
its prompt and its place in the storyboard, what each take cost and whether it came from the
cache or was generated, the totals, and the dependency graph as inline SVG
(:mod:`storyboard.report.graph_svg`). Links to the timeline exports and the contact sheet
appear when those files are in the build folder.

The page loads nothing from the network: media are relative links into the build folder,
styles are inline and the only script is a few lines that mark thumbnails that fail to load.
It is rendered with Jinja2 with autoescaping on (prompts are the writer's text) and has no
timestamp, so the same build gives the same page.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, StrictUndefined
from PIL import Image

from storyboard.core.files import PLAIN_FILES, Writer
from storyboard.exports.record import ClipPlacement, FilmRecord
from storyboard.report.graph_svg import graph_svg

REPORT_NAME = "report.html"
ASSETS = "report_files"
THUMB_WIDTH = 320
EXPORTS = (
    (".otio", "OpenTimelineIO timeline"),
    (".edl", "CMX 3600 EDL"),
    (".fcpxml", "Final Cut Pro X XML"),
    (".contact.png", "contact sheet"),
)


@dataclass(frozen=True)
class ShotView:
    """One clip as the page shows it."""

    index: int
    clip: ClipPlacement
    prompt: str
    first: str | None
    last: str | None
    size: tuple[int, int]


def usd(value: float | None) -> str:
    """Dollars for people: ``$0.42``, ``$0.336``, ``unknown``."""
    if value is None:
        return "unknown"
    text = f"{value:.4f}".rstrip("0")
    whole, _, cents = text.partition(".")
    return f"${whole}.{cents.ljust(2, '0')}"


def clock(seconds: float) -> str:
    """``M:SS.ss`` for a time in the film."""
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)}:{rest:05.2f}"


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("storyboard.report", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["usd"] = usd
    env.filters["clock"] = clock
    return env


def render_report(
    record: FilmRecord,
    *,
    shots: list[ShotView],
    link: dict[str, str],
    exports: list[tuple[str, str]],
) -> str:
    """The page's HTML.

    Args:
        record: the film record.
        shots: the clips of the cut, with their thumbnails' URLs.
        link: URL of every media file of the record (relative path -> URL from the page).
        exports: ``(URL, description)`` of each export file that exists.
    """
    template = _environment().get_template("report.html.j2")
    statuses = {t.id: t.status for t in record.takes}
    in_film = {c.shot for c in record.clips if c.card is None}
    left_out = [s for t in record.takes for s in t.shots if s not in in_film]
    first_frame = {
        view.clip.take: view.first for view in reversed(shots) if view.first and view.clip.take
    }
    return template.render(
        record=record,
        shots=shots,
        link=link,
        exports=exports,
        counts=record.status_counts(),
        left_out=left_out,
        posters=first_frame,
        graph=graph_svg(record.graph, statuses),
    )


def write_report(
    record: FilmRecord, out: Path | None = None, *, writer: Writer = PLAIN_FILES
) -> Path:
    """Write the report page of ``record`` and its thumbnails; return the page's path.

    Args:
        record: the film record (its ``root`` is the build folder).
        out: the page (default ``report.html`` in the build folder); the thumbnails go to
            ``report_files/`` beside it.
        writer: how files are written and stale thumbnails removed (the build folder's, for
            ``storyboard report``: only thumbnails it wrote are removed).
    """
    from storyboard.exports.contact_sheet import clip_frames

    page = out if out is not None else record.root / REPORT_NAME
    assets = page.parent / ASSETS
    written: set[Path] = set()
    shots: list[ShotView] = []
    for index, clip in enumerate(record.clips, start=1):
        urls: list[str | None] = []
        size = (THUMB_WIDTH, round(THUMB_WIDTH * record.output.height / record.output.width))
        for which, pixels in zip(("first", "last"), clip_frames(record, clip), strict=True):
            if pixels is None:
                urls.append(None)
                continue
            image = Image.fromarray(pixels)
            image.thumbnail((THUMB_WIDTH, THUMB_WIDTH), Image.Resampling.LANCZOS)
            size = image.size
            target = assets / f"{index:02d}-{clip.shot or 'card'}-{which}.png"
            _save_png(image, target, writer)
            written.add(target)
            urls.append(_url(target, page.parent))
        shots.append(ShotView(index, clip, record.prompt(clip.shot), urls[0], urls[1], size))
    if assets.is_dir():
        for stale in sorted(assets.glob("*.png")):
            if stale not in written:
                writer.remove_file(stale)
    media = {c.source for c in record.clips if c.source}
    for take in record.takes:
        media.update(take.variations)
        if take.video:
            media.add(take.video)
    if record.film:
        media.add(record.film)
    link = {m: _url(record.path(m), page.parent) for m in sorted(media)}
    exports = []
    for suffix, what in EXPORTS:
        file = record.root / f"{record.name}{suffix}"
        if file.exists():
            exports.append((_url(file, page.parent), f"{what} ({file.name})"))
    html = render_report(record, shots=shots, link=link, exports=exports)
    writer.write_file(page, html.encode("utf-8"))
    return page


def _save_png(image: Image.Image, target: Path, writer: Writer) -> None:
    from io import BytesIO

    buffer = BytesIO()
    image.save(buffer, format="PNG")
    data = buffer.getvalue()
    if target.is_file() and not target.is_symlink() and target.read_bytes() == data:
        return
    writer.write_file(target, data)


def _url(path: Path, base: Path) -> str:
    """A relative URL from a page in ``base`` to ``path``."""
    relative = Path(os.path.relpath(path.resolve(), base.resolve())).as_posix()
    return quote(relative)
