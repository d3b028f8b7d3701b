"""The film's sound from the takes' own AAC frames: copied where it plays unchanged, a repeated
silent frame where nothing sounds, encoded only where it changes; and the same mix as the
rebuilt track (``film_window`` against ``film_audio``)."""

from __future__ import annotations

import subprocess
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from numpy.typing import NDArray

from storyboard.cut import Timeline, index_videos
from storyboard.cut.audio import film_audio, film_window
from storyboard.cut.ffmpeg import ffmpeg_exe
from storyboard.cut.sound import FRAME, MAX_SHIFT, plan_sound, silent_frame
from tests.cut.conftest import BURST_AT, BURST_EVERY, StoryboardFactory, onsets
from tests.cut.test_assemble import cut_film

Stereo = NDArray[np.float32]


def stereo_audio(path: Path) -> Stereo:
    """The first audio stream, (n, 2) float32."""
    blocks = []
    with av.open(str(path)) as container:
        for frame in container.decode(audio=0):
            array = frame.to_ndarray()
            blocks.append(array.T if frame.format.is_planar else array.reshape(-1, 2))
    return np.concatenate(blocks).astype(np.float32)


def audio_packets(path: Path) -> list[bytes]:
    with av.open(str(path)) as container:
        return [bytes(p) for p in container.demux(audio=0) if p.size]


def offsets_of(timeline: Timeline) -> dict[Path, Fraction]:
    indexes = index_videos(c.source for c in timeline.clips)
    return {p: i.start_pts * i.time_base for p, i in indexes.items()}


def snr(found: Stereo, wanted: Stereo) -> float:
    """Signal to error (dB); silence where silence is wanted counts as perfect."""
    error = float(((found - wanted) ** 2).sum())
    signal = float((wanted**2).sum())
    if error < 1e-12:
        return float("inf")
    return float(10 * np.log10(max(signal, 1e-20) / error))


def worst_sync(found: list[float], wanted: list[float]) -> float:
    """Seconds from each wanted burst to the nearest one found, at worst."""
    return max(min(abs(f - t) for f in found) for t in wanted)


def expected_bursts(timeline: Timeline, shifts: dict[int, int]) -> list[float]:
    """Burst times (s) clear of the seams, each moved by its clip's shift."""
    times = []
    for clip in timeline.clips:
        margin = max(clip.head.frames, clip.tail.frames, 1)
        for frame in range(clip.source_in + margin, clip.source_out - margin):
            if frame % BURST_EVERY == BURST_AT:
                start = (clip.start + frame - clip.source_in) / 24
                times.append(start + shifts.get(clip.index, 0) / 48000)
    return times


