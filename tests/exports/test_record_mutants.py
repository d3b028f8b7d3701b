"""The build record and its exports, as the mutation audit found them untested: a record that
cannot be read is refused (never empty, never trusted), one read back is the one written,
and the exports' frames and milliseconds are the film's."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import opentimelineio as otio  # type: ignore[import-untyped]
import pytest

from storyboard.core.errors import InputError
from storyboard.cut.cues import Cue
from storyboard.exports.otio import timeline_from_record
from storyboard.exports.record import (
    ClipPlacement,
    FilmRecord,
    OutputInfo,
    SpokenLine,
    TakeRecord,
    Totals,
    frame_count,
    read_record,
    write_record,
)
from storyboard.exports.subtitles import subtitle_text, write_subtitles


def tiny(root: Path) -> FilmRecord:
    """A record of one shot ``a`` of take ``t1`` (2 s of ``takes/t1.mp4`` from 0.5 s)."""
    clip = ClipPlacement("a", "t1", "takes/t1.mp4", 0.5, 2.5, 0.0, position="film.yaml:4:5")
    take = TakeRecord(
        "t1", ("a",), "generated", 0.0, None, 0.5, "k1", (), {"a": "a lighthouse"},
        "takes/t1.mp4", duration=3.0,
    )  # fmt: skip
    return FilmRecord(
        name="film", storyboard="film.yaml", title="T", backend="preview", film=None,
        output=OutputInfo(64, 36), clips=(clip,), takes=(take,),
        totals=Totals(0.0, 0.5, 0.5), graph={}, root=root,
    )  # fmt: skip


def rich(root: Path) -> FilmRecord:
    """The tiny record with everything the cut may add, none of it at its default."""
    record = tiny(root)
    (a,) = record.clips
    card = ClipPlacement(
        "", "", "", 0.0, 1.0, 2.0, position="film.yaml:9:5",
        card={"kind": "credits", "text": "The End", "color": "#ffffff"},
    )  # fmt: skip
    muted = ClipPlacement(
        "b", "t2", "takes/t2.mp4", 1.0625, 2.5625, 3.0, "crossfade", 0.5, "film.yaml:6:5",
        volume=0.0, caption={"text": "Skerry Point", "from": 0.25, "to": 1.0},
    )  # fmt: skip
    take = replace(record.takes[0], dialogue={"a": (SpokenLine("keeper", "Hold!", None, 0.5),)})
    cues = (
        Cue(0.5, 1.25, "Hold!", "keeper", "a", 0, 0, "at"),
        Cue(3.5, 4.0, "Aye.", "skipper", "b", 1, 2, "speech"),
    )
    music = {"file": "music/sea.ogg", "from": 0.0, "to": 4.5, "volume": 0.5, "loop": True}
    return replace(
        record, clips=(a, card, muted), takes=(take,), subtitles=cues, fade_in=0.5,
        fade_out=1.0, loudness=-16.0, music=(music,),
    )  # fmt: skip


def written(tmp_path: Path, record: FilmRecord) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(write_record(record).read_text(encoding="utf-8"))
    return data


def damaged(tmp_path: Path, text: str | bytes) -> str:
    """The message of reading ``text`` as a build record (it must be refused)."""
    path = tmp_path / "build.json"
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    with pytest.raises(InputError) as caught:
        read_record(path)
    return str(caught.value)


# -- read back as written --------------------------------------------------------------------


def test_everything_the_cut_adds_reads_back_as_written(tmp_path: Path) -> None:
    """A muted clip stays muted (volume 0 is written), a card stays a card, a caption, the
    film's fades, its loudness, its music, each cue's timing and each clip's take and
    source range are read back as they were, not as defaults or another field."""
    record = rich(tmp_path)
    data = written(tmp_path, record)
    assert data["clips"][2]["volume"] == 0.0
    assert (data["fade_in"], data["fade_out"]) == (0.5, 1.0)
    again = read_record(tmp_path)
    assert again == record
    assert again.clips[2].volume == 0.0 and again.clips[1].card is not None
    assert [(c.take, c.source_in, c.source_out) for c in again.clips] == [
        ("t1", 0.5, 2.5),
        ("", 0.0, 1.0),
        ("t2", 1.0625, 2.5625),  # to the microsecond: 25.5 frames is frame 26, not 25
    ]
    assert [c.timing for c in again.subtitles] == ["at", "speech"]
    assert (again.fade_in, again.fade_out, again.music) == (0.5, 1.0, record.music)
    # a film that fades in only: its fade in is written all the same
    write_record(replace(record, fade_out=0.0))
    assert (read_record(tmp_path).fade_in, read_record(tmp_path).fade_out) == (0.5, 0.0)


def test_a_record_written_before_dialogue_and_subtitles_reads_them_as_empty(
    tmp_path: Path,
) -> None:
    data = written(tmp_path, rich(tmp_path))
    del data["subtitles"]
    del data["takes"][0]["dialogue"]
    (tmp_path / "build.json").write_text(json.dumps(data), encoding="utf-8")
    again = read_record(tmp_path)
    assert again.subtitles == () and again.lines("a") == ()
    assert again.clips == rich(tmp_path).clips


# -- refused, never empty, never trusted -------------------------------------------------------


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_a_record_holding_no_finite_number_is_damaged_not_trusted(
    tmp_path: Path, number: str
) -> None:
    """JSON's NaN and Infinity (and a number too large for a float) are nothing storyboard
    writes: such a record was read, and its first frame count was a traceback (ValueError:
    cannot convert float NaN to integer) in ``storyboard report --exports``."""
    text = json.dumps(written(tmp_path, tiny(tmp_path)))
    text = text.replace('"source_out": 2.5', f'"source_out": {number}', 1)
    assert number in text
    assert f"build record {tmp_path / 'build.json'} is damaged" in damaged(tmp_path, text)


def test_a_record_without_a_version_or_an_older_one_is_refused(tmp_path: Path) -> None:
    data = written(tmp_path, tiny(tmp_path))
    for version in (None, 0):
        text = json.dumps({**data, "version": version})
        assert f"version {version!r} is not one this storyboard reads" in damaged(tmp_path, text)
    del data["version"]
    assert "version None is not one" in damaged(tmp_path, json.dumps(data))


def test_a_record_that_cannot_be_read_is_not_taken_for_missing(tmp_path: Path) -> None:
    write_record(tiny(tmp_path))

    def denied(path: Path, limit: int) -> bytes | None:
        raise PermissionError(13, "Permission denied", str(path))

    with pytest.raises(InputError, match=r"cannot read the build record .*Permission denied"):
        read_record(tmp_path, denied)


def test_deep_nesting_a_huge_number_and_a_wrong_shape_are_damaged_not_tracebacks(
    tmp_path: Path,
) -> None:
    assert "nested too deeply" in damaged(tmp_path, "[" * 200_000)
    data = written(tmp_path, tiny(tmp_path))
    huge = json.dumps(data).replace('"source_in": 0.5', '"source_in": 1' + "0" * 400, 1)
    assert "damaged: OverflowError" in damaged(tmp_path, huge)
    data["takes"][0]["dialogue"] = ["not a mapping"]
    assert "damaged: AttributeError" in damaged(tmp_path, json.dumps(data))


# -- frames and milliseconds -------------------------------------------------------------------


def test_frames_are_to_the_nearest_with_halves_up() -> None:
    assert [frame_count(s) for s in (0.99, 0.1875, 0.0625, 0.02)] == [24, 5, 2, 0]
    assert ClipPlacement("a", "t", "takes/t.mp4", 0.1875, 0.99, 0.0).frames() == (5, 23)
    # a clip of no frames is its first frame, never a last frame before its first
    assert ClipPlacement("a", "t", "takes/t.mp4", 0.5, 0.5, 0.0).frames() == (12, 12)


def test_the_timeline_clip_is_the_frames_nearest_its_source_range(tmp_path: Path) -> None:
    record = tiny(tmp_path)
    clip = replace(record.clips[0], source_in=0.1875, source_out=0.99)
    (picture,) = timeline_from_record(replace(record, clips=(clip,))).tracks[0]
    assert picture.source_range.start_time.to_frames() == 5
    assert picture.source_range.duration.to_frames() == 19  # frames 5..23
    assert picture.media_reference.name == "t1"  # the take (its video is missing here)


def test_subtitle_times_are_the_nearest_millisecond(tmp_path: Path) -> None:
    """1.001 s is 1000.999... ms as a float: it is written 1,001, not 1,000."""
    cues = [Cue(1.001, 2.003, "Hold!", "keeper", "a", 0, 0, "at")]
    assert "00:00:01,001 --> 00:00:02,003" in subtitle_text(cues, "srt")
    files = write_subtitles(cues, tmp_path, "film")
    vtt = files[".vtt"].read_text(encoding="utf-8")
    assert vtt.startswith("WEBVTT") and "00:00:01.001 --> 00:00:02.003" in vtt
    assert "00:00:01,001 --> 00:00:02,003" in files[".srt"].read_text(encoding="utf-8")


# -- the timeline says what the film holds -----------------------------------------------------


def test_the_timeline_names_the_credits_the_caption_frames_and_a_missing_video(
    tmp_path: Path,
) -> None:
    """A video the record names but the folder lacks is a missing reference; credits are a
    ``credits`` generator; a caption's frames count from the clip's first source frame."""
    timeline = timeline_from_record(rich(tmp_path))
    a, credits, b = timeline.tracks[0].find_clips()
    assert isinstance(a.media_reference, otio.schema.MissingReference)
    assert a.media_reference.name == "t1"
    assert credits.media_reference.generator_kind == "credits"
    _shot, caption = b.markers
    # b uses its source from 1.0625 s (frame 26): the caption's 0.25..1.0 s are 32..50
    assert b.source_range.start_time.to_frames() == 26
    assert caption.marked_range == otio.opentime.TimeRange(
        otio.opentime.RationalTime(32, 24), otio.opentime.RationalTime(18, 24)
    )
    assert timeline.metadata["storyboard"]["loudness"] == -16.0
    # once the video is there, it is the take's file, as long as the take's video (3 s)
    (tmp_path / "takes").mkdir()
    (tmp_path / "takes/t1.mp4").write_bytes(b"")
    a = timeline_from_record(rich(tmp_path)).tracks[0].find_clips()[0]
    assert isinstance(a.media_reference, otio.schema.ExternalReference)
    assert a.media_reference.target_url == "takes/t1.mp4"
    assert a.media_reference.available_range.duration.to_frames() == 72


def test_music_past_the_film_ends_with_the_film_and_its_fade_out_is_followed(
    tmp_path: Path,
) -> None:
    """A cue to 9 s over a 4.5 s film ends at 4.5 s (108 frames), as every track does; its
    fade out at the very end is a dissolve into a gap of no length, never the track's last
    item (a transition must have an item on each side)."""
    music = {"file": "music/sea.ogg", "from": 0.0, "to": 9.0, "fade_out": 1.0}
    record = replace(rich(tmp_path), music=(music,), fade_out=0.0)
    film, _sound, track = timeline_from_record(record).tracks
    assert film.duration().to_frames() == 108
    assert track.duration().to_frames() == 108
    (clip,) = track.find_clips()
    assert clip.source_range.duration.to_frames() == 108
    assert isinstance(track[-2], otio.schema.Transition)
    assert isinstance(track[-1], otio.schema.Gap) and track[-1].duration().to_frames() == 0


def test_an_odd_dip_fades_out_the_shorter_half_as_the_cut_does(tmp_path: Path) -> None:
    """The cut fades ``A``'s last ``d // 2`` frames out and ``B``'s first ``d - d // 2`` in
    (storyboard.cut.timeline): a dip of 15 frames is 7 out, then 8 in."""
    record = tiny(tmp_path)
    (a,) = record.clips
    b = ClipPlacement("b", "t1", "takes/t1.mp4", 0.0, 1.0, 2.0, "fade", 0.625)
    film = timeline_from_record(replace(record, clips=(a, b))).tracks[0]
    assert [type(item).__name__ for item in film] == [
        "Clip", "Transition", "Gap", "Transition", "Clip",
    ]  # fmt: skip
    out, black, into = film[1], film[2], film[3]
    assert (out.out_offset.to_frames(), black.duration().to_frames()) == (7, 7)
    assert into.out_offset.to_frames() == 8
    assert film[0].source_range.duration.to_frames() == 48 - 7


def test_the_record_names_the_picked_variation_and_what_the_cut_gave(tmp_path: Path) -> None:
    """With ``pick: 2`` the take's video is the second variation (``takes/a.mp4``), the
    first is ``takes/a.v1.mp4``: both listed, in order, never the first named the pick. A
    clip's own position is kept, a music file is relative to the build folder, and a film
    file that is not there is no film."""
    from storyboard.backends.preview import PreviewBackend
    from storyboard.build.pipeline import build
    from storyboard.exports.record import record_from_build

    (tmp_path / ".storyboard").mkdir()
    (tmp_path / "film.yaml").write_text(
        "storyboard: 1\ntitle: Picked\nshots:\n  - {id: a, duration: 3, prompt: a lighthouse, "
        "variations: 2, pick: 2}\n",
        encoding="utf-8",
    )
    result = build(tmp_path / "film.yaml", backend=PreviewBackend(scale=1 / 24))
    assert result.ok, result.to_json()
    take = record_from_build(result).take("a")
    assert take.video == "takes/a.mp4"
    assert take.variations == ("takes/a.v1.mp4", "takes/a.mp4")
    root = result.workspace.output_dir
    clip = ClipPlacement("a", "a", "takes/a.mp4", 0.0, 3.0, 0.0, position="cut.yaml:7:9")
    music = {"file": str(root / "music" / "sea.ogg"), "from": 0.0, "to": 3.0}
    record = record_from_build(result, [clip], film="nowhere.mp4", extras={"music": [music]})
    assert record.clips[0].position == "cut.yaml:7:9"
    assert record.music[0]["file"] == "music/sea.ogg"
    assert record.film is None
