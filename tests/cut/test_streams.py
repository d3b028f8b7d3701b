"""Indexing sources: cut points (closed GOPs only), parameter sets, ffmpeg failures."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from storyboard.core.errors import BuildError
from storyboard.cut.ffmpeg import crf_for, ffmpeg_exe, run_ffmpeg
from storyboard.cut.streams import index_video, nal_types, parameter_sets
from tests.cut.conftest import render_source


def test_index_of_a_closed_gop_source(sources: dict[str, Path]) -> None:
    index = index_video(sources["a"])
    assert (index.codec, index.width, index.height, index.pix_fmt) == ("h264", 160, 90, "yuv420p")
    assert index.fps == 24 and index.constant_rate and index.frame_count == 72
    assert index.cut_points == {0, 24, 48, 72}
    assert index.delays[24] > 0  # B-frames: the keyframe is decoded before it is shown
    assert sorted(index.ranks) == list(range(72)) and index.ranks != tuple(range(72))
    assert index.nal_length_size() == 4
    assert index.frame_of(index.pts_of(30)) == 30


def test_open_gop_keyframes_are_not_cut_points(tmp_path: Path) -> None:
    path = render_source(
        tmp_path / "open.mp4", 3, audio=False, extra=["-x264-params", "open-gop=1"]
    )
    index = index_video(path)
    assert index.cut_points == {0, 72}  # its later I-frames are not IDRs


def test_vp9_keyframes_are_cut_points(tmp_path: Path) -> None:
    path = render_source(tmp_path / "v.webm", 2, codec="libvpx-vp9", audio=False)
    index = index_video(path)
    assert index.codec == "vp9" and index.cut_points == {0, 24, 48}


def test_parameter_sets_are_read_from_avcc(sources: dict[str, Path]) -> None:
    index = index_video(sources["a"])
    prefixed = parameter_sets(index.extradata)
    assert nal_types(prefixed, 4) == [7, 8]  # SPS, PPS
    assert parameter_sets(b"") == b""


def test_a_file_that_is_not_video(tmp_path: Path) -> None:
    path = tmp_path / "text.mp4"
    path.write_text("not a video")
    with pytest.raises(BuildError, match="cannot read"):
        index_video(path)


def test_ffmpeg_failure_quotes_its_message(tmp_path: Path) -> None:
    missing = tmp_path / "missing.mp4"
    with pytest.raises(BuildError, match=r"(?s)while testing: .*missing\.mp4"):
        run_ffmpeg(
            [ffmpeg_exe(), "-v", "error", "-i", str(missing), str(tmp_path / "x.mp4")], "testing"
        )


def test_quality_maps_to_crf() -> None:
    assert crf_for(95, "h264") == 16 and crf_for(20, "h264") == 39
    assert crf_for(95, "vp9") == 22 and crf_for(99, "vp9") == 20
    assert Fraction(crf_for(50, "h264")) == 30


@pytest.mark.parametrize(
    ("extra", "pix_fmt"),
    [([], "yuv420p"), (["-pix_fmt", "yuv444p"], "yuv444p"), (["-pix_fmt", "yuvj420p"], "yuvj420p")],
)
def test_the_index_reads_the_headers_and_knows_the_pixel_format(
    tmp_path: Path, extra: list[str], pix_fmt: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An MP4's index is read from its headers without probing the picture; its pixel format
    (which decides whether packets can be copied next to another take's) is still right,
    learnt once per set of parameter sets."""
    import av

    from storyboard.cut import streams

    monkeypatch.setattr(streams, "_PIXEL_FORMATS", {})
    one = render_source(tmp_path / "one.mp4", 1, extra=extra)
    two = render_source(tmp_path / "two.mp4", 1, extra=extra)
    opened: list[dict[str, str]] = []
    real_open = av.open

    def counting_open(*args: object, **kwargs: object) -> object:
        opened.append(dict(kwargs.get("options") or {}))  # type: ignore[call-overload]
        return real_open(*args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(streams.av, "open", counting_open)
    first, second = index_video(one), index_video(two)
    assert (first.pix_fmt, second.pix_fmt) == (pix_fmt, pix_fmt)
    assert first.audio is not None and (first.audio.profile, first.audio.frame_size) == ("LC", 1024)
    probes = [o for o in opened if "probesize" not in o]
    assert len(opened) == 3 and len(probes) == 1  # two quick opens, one probe for both
    with real_open(str(one)) as probed:
        assert first.pix_fmt == probed.streams.video[0].codec_context.pix_fmt