def test_hard_cuts_copy_the_takes_sound_and_encode_only_the_seams(
    storyboard: StoryboardFactory, stereo: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "film.mp4"
    shots = {"one": stereo["a"], "two": stereo["b"], "three": stereo["a"]}
    timeline, report = cut_film(storyboard, out, shots)
    assert report.stream_copy
    frames = -(-timeline.total_frames * 2000 // FRAME) + 1
    sound = report.sound
    assert sound["copied_frames"] + sound["encoded_frames"] == frames
    assert sound["encoded_frames"] < 40  # the film's ends and two seams
    # 3 s clips: 144000 samples, off the 1024-sample grid: the second clip's sound moves 384
    # samples later, the third's 256 earlier (8 and 5 ms; the picture's frame is 41.7 ms)
    assert sound["shifts"] == {"1": 384, "2": -256}
    # copied frames are the take's own bytes
    film_packets = audio_packets(out)
    take = set(audio_packets(stereo["a"]))
    assert sum(p in take for p in film_packets[10:60]) == 50
    # every burst where it should be, give or take its clip's shift (never more than 10.7 ms)
    shifts = {int(k): v for k, v in sound["shifts"].items()}
    found = [i / 48000 for i in onsets(stereo_audio(out).mean(axis=1))]
    wanted = expected_bursts(timeline, shifts)
    assert len(wanted) > 10
    assert worst_sync(found, wanted) < 0.002
    assert max(abs(v) for v in shifts.values()) <= MAX_SHIFT


def test_the_spliced_track_sounds_like_the_mix(
    storyboard: StoryboardFactory, stereo: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "film.mp4"
    shots = {"one": stereo["a"], "two": stereo["b"]}
    cut = "cut:\n  clips:\n    - shot: one\n    - {shot: two, transition: crossfade}\n"
    timeline, report = cut_film(storyboard, out, shots, cut)
    assert report.sound["copied_frames"] > 150 and report.sound["encoded_frames"] > 20
    offsets = offsets_of(timeline)
    indexes = index_videos(c.source for c in timeline.clips)
    plan = plan_sound(timeline, indexes, offsets)
    total = timeline.total_frames * 2000
    wanted = film_window(timeline, offsets, 0, total, shifts=plan.shifts)
    found = stereo_audio(out)
    assert len(found) - total in range(FRAME)  # as decoded, the last frame is whole
    found = found[:total]
    assert snr(found, wanted) > 40
    for run in plan.runs:  # around every splice between copied and encoded frames
        if run.kind == "copy":
            for edge in ((run.first - 1) * FRAME, (run.first - 1 + run.count) * FRAME):
                window = slice(max(edge - 2 * FRAME, 0), min(edge + 2 * FRAME, total))
                assert snr(found[window], wanted[window]) > 30


def test_takes_on_the_film_grid_keep_their_sound_exactly_in_place(
    storyboard: StoryboardFactory, stereo: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "film.mp4"
    # 64 frames = 128000 samples = 125 AAC frames: every clip starts on the film's grid
    cut = "cut:\n  clips:\n    - {shot: one, out: 2.6666667}\n    - {shot: two, out: 2.6666667}\n"
    timeline, report = cut_film(storyboard, out, {"one": stereo["a"], "two": stereo["b"]}, cut)
    assert report.sound["shifts"] == {}
    found = [i / 48000 for i in onsets(stereo_audio(out).mean(axis=1))]
    wanted = expected_bursts(timeline, {})
    assert len(wanted) >= 8
    assert worst_sync(found, wanted) < 0.002


def test_the_same_cut_gives_the_same_bytes(
    storyboard: StoryboardFactory, stereo: dict[str, Path], tmp_path: Path
) -> None:
    shots = {"one": stereo["a"], "two": stereo["b"]}
    cut = "cut:\n  clips:\n    - {shot: one, in: 0.4}\n    - {shot: two, transition: fade}\n"
    cut_film(storyboard, tmp_path / "first.mp4", shots, cut)
    cut_film(storyboard, tmp_path / "second.mp4", shots, cut)
    assert (tmp_path / "first.mp4").read_bytes() == (tmp_path / "second.mp4").read_bytes()


def test_silent_takes_repeat_one_silent_frame(
    storyboard: StoryboardFactory, sources: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "film.mp4"
    _, report = cut_film(storyboard, out, {"one": sources["silent"], "two": sources["silent"]})
    assert report.sound["copied_frames"] == 0 and report.sound["encoded_frames"] == 1
    packets = audio_packets(out)
    assert packets[1:] == [silent_frame()] * (len(packets) - 1)
    assert np.abs(stereo_audio(out)).max() == 0


def test_mono_takes_rebuild_the_whole_track(
    storyboard: StoryboardFactory, sources: dict[str, Path], tmp_path: Path
) -> None:
    _, report = cut_film(storyboard, tmp_path / "film.mp4", {"one": sources["a"]})
    assert report.sound == {"rebuilt": True}


def test_the_window_mix_is_the_rebuilt_mix_sample_for_sample(
    storyboard: StoryboardFactory, sources: dict[str, Path], tmp_path: Path
) -> None:
    from storyboard.cut import build_timeline, measure_videos

    music = tmp_path / "score.wav"
    tone = "aevalsrc=exprs='0.3*sin(2*PI*440*t)|0.2*sin(2*PI*330*t)':s=48000:d=4"
    subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i", tone, str(music)], check=True
    )
    shots = {"one": sources["a"], "two": sources["b"], "three": sources["c"]}
    cut = (
        "cut:\n  fade_in: 0.25\n  fade_out: 0.5\n  music: {file: score.wav, volume: 0.5}\n"
        "  clips:\n    - {shot: one, in: 0.5}\n    - {shot: two, transition: crossfade}\n"
        "    - {shot: three, transition: fade, transition_duration: 0.5}\n"
    )
    from tests.cut.test_assemble import storyboard_text

    compiled = storyboard(storyboard_text(shots, cut), **{"score.wav": music.read_bytes()})
    timeline = build_timeline(compiled, shots, measure_videos(shots), size=(160, 90))
    offsets = offsets_of(timeline)
    whole = np.concatenate(list(film_audio(timeline, offsets)))
    total = len(whole)
    assert np.array_equal(film_window(timeline, offsets, 0, total), whole)
    for start, stop in [(-500, 3000), (50_000, 77_777), (total - 9000, total + 700)]:
        window = film_window(timeline, offsets, start, stop)
        inside = whole[max(start, 0) : min(stop, total)]
        assert np.array_equal(window[max(-start, 0) : max(-start, 0) + len(inside)], inside)
        assert not window[len(inside) + max(-start, 0) :].any()  # silence past the end
