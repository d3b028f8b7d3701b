"""Where an MP4 or MOV film's index (``moov``) goes: at its start, in room the join keeps for it
(no second pass over the film), sized from a count of the packets that is never short."""

from __future__ import annotations

import importlib
import struct
from pathlib import Path
from typing import Any

import av
import pytest

from storyboard.cut import assemble, build_timeline, measure_videos
from storyboard.cut.mux import INDEX_BYTES_PER_PACKET, index_room, join
from storyboard.cut.subtitles import with_subtitles
from tests.cut.conftest import StoryboardFactory, video_packets
from tests.cut.test_assemble import cut_film, storyboard_text

# the module, not the function `storyboard.cut` exports under its name
assemble_module = importlib.import_module("storyboard.cut.assemble")

# many short cues: each is a subtitle packet, and the gap before it another
CUES = [(0.1 + 0.25 * k, 0.2 + 0.25 * k, f"cue {k}") for k in range(20)]


def boxes(path: Path) -> list[tuple[bytes, int]]:
    """``(type, size)`` of the file's top-level boxes, in order."""
    found = []
    data = path.read_bytes()
    at = 0
    while at < len(data):
        size, kind = struct.unpack_from(">I4s", data, at)
        if size == 1:
            size = struct.unpack_from(">Q", data, at + 8)[0]
        found.append((kind, size))
        at += size
    return found


def packet_counts(path: Path) -> dict[str, int]:
    """Packets (empty subtitle gaps included) of each kind of stream."""
    counts: dict[str, int] = {}
    with av.open(str(path)) as container:
        for packet in container.demux():
            if packet.pts is not None:
                kind = packet.stream.type
                counts[kind] = counts.get(kind, 0) + 1
    return counts


@pytest.fixture
def joins(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """What the cut told the join: whether its sound was a file, and its count of packets."""
    seen: list[dict[str, Any]] = []

    def spy(out: Path, fmt: Any, parts: Any, audio: Any, subtitles: Any = None, **kw: Any) -> None:
        seen.append({"file": isinstance(audio, Path), **kw})
        join(out, fmt, parts, audio, subtitles, **kw)

    monkeypatch.setattr(assemble_module, "join", spy)
    return seen


@pytest.mark.parametrize("fmt", ["MP4", "MOV"])
@pytest.mark.parametrize("sound", ["spliced", "mixed"])
def test_the_index_is_written_at_the_start_into_room_kept_for_it(
    storyboard: StoryboardFactory,
    sources: dict[str, Path],
    stereo: dict[str, Path],
    tmp_path: Path,
    joins: list[dict[str, Any]],
    fmt: str,
    sound: str,
) -> None:
    out = tmp_path / f"film.{fmt.lower()}"
    # spliced: the takes' own AAC copied, the seams re-encoded; mixed: takes whose sound the
    # film cannot reuse (mono), so the whole track is encoded to a file first, whose packets
    # the join counts itself
    takes = stereo if sound == "spliced" else sources
    shots = {"one": takes["a"], "two": takes["b"]}
    compiled = storyboard(storyboard_text(shots, output=f"{{format: {fmt}}}"))
    timeline = build_timeline(compiled, shots, measure_videos(shots), size=(160, 90))
    assemble(with_subtitles(timeline, CUES, "soft"), out)

    assert joins[-1]["file"] is (sound == "mixed")
    counts = packet_counts(out)
    assert counts["video"] == timeline.total_frames == 144
    others = counts["audio"] + counts["subtitle"]
    told = joins[-1]["packets"]
    # the count the cut gave the join is never short of what the film holds, and tight: the
    # sound's packets exactly, a subtitle a cue and a gap before each and after the last
    if sound == "spliced":
        assert counts["audio"] + counts["subtitle"] <= told <= others + 1
    else:  # the join adds the file's own count
        assert counts["subtitle"] <= told <= counts["subtitle"] + 1
    assert counts["subtitle"] >= 2 * len(CUES) - 1

    found = boxes(out)
    # the room: the index and what is left of it; then the muxer's own 8 bytes before `mdat`
    # (`free` in MP4, `wide` in QuickTime)
    spare = b"free" if fmt == "MP4" else b"wide"
    assert [kind for kind, _ in found] == [b"ftyp", b"moov", b"free", spare, b"mdat"]
    (_, moov), (_, free) = found[1], found[2]
    room = index_room(counts["video"] + others + (1 if sound == "spliced" else 0))
    assert moov + free == room if sound == "spliced" else moov + free >= room
    assert moov < INDEX_BYTES_PER_PACKET * sum(counts.values())  # the bound holds, with room


def test_without_a_count_the_index_is_moved_to_the_start(
    storyboard: StoryboardFactory, sources: dict[str, Path], tmp_path: Path, monkeypatch: Any
) -> None:
    def uncounted(out: Path, fmt: Any, parts: Any, audio: Any, subtitles: Any = None, **_: Any):
        join(out, fmt, parts, audio, subtitles)

    counted = tmp_path / "counted.mp4"
    shots = {"one": sources["a"], "two": sources["b"]}
    cut_film(storyboard, counted, shots)
    monkeypatch.setattr(assemble_module, "join", uncounted)
    out = tmp_path / "film.mp4"
    cut_film(storyboard, out, shots)
    assert [kind for kind, _ in boxes(out)] == [b"ftyp", b"moov", b"free", b"mdat"]
    assert video_packets(out) == video_packets(counted)


def test_webm_keeps_no_room(
    storyboard: StoryboardFactory,
    sources: dict[str, Path],
    tmp_path: Path,
    joins: list[dict[str, Any]],
) -> None:
    out = tmp_path / "film.webm"
    cut_film(storyboard, out, {"one": sources["a"]}, output="{format: WEBM}")
    assert out.read_bytes()[:4] == b"\x1a\x45\xdf\xa3"  # Matroska's EBML header
