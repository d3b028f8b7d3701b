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

The timeline (docs/exports.md has the whole picture):

- a video track ``film``: in cut order, one clip per shot (its take's video, the exact
  source range at 24 fps, a marker with the shot id and its ``FILE:LINE:COL``), a clip per
  title card or credits (a ``GeneratorReference`` of kind ``title``/``credits`` carrying the
  text), a caption as a marker over the frames it covers. A crossfade is an
  ``SMPTE_Dissolve`` transition that starts at the incoming clip's start (``in_offset`` 0)
  and runs for the overlap (``out_offset``), the outgoing clip trimmed there and the rest its
  handle. A dip to black, and the film's fades, are the CMX convention for a fade: a
  dissolve from the clip into a gap (black) over its last frames, and from a gap into the
  next clip over its first. So every clip's ``range_in_parent()`` starts at its start in
  the film, every track is as long as the film, and each clip's ``visible_range()`` is
  exactly its source range in the record;
- an audio track ``sound``: the same clips' own sound (the takes' videos), with each clip's
  gain as a ``Volume`` effect (a muted clip is disabled), and the same transitions;
- an audio track per music cue: a gap up to where it starts, the file from its ``start``
  (a looped cue: one clip per pass), its fades as dissolves from and into gaps, its gain as
  a ``Volume`` effect and its ducking in the metadata;
- the subtitles as markers on the timeline's stack.

Media paths are relative to the export's folder (``takes/a.mp4``), so a build folder can be
moved or shared whole; ``absolute_paths`` writes ``file://`` URLs instead.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from fractions import Fraction
from pathlib import Path
from typing import Any

import opentimelineio as otio  # type: ignore[import-untyped]

from storyboard.core.errors import BuildError
from storyboard.core.files import PLAIN_FILES, Writer
from storyboard.cut.cues import Cue
from storyboard.exports.record import ClipPlacement, FilmRecord, frame_count

ADAPTERS = {".otio": "otio_json", ".edl": "cmx_3600", ".fcpxml": "fcpx_xml"}
PACKAGES = {"cmx_3600": "otio-cmx3600-adapter", "fcpx_xml": "otio-fcpx-xml-adapter"}
MARKER_COLOR = "GREEN"
CAPTION_COLOR = "YELLOW"
SUBTITLE_COLOR = "CYAN"


class ExportUnavailable(BuildError):
    """The OTIO adapter a format needs is not installed."""


def available_formats() -> dict[str, bool]:
    """Each supported suffix and whether its adapter is installed here."""
    installed = set(otio.adapters.available_adapter_names())
    return {suffix: name in installed for suffix, name in ADAPTERS.items()}


class _Media:
    """Where the export finds a file of the record: relative to the export's folder, or an
    absolute ``file://`` URL."""

    def __init__(self, record: FilmRecord, folder: Path, absolute: bool) -> None:
        self.record, self.folder, self.absolute = record, folder, absolute

    def url(self, relative: str) -> str:
        path = self.record.path(relative)
        if self.absolute:
            return path.resolve().as_uri()
        return Path(os.path.relpath(path.resolve(), self.folder.resolve())).as_posix()


