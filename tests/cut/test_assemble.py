"""The cut end to end: real ffmpeg, decoded frames and audio compared with the sources."""

from __future__ import annotations

import subprocess
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from storyboard.core.errors import BuildError
from storyboard.cut import AssemblyReport, Timeline, assemble, build_timeline, measure_videos
from storyboard.cut.ffmpeg import ffmpeg_exe
from storyboard.media.probe import probe
from tests.cut.conftest import (
    BURST_AT,
    BURST_EVERY,
    StoryboardFactory,
    decode_audio,
    decode_frames,
    diff,
    nearest,
    onsets,
    render_source,
    video_packets,
)

NOISE = 6.0  # mean abs difference (8-bit levels) allowed for re-encoded frames


def storyboard_text(shots: dict[str, Path], cut: str = "", output: str = "") -> str:
    lines = ["storyboard: 1", "title: Cut", "defaults: {sound: true}"]
    if output:
        lines.append(f"output: {output}")
    lines.append("shots:")
    lines += [f"  - {{id: {shot}, duration: 3, prompt: shot {shot}}}" for shot in shots]
    return "\n".join(lines) + "\n" + cut


def cut_film(
    storyboard: StoryboardFactory,
    out: Path,
    shots: dict[str, Path],
    cut: str = "",
    *,
    output: str = "",
    size: tuple[int, int] = (160, 90),
    files: dict[str, bytes] | None = None,
) -> tuple[Timeline, AssemblyReport]:
    """Compile a storyboard whose shots are ``shots`` (one take each), cut it to ``out``."""
    compiled = storyboard(storyboard_text(shots, cut, output), **(files or {}))
    videos = dict(shots)
    timeline = build_timeline(compiled, videos, measure_videos(videos), size=size)
    report = assemble(timeline, out)
    facts = probe(out)
    # Always: the exact length, in video and audio alike.
    assert facts.frame_count == timeline.total_frames == report.frames
    assert facts.fps == 24
    assert facts.audio_duration_s is not None
    assert abs(facts.audio_duration_s - timeline.total_frames / 24) < 0.002
    assert (facts.width, facts.height) == size
    return timeline, report


