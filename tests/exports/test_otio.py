"""The timeline exports: .otio read back with OpenTimelineIO, and EDL / FCPXML where possible."""

from __future__ import annotations

import os
import re
import shutil
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path
from typing import Any

import opentimelineio as otio  # type: ignore[import-untyped]
import pytest

from storyboard.cut.cues import Cue
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
    """The record with a 0.5 s crossfade into c, a 0.5 s hole before d, a 1 s dip to black
    into e (as the cut lays a dip out: no overlap, half faded out of d, half into e)."""
    clips = list(record.clips)
    clips[2] = replace(clips[2], start=3.5, transition="crossfade", transition_duration=0.5)
    clips[3] = replace(clips[3], start=7.0)
    clips[4] = replace(clips[4], start=10.0, transition="fade", transition_duration=1.0)
    return replace(record, clips=tuple(clips))


def rich(record: FilmRecord) -> FilmRecord:
    """The record with what the cut's words and mix add: a 2 s title card after b, a caption
    over c, d at half gain, e muted and dipped into over 1 s, the film fading in over 0.5 s
    and out over 1 s, one looped music cue (c's sound from 1 s, film 1..14 s, 0.5 gain,
    faded in over 1 s and out over 2 s, ducked to 0.3) and two subtitle cues."""
    a, b, c, d, e = record.clips
    card = ClipPlacement(
        "", "", "", 0.0, 2.0, 4.0, position="film.yaml:20:9",
        card={"kind": "title", "text": "The Keeper\nof Skerry Point", "background": "#000000",
              "color": "#ffeecc", "font": "lato", "size": 12},
    )  # fmt: skip
    caption = {"text": "Skerry Point, 1893", "from": 0.5, "to": 2.5, "position": "bottom-left"}
    clips = (
        a,
        b,
        card,
        replace(c, start=6.0, caption=caption),
        replace(d, start=9.0, volume=0.5),
        replace(e, start=12.0, transition="fade", transition_duration=1.0, volume=0.0),
    )
    music = {
        "file": "takes/c.mp4", "file_seconds": 3.0, "volume": 0.5, "start": 1.0,
        "from": 1.0, "to": 14.0, "fade_in": 1.0, "fade_out": 2.0, "loop": True, "duck": 0.3,
    }  # fmt: skip
    subtitles = (
        Cue(0.5, 1.5, "Hold the light!", "keeper", "a", 0, 0, "at"),
        Cue(6.25, 7.0, "Aye.", "skipper", "c", 0, 2, "at"),
    )
    return replace(
        record, clips=clips, fade_in=0.5, fade_out=1.0, music=(music,), subtitles=subtitles
    )


def needs(adapter: str) -> None:
    if adapter not in otio.adapters.available_adapter_names():
        pytest.skip(f"the OTIO adapter '{adapter}' is not installed "
                    f"(pip install {otio_export.PACKAGES[adapter]})")  # fmt: skip


def test_otio_file_reads_back_with_one_clip_per_shot(built: Built, tmp_path: Path) -> None:
    out = export_otio(built.record, tmp_path / "film.otio")
    timeline = otio.adapters.read_from_file(str(out))
    assert timeline.name == "Export test"
    track, sound = timeline.tracks
    assert track.kind == otio.schema.TrackKind.Video
    assert sound.kind == otio.schema.TrackKind.Audio
    assert [c.name for c in sound.find_clips()] == list(SHOTS)
    assert sound.duration() == track.duration()
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
        assert not url.startswith(("/", "file:"))  # relative to the export's folder
        assert (out.parent / url).resolve() == (built.build_dir / placement.source).resolve()
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
    assert kinds == [
        "Clip", "Clip", "Transition", "Clip", "Gap", "Clip",
        "Transition", "Gap", "Transition", "Clip",
    ]  # fmt: skip
    dissolve, out_of_d, into_e = (i for i in track if isinstance(i, otio.schema.Transition))
    assert dissolve.transition_type == otio.schema.TransitionTypes.SMPTE_Dissolve
    assert (dissolve.in_offset, dissolve.out_offset) == (rt(0), rt(12))
    # the dip: d's last 12 frames dissolve into black (a gap), black into e's first 12
    for fade in (out_of_d, into_e):
        assert fade.transition_type == otio.schema.TransitionTypes.SMPTE_Dissolve
        assert (fade.in_offset, fade.out_offset) == (rt(0), rt(12))
        assert fade.metadata["storyboard"]["kind"] == "dip"
    assert track[7].duration() == rt(12)
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
    # d is trimmed where the black starts; the dip shows its last 12 frames going to black
    assert clips[3].source_range == time_range(0, 60)
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


