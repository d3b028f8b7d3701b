"""The cut as an editorial timeline: OpenTimelineIO, and CMX 3600 EDL or FCPXML through it.

Place in the pipeline: an export of a finished build, read from its film record
(:mod:`storyboard.exports.record`), so that an editor can take the film into their own tool
and finish it there. :func:`timeline_from_record` builds one OTIO timeline; the writers
serialize it with an OTIO adapter chosen by the output's suffix:

=========== ============= ==========================================================
suffix      adapter       where it comes from
=========== ============= ==========================================================
``.otio``   ``otio_json`` OpenTimelineIO itself
``.edl``    ``cmx_3600``  the ``otio-cmx3600-adapter`` package
``.fcpxml`` ``fcpx_xml``  the ``otio-fcpx-xml-adapter`` package
=========== ============= ==========================================================

Since OpenTimelineIO 0.17 the EDL and FCPXML adapters are separate packages; a format whose
adapter is missing raises :class:`ExportUnavailable` (and :func:`export_all` skips it and
says why).

The timeline has one video track and, in cut order, one clip per shot: named after the shot,
pointing at its take's video (an ``ExternalReference`` with the file's ``file://`` URL and
the video's length as its available range), with the exact source range at 24 fps, and one
marker at its first frame that carries the shot id (name) and its ``FILE:LINE:COL`` in the
storyboard (comment). Where a clip starts before the previous one ends (a crossfade), the
two are joined by an OTIO ``Transition`` (``SMPTE_Dissolve``; a ``fade`` is a custom
transition) that starts at the clip's start in the film (``in_offset`` 0) and runs for the
overlap (``out_offset``); the previous clip's trimmed range ends there and the rest of the
media it shows is its handle. So every clip's ``range_in_parent()`` starts at its start in
the film, the track is as long as the film, and ``visible_range()`` of every clip is exactly
its source range in the record. A hole between clips becomes a ``Gap``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import opentimelineio as otio  # type: ignore[import-untyped]

from storyboard.core.errors import BuildError
from storyboard.core.files import PLAIN_FILES, Writer
from storyboard.exports.record import ClipPlacement, FilmRecord, frame_count

ADAPTERS = {".otio": "otio_json", ".edl": "cmx_3600", ".fcpxml": "fcpx_xml"}
PACKAGES = {"cmx_3600": "otio-cmx3600-adapter", "fcpx_xml": "otio-fcpx-xml-adapter"}
MARKER_COLOR = "GREEN"


class ExportUnavailable(BuildError):
    """The OTIO adapter a format needs is not installed."""


def available_formats() -> dict[str, bool]:
    """Each supported suffix and whether its adapter is installed here."""
    installed = set(otio.adapters.available_adapter_names())
    return {suffix: name in installed for suffix, name in ADAPTERS.items()}


def timeline_from_record(record: FilmRecord) -> Any:
    """The record's cut as an ``otio.schema.Timeline``. See the module docstring."""
    fps = record.output.fps
    track = otio.schema.Track(name="film", kind=otio.schema.TrackKind.Video)
    end = 0  # where the track ends so far, in frames
    previous: Any = None
    for placement in record.clips:
        start = frame_count(placement.start, fps)
        clip = _clip(record, placement)
        length = clip.source_range.duration.to_frames()
        if start > end:
            track.append(otio.schema.Gap(duration=otio.opentime.RationalTime(start - end, fps)))
            end = start
        overlap = min(end - start, length)
        if overlap > 0 and previous is not None:
            shown = previous.source_range
            overlap = min(overlap, shown.duration.to_frames())
            previous.source_range = otio.opentime.TimeRange(
                shown.start_time, otio.opentime.RationalTime(shown.duration.value - overlap, fps)
            )
            track.append(_transition(placement, overlap, fps))
            end -= overlap
        track.append(clip)
        end += length
        previous = clip
    return otio.schema.Timeline(
        name=record.title,
        tracks=[track],
        global_start_time=otio.opentime.RationalTime(0, fps),
        metadata={
            "storyboard": {
                "name": record.name,
                "storyboard": record.storyboard,
                "backend": record.backend,
                "film": record.film,
                "width": record.output.width,
                "height": record.output.height,
            }
        },
    )


