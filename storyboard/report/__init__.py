"""The HTML report of a build: one static page a writer opens from disk, with no server.

Place in the pipeline: the last stage (``... -> cut -> report``). It reads the film record
(:mod:`storyboard.exports.record`, ``build/NAME/build.json``) and writes
``build/NAME/report.html`` with its thumbnails in ``build/NAME/report_files/``. The page shows
the film and each take in HTML5 players, every shot of the cut in order with its first and
last frame (the exact frames, from :func:`storyboard.exports.contact_sheet.clip_frames`),
its prompt and its place in the storyboard, its lines of dialogue with the times their
subtitles show in the film, what each take cost and whether it came from the cache or was
generated, the totals, and the dependency graph as inline SVG
(:mod:`storyboard.report.graph_svg`). Links to the timeline exports, the contact sheet and the
subtitle files appear when those files are in the build folder (the film's player shows the
WebVTT subtitles, where the browser loads a track from disk).

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

from storyboard.core import money
from storyboard.core.files import PLAIN_FILES, Writer
from storyboard.cut.cues import Cue
from storyboard.exports.record import ClipPlacement, FilmRecord, SpokenLine, TakeRecord
from storyboard.report.graph_svg import graph_svg

REPORT_NAME = "report.html"
ASSETS = "report_files"
THUMB_WIDTH = 320
EXPORTS = (
    (".otio", "OpenTimelineIO timeline"),
    (".edl", "CMX 3600 EDL"),
    (".fcpxml", "Final Cut Pro X XML"),
    (".contact.png", "contact sheet"),
    (".srt", "subtitles, SubRip"),
    (".vtt", "subtitles, WebVTT"),
)


@dataclass(frozen=True)
class VariationView:
    """One variation of a take, as the page shows it beside the others."""

    number: int
    video: str  # its URL from the page
    thumb: str | None  # its middle frame's thumbnail, ``None`` where it cannot be decoded
    size: tuple[int, int]
    price: float | None  # its share of the take's estimate
    picked: bool  # the one the film uses


@dataclass(frozen=True)
class ShotView:
    """One clip as the page shows it."""

    index: int
    clip: ClipPlacement
    prompt: str
    first: str | None
    last: str | None
    size: tuple[int, int]
    lines: tuple[tuple[SpokenLine, Cue | None], ...] = ()
    """The shot's lines, each with its cue in this clip (``None``: cut away by a trim)."""


def usd(value: float | None) -> str:
    """Dollars in the one format storyboard prints everywhere (``$0.4480``, see
    :mod:`storyboard.core.money`), or ``unknown``."""
    return "unknown" if value is None else money.usd(value)


def clock(seconds: float) -> str:
    """``M:SS.ss`` for a time in the film."""
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)}:{rest:05.2f}"


def template_environment() -> Environment:
    """The Jinja2 environment of storyboard's pages (autoescaped; ``usd``, ``clock``)."""
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
    track: str | None = None,
    variations: dict[str, list[VariationView]] | None = None,
) -> str:
    """The page's HTML.

    Args:
        record: the film record.
        shots: the clips of the cut, with their thumbnails' URLs.
        link: URL of every media file of the record (relative path -> URL from the page).
        exports: ``(URL, description)`` of each export file that exists.
        track: the URL of the WebVTT subtitles, for the film's player, if they exist.
        variations: the variations of each take that has several, by take id.
    """
    template = template_environment().get_template("report.html.j2")
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
        track=track,
        counts=record.status_counts(),
        left_out=left_out,
        posters=first_frame,
        variations=variations or {},
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
        cues = {c.line: c for c in record.subtitles if c.clip == index - 1}
        lines = tuple((line, cues.get(k)) for k, line in enumerate(record.lines(clip.shot)))
        shots.append(ShotView(index, clip, record.prompt(clip.shot), urls[0], urls[1], size, lines))
    link = {m: _url(record.path(m), page.parent) for m in sorted(record_media(record))}
    variations = {
        take.id: _variations(record, take, assets, page.parent, link, writer, written)
        for take in record.takes
        if len(take.variations) > 1
    }
    if assets.is_dir():
        for stale in sorted(assets.glob("*.png")):
            if stale not in written:
                writer.remove_file(stale)
    exports = []
    for suffix, what in EXPORTS:
        file = record.root / f"{record.name}{suffix}"
        if file.exists():
            exports.append((_url(file, page.parent), f"{what} ({file.name})"))
    vtt = record.root / f"{record.name}.vtt"
    track = _url(vtt, page.parent) if record.film and vtt.exists() else None
    html = render_report(
        record, shots=shots, link=link, exports=exports, track=track, variations=variations
    ).encode("utf-8")
    if not (page.is_file() and not page.is_symlink() and page.read_bytes() == html):
        writer.write_file(page, html)  # an unchanged page is left as it is
    return page


def record_media(record: FilmRecord) -> set[str]:
    """Every video of the record: the clips' sources, each take's variations, the film (the
    files of the build folder a page of the build may show)."""
    media = {c.source for c in record.clips if c.source}
    for take in record.takes:
        media.update(take.variations)
        if take.video:
            media.add(take.video)
    if record.film:
        media.add(record.film)
    return media


def _variations(
    record: FilmRecord,
    take: TakeRecord,
    assets: Path,
    base: Path,
    link: dict[str, str],
    writer: Writer,
    written: set[Path],
) -> list[VariationView]:
    """A take's variations, each with a thumbnail of its middle frame (the first frames of
    variations that start on the same image are the same picture)."""
    from storyboard.exports.record import frame_count
    from storyboard.media.frames import frame_array
    from storyboard.media.probe import MediaError

    middle = frame_count(take.duration / 2, record.output.fps) if take.duration else 0
    price = take.estimate / len(take.variations) if take.estimate is not None else None
    views = []
    size = (THUMB_WIDTH, round(THUMB_WIDTH * record.output.height / record.output.width))
    for number, path in enumerate(take.variations, start=1):
        thumb = None
        video = record.path(path)
        try:
            pixels = frame_array(video, middle) if video.is_file() else None
        except (MediaError, OSError, ValueError):
            pixels = None
        if pixels is not None:
            image = Image.fromarray(pixels)
            image.thumbnail((THUMB_WIDTH, THUMB_WIDTH), Image.Resampling.LANCZOS)
            size = image.size
            target = assets / f"take-{take.id}-v{number}.png"
            _save_png(image, target, writer)
            written.add(target)
            thumb = _url(target, base)
        views.append(VariationView(number, link[path], thumb, size, price, path == take.video))
    return views


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