def timeline_from_record(
    record: FilmRecord,
    *,
    folder: Path | None = None,
    absolute_paths: bool = False,
    fades: bool = True,
) -> Any:
    """The record's cut as an ``otio.schema.Timeline``. See the module docstring.

    Args:
        record: the film record.
        folder: the folder the export is written to (media paths are relative to it);
            default the build folder.
        absolute_paths: write absolute ``file://`` URLs instead.
        fades: express dips and the film's fades as dissolves through black (False: leave
            them out, each clip whole, for a format that writes no transitions).
    """
    media = _Media(record, folder if folder is not None else record.root, absolute_paths)
    fps = record.output.fps
    total = frame_count(record.duration, fps)
    tracks = [
        _track(record, media, "film", otio.schema.TrackKind.Video, fades),
        _track(record, media, "sound", otio.schema.TrackKind.Audio, fades),
    ]
    tracks += [
        _music_track(record, media, cue, k, total, fades) for k, cue in enumerate(record.music, 1)
    ]
    timeline = otio.schema.Timeline(
        name=record.title,
        tracks=tracks,
        global_start_time=otio.opentime.RationalTime(0, fps),
        metadata={
            "storyboard": {
                "name": record.name,
                "storyboard": record.storyboard,
                "backend": record.backend,
                "film": record.film,
                "width": record.output.width,
                "height": record.output.height,
                **({"loudness": record.loudness} if record.loudness is not None else {}),
            }
        },
    )
    for cue in record.subtitles:
        first = frame_count(cue.start, fps)
        last = frame_count(cue.end, fps)
        timeline.tracks.markers.append(
            otio.schema.Marker(
                name=_one_line(cue.text),
                marked_range=_range(first, last - first, fps),
                color=SUBTITLE_COLOR,
                comment="subtitle",
                metadata={"storyboard": {"subtitle": _cue_json(cue)}},
            )
        )
    return timeline


def _cue_json(cue: Cue) -> dict[str, Any]:
    """What a subtitle marker keeps of its cue."""
    return {"start": cue.start, "end": cue.end, "text": cue.text, "who": cue.who, "shot": cue.shot}


def _range(start: float, length: float, fps: int) -> Any:
    return otio.opentime.TimeRange(
        otio.opentime.RationalTime(start, fps), otio.opentime.RationalTime(length, fps)
    )