def test_edl_has_one_event_per_shot_the_dissolve_and_the_dip_as_cmx_fades(
    built: Built, tmp_path: Path
) -> None:
    needs("cmx_3600")
    record = crossfaded(built.record)
    out = export_timeline(record, tmp_path / "film.edl")
    text = out.read_text()
    assert text.startswith("TITLE: Export test")
    events = re.findall(r"^(\d{3})  (\S+)\s+V\s+(C|D \d{3})\s", text, re.MULTILINE)
    # the crossfade: b (reel 'open') dissolves into c over 12 frames
    assert ("003", "c", "D 012") in events
    # the dip, as CMX writes a fade: d dissolves to black (BL), black dissolves into e
    assert [e for e in events if e[0] in ("005", "006")] == [
        ("005", "d", "C"), ("005", "BL", "D 012"), ("006", "BL", "C"), ("006", "e", "D 012"),
    ]  # fmt: skip
    back = otio.adapters.read_from_file(str(out), rate=FPS)
    (track,) = back.tracks
    assert track.duration() == rt(round(record.duration * FPS))
    reels = [c.metadata["cmx_3600"]["reel"] for c in track.find_clips()]
    assert reels == ["open", "open", "c", "d", "BL", "e"]
    fades = [i for i in track if isinstance(i, otio.schema.Transition)]
    assert [f.out_offset for f in fades] == [rt(12), rt(12), rt(12)]
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


def test_otio_carries_the_sound_music_cards_captions_subtitles_and_fades(
    built: Built, tmp_path: Path
) -> None:
    record = rich(built.record)
    assert record.duration == 15.0
    out = export_otio(record, tmp_path / "film.otio")
    timeline = otio.adapters.read_from_file(str(out))
    film, sound, music = timeline.tracks
    assert [t.name for t in timeline.tracks] == ["film", "sound", "music 1"]
    assert [t.kind for t in timeline.tracks] == ["Video", "Audio", "Audio"]
    for track in timeline.tracks:
        assert track.duration() == rt(15 * FPS), track.name
    # the picture: the film fades in from black, the card is a title generator
    assert isinstance(film[0], otio.schema.Gap) and film[0].duration() == rt(0)
    assert (film[1].in_offset, film[1].out_offset) == (rt(0), rt(12))
    assert film[1].metadata["storyboard"]["kind"] == "film fade in"
    clips = list(film.find_clips())
    assert [c.name for c in clips] == ["a", "b", "title: The Keeper", "c", "d", "e"]
    title = clips[2].media_reference
    assert isinstance(title, otio.schema.GeneratorReference)
    assert title.generator_kind == "title"
    assert title.parameters["text"] == "The Keeper\nof Skerry Point"
    assert title.parameters["color"] == "#ffeecc"
    assert clips[2].range_in_parent() == time_range(96, 48)
    for clip, placement in zip(clips, record.clips, strict=True):
        assert clip.range_in_parent().start_time == rt(round(placement.start * FPS))
        first = round(placement.source_in * FPS)
        assert clip.visible_range() == time_range(first, round(placement.duration * FPS))
    _shot, caption = clips[3].markers
    assert (caption.name, caption.color) == ("Skerry Point, 1893", "YELLOW")
    assert caption.marked_range == time_range(12, 48)  # 0.5..2.5 s into c
    # the film fades out over e's last 24 frames into black
    fade_out = film[-2]
    assert fade_out.metadata["storyboard"]["kind"] == "film fade out"
    assert (fade_out.out_offset, film[-1].duration()) == (rt(24), rt(24))
    # the sound: the clips' own, a gap under the card, d at half gain, e muted
    heard = list(sound.find_clips())
    assert [c.name for c in heard] == ["a", "b", "c", "d", "e"]
    assert [e.effect_name for e in heard[3].effects] == ["Volume"]
    assert heard[3].effects[0].metadata["storyboard"]["gain_db"] == pytest.approx(-6.02, abs=0.01)
    assert [c.enabled for c in heard] == [True, True, True, True, False]
    # the music: silence to 1 s, its file from 1 s in, six whole passes of 2 s and a half one
    passes = list(music.find_clips())
    assert len(passes) == 7
    assert [p.source_range for p in passes] == [time_range(24, 48)] * 6 + [time_range(24, 24)]
    assert passes[0].range_in_parent().start_time == rt(24)
    assert passes[-1].range_in_parent().end_time_exclusive() == rt(14 * FPS)
    assert passes[0].media_reference.target_url == _relative(
        built.build_dir / "takes/c.mp4", tmp_path
    )
    assert passes[0].effects[0].metadata["storyboard"]["gain"] == 0.5
    assert passes[0].metadata["storyboard"]["music"]["duck"] == 0.3
    fade_in, fade_out = (i for i in music if isinstance(i, otio.schema.Transition))
    assert (fade_in.in_offset, fade_in.out_offset) == (rt(0), rt(24))
    # over the last pass's own 24 frames (the whole 2 s fade is in the metadata)
    assert (fade_out.in_offset, fade_out.out_offset) == (rt(24), rt(0))
    assert passes[-1].visible_range() == passes[-1].source_range
    # the subtitles: markers on the stack, at the cues' frames
    cues = timeline.tracks.markers
    assert [(m.name, m.marked_range) for m in cues] == [
        ("Hold the light!", time_range(12, 24)),
        ("Aye.", time_range(150, 18)),
    ]


