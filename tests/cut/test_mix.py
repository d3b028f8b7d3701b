"""The film's mix: clip volume and mute, music cues (placed, faded, looped, ducked), loudness.

Levels are measured on the decoded film: the amplitude of a tone at its own frequency (so a
clip's 1 kHz bursts and a 440 Hz music cue are told apart), and the loudness twice: by
ffmpeg's ``ebur128`` filter on the encoded film (the normaliser measured the mix before the
encoder with it), and by :func:`bs1770`, a reference of ITU-R BS.1770-4 written here from the
standard's coefficients, independent of ffmpeg.
"""

from __future__ import annotations

import itertools
import re
import subprocess
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import av
import numpy as np
import pytest
from numpy.typing import NDArray

from storyboard.cut import assemble, build_timeline, measure_videos
from storyboard.cut.ffmpeg import ffmpeg_exe
from storyboard.cut.loudness import CEILING, limit, plan, true_peaks
from storyboard.cut.mix import ATTACK, RELEASE, duck_weight
from tests.cut.conftest import StoryboardFactory, decode_audio, render_source

RATE = 48_000


def tone(path: Path, seconds: float, freq: int = 440, level: float = 0.2) -> bytes:
    """A sine of ``freq`` Hz at amplitude ``level``, as a WAV file's bytes."""
    expr = f"{level}*sin(2*PI*{freq}*t)"
    cmd = [ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi"]
    cmd += ["-i", f"aevalsrc=exprs='{expr}':s={RATE}:d={seconds}", str(path)]
    subprocess.run(cmd, check=True)
    return path.read_bytes()


def amplitude(samples: NDArray[np.float32], start: float, end: float, freq: int) -> float:
    """The amplitude of the ``freq`` Hz component of ``samples[start s : end s]``."""
    part = samples[int(start * RATE) : int(end * RATE)].astype(np.float64)
    t = np.arange(len(part)) / RATE
    i = 2 * np.mean(part * np.sin(2 * np.pi * freq * t))
    q = 2 * np.mean(part * np.cos(2 * np.pi * freq * t))
    return float(np.hypot(i, q))


def film(
    storyboard: StoryboardFactory,
    out: Path,
    shots: list[tuple[str, Path, bool]],
    cut: str,
    files: dict[str, bytes] | None = None,
) -> NDArray[np.float32]:
    """Cut a film of ``(shot, video, sound)`` shots (3 s each) with ``cut``; its audio."""
    lines = ["storyboard: 1", "title: Mix", "shots:"]
    lines += [f"  - {{id: {s}, duration: 3, sound: {str(snd).lower()}, prompt: shot {s}}}"
              for s, _, snd in shots]  # fmt: skip
    compiled = storyboard("\n".join(lines) + "\n" + cut, **(files or {}))
    videos = {s: v for s, v, _ in shots}
    timeline = build_timeline(compiled, videos, measure_videos(videos), size=(160, 90))
    assemble(timeline, out)
    return decode_audio(out)


@pytest.fixture(scope="module")
def steady(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 3 s take whose sound is a steady 1 kHz tone at amplitude 0.1."""
    root = tmp_path_factory.mktemp("steady")
    return render_source(root / "steady.mp4", 3, tone="0.1*sin(2*PI*1000*t)")


def test_clip_volume_and_mute(storyboard: StoryboardFactory, steady: Path, tmp_path: Path) -> None:
    shots = [("a", steady, True), ("b", steady, True), ("c", steady, True)]
    cut = "cut:\n  clips:\n    - {shot: a}\n    - {shot: b, volume: 2.5}\n"
    cut += "    - {shot: c, mute: true}\n"
    sound = film(storyboard, tmp_path / "film.mp4", shots, cut)
    a, b, c = (amplitude(sound, k * 3 + 0.5, k * 3 + 2.5, 1000) for k in range(3))
    assert a == pytest.approx(0.1, rel=0.05)
    assert b == pytest.approx(0.25, rel=0.05)
    assert c < 0.001 and np.abs(sound[int(6.1 * RATE) : int(8.9 * RATE)]).max() < 0.001


def test_music_cues_are_placed_faded_and_looped(
    storyboard: StoryboardFactory, sources: dict[str, Path], tmp_path: Path
) -> None:
    silent = sources["silent"]
    files = {
        "score.wav": tone(tmp_path / "score.wav", 1.0, 440, 0.2),
        "bell.wav": tone(tmp_path / "bell.wav", 3.0, 660, 0.2),
    }
    cut = (
        "cut:\n  music:\n"
        "    - {file: score.wav, from: 1, to: 5, start: 0.5, loop: true, fade_in: 0.5,"
        " volume: 0.5}\n"
        "    - {file: bell.wav, from: 4, fade_out: 1}\n"  # to the film's end, fading out
    )
    sound = film(storyboard, tmp_path / "film.mp4", [("a", silent, False), ("b", silent, False)],
                 cut, files)  # fmt: skip
    assert np.abs(sound[: int(0.99 * RATE)]).max() < 0.002  # before the cues
    assert amplitude(sound, 5.1, 6.0, 440) < 0.002  # after the first
    assert amplitude(sound, 1.0, 1.5, 440) == pytest.approx(0.05, rel=0.1)  # fading in: half
    # the 0.5 s left of the file after 'start', looped: no gap from 1.5 s to 5 s
    for k in range(15, 50):
        assert amplitude(sound, k / 10, (k + 1) / 10, 440) == pytest.approx(0.1, rel=0.05), k
    # the second cue, from 4 s to the film's end (6 s), under and after the first
    assert amplitude(sound, 1.0, 3.9, 660) < 0.002
    assert amplitude(sound, 4.0, 5.0, 660) == pytest.approx(0.2, rel=0.05)
    assert amplitude(sound, 5.0, 6.0, 660) == pytest.approx(0.1, rel=0.1)  # fading out: half


def test_music_ducks_under_the_clips_own_sound_with_smooth_ramps(
    storyboard: StoryboardFactory, sources: dict[str, Path], steady: Path, tmp_path: Path
) -> None:
    files = {"score.wav": tone(tmp_path / "score.wav", 10.0, 440, 0.2)}
    shots = [("a", sources["silent"], False), ("b", steady, True), ("c", sources["silent"], False)]
    cut = "cut:\n  music: {file: score.wav, duck: 0.25}\n"
    sound = film(storyboard, tmp_path / "film.mp4", shots, cut, files)
    assert amplitude(sound, 1.0, 2.5, 440) == pytest.approx(0.2, rel=0.03)  # no sound: full
    assert amplitude(sound, 3.0, 6.0, 440) == pytest.approx(0.05, rel=0.05)  # ducked to 0.25
    assert amplitude(sound, 3.0, 6.0, 1000) == pytest.approx(0.1, rel=0.05)  # the clip's own
    assert amplitude(sound, 6.0 + RELEASE, 9.0, 440) == pytest.approx(0.2, rel=0.03)
    # the ramps: down before the sound starts (done at 3 s), up after it ends; never a step
    levels = [amplitude(sound, t, t + 0.05, 440) for t in np.arange(3 - ATTACK, 3.0, 0.05)]
    assert all(x > y for x, y in itertools.pairwise(levels))
    assert levels[0] > 0.15 and levels[-1] < 0.07
    weight = duck_weight([(3 * RATE, 6 * RATE)], 0, 9 * RATE)
    assert weight[int((3 - ATTACK) * RATE)] == 0 and weight[3 * RATE] == 1
    assert np.abs(np.diff(weight)).max() < 3 / (ATTACK * RATE)  # smooth: no jump


def ebur128(path: Path) -> tuple[float, float]:
    """Integrated loudness (LUFS) and true peak (dBTP) of a file's sound, by ffmpeg's
    ``ebur128`` filter."""
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostats", "-i", str(path), "-map", "0:a"]
    cmd += ["-af", "ebur128=peak=true", "-f", "null", "-"]
    text = subprocess.run(cmd, capture_output=True, text=True, check=True).stderr
    summary = text[text.rindex("Summary:") :]
    integrated = float(re.search(r"I:\s+(-?[\d.]+) LUFS", summary).group(1))  # type: ignore[union-attr]
    peak = float(re.search(r"Peak:\s+(-?[\d.]+|-inf) dBFS", summary).group(1))  # type: ignore[union-attr]
    return integrated, peak


@cache
def k_weighting(taps: int = 16384) -> NDArray[np.float64]:
    """The impulse response of BS.1770-4's K-weighting at 48 kHz: its two biquads (a shelf,
    then a 38 Hz high-pass; the standard's coefficients), run on an impulse. Its poles are
    inside 0.9951, so after 16384 samples what is left is below 1e-30."""
    stages = [
        ((1.53512485958697, -2.69169618940638, 1.19839281085285),
         (-1.69065929318241, 0.73248077421585)),
        ((1.0, -2.0, 1.0), (-1.99004745483398, 0.99007225036621)),
    ]  # fmt: skip
    signal = [1.0] + [0.0] * (taps - 1)
    for (b0, b1, b2), (a1, a2) in stages:
        out, x1, x2, y1, y2 = [], 0.0, 0.0, 0.0, 0.0
        for x in signal:
            y = b0 * x + b1 * x1 + b2 * x2 - a1 * y1 - a2 * y2
            x2, x1, y2, y1 = x1, x, y1, y
            out.append(y)
        signal = out
    return np.array(signal)


def bs1770(samples: NDArray[np.float32]) -> float:
    """Integrated loudness (LUFS) of 48 kHz samples ``(n, channels)`` by ITU-R BS.1770-4:
    K-weighted, mean squares of 400 ms blocks every 100 ms summed over the channels, gated
    at -70 LUFS and then 10 LU under the loudness of the blocks the first gate kept."""
    h = k_weighting()
    size = 1 << (len(samples) + len(h)).bit_length()
    spectrum = np.fft.rfft(h, size)
    weighted = np.stack(
        [np.fft.irfft(np.fft.rfft(samples[:, c].astype(np.float64), size) * spectrum, size)
         [: len(samples)] for c in range(samples.shape[1])],
        axis=1,
    )  # fmt: skip
    block, hop = int(0.4 * RATE), int(0.1 * RATE)
    squares = np.cumsum(np.concatenate([np.zeros((1, weighted.shape[1])), weighted**2]), axis=0)
    starts = np.arange(0, len(weighted) - block + 1, hop)
    z = ((squares[starts + block] - squares[starts]) / block).sum(axis=1)
    loud = -0.691 + 10 * np.log10(np.maximum(z, 1e-30))
    kept = z[loud > -70]
    relative = -0.691 + 10 * np.log10(kept.mean()) - 10
    return float(-0.691 + 10 * np.log10(z[(loud > -70) & (loud > relative)].mean()))


def decode_stereo(path: Path) -> NDArray[np.float32]:
    """The first audio stream's samples, ``(n, 2)`` at 48 kHz."""
    resampler = av.AudioResampler(format="flt", layout="stereo", rate=RATE)
    blocks = []
    with av.open(str(path)) as container:
        for frame in container.decode(audio=0):
            blocks += [f.to_ndarray().reshape(-1, 2) for f in resampler.resample(frame)]
        blocks += [f.to_ndarray().reshape(-1, 2) for f in resampler.resample(None)]
    return np.concatenate(blocks)


def test_the_reference_meter_reads_what_the_standard_says() -> None:
    t = np.arange(9 * RATE) / RATE
    sine = np.repeat((0.1 * np.sin(2 * np.pi * 997 * t))[:, None], 2, axis=1)
    # a 997 Hz sine at -20 dBFS in both channels: -20 LUFS (K-weighting is 0 dB there and
    # the -0.691 offset makes up for the two channels' sum being a 1 kHz gain of +0.691 dB)
    assert bs1770(sine.astype(np.float32)) == pytest.approx(-20.0, abs=0.05)
    left = sine.copy()
    left[:, 1] = 0  # one channel of a 0 dBFS-peak sine reads -3.01 LUFS, scaled by -20 dB
    assert bs1770(left.astype(np.float32)) == pytest.approx(-23.01, abs=0.05)


@pytest.mark.parametrize(
    ("take", "expect_limited"),
    [
        ("0.03*sin(2*PI*1000*t)", False),  # steady and quiet: a gain alone reaches -16 LUFS
        # the same with a 2 ms click at 0.5 every half second: the gain alone would peak far
        # over -1 dBTP, so the limiter takes the clicks down
        ("0.03*sin(2*PI*1000*t)+if(lt(mod(t\\,0.5)\\,0.002)\\,0.5\\,0)", True),
    ],
)
def test_loudness_is_normalised_and_measured_by_an_independent_meter(
    storyboard: StoryboardFactory, tmp_path: Path, take: str, expect_limited: bool
) -> None:
    video = render_source(tmp_path / "take.mp4", 3, tone=take)
    files = {"score.wav": tone(tmp_path / "score.wav", 6.0, 440, 0.02)}
    cut = "cut:\n  loudness: -16\n  music: {file: score.wav}\n"
    lines = "storyboard: 1\ntitle: Loud\nshots:\n"
    lines += "  - {id: a, duration: 3, sound: true, prompt: shot a}\n"
    lines += "  - {id: b, duration: 3, prompt: shot b}\n"
    compiled = storyboard(lines + cut, **files)
    videos = {"a": video, "b": video}
    timeline = build_timeline(compiled, videos, measure_videos(videos), size=(160, 90))
    out = tmp_path / "film.mp4"
    report = assemble(timeline, out)
    levels = report.sound["loudness"]
    assert levels["limited"] is expect_limited
    integrated, peak = ebur128(out)
    assert integrated == pytest.approx(-16, abs=0.5)
    assert peak <= -1.0
    assert bs1770(decode_stereo(out)) == pytest.approx(-16, abs=0.5)
    before, _ = ebur128(tmp_path / "take.mp4")
    assert abs(before - -16) > 3  # the takes were far from the target


def test_loudness_of_sound_whose_level_moves_is_the_target_for_both_meters(
    storyboard: StoryboardFactory, tmp_path: Path
) -> None:
    """Noise with a louder 3 s tone in it: loudnorm's own analysis read this 1.1 LU low
    (-25.3 LUFS for the -24.2 of ebur128 and of the reference), so a film normalised on it
    came out 1.1 LU over the target."""
    noise = "0.03*(2*random(0)-1)+if(between(t\\,2\\,5)\\,0.15*sin(2*PI*440*t)\\,0)"
    video = render_source(tmp_path / "take.mp4", 9, tone=noise)
    lines = "storyboard: 1\ntitle: Loud\nshots:\n"
    lines += "  - {id: a, duration: 9, sound: true, prompt: shot a}\n"
    compiled = storyboard(lines + "cut:\n  loudness: -16\n")
    videos = {"a": video}
    timeline = build_timeline(compiled, videos, measure_videos(videos), size=(160, 90))
    out = tmp_path / "film.mp4"
    assemble(timeline, out)
    integrated, peak = ebur128(out)
    reference = bs1770(decode_stereo(out))
    assert integrated == pytest.approx(-16, abs=0.5)
    assert reference == pytest.approx(-16, abs=0.5)
    assert peak <= -1.0


def test_the_limiter_keeps_true_peaks_under_the_ceiling_and_the_length() -> None:
    rng = np.random.default_rng(7)
    n = 3 * RATE + 123
    x = (0.05 * rng.standard_normal((n, 2))).astype(np.float32)
    x[RATE : RATE + 50] = 0.99  # a loud click
    x[2 * RATE :: 4800] = -0.9
    blocks = [x[i : i + 7000] for i in range(0, n, 7000)]
    y = np.concatenate(list(limit(iter(blocks), CEILING)))
    assert y.shape == x.shape
    assert 20 * np.log10(true_peaks(y.astype(np.float64)).max()) <= CEILING + 0.05
    quiet = slice(int(0.2 * RATE), int(0.8 * RATE))  # far from any peak: untouched
    assert np.allclose(y[quiet], x[quiet], atol=1e-6)


def test_a_mix_whose_loudness_is_in_its_peaks_is_said_to_miss_the_target() -> None:
    t = np.arange(4 * RATE) / RATE
    bursts = np.where(np.mod(t, 0.5) < 0.01, 0.5, 0.0) * np.sin(2 * np.pi * 1000 * t)
    x = np.repeat(bursts[:, None], 2, axis=1).astype(np.float32)

    def mix() -> Iterator[NDArray[np.float32]]:
        return (x[i : i + 24_000] for i in range(0, len(x), 24_000))

    decided = plan(mix, -16)
    assert decided.limited and decided.missed and decided.reached < -16.5
    sine = np.repeat((0.1 * np.sin(2 * np.pi * 1000 * t))[:, None], 2, axis=1)
    steady = plan(lambda: iter([sine.astype(np.float32)]), -16)
    assert not steady.limited and steady.reached == -16 and not steady.missed
