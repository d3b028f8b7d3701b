"""Subtitles in the film: a soft track found by PyAV with the right cues and no video
re-encoded; burned cues found in the decoded frames they cover, and only there."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from storyboard.cut import assemble, build_timeline, measure_videos
from storyboard.cut.subtitles import subtitle_mode, with_subtitles
from tests.cut.conftest import StoryboardFactory, decode_frames, diff, video_packets
from tests.cut.test_assemble import storyboard_text

CUES = [(0.5, 1.5, "Hold the light!"), (2.0, 2.75, "Aye, skipper."), (9.0, 10.0, "gone")]


def subtitle_packets(path: Path) -> list[tuple[float, float, bytes]]:
    """``(start, end, payload)`` of every non-empty packet of the first subtitle stream."""
    with av.open(str(path)) as container:
        assert len(container.streams.subtitles) == 1
        stream = container.streams.subtitles[0]
        found = []
        for packet in container.demux(stream):
            if packet.size > 2 and packet.pts is not None:  # mov_text gaps are empty samples
                start = float(packet.pts * stream.time_base)
                found.append(
                    (start, start + float(packet.duration * stream.time_base), bytes(packet))
                )
        return found


@pytest.mark.parametrize(
    ("fmt", "codec"), [("MP4", "mov_text"), ("MOV", "mov_text"), ("WEBM", "webvtt")]
)
def test_soft_subtitles_are_a_track_and_no_frame_is_re_encoded(
    storyboard: StoryboardFactory, sources: dict[str, Path], tmp_path: Path, fmt: str, codec: str
) -> None:
    shots = {"one": sources["a"]}
    compiled = storyboard(storyboard_text(shots, output=f"{{format: {fmt}}}"))
    timeline = build_timeline(compiled, shots, measure_videos(shots), size=(160, 90))
    plain = tmp_path / f"plain.{fmt.lower()}"
    assemble(timeline, plain)
    out = tmp_path / f"film.{fmt.lower()}"
    report = assemble(with_subtitles(timeline, CUES, "soft"), out)
    with av.open(str(out)) as container:
        assert container.streams.subtitles[0].codec_context.name == codec
    found = subtitle_packets(out)
    assert len(found) == 2  # the cue past the film's end (3 s) is left out
    assert [(round(a, 3), round(b, 3)) for a, b, _ in found] == [(0.5, 1.5), (2.0, 2.75)]
    assert found[0][2].endswith(b"Hold the light!") and found[1][2].endswith(b"Aye, skipper.")
    # the picture is the film without subtitles, packet for packet
    assert video_packets(out) == video_packets(plain)
    if fmt != "WEBM":
        assert report.stream_copy


def test_burned_subtitles_are_drawn_on_their_frames_only(
    storyboard: StoryboardFactory, sources: dict[str, Path], tmp_path: Path
) -> None:
    shots = {"one": sources["a"]}
    compiled = storyboard(storyboard_text(shots))
    timeline = build_timeline(compiled, shots, measure_videos(shots), size=(160, 90))
    plain = tmp_path / "plain.mp4"
    assemble(timeline, plain)
    burned = with_subtitles(timeline, [(1.25, 1.75, "Hold the light!")], "burn")
    assert [(o.kind, o.first, o.last, o.position) for o in burned.overlays] == [
        ("subtitle", 30, 42, "bottom")
    ]
    out = tmp_path / "film.mp4"
    report = assemble(burned, out)
    assert [(p.kind, p.frames) for p in report.pieces] == [
        ("copy", 24),
        ("encode", 24),
        ("copy", 24),
    ]
    assert report.pieces[1].reasons == ("subtitles",)
    film, before = decode_frames(out), decode_frames(plain)
    bottom = (slice(70, 90), slice(20, 140))
    for k in range(72):
        changed = (np.abs(film[k][bottom] - before[k][bottom]).max(axis=2) > 60).sum()
        if 30 <= k < 42:
            assert changed > 30, k
        else:
            assert diff(film[k], before[k]) < 3, k


def test_off_or_no_cues_leave_the_timeline_as_it_is(
    storyboard: StoryboardFactory, sources: dict[str, Path]
) -> None:
    shots = {"one": sources["a"]}
    timeline = build_timeline(storyboard(storyboard_text(shots)), shots, size=(160, 90))
    assert with_subtitles(timeline, CUES, "off") == timeline
    assert with_subtitles(timeline, [(5.0, 6.0, "late")], "soft") == timeline


def test_the_mode_is_as_written_or_soft_when_there_are_cues() -> None:
    assert subtitle_mode(None, CUES) == "soft"
    assert subtitle_mode(None, []) == "off"
    assert subtitle_mode("burn", CUES) == "burn"
    assert subtitle_mode("off", CUES) == "off"