def _relative(path: Path, folder: Path) -> str:
    return Path(os.path.relpath(path.resolve(), folder.resolve())).as_posix()


def test_edl_of_the_words_and_mix_reads_back_as_long_as_the_film(
    built: Built, tmp_path: Path
) -> None:
    needs("cmx_3600")
    record = rich(built.record)
    out = export_timeline(record, tmp_path / "film.edl")
    text = out.read_text()
    # the card: a black event named after its text (one line: an EDL comment is a line)
    assert re.search(
        r"^003  BL\s+V\s+C\s+00:00:00:00 00:00:02:00 00:00:04:00 00:00:06:00\n"
        r"\* FROM CLIP NAME:  title: The Keeper\n"
        r"\* LOC: 00:00:00:00 GREEN   THE KEEPER / OF SKERRY POINT$",
        text,
        re.MULTILINE,
    ), text
    assert "* FADE IN FROM BLACK: 12 FRAMES" in text  # the reader refuses the CMX head fade
    assert re.search(r"^\d{3}  BL\s+V\s+D 024\s", text, re.MULTILINE)  # the film's fade out
    back = otio.adapters.read_from_file(str(out), rate=FPS)
    (track,) = back.tracks
    assert track.duration() == rt(15 * FPS)
    first = next(iter(track.find_clips()))
    assert "FADE IN FROM BLACK: 12 FRAMES" in first.metadata["cmx_3600"]["comments"]


def test_fcpxml_has_the_title_as_a_title_and_the_sound_on_audio_lanes(
    built: Built, tmp_path: Path
) -> None:
    needs("fcpx_xml")
    record = rich(built.record)
    out = export_timeline(record, tmp_path / "film.fcpxml")
    root = ET.parse(out).getroot()
    (title,) = root.iter("title")
    assert title.get("lane") == "1" and title.get("duration") == "2/1s"
    assert "".join(title.itertext()) == "The Keeper\nof Skerry Point"
    style = title.find("text-style-def/text-style")
    assert style is not None
    assert (style.get("font"), style.get("fontSize"), style.get("fontColor")) == (
        "Lato", "12", "1 0.9333 0.8 1",
    )  # fmt: skip
    effect = root.find(f"resources/effect[@id='{title.get('ref')}']")
    assert effect is not None and effect.get("name") == "Basic Title"
    spine = root.find(".//spine")
    assert spine is not None
    assert [e.tag for e in spine] == ["clip", "clip", "gap", "clip", "clip", "clip"]
    assert spine[2].get("offset") == "4s" and title in list(spine[2])
    volumes = {
        (c.get("lane"), c.get("name")): a.get("amount")
        for c in root.iter("clip")
        if (a := c.find("adjust-volume")) is not None
    }
    assert volumes[("-1", "d")] == "-6.02dB" and volumes[("-1", "e")] == "-96.00dB"
    assert volumes[("-2", "music 1 pass 1")] == "-6.02dB"
    back = otio.adapters.read_from_file(str(out))
    lanes = {t.name: t for t in back.tracks}
    assert lanes["0"].kind == "Video" and lanes["0"].duration() == rt(15 * FPS)
    assert lanes["-1"].kind == "Audio" and lanes["-1"].duration() == rt(15 * FPS)
    # a lane has no trailing silence in FCPXML: the music lane ends where its cue does
    assert lanes["-2"].kind == "Audio" and lanes["-2"].duration() == rt(14 * FPS)
    assert next(c.name for c in lanes["-2"].find_clips()) == "music 1 pass 1"


def test_media_paths_are_relative_so_the_folder_can_move(built: Built, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(built.build_dir, copy)
    record = replace(rich(built.record), root=copy)
    export_otio(record, copy / "exports" / "film.otio")
    moved = tmp_path / "elsewhere"
    copy.rename(moved)
    timeline = otio.adapters.read_from_file(str(moved / "exports" / "film.otio"))
    urls = {
        c.media_reference.target_url
        for c in timeline.find_clips()
        if isinstance(c.media_reference, otio.schema.ExternalReference)
    }
    assert urls == {"../takes/open.mp4", "../takes/c.mp4", "../takes/d.mp4", "../takes/e.mp4"}
    assert all((moved / "exports" / url).is_file() for url in urls)
    absolute = export_timeline(
        replace(record, root=moved), tmp_path / "abs.otio", absolute_paths=True
    )
    found = {
        c.media_reference.target_url
        for c in otio.adapters.read_from_file(str(absolute)).find_clips()
        if isinstance(c.media_reference, otio.schema.ExternalReference)
    }
    names = ("open.mp4", "c.mp4", "d.mp4", "e.mp4")
    assert found == {(moved / "takes" / name).resolve().as_uri() for name in names}