def test_hard_cuts_are_stream_copied_bit_exact(
    storyboard: StoryboardFactory, sources: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "out" / "film.mp4"
    _, report = cut_film(storyboard, out, {"one": sources["a"], "two": sources["b"]})
    assert report.stream_copy and report.encoded_frames == 0
    assert [p.kind for p in report.pieces] == ["copy", "copy"]
    # The film's video packets are the sources' packets, byte for byte.
    assert video_packets(out) == video_packets(sources["a"]) + video_packets(sources["b"])
    film, a, b = decode_frames(out), decode_frames(sources["a"]), decode_frames(sources["b"])
    assert len(film) == 144
    assert np.array_equal(film[71], a[71]) and np.array_equal(film[72], b[0])
    assert sorted(p.name for p in out.parent.iterdir()) == ["film.mp4"]  # no temp files left


def test_trim_reencodes_only_up_to_the_next_keyframe(
    storyboard: StoryboardFactory, sources: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "film.mp4"
    cut = "cut:\n  clips:\n    - {shot: one, in: 0.5, out: 2.5}\n    - {shot: two}\n"
    timeline, report = cut_film(storyboard, out, {"one": sources["a"], "two": sources["b"]}, cut)
    assert [(p.kind, p.frames) for p in report.pieces] == [
        ("encode", 12),  # frames 12..23 of `one`, up to its keyframe at 24
        ("copy", 24),  # frames 24..47
        ("encode", 12),  # frames 48..59: its last keyframe before the out point
        ("copy", 72),
    ]
    assert not report.stream_copy
    assert timeline.total_frames == 48 + 72
    film, a, b = decode_frames(out), decode_frames(sources["a"]), decode_frames(sources["b"])
    # Exactly the requested frames: film frame k is source frame 12 + k.
    for k in (0, 5, 11, 47):
        assert nearest(film[k], a) == 12 + k
        assert diff(film[k], a[12 + k]) < NOISE
    assert np.array_equal(film[12], a[24]) and np.array_equal(film[35], a[47])  # copied
    assert np.array_equal(film[48], b[0]) and np.array_equal(film[-1], b[-1])


def test_crossfade_blends_the_two_clips(
    storyboard: StoryboardFactory, sources: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "film.mp4"
    cut = "cut:\n  clips:\n    - shot: one\n    - {shot: two, transition: crossfade}\n"
    timeline, report = cut_film(storyboard, out, {"one": sources["a"], "two": sources["b"]}, cut)
    assert timeline.total_frames == 144 - 12  # the overlap shortens the film
    assert [(p.kind, p.frames) for p in report.pieces] == [
        ("copy", 48),
        ("encode", 36),  # a[48:72] + b[0:24], overlapping by 12
        ("copy", 48),
    ]
    assert report.pieces[1].reasons == ("crossfade out of 'one'", "crossfade into 'two'")
    film, a, b = decode_frames(out), decode_frames(sources["a"]), decode_frames(sources["b"])
    middle = film[60 + 6]  # overlap frame 6 of 12: half of each
    average = (a[66].astype(np.int32) + b[6]) / 2
    assert float(np.abs(middle - average).mean()) < NOISE
    assert diff(middle, a[66]) > 8 * NOISE and diff(middle, b[6]) > 8 * NOISE
    assert diff(film[59], a[59]) < NOISE  # before the overlap: only `one`
    assert diff(film[72], b[12]) < NOISE  # after it: only `two`
    assert np.array_equal(film[84], b[24])  # copied from the keyframe after the seam


def test_fade_dips_to_black_between_clips(
    storyboard: StoryboardFactory, sources: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "film.mp4"
    cut = "cut:\n  clips:\n    - shot: one\n    - {shot: two, transition: fade}\n"
    timeline, _ = cut_film(storyboard, out, {"one": sources["a"], "two": sources["b"]}, cut)
    assert timeline.total_frames == 144  # no overlap
    film, a, b = decode_frames(out), decode_frames(sources["a"]), decode_frames(sources["b"])
    assert film[71].mean() < 3 and film[72].mean() < 3  # black on both sides of the cut
    assert diff(film[65], a[65]) < NOISE  # untouched before the dip
    # 6 frames out: frame 66 + j at (5 - j)/6; 6 frames in: frame 72 + j at j/6.
    assert float(np.abs(film[68] - a[68] * (3 / 6)).mean()) < NOISE
    assert float(np.abs(film[70] - a[70] * (1 / 6)).mean()) < NOISE
    assert float(np.abs(film[75] - b[3] * (3 / 6)).mean()) < NOISE


def test_film_fades_in_and_out_in_picture_and_sound(
    storyboard: StoryboardFactory, sources: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "film.mp4"
    cut = "cut:\n  fade_in: 0.5\n  fade_out: 0.5\n"
    cut_film(storyboard, out, {"one": sources["a"]}, cut)
    film = decode_frames(out)
    assert film[0].mean() < 3 and film[-1].mean() < 3
    assert film[12].mean() > 40 and film[-13].mean() > 40
    sound = decode_audio(out)
    assert np.abs(sound[:200]).max() < 0.02  # the film starts in silence
    full = round((BURST_AT + BURST_EVERY) / 24 * 48000)  # frame 15: at full volume
    burst = round(
        (BURST_AT + BURST_EVERY * 5) / 24 * 48000
    )  # frame 63: a quarter into the fade, gain 3/4
    assert 0.45 < np.abs(sound[full : full + 480]).max() < 0.55
    assert 0.5 * 0.7 < np.abs(sound[burst : burst + 480]).max() < 0.5 * 0.8


def test_other_sizes_are_pillarboxed_and_letterboxed_never_stretched(
    storyboard: StoryboardFactory, sources: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "film.mp4"
    shots = {"one": sources["a"], "two": sources["square"]}
    _, report = cut_film(storyboard, out, shots)
    assert [p.kind for p in report.pieces] == ["copy", "encode"]  # only the odd one re-encoded
    assert "it is 90x90, the film 160x90" in report.unjoinable[str(sources["square"])]
    frame = decode_frames(out)[72 + 10]
    columns = frame.mean(axis=(0, 2))
    assert columns[:30].max() < 3 and columns[-30:].max() < 3  # black bars left and right
    assert columns[40:120].mean() > 40  # the picture, 90 px wide, in the middle
    lit = np.flatnonzero(columns > 8)
    assert 86 <= lit[-1] - lit[0] + 1 <= 92
    # A 16:9 clip into a square film: bars above and below, the picture 160x90.
    square = tmp_path / "square.mp4"
    cut_film(storyboard, square, {"one": sources["a"]}, size=(160, 160))
    rows = decode_frames(square)[10].mean(axis=(1, 2))
    assert rows[:30].max() < 3 and rows[-30:].max() < 3
    lit = np.flatnonzero(rows > 8)
    assert 86 <= lit[-1] - lit[0] + 1 <= 92


def test_mute_gives_a_silent_track_of_the_right_length(
    storyboard: StoryboardFactory, sources: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "film.mp4"
    cut_film(storyboard, out, {"one": sources["a"], "two": sources["b"]}, "cut:\n  audio: mute\n")
    sound = decode_audio(out)
    assert len(sound) >= 144 * 2000 and np.abs(sound).max() < 1e-3


def test_a_shot_without_sound_is_silence_under_its_frames(
    storyboard: StoryboardFactory, sources: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "film.mp4"
    _, report = cut_film(storyboard, out, {"one": sources["silent"], "two": sources["a"]})
    assert report.stream_copy
    sound = decode_audio(out)
    assert np.abs(sound[: 72 * 2000 - 2000]).max() < 1e-3
    assert np.abs(sound[72 * 2000 :]).max() > 0.4


def test_music_is_mixed_under_at_its_volume_and_cut_to_length(
    storyboard: StoryboardFactory, sources: dict[str, Path], tmp_path: Path
) -> None:
    music = tmp_path / "score.wav"
    tone = "aevalsrc=exprs='0.5*sin(2*PI*440*t)|0.5*sin(2*PI*440*t)':s=48000:d=10"
    subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i", tone, str(music)],
        check=True,
    )
    out = tmp_path / "film.mp4"
    cut = "cut:\n  audio: mute\n  fade_out: 0.5\n  music: {file: score.wav, volume: 0.5}\n"
    files = {"score.wav": music.read_bytes()}
    cut_film(storyboard, out, {"one": sources["a"]}, cut, files=files)  # 3 s of 10 s of music
    sound = decode_audio(out)
    middle = sound[48000 : 2 * 48000]
    assert 0.22 < np.abs(middle).max() < 0.28  # 0.5 x 0.5
    assert np.abs(sound[-200:]).max() < 0.02  # faded out with the film


def test_webm_is_vp9_and_opus(
    storyboard: StoryboardFactory, sources: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "film.webm"
    shots = {"one": sources["a"], "two": sources["b"]}
    _, report = cut_film(
        storyboard,
        out,
        shots,
        "cut:\n  clips: [{shot: one, in: 1}, {shot: two}]\n",
        output="{format: WEBM}",
    )
    facts = probe(out)
    assert (facts.video_codec, facts.audio_codec, facts.container) == (
        "vp9",
        "opus",
        "matroska,webm",
    )
    assert report.encoded_frames == report.frames == 120
    film, a = decode_frames(out), decode_frames(sources["a"])
    assert nearest(film[5], a) == 29 and diff(film[5], a[29]) < 2 * NOISE


def test_mov_keeps_the_stream_copy(
    storyboard: StoryboardFactory, sources: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "film.mov"
    shots = {"one": sources["a"], "two": sources["b"]}
    _, report = cut_film(storyboard, out, shots, output="{format: MOV}")
    assert report.stream_copy
    assert probe(out).container.startswith("mov")
    assert video_packets(out) == video_packets(sources["a"]) + video_packets(sources["b"])


def test_sources_with_other_parameter_sets_still_copy_and_decode(
    storyboard: StoryboardFactory, sources: dict[str, Path], tmp_path: Path
) -> None:
    other = render_source(tmp_path / "other.mp4", 3, extra=["-crf", "35"])  # another PPS
    out = tmp_path / "film.mp4"
    _, report = cut_film(
        storyboard, out, {"one": sources["a"], "two": other, "three": sources["a"]}
    )
    assert report.stream_copy
    film, a, o = decode_frames(out), decode_frames(sources["a"]), decode_frames(other)
    assert np.array_equal(film[71], a[71]) and np.array_equal(film[72], o[0])
    assert np.array_equal(film[143], o[71]) and np.array_equal(film[144], a[0])
    # A player that seeks straight into a later GOP of `two` decodes it right too.
    with av.open(str(out)) as container:
        stream = container.streams.video[0]
        assert stream.time_base is not None
        container.seek(round(Fraction(72 + 24, 24) / stream.time_base), stream=stream)
        first = next(container.decode(stream)).to_ndarray(format="rgb24").astype(np.int16)
    assert np.array_equal(first, o[24])
    check = subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-i", str(out), "-f", "null", "-"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0 and check.stderr == ""


def test_audio_stays_in_sync_over_fifty_clips(
    storyboard: StoryboardFactory, sources: dict[str, Path], tmp_path: Path
) -> None:
    rng = np.random.default_rng(7)
    shots = {f"s{k:02d}": sources["a" if k % 2 else "b"] for k in range(50)}
    clips = []
    for k, shot in enumerate(shots):
        start = int(rng.integers(0, 30))  # frames: most trims start off a keyframe
        length = int(rng.integers(18, 40))
        item = f"{{shot: {shot}, in: {start / 24:.6f}, out: {(start + length) / 24:.6f}"
        if k % 7 == 3:
            item += ", transition: crossfade, transition_duration: 0.25"
        clips.append(f"    - {item}}}")
    cut = "cut:\n  clips:\n" + "\n".join(clips) + "\n"
    out = tmp_path / "film.mp4"
    timeline, report = cut_film(storyboard, out, shots, cut)
    assert report.copied_frames > 0 and report.encoded_frames > 0
    expected: list[float] = []
    for clip in timeline.clips:
        margin = max(clip.head.frames, clip.tail.frames, 1)  # bursts clear of the seams
        for frame in range(clip.source_in + margin, clip.source_out - margin):
            if frame % BURST_EVERY == BURST_AT:
                expected.append((clip.start + frame - clip.source_in) / 24)
    found = [i / 48000 for i in onsets(decode_audio(out))]
    assert len(expected) > 40
    errors = [min(abs(f - t) for f in found) for t in expected]
    assert max(errors) < 0.002  # well under one frame (41.7 ms), and no drift
    late = [e for e, t in zip(errors, expected, strict=True) if t > timeline.total_frames / 48]
    assert late and max(late) < 0.002
    # And the picture: the middle frame of every clip is the source frame it should be.
    film = decode_frames(out)
    frames = {path: decode_frames(path) for path in {sources["a"], sources["b"]}}
    for clip in timeline.clips:
        middle = clip.frames // 2
        assert nearest(film[clip.start + middle], frames[clip.source]) == clip.source_in + middle


def test_other_sample_rates_and_stereo_stay_in_sync(
    storyboard: StoryboardFactory, sources: dict[str, Path], tmp_path: Path
) -> None:
    other = render_source(tmp_path / "cd.mp4", 3, rate=44_100, stereo=True)
    out = tmp_path / "film.mp4"
    cut = "cut:\n  clips:\n    - {shot: one, in: 0.5}\n    - {shot: two, in: 0.3, out: 2.7}\n"
    timeline, _ = cut_film(storyboard, out, {"one": sources["a"], "two": other}, cut)
    found = [i / 48000 for i in onsets(decode_audio(out))]
    expected = [
        (clip.start + frame - clip.source_in) / 24
        for clip in timeline.clips
        for frame in range(clip.source_in + 1, clip.source_out - 1)
        if frame % BURST_EVERY == BURST_AT
    ]
    assert len(found) == len(expected) == 10
    assert max(abs(f - t) for f, t in zip(found, expected, strict=True)) < 0.002
    sound = decode_audio(out)
    last = round(expected[-1] * 48000)  # a burst of the stereo 44.1 kHz clip: same level
    assert 0.45 < np.abs(sound[last : last + 480]).max() < 0.55


def test_hard_cuts_fade_the_sound_for_a_few_milliseconds(
    storyboard: StoryboardFactory, tmp_path: Path
) -> None:
    hum = render_source(tmp_path / "hum.mp4", 3, tone="0.5*sin(2*PI*300*t)")
    out = tmp_path / "film.mp4"
    cut = "cut:\n  clips:\n    - {shot: one, out: 1}\n    - {shot: one, in: 1.5}\n"
    cut_film(storyboard, out, {"one": hum}, cut)
    sound = decode_audio(out)
    seam = 24 * 2000
    assert np.abs(sound[seam - 8 : seam + 8]).max() < 0.02  # silent right at the cut
    assert np.abs(sound[seam - 960 : seam - 480]).max() > 0.45  # 10..20 ms before: full
    assert np.abs(sound[seam + 480 : seam + 960]).max() > 0.45
    ramp = np.abs(sound[seam - 240 : seam])  # the 5 ms fade out is monotonic in envelope
    assert ramp[:60].max() > ramp[-60:].max()


def test_other_frame_rates_are_converted_to_24_fps(
    storyboard: StoryboardFactory, sources: dict[str, Path], tmp_path: Path
) -> None:
    fast = render_source(tmp_path / "thirty.mp4", 3, fps=30, gop=30)
    out = tmp_path / "film.mp4"
    cut = "cut:\n  clips:\n    - {shot: one, out: 1}\n    - {shot: two, in: 0.5, out: 2.5}\n"
    timeline, report = cut_film(storyboard, out, {"one": sources["a"], "two": fast}, cut)
    assert timeline.total_frames == 24 + 48
    assert "not a constant 24 fps" in report.unjoinable[str(fast)]
    assert [p.kind for p in report.pieces] == ["copy", "encode"]


def test_a_broken_source_is_a_build_error_and_leaves_nothing(
    storyboard: StoryboardFactory, sources: dict[str, Path], tmp_path: Path
) -> None:
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(sources["a"].read_bytes()[:3000])
    out = tmp_path / "out" / "film.mp4"
    compiled = storyboard(storyboard_text({"one": broken}))
    timeline = build_timeline(compiled, {"one": broken}, {"one": (72, 24)}, size=(160, 90))
    with pytest.raises(BuildError, match=r"broken\.mp4"):
        assemble(timeline, out)
    assert list(out.parent.iterdir()) == []