def _track(record: FilmRecord, media: _Media, name: str, kind: str, fades: bool) -> Any:
    """The picture (``Video``) or the clips' own sound (``Audio``), clip by clip."""
    fps = record.output.fps
    audio = kind == otio.schema.TrackKind.Audio
    track = otio.schema.Track(name=name, kind=kind)
    end = 0  # where the track ends so far, in frames
    previous: Any = None
    fade_in, fade_out = frame_count(record.fade_in, fps), frame_count(record.fade_out, fps)
    for i, placement in enumerate(record.clips):
        start = frame_count(placement.start, fps)
        item = _clip(record, placement, media, audio)
        length = item.source_range.duration.to_frames()
        sounds = isinstance(item, otio.schema.Clip)  # not a card's silence
        if i == 0 and fades and fade_in and sounds and start == 0:
            # from black (a gap's endless handle) over the clip's own first frames
            track.append(otio.schema.Gap(duration=otio.opentime.RationalTime(0, fps)))
            track.append(_fade(f"fade in to {placement.label}", 0, fade_in, fps, "film fade in"))
        if start > end:
            track.append(otio.schema.Gap(duration=otio.opentime.RationalTime(start - end, fps)))
            end = start
        overlap = min(end - start, length)
        dip = frame_count(placement.transition_duration, fps)
        if overlap > 0 and previous is not None:
            overlap = _trim(previous, overlap, fps)
            track.append(_transition(placement, overlap, fps))
            end -= overlap
        elif placement.transition == "fade" and dip and fades and previous is not None:
            out, into = _trim(previous, dip // 2, fps), dip - dip // 2
            if out and isinstance(previous, otio.schema.Clip):
                track.append(_fade(f"fade to black before {placement.label}", 0, out, fps, "dip"))
            track.append(otio.schema.Gap(duration=otio.opentime.RationalTime(out, fps)))
            if sounds:
                track.append(_fade(f"fade from black into {placement.label}", 0, into, fps, "dip"))
        track.append(item)
        end += length
        previous = item
    if fades and fade_out and previous is not None:
        out = _trim(previous, fade_out, fps)
        if isinstance(previous, otio.schema.Clip):
            track.append(_fade("fade out", 0, out, fps, "film fade out"))
        track.append(otio.schema.Gap(duration=otio.opentime.RationalTime(out, fps)))
    return track


def _trim(item: Any, frames: int, fps: int) -> int:
    """Shorten a clip or gap at its end by up to ``frames`` (a clip's rest becomes the handle
    a following transition shows); how many frames that was."""
    shown = item.source_range
    frames = min(frames, shown.duration.to_frames())
    item.source_range = otio.opentime.TimeRange(
        shown.start_time, otio.opentime.RationalTime(shown.duration.value - frames, fps)
    )
    return frames


def _fade(name: str, before: int, after: int, fps: int, kind: str) -> Any:
    """A dissolve from or into black or silence (a gap): the CMX convention for a fade.
    ``before`` frames overlap the item before it, ``after`` the item after."""
    return otio.schema.Transition(
        name=name,
        transition_type=otio.schema.TransitionTypes.SMPTE_Dissolve,
        in_offset=otio.opentime.RationalTime(before, fps),
        out_offset=otio.opentime.RationalTime(after, fps),
        metadata={"storyboard": {"kind": kind, "seconds": (before + after) / fps}},
    )


def _clip(record: FilmRecord, placement: ClipPlacement, media: _Media, audio: bool) -> Any:
    """A shot's clip (its take's picture or sound), a card (a generator; a gap in the sound),
    with its markers."""
    fps = record.output.fps
    first = frame_count(placement.source_in, fps)
    length = max(0, frame_count(placement.source_out, fps) - first)
    source_range = _range(first, length, fps)
    if placement.card is not None:
        if audio:
            return otio.schema.Gap(source_range=_range(0, length, fps))
        return _card(placement, length, fps)
    take = _take(record, placement.take)
    video = record.path(placement.source)
    reference: Any
    if take is not None and take.video is not None and video.exists():
        available = None
        if take.duration is not None:
            available = _range(0, frame_count(take.duration, fps), fps)
        reference = otio.schema.ExternalReference(
            target_url=media.url(placement.source), available_range=available
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
        **({"volume": placement.volume} if placement.volume != 1 else {}),
    }
    clip = otio.schema.Clip(
        name=placement.shot,
        media_reference=reference,
        source_range=source_range,
        metadata={"storyboard": info},
    )
    if audio:
        if placement.volume != 1:
            clip.effects.append(_volume(placement.volume))
        clip.enabled = placement.volume > 0
        return clip
    clip.markers.append(
        otio.schema.Marker(
            name=placement.shot,
            marked_range=_range(first, 0, fps),
            color=MARKER_COLOR,
            comment=placement.position,
            metadata={"storyboard": {"shot": placement.shot, "position": placement.position}},
        )
    )
    caption = placement.caption
    if caption is not None:
        low = first + frame_count(float(caption["from"]), fps)
        high = first + frame_count(float(caption["to"]), fps)
        clip.markers.append(
            otio.schema.Marker(
                name=_one_line(caption["text"]),
                marked_range=_range(low, high - low, fps),
                color=CAPTION_COLOR,
                comment=f"caption ({caption.get('position', 'bottom-left')})",
                metadata={"storyboard": {"caption": dict(caption)}},
            )
        )
    return clip


def _card(placement: ClipPlacement, length: int, fps: int) -> Any:
    """A title card or credits: a generator clip carrying its text and look (an EDL writes it
    as black, ``BL``, with its name in a comment)."""
    card = dict(placement.card or {})
    kind = "credits" if "credits" in str(card.get("kind", "")) else "title"
    reference = otio.schema.GeneratorReference(
        name=placement.label,
        generator_kind=kind,
        parameters=card,
        available_range=_range(0, length, fps),
    )
    clip = otio.schema.Clip(
        name=placement.label,
        media_reference=reference,
        source_range=_range(0, length, fps),
        metadata={
            "storyboard": {"card": card, "position": placement.position},
            "cmx_3600": {"reel": "BL"},
        },
    )
    clip.markers.append(
        otio.schema.Marker(
            name=_one_line(card.get("text", "")),
            marked_range=_range(0, 0, fps),
            color=MARKER_COLOR,
            comment=placement.position,
            metadata={"storyboard": {"card": card.get("kind"), "position": placement.position}},
        )
    )
    return clip


def _one_line(text: object) -> str:
    """A text as a marker's name: its lines joined by `` / `` (an EDL comment is one line)."""
    return " / ".join(line.strip() for line in str(text).splitlines() if line.strip())


def _volume(gain: float) -> Any:
    """A clip's gain, as an effect an editor's tool can map to its volume."""
    decibels = 20 * math.log10(gain) if gain > 0 else None
    return otio.schema.Effect(
        name="Volume",
        effect_name="Volume",
        metadata={"storyboard": {"gain": gain, "gain_db": decibels}},
    )


def _music_track(
    record: FilmRecord,
    media: _Media,
    cue: Mapping[str, Any],
    number: int,
    total: int,
    fades: bool,
) -> Any:
    """A music cue on a track of its own: silence (gaps) around it, its file from ``start``
    (a clip per pass of a loop; a file that ends before the cue does is followed by
    silence), its gain, and its fades as dissolves from and into silence over the cue's own
    first and last frames (each at most as long as the first or last pass; the metadata
    keeps the whole cue)."""
    fps = record.output.fps
    track = otio.schema.Track(name=f"music {number}", kind=otio.schema.TrackKind.Audio)
    first = min(frame_count(float(cue["from"]), fps), total)
    last = min(frame_count(float(cue["to"]), fps), total)
    start = frame_count(float(cue.get("start", 0.0)), fps)
    seconds = cue.get("file_seconds")
    file_frames = frame_count(float(seconds), fps) if seconds is not None else None
    remaining = None if file_frames is None else max(0, file_frames - start)
    info = {k: v for k, v in cue.items() if k != "file"}
    passes: list[Any] = []
    at = first
    while at < last and remaining != 0:
        length = last - at if remaining is None else min(remaining, last - at)
        clip = otio.schema.Clip(
            name=f"music {number}" + (f" pass {len(passes) + 1}" if cue.get("loop") else ""),
            media_reference=otio.schema.ExternalReference(
                target_url=media.url(str(cue["file"])),
                available_range=None if file_frames is None else _range(0, file_frames, fps),
            ),
            source_range=_range(start, length, fps),
            metadata={"storyboard": {"music": info}},
        )
        if float(cue.get("volume", 1.0)) != 1:
            clip.effects.append(_volume(float(cue["volume"])))
        passes.append(clip)
        at += length
        if not cue.get("loop"):
            break
    fade_in = frame_count(float(cue.get("fade_in", 0.0)), fps) if fades and passes else 0
    fade_out = frame_count(float(cue.get("fade_out", 0.0)), fps) if fades and passes else 0
    if fade_out and at != last:
        fade_out = 0  # the file ended before the cue: it fades out over silence
    if first or fade_in:
        track.append(otio.schema.Gap(duration=otio.opentime.RationalTime(first, fps)))
    if fade_in:
        shown = passes[0].source_range.duration.to_frames()
        track.append(_fade("music fade in", 0, min(fade_in, shown), fps, "music fade in"))
    track.extend(passes)
    if fade_out:
        shown = passes[-1].source_range.duration.to_frames()
        track.append(_fade("music fade out", min(fade_out, shown), 0, fps, "music fade out"))
    if total > at or fade_out:
        track.append(otio.schema.Gap(duration=otio.opentime.RationalTime(total - at, fps)))
    return track


def _transition(placement: ClipPlacement, frames: int, fps: int) -> Any:
    """A crossfade: the incoming clip over the outgoing one's handle (the cut overlaps
    clips only in a crossfade)."""
    return otio.schema.Transition(
        name=f"{placement.transition} into {placement.label}",
        transition_type=otio.schema.TransitionTypes.SMPTE_Dissolve,
        in_offset=otio.opentime.RationalTime(0, fps),
        out_offset=otio.opentime.RationalTime(frames, fps),
        metadata={"storyboard": {"kind": placement.transition, "seconds": frames / fps}},
    )


def _take(record: FilmRecord, take_id: str) -> Any:
    try:
        return record.take(take_id)
    except KeyError:
        return None


def export_timeline(
    record: FilmRecord,
    out_path: Path,
    *,
    writer: Writer = PLAIN_FILES,
    absolute_paths: bool = False,
) -> Path:
    """Write the cut to ``out_path`` in the format its suffix names (.otio, .edl, .fcpxml),
    media paths relative to its folder (``absolute_paths``: ``file://`` URLs).

    What each format keeps of the timeline:

    - ``.otio``: all of it;
    - ``.edl``: the picture track (an EDL has one), dips and fades as dissolves to and from
      black (``BL``), cards as black events named after their text;
    - ``.fcpxml``: the picture on the spine, with titles and credits as ``<title>`` elements
      (Final Cut's Basic Title, with their text, font, size and colour), and the sound and
      the music as audio lanes under it; the adapter writes no transition, so dips and fades
      are left out and each clip is whole.

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
    timeline = timeline_from_record(
        record,
        folder=out_path.parent,
        absolute_paths=absolute_paths,
        fades=adapter != "fcpx_xml",
    )
    titles: list[tuple[int, Mapping[str, Any]]] = []
    gains: list[list[float]] = []
    if adapter == "cmx_3600":
        for track in [t for t in timeline.tracks if t.kind != otio.schema.TrackKind.Video]:
            timeline.tracks.remove(track)  # an EDL is one picture track
        _head_fade_as_comment(timeline.tracks[0])
    elif adapter == "fcpx_xml":
        titles = _cards_as_gaps(timeline)
        gains = [[_gain(clip) for clip in track.find_clips()] for track in timeline.audio_tracks()]
    try:
        # Adapters may edit the timeline they write (the EDL writer moves cut points), and
        # write_to_string leaves the file alone until the text is whole.
        text = otio.adapters.write_to_string(timeline.deepcopy(), adapter_name=adapter)
    except otio.exceptions.OTIOError as exc:
        raise BuildError(f"cannot write {out_path.name} ({adapter}): {exc}") from exc
    if adapter == "fcpx_xml":
        text = fcpxml_titles(text, titles, record.output.fps, record.output.height, gains)
    writer.write_file(out_path, text.encode("utf-8"))
    return out_path


def _head_fade_as_comment(track: Any) -> None:
    """The film's fade in, at an EDL's first event, as a comment on it: the CMX form (a
    dissolve from a ``BL`` event of no length) is one the EDL reader refuses ("Transitions
    can't be at the very beginning of a track"), so the file would not read back."""
    if len(track) < 3 or not isinstance(track[1], otio.schema.Transition):
        return
    fade = track[1]
    frames = fade.out_offset.to_frames()
    del track[0:2]
    head = track[0]
    head.metadata.setdefault("cmx_3600", {}).setdefault("comments", []).append(
        f"FADE IN FROM BLACK: {frames} FRAMES"
    )


def _cards_as_gaps(timeline: Any) -> list[tuple[int, Mapping[str, Any]]]:
    """Replace the picture track's cards by gaps (the FCPXML adapter writes no generator);
    ``(start frame, card)`` of each, for :func:`fcpxml_titles`."""
    track = timeline.video_tracks()[0]
    found: list[tuple[int, Mapping[str, Any]]] = []
    for index, item in enumerate(list(track)):
        if isinstance(item, otio.schema.Clip) and isinstance(
            item.media_reference, otio.schema.GeneratorReference
        ):
            start = item.range_in_parent().start_time.to_frames()
            found.append((start, dict(item.media_reference.parameters)))
            track[index] = otio.schema.Gap(source_range=item.source_range)
    return found


FCP_TITLE = ".../Titles.localized/Bumper:Opener.localized/Basic Title.localized/Basic Title.moti"
"""Final Cut Pro's Basic Title, the effect every FCPXML ``<title>`` refers to."""


def _gain(clip: Any) -> float:
    """A clip's gain: its ``Volume`` effect's, 0 when it is disabled (muted), else 1."""
    if not clip.enabled:
        return 0.0
    for effect in clip.effects:
        if effect.effect_name == "Volume":
            return float(effect.metadata["storyboard"]["gain"])
    return 1.0


def fcpxml_titles(
    text: str,
    titles: list[tuple[int, Mapping[str, Any]]],
    fps: int,
    height: int,
    gains: list[list[float]] | None = None,
) -> str:
    """FCPXML from the adapter, with a ``<title>`` of Final Cut's Basic Title holding each
    card's text (its font, size and colour) connected above the spine's gap at the card's
    start (lane 1: the gap is the card's black; the audio lanes stay anchored to the gap,
    where the adapter's reader finds them), and each audio lane's clip whose gain is not 1
    given an ``<adjust-volume>`` (``gains``: the clips' gains, lane -1 first, as the adapter
    numbers the audio tracks)."""
    import xml.etree.ElementTree as ET

    body = text.split("<!DOCTYPE fcpxml>", 1)[-1]
    root = ET.fromstring(body)
    resources = root.find("resources")
    spine = root.find(".//spine")
    if resources is None or spine is None:
        return text
    ET.SubElement(resources, "effect", {"id": "r-title", "name": "Basic Title", "uid": FCP_TITLE})
    starts = {Fraction(start, fps): card for start, card in titles}
    for number, gap in enumerate(list(spine), 1):
        card = starts.get(_fcp_seconds(gap.get("offset", "0s"))) if gap.tag == "gap" else None
        if card is None:
            continue
        words = str(card.get("text", ""))
        title = ET.Element(
            "title",
            {
                "name": words.splitlines()[0] if words else "",
                "lane": "1",
                "offset": gap.get("start", "0s"),
                "ref": "r-title",
                "duration": gap.get("duration", "0s"),
                "start": "3600s",
            },
        )
        shown = ET.SubElement(title, "text")
        ET.SubElement(shown, "text-style", {"ref": f"ts{number}"}).text = words
        style = ET.SubElement(title, "text-style-def", {"id": f"ts{number}"})
        ET.SubElement(
            style,
            "text-style",
            {
                "font": str(card.get("font", "lato")).replace("-", " ").title(),
                "fontSize": str(round(float(card.get("size", height / 12)))),
                "fontColor": _fcp_colour(str(card.get("color", "#ffffff"))),
                "alignment": "center",
            },
        )
        gap.insert(0, title)
    for lane, wanted in enumerate(gains or [], 1):
        lane_clips = [c for c in root.iter("clip") if c.get("lane") == f"-{lane}"]
        if len(lane_clips) != len(wanted):
            continue  # not the layout this was written for: leave the lane as it is
        for element, gain in zip(lane_clips, wanted, strict=True):
            if gain != 1:
                decibels = 20 * math.log10(gain) if gain > 0 else -96.0
                element.insert(0, ET.Element("adjust-volume", {"amount": f"{decibels:.2f}dB"}))
    return '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE fcpxml>\n' + ET.tostring(
        root, encoding="unicode"
    )


def _fcp_seconds(value: str) -> Any:
    """An FCPXML time (``0s``, ``4s``, ``3/2s``) as a Fraction of seconds."""
    try:
        return Fraction(value.removesuffix("s"))
    except (ValueError, ZeroDivisionError):
        return None


def _fcp_colour(value: str) -> str:
    """``#rrggbb`` as FCPXML's ``r g b a`` (0..1)."""
    try:
        rgb = [int(value[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    except ValueError:
        rgb = [1.0, 1.0, 1.0]
    return " ".join(f"{c:.4g}" for c in rgb) + " 1"


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
    absolute_paths: bool = False,
) -> dict[str, Path | str]:
    """Write every timeline format whose adapter is installed.

    Args:
        record: the film record.
        folder: where to write (default: the build folder).
        stem: the file names' stem (default: the storyboard's name).
        writer: how the files are written (the build folder's, for a build).
        absolute_paths: media as absolute ``file://`` URLs (default: relative to ``folder``).

    Returns:
        By suffix: the file written, or why it was skipped (a missing adapter).
    """
    target = folder if folder is not None else record.root
    name = stem or record.name
    done: dict[str, Path | str] = {}
    for suffix in ADAPTERS:
        try:
            done[suffix] = export_timeline(
                record, target / f"{name}{suffix}", writer=writer, absolute_paths=absolute_paths
            )
        except ExportUnavailable as exc:
            done[suffix] = str(exc)
    return done
