"""The timeline exports: .otio read back with OpenTimelineIO, and EDL / FCPXML where possible."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path
from typing import Any

import opentimelineio as otio  # type: ignore[import-untyped]
import pytest

from storyboard.exports import otio as otio_export
from storyboard.exports.otio import (
    ExportUnavailable,
    export_all,
    export_otio,
    export_timeline,
    timeline_from_record,
)
from storyboard.exports.record import ClipPlacement, FilmRecord
from tests.exports.film import SHOTS, Built

FPS = 24


def rt(frames: int) -> Any:
    return otio.opentime.RationalTime(frames, FPS)


def time_range(start: int, length: int) -> Any:
    return otio.opentime.TimeRange(rt(start), rt(length))


def crossfaded(record: FilmRecord) -> FilmRecord:
    """The record with a 0.5 s crossfade into c, a 0.5 s hole before d, a 1 s fade into e."""
    clips = list(record.clips)
    clips[2] = replace(clips[2], start=3.5, transition="crossfade", transition_duration=0.5)
    clips[3] = replace(clips[3], start=7.0)
    clips[4] = replace(clips[4], start=9.0, transition="fade", transition_duration=1.0)
    return replace(record, clips=tuple(clips))


def needs(adapter: str) -> None:
    if adapter not in otio.adapters.available_adapter_names():
        pytest.skip(f"the OTIO adapter '{adapter}' is not installed "
                    f"(pip install {otio_export.PACKAGES[adapter]})")  # fmt: skip


def test_otio_file_reads_back_with_one_clip_per_shot(built: Built, tmp_path: Path) -> None:
    out = export_otio(built.record, tmp_path / "film.otio")
    timeline = otio.adapters.read_from_file(str(out))
    assert timeline.name == "Export test"
    (track,) = timeline.tracks
    assert track.kind == otio.schema.TrackKind.Video
    clips = list(track.find_clips())
    assert [c.name for c in clips] == list(SHOTS)
    assert len(track) == len(SHOTS)  # hard cuts: no transitions, no gaps
    expected = [(0, 48), (48, 48), (0, 72), (0, 72), (0, 72)]
    assert [c.source_range for c in clips] == [time_range(*e) for e in expected]
    starts = [0, 48, 96, 168, 240]
    assert [c.range_in_parent().start_time for c in clips] == [rt(s) for s in starts]
    assert timeline.duration() == rt(13 * FPS)
    for clip, placement in zip(clips, built.record.clips, strict=True):
        url = clip.media_reference.target_url
        assert url == (built.build_dir / placement.source).resolve().as_uri()
        assert Path(url.removeprefix("file://")).exists()
        assert clip.media_reference.available_range is not None
        (marker,) = clip.markers
        assert marker.name == placement.shot
        assert marker.comment == placement.position and marker.comment.endswith(
            f":{placement.position.rsplit(':', 2)[1]}:{placement.position.rsplit(':', 1)[1]}"
        )
        assert marker.marked_range.start_time == clip.source_range.start_time
        assert clip.metadata["storyboard"]["take"] == placement.take
    assert clips[1].media_reference.available_range == time_range(0, 96)


def test_crossfades_are_dissolves_that_keep_exact_source_ranges(
    built: Built, tmp_path: Path
) -> None:
    record = crossfaded(built.record)
    out = export_otio(record, tmp_path / "film.otio")
    track = otio.adapters.read_from_file(str(out)).tracks[0]
    kinds = [type(item).__name__ for item in track]
    assert kinds == ["Clip", "Clip", "Transition", "Clip", "Gap", "Clip", "Transition", "Clip"]
    dissolve, fade = (item for item in track if isinstance(item, otio.schema.Transition))
    assert dissolve.transition_type == otio.schema.TransitionTypes.SMPTE_Dissolve
    assert (dissolve.in_offset, dissolve.out_offset) == (rt(0), rt(12))
    assert fade.transition_type == otio.schema.TransitionTypes.Custom
    assert (fade.in_offset, fade.out_offset) == (rt(0), rt(24))
    assert fade.metadata["storyboard"]["kind"] == "fade"
    clips = list(track.find_clips())
    # every clip starts where the record puts it in the film ...
    for clip, placement in zip(clips, record.clips, strict=True):
        assert clip.range_in_parent().start_time == rt(round(placement.start * FPS))
        # ... and shows exactly its source range: trimmed part plus the transition's handle
        first = round(placement.source_in * FPS)
        length = round(placement.source_out * FPS) - first
        assert clip.visible_range() == time_range(first, length)
    # b is trimmed where c starts; the dissolve plays b's last 12 frames under c
    assert clips[1].source_range == time_range(48, 36)
    assert track.duration() == rt(round(record.duration * FPS))


def test_timeline_is_built_without_writing(built: Built) -> None:
    timeline = timeline_from_record(built.record)
    assert timeline.metadata["storyboard"]["name"] == "film"
    assert timeline.global_start_time == rt(0)


def test_a_take_without_video_gets_a_missing_reference(built: Built, tmp_path: Path) -> None:
    takes = tuple(replace(t, video=None) if t.id == "d" else t for t in built.record.takes)
    record = replace(built.record, takes=takes)
    clip = list(timeline_from_record(record).find_clips())[3]
    assert isinstance(clip.media_reference, otio.schema.MissingReference)
    assert clip.media_reference.name == "d"


def test_edl_has_one_event_per_shot_and_the_dissolve(built: Built, tmp_path: Path) -> None:
    needs("cmx_3600")
    out = export_timeline(crossfaded(built.record), tmp_path / "film.edl")
    text = out.read_text()
    assert text.startswith("TITLE: Export test")
    assert "D 012" in text  # a 12-frame dissolve
    back = otio.adapters.read_from_file(str(out), rate=FPS)
    names = [c.name for c in back.tracks[0].find_clips()]
    assert [n for n in names if n] == ["a", "b", "c", "d", "e"]
    assert any(isinstance(i, otio.schema.Transition) for i in back.tracks[0])
    markers = re.findall(r"^\* LOC: \S+ GREEN\s+(\S+)$", text, re.MULTILINE)
    assert set(markers) == {s.upper() for s in SHOTS}


def test_fcpxml_lists_every_shot_with_its_marker(built: Built, tmp_path: Path) -> None:
    needs("fcpx_xml")
    out = export_timeline(built.record, tmp_path / "film.fcpxml")
    root = ET.parse(out).getroot()
    assert root.tag == "fcpxml"
    spine = root.find(".//spine")
    assert spine is not None
    assert [c.get("name") for c in spine] == list(SHOTS)
    assert [m.get("value") for m in spine.iter("marker")] == list(SHOTS)
    assert root.find(".//format").get("frameDuration") == "25/600s"  # type: ignore[union-attr]


def test_unknown_suffix_and_missing_adapter_are_reported(
    built: Built, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ExportUnavailable, match=r"use one of \.otio, \.edl, \.fcpxml"):
        export_timeline(built.record, tmp_path / "film.aaf")
    with pytest.raises(ExportUnavailable, match=r"ends in \.otio"):
        export_otio(built.record, tmp_path / "film.json")
    monkeypatch.setattr(otio.adapters, "available_adapter_names", lambda: ["otio_json"])
    done = export_all(built.record, tmp_path)
    assert done[".otio"] == tmp_path / "film.otio" and (tmp_path / "film.otio").exists()
    assert done[".edl"] == (
        "exporting .edl needs the OpenTimelineIO adapter 'cmx_3600': "
        "pip install otio-cmx3600-adapter"
    )
    assert "pip install otio-fcpx-xml-adapter" in str(done[".fcpxml"])
    assert not (tmp_path / "film.edl").exists()
    assert otio_export.available_formats() == {".otio": True, ".edl": False, ".fcpxml": False}


def test_clip_placement_frames() -> None:
    clip = ClipPlacement("a", "t", "takes/t.mp4", 0.5, 2.0, 1.0)
    assert clip.duration == 1.5 and clip.end == 2.5 and clip.frames() == (12, 47)
