"""Indexing from the MP4 sample tables gives exactly what demuxing every packet gives, and
falls back to demuxing where the tables cannot be trusted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import av
import pytest

from storyboard.cut import streams, tables
from tests.cut.conftest import render_source

CASES: dict[str, dict[str, Any]] = {
    "faststart": {"extra": ["-movflags", "+faststart"]},
    "moov at the end": {},
    "open GOP, B-pyramid": {"extra": ["-x264-params", "open-gop=1:b-pyramid=normal:bframes=3"]},
    "no B-frames": {"extra": ["-bf", "0"]},
    "mov": {},
    "48 kHz stereo": {"stereo": True},
    "44.1 kHz": {"rate": 44_100},
}


def demuxed_index(path: Path, monkeypatch: pytest.MonkeyPatch) -> streams.VideoIndex:
    with monkeypatch.context() as patch:
        patch.setattr(streams, "_from_tables", lambda *args: None)
        return streams.index_video(path)


def table_samples(path: Path) -> list[list[tables.Sample]] | None:
    with av.open(str(path)) as container:
        chosen = [container.streams.video[0], *container.streams.audio[:1]]
        found = tables.samples(str(path), container, chosen)
        return found if found is not None and tables.agrees(container, chosen, found) else None


@pytest.mark.parametrize("case", list(CASES))
def test_the_tables_index_equals_the_demuxed_one(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    suffix = "mov" if case == "mov" else "mp4"
    path = render_source(tmp_path / f"take.{suffix}", 2.5, gop=12, **CASES[case])
    found = table_samples(path)
    assert found is not None  # the tables were used
    video, audio = found
    assert len(video) == 60 and sum(s.keyframe for s in video) == 5
    assert audio and all(s.duration == 1024 for s in audio[:-1])
    index = streams.index_video(path)
    assert index == demuxed_index(path, monkeypatch)
    assert index.places is not None and index.audio is not None and index.audio.places


def test_a_fragmented_file_is_demuxed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = render_source(tmp_path / "frag.mp4", 2, extra=["-movflags", "frag_keyframe+empty_moov"])
    assert table_samples(path) is None
    index = streams.index_video(path)
    assert index.frame_count == 48
    assert index == demuxed_index(path, monkeypatch)


def test_tables_that_disagree_with_the_demuxer_are_not_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check reads the first packets; the demuxing that follows starts again from the
    file's start, so no packet is lost."""
    path = render_source(tmp_path / "take.mp4", 2)
    expected = demuxed_index(path, monkeypatch)
    real = tables.agrees
    calls = []

    def disagree(container: object, chosen: list[object], found: object) -> bool:
        calls.append(real(container, chosen, found))  # reads packets, as the real check does
        return False

    monkeypatch.setattr(tables, "agrees", disagree)
    assert streams.index_video(path) == expected
    assert calls == [True]


def test_shifted_tables_are_caught(tmp_path: Path) -> None:
    """A presentation time off by one tick in the tables is refused by the check."""
    path = render_source(tmp_path / "take.mp4", 2)
    with av.open(str(path)) as container:
        chosen = [container.streams.video[0], container.streams.audio[0]]
        found = tables.samples(str(path), container, chosen)
        assert found is not None
        video = found[0]
        first = video[0]
        video[0] = tables.Sample(
            first.pos, first.size, first.pts + 1, first.dts, first.duration, first.keyframe
        )
        assert not tables.agrees(container, chosen, found)


def test_a_header_too_large_or_missing_is_not_read(tmp_path: Path) -> None:
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00\x00\x00\x10ftypisom\x00\x00\x02\x00" + b"\x00" * 64)
    assert tables._read_moov(str(junk)) is None
    path = render_source(tmp_path / "take.mp4", 1)
    moov = tables._read_moov(str(path))
    assert moov is not None and moov[4:8] == b"moov"
    assert {track for track, _ in tables._tracks(moov)} == {1, 2}