def _clip(record: FilmRecord, placement: ClipPlacement) -> Any:
    fps = record.output.fps
    take = _take(record, placement.take)
    first = frame_count(placement.source_in, fps)
    length = max(0, frame_count(placement.source_out, fps) - first)
    source_range = otio.opentime.TimeRange(
        otio.opentime.RationalTime(first, fps), otio.opentime.RationalTime(length, fps)
    )
    video = record.path(placement.source)
    reference: Any
    if take is not None and take.video is not None and video.exists():
        available = None
        if take.duration is not None:
            available = otio.opentime.TimeRange(
                otio.opentime.RationalTime(0, fps),
                otio.opentime.RationalTime(frame_count(take.duration, fps), fps),
            )
        reference = otio.schema.ExternalReference(
            target_url=video.resolve().as_uri(), available_range=available
        )
        reference.name = placement.take
    else:
        reference = otio.schema.MissingReference(name=placement.take)
    info = {
        "shot": placement.shot,
        "take": placement.take,
        "source": placement.source,
        "position": placement.position,
        "transition": placement.transition,
        "transition_duration": placement.transition_duration,
    }
    clip = otio.schema.Clip(
        name=placement.shot,
        media_reference=reference,
        source_range=source_range,
        metadata={"storyboard": info},
    )
    clip.markers.append(
        otio.schema.Marker(
            name=placement.shot,
            marked_range=otio.opentime.TimeRange(
                source_range.start_time, otio.opentime.RationalTime(0, fps)
            ),
            color=MARKER_COLOR,
            comment=placement.position,
            metadata={"storyboard": {"shot": placement.shot, "position": placement.position}},
        )
    )
    return clip


def _transition(placement: ClipPlacement, frames: int, fps: int) -> Any:
    fade = placement.transition == "fade"
    return otio.schema.Transition(
        name=f"{'fade' if fade else 'crossfade'} into {placement.shot}",
        transition_type=(
            otio.schema.TransitionTypes.Custom
            if fade
            else otio.schema.TransitionTypes.SMPTE_Dissolve
        ),
        in_offset=otio.opentime.RationalTime(0, fps),
        out_offset=otio.opentime.RationalTime(frames, fps),
        metadata={"storyboard": {"kind": placement.transition, "seconds": frames / fps}},
    )


def _take(record: FilmRecord, take_id: str) -> Any:
    try:
        return record.take(take_id)
    except KeyError:
        return None


def export_timeline(record: FilmRecord, out_path: Path, *, writer: Writer = PLAIN_FILES) -> Path:
    """Write the cut to ``out_path`` in the format its suffix names (.otio, .edl, .fcpxml).

    Raises:
        ExportUnavailable: the suffix is unknown, or its OTIO adapter is not installed.
        BuildError: the adapter cannot express this timeline.
    """
    suffix = out_path.suffix.lower()
    adapter = ADAPTERS.get(suffix)
    if adapter is None:
        known = ", ".join(ADAPTERS)
        raise ExportUnavailable(f"cannot export '{out_path.name}': use one of {known}")
    if adapter not in otio.adapters.available_adapter_names():
        raise ExportUnavailable(
            f"exporting {suffix} needs the OpenTimelineIO adapter '{adapter}': "
            f"pip install {PACKAGES.get(adapter, adapter)}"
        )
    timeline = timeline_from_record(record)
    try:
        # Adapters may edit the timeline they write (the EDL writer moves cut points), and
        # write_to_string leaves the file alone until the text is whole.
        text = otio.adapters.write_to_string(timeline.deepcopy(), adapter_name=adapter)
    except otio.exceptions.OTIOError as exc:
        raise BuildError(f"cannot write {out_path.name} ({adapter}): {exc}") from exc
    writer.write_file(out_path, text.encode("utf-8"))
    return out_path


def export_otio(record: FilmRecord, out_path: Path) -> Path:
    """Write the cut as an OpenTimelineIO file (``.otio`` JSON); return ``out_path``."""
    if out_path.suffix.lower() != ".otio":
        raise ExportUnavailable(f"an OpenTimelineIO file ends in .otio, not '{out_path.name}'")
    return export_timeline(record, out_path)


def export_all(
    record: FilmRecord,
    folder: Path | None = None,
    *,
    stem: str | None = None,
    writer: Writer = PLAIN_FILES,
) -> dict[str, Path | str]:
    """Write every timeline format whose adapter is installed.

    Args:
        record: the film record.
        folder: where to write (default: the build folder).
        stem: the file names' stem (default: the storyboard's name).
        writer: how the files are written (the build folder's, for a build).

    Returns:
        By suffix: the file written, or why it was skipped (a missing adapter).
    """
    target = folder if folder is not None else record.root
    name = stem or record.name
    done: dict[str, Path | str] = {}
    for suffix in ADAPTERS:
        try:
            done[suffix] = export_timeline(record, target / f"{name}{suffix}", writer=writer)
        except ExportUnavailable as exc:
            done[suffix] = str(exc)
    return done
